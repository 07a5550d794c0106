#include "image_reader.h"

#include <QImage>
#include <QImageReader>
#include <QString>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#ifdef CXR_CLI_WITH_IMAGING
#include "cxr/viewer/radiograph.h"
#endif

namespace cxr::cli {

namespace {

cxr::ImageInput fromQImage(QImage image) {
  // Gray stays one channel; colour is handed over as RGB and converted with Pillow's luma by the
  // engine, exactly as the reference's convert("L").
  const bool gray = image.format() == QImage::Format_Grayscale8;
  if (!gray) image = image.convertToFormat(QImage::Format_RGB888);
  cxr::ImageInput out;
  out.width = image.width();
  out.height = image.height();
  out.channels = gray ? 1 : 3;
  const size_t rowBytes = static_cast<size_t>(out.width) * static_cast<size_t>(out.channels);
  out.pixels.resize(rowBytes * static_cast<size_t>(out.height));
  for (int y = 0; y < out.height; ++y)
    std::memcpy(&out.pixels[rowBytes * static_cast<size_t>(y)], image.constScanLine(y), rowBytes);
  return out;
}

}  // namespace

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
  return fromQImage(rendered);
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
  return fromQImage(image);
#endif
}

}  // namespace cxr::cli
