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
  m_center = new QDoubleSpinBox(this);
  m_center->setObjectName(QStringLiteral("windowCenter"));
  m_center->setDecimals(decimals);
  m_center->setRange(minModality - 2 * range, maxModality + 2 * range);
  m_center->setValue(current.center);
  m_width = new QDoubleSpinBox(this);
  m_width->setObjectName(QStringLiteral("windowWidth"));
  m_width->setDecimals(decimals);
  m_width->setRange(std::pow(10.0, -decimals), 4 * range);
  m_width->setValue(current.width);
  auto* form = new QFormLayout(this);
  form->addRow(new QLabel(tr("Values of this image range from %1 to %2.")
                              .arg(minModality, 0, 'g', 6)
                              .arg(maxModality, 0, 'g', 6)));
  form->addRow(tr("&Centre:"), m_center);
  form->addRow(tr("&Width:"), m_width);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto emitEdited = [this] { Q_EMIT windowEdited(window()); };
  connect(m_center, &QDoubleSpinBox::valueChanged, this, emitEdited);
  connect(m_width, &QDoubleSpinBox::valueChanged, this, emitEdited);
}

VoiWindow WindowEntryDialog::window() const {
  VoiWindow w;
  w.center = m_center->value();
  w.width = m_width->value();
  w.explanation = QStringLiteral("Manual");
  return w;
}

}  // namespace cxr::viewer
