// The pixel budget of every image the program opens (the window, --render, --run): how large a
// frame and a multi-frame file may be before decoding is refused (decompression bombs; see
// cxr::viewer::LoadOptions). The user sets it in Image > Image Size Limits (kept in the settings);
// --max-image-megapixels / --max-file-megapixels override it for one run without saving it.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QDialog>

class QDoubleSpinBox;
class QLabel;

namespace cxr::app {

struct ImageBudget {
  double frameMegapixels = double(cxr::viewer::LoadOptions::kDefaultMaxFramePixels) / 1e6;
  double fileMegapixels = double(cxr::viewer::LoadOptions::kDefaultMaxTotalPixels) / 1e6;
};

// What loads use now: the session override if any, else the saved setting (a saved value out of
// range, edited by hand, falls back to the defaults).
cxr::viewer::LoadOptions imageLoadOptions();
ImageBudget currentImageBudget();
ImageBudget savedImageBudget();
// Both return an empty string, or why the numbers are refused (nothing changes then).
QString saveImageBudget(const ImageBudget& budget);
QString overrideImageBudget(const ImageBudget& budget);  // this process only

// Image > Image Size Limits: two spin boxes, saved on OK.
class ImageBudgetDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ImageBudgetDialog(QWidget* parent = nullptr);
  void accept() override;

 private:
  QDoubleSpinBox* frame_ = nullptr;
  QDoubleSpinBox* file_ = nullptr;
  QLabel* problem_ = nullptr;
};

}  // namespace cxr::app
