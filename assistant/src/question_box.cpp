#include "cxr/assistant/question_box.h"

#include <QKeyEvent>

namespace cxr::assistant {

QuestionKeyAction questionKeyAction(int key, Qt::KeyboardModifiers modifiers) {
  if (key != Qt::Key_Return && key != Qt::Key_Enter) return QuestionKeyAction::Default;
  const auto relevant = modifiers & ~Qt::KeypadModifier;
  if (relevant == Qt::NoModifier) return QuestionKeyAction::Send;
  if (relevant & (Qt::ShiftModifier | Qt::ControlModifier)) return QuestionKeyAction::NewLine;
  return QuestionKeyAction::Default;
}

QuestionBox::QuestionBox(QWidget* parent) : QPlainTextEdit(parent) {
  setPlaceholderText(tr("Ask about this image (Enter sends, Shift+Enter for a new line)"));
  setTabChangesFocus(true);
}

QSize QuestionBox::sizeHint() const {
  const QSize base = QPlainTextEdit::sizeHint();
  return {base.width(), fontMetrics().lineSpacing() * 3 + 12};
}

void QuestionBox::keyPressEvent(QKeyEvent* event) {
  switch (questionKeyAction(event->key(), event->modifiers())) {
    case QuestionKeyAction::Send: {
      const QString text = toPlainText().trimmed();
      if (!text.isEmpty()) Q_EMIT submitted(text);
      event->accept();
      return;
    }
    case QuestionKeyAction::NewLine:
      insertPlainText(QStringLiteral("\n"));
      event->accept();
      return;
    case QuestionKeyAction::Default:
      QPlainTextEdit::keyPressEvent(event);
  }
}

}  // namespace cxr::assistant
