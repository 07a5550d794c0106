#include "action_row.h"

#include <QBoxLayout>
#include <QResizeEvent>

#include <algorithm>

namespace cxr::assistant {
namespace {

QWidget* group(std::initializer_list<QWidget*> buttons, QWidget* parent) {
  auto* box = new QWidget(parent);
  auto* layout = new QHBoxLayout(box);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(4);
  for (QWidget* b : buttons) layout->addWidget(b);
  return box;
}

}  // namespace

ActionRow::ActionRow(std::initializer_list<QWidget*> requests, std::initializer_list<QWidget*> conversation,
                     QWidget* parent)
    : QWidget(parent), requests_(group(requests, this)), conversation_(group(conversation, this)) {
  groups_ = new QBoxLayout(QBoxLayout::LeftToRight, this);
  groups_->setContentsMargins(0, 0, 0, 0);
  groups_->setSpacing(4);
  groups_->addWidget(requests_, 0, Qt::AlignLeft);
  groups_->addStretch(1);
  groups_->addWidget(conversation_, 0, Qt::AlignRight);
  // The narrowest the row gets is its wider group; set explicitly, since the layout's own minimum
  // follows its current direction (one row would keep the sum of both groups).
  setMinimumWidth(std::max(requests_->minimumSizeHint().width(), conversation_->minimumSizeHint().width()));
}

bool ActionRow::isWrapped() const { return groups_->direction() == QBoxLayout::TopToBottom; }

int ActionRow::oneRowWidth() const {
  return requests_->sizeHint().width() + groups_->spacing() + conversation_->sizeHint().width();
}

void ActionRow::arrangeFor(int width) {
  const auto wanted = width >= oneRowWidth() ? QBoxLayout::LeftToRight : QBoxLayout::TopToBottom;
  if (groups_->direction() != wanted) groups_->setDirection(wanted);
}

void ActionRow::resizeEvent(QResizeEvent* event) {
  arrangeFor(event->size().width());  // the width is the panel's; only the height follows the choice
  QWidget::resizeEvent(event);
}

}  // namespace cxr::assistant
