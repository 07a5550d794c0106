// The question box: Enter sends, Shift+Enter (or Ctrl+Enter) inserts a new line.
#pragma once

#include <QPlainTextEdit>

namespace cxr::assistant {

// The rule, separate from the widget so it can be tested on key events alone.
enum class QuestionKeyAction { Send, NewLine, Default };
QuestionKeyAction questionKeyAction(int key, Qt::KeyboardModifiers modifiers);

class QuestionBox : public QPlainTextEdit {
  Q_OBJECT
 public:
  explicit QuestionBox(QWidget* parent = nullptr);
  QSize sizeHint() const override;

 Q_SIGNALS:
  void submitted(const QString& text);

 protected:
  void keyPressEvent(QKeyEvent* event) override;
};

}  // namespace cxr::assistant
