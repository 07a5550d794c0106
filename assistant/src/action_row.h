// The chat panel's row of request buttons, which wraps into two rows when the panel is narrow.
#pragma once

#include <QWidget>

#include <initializer_list>

class QBoxLayout;

namespace cxr::assistant {

// Two groups of buttons: the requests (left) and the conversation's own actions (right). Side by side
// when the panel is wide enough for both, one above the other when it is not, so that the row does
// not set the panel's minimum width (at 1.5x scale on a 1400x900 screen the single row left the viewer
// about 280 pixels). Qt's QBoxLayout turns direction; no layout of our own.
class ActionRow : public QWidget {
 public:
  ActionRow(std::initializer_list<QWidget*> requests, std::initializer_list<QWidget*> conversation,
            QWidget* parent = nullptr);
  bool isWrapped() const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  int oneRowWidth() const;
  void arrangeFor(int width);

  QBoxLayout* groups_ = nullptr;
  QWidget* requests_ = nullptr;
  QWidget* conversation_ = nullptr;
};

}  // namespace cxr::assistant
