// Numeric window entry: centre and width typed in, applied live while the dialog is open.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QDialog>

class QDoubleSpinBox;

namespace cxr::viewer {

class WindowEntryDialog : public QDialog {
  Q_OBJECT
 public:
  WindowEntryDialog(const VoiWindow& current, double minModality, double maxModality,
                    QWidget* parent = nullptr);
  VoiWindow window() const;

 Q_SIGNALS:
  void windowEdited(const cxr::viewer::VoiWindow& window);

 private:
  QDoubleSpinBox* center_;
  QDoubleSpinBox* width_;
};

}  // namespace cxr::viewer
