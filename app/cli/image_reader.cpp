#include "image_reader.h"

#include "cxr/assistant/image_input.h"

#include <QImage>
#include <QImageReader>
#include <QString>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#ifdef CXR_CLI_WITH_IMAGING
#include "cxr/viewer/radiograph.h"
#endif

namespace cxr::cli {

cxr::ImageInput readImageForModel(const std::string& path, double maxImageMegapixels, double maxFileMegapixels) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(path + ": no such file");
#ifdef CXR_CLI_WITH_IMAGING
  cxr::viewer::LoadOptions options;
  if (const QString problem = cxr::viewer::setPixelBudget(options, maxImageMegapixels, maxFileMegapixels); !problem.isEmpty())
    throw std::runtime_error(problem.toStdString());
  const auto loaded = cxr::viewer::loadRadiograph(QString::fromStdString(path), options);
  if (!loaded.ok()) throw std::runtime_error(loaded.error.toStdString());
  const QImage rendered = cxr::viewer::renderForModel(*loaded.image, 0);
  if (rendered.isNull()) throw std::runtime_error(path + ": the image could not be rendered to 8-bit gray");
  return cxr::assistant::toImageInput(rendered);
#else
  QImageReader reader(QString::fromStdString(path));
  reader.setAllocationLimit(int(std::min(4096.0, maxImageMegapixels * 4)));  // MiB: 32-bit pixels
  (void)maxFileMegapixels;  // single-frame formats only
  QImage image = reader.read();
  if (image.isNull())
    throw std::runtime_error(path + ": cannot read the image (" + reader.errorString().toStdString() +
                             "); this build reads PNG/JPEG only (DICOM needs the viewer library)");
  if (image.depth() > 32 || image.format() == QImage::Format_Grayscale16)
    throw std::runtime_error(path + ": 16-bit images need the viewer library for windowing (build with CXR_BUILD_VIEWER=ON)");
  return cxr::assistant::toImageInput(image);
#endif
}

}  // namespace cxr::cli
