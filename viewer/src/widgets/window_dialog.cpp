#include "cxr/viewer/window_dialog.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>

#include <cmath>

namespace cxr::viewer {

WindowEntryDialog::WindowEntryDialog(const VoiWindow& current, double minModality,
                                     double maxModality, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Set Window"));
  const double range = std::max(1.0, maxModality - minModality);
  // Integer-valued images get whole numbers; rescaled (fractional) data gets decimals.
  const int decimals = range < 20 ? 3 : 1;
  center_ = new QDoubleSpinBox(this);
  center_->setObjectName(QStringLiteral("windowCenter"));
  center_->setDecimals(decimals);
  center_->setRange(minModality - 2 * range, maxModality + 2 * range);
  center_->setValue(current.center);
  width_ = new QDoubleSpinBox(this);
  width_->setObjectName(QStringLiteral("windowWidth"));
  width_->setDecimals(decimals);
  width_->setRange(std::pow(10.0, -decimals), 4 * range);
  width_->setValue(current.width);
  auto* form = new QFormLayout(this);
  form->addRow(new QLabel(tr("Values of this image range from %1 to %2.")
                              .arg(minModality, 0, 'g', 6)
                              .arg(maxModality, 0, 'g', 6)));
  form->addRow(tr("&Centre:"), center_);
  form->addRow(tr("&Width:"), width_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto emitEdited = [this] { Q_EMIT windowEdited(window()); };
  connect(center_, &QDoubleSpinBox::valueChanged, this, emitEdited);
  connect(width_, &QDoubleSpinBox::valueChanged, this, emitEdited);
}

VoiWindow WindowEntryDialog::window() const {
  VoiWindow w;
  w.center = center_->value();
  w.width = width_->value();
  w.explanation = QStringLiteral("Manual");
  return w;
}

}  // namespace cxr::viewer
