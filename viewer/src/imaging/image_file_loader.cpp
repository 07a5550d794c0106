// Ordinary image files (PNG 8/16-bit, JPEG, TIFF, BMP) through QImageReader.
//
// Gray stays gray with its full depth (a 16-bit PNG keeps its 16-bit values), colour becomes
// interleaved RGB. No colour-to-gray conversion happens here: Qt's qGray() differs from Pillow's
// luma, and the model input must match Pillow, so that conversion lives in renderForModel().
#include "jpeg_structure.h"
#include "loaders.h"

#include <QFile>
#include <QImage>
#include <QImageReader>
#include <QtEndian>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace cxr::viewer::detail {
namespace {

// Qt's allocation limit backs up the pixel budget for a reader that cannot tell the size before
// decoding: room for one frame of the budget in the widest format Qt decodes into (RGBA64, 8 bytes
// a pixel; 382 MiB for the default 50 megapixels). The limit is process-wide, so it is only ever
// raised (under a lock): a concurrent load never gets less than its own budget needs.
void raiseAllocationLimit(qint64 maxFramePixels) {
  static std::mutex mutex;
  const qint64 mib = std::clamp<qint64>((maxFramePixels * 8 + (1 << 20) - 1) >> 20, 256, std::numeric_limits<int>::max());
  const std::lock_guard lock(mutex);
  if (mib > QImageReader::allocationLimit()) QImageReader::setAllocationLimit(int(mib));
}

// Why the file's pixel data are incomplete, or empty. Qt returns an image from data that stop early
// without a word in two formats: JPEG (libjpeg only warns "Premature end of JPEG file" and fills the
// missing rows with gray) and uncompressed BMP (the rows never read stay as allocated). PNG and TIFF
// readers fail instead, which the caller reports.
QString incompleteData(const QString& path, const QByteArray& format) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  const qint64 size = file.size();
  const uchar* data = size > 0 ? file.map(0, size) : nullptr;
  if (!data) return {};
  if (format == "jpeg") {
    const JpegStructure jpeg = readJpegStructure(data, size_t(size));
    return jpeg.truncated ? jpeg.problem : QString();
  }
  if (format == "bmp" && size >= 54 && data[0] == 'B' && data[1] == 'M') {
    const auto le32 = [&](int at) { return qFromLittleEndian<quint32>(data + at); };
    const qint64 dataOffset = le32(10), infoSize = le32(14), compression = le32(30);
    if (infoSize < 40 || (compression != 0 && compression != 3)) return {};  // RLE or an old header: Qt's own checks
    const double width = std::abs(double(qint32(le32(18)))), height = std::abs(double(qint32(le32(22))));
    const double bits = qFromLittleEndian<quint16>(data + 28);
    // Doubles: a hostile header's product does not fit 64 bits. Rows are padded to 4 bytes.
    const double needed = double(dataOffset) + std::floor((width * bits + 31) / 32) * 4 * height;
    if (double(size) < needed)
      return QStringLiteral("the BMP file ends after %1 bytes but its header needs %2 to hold its rows, so part of the "
                            "image is missing (the file is truncated)").arg(size).arg(needed, 0, 'f', 0);
  }
  return {};
}

bool isGray(const QImage& image) {
  switch (image.format()) {
    case QImage::Format_Grayscale8:
    case QImage::Format_Grayscale16:
    case QImage::Format_Mono:
    case QImage::Format_MonoLSB:
    case QImage::Format_Alpha8:
      return true;
    case QImage::Format_Indexed8:
      return image.isGrayscale();
    default:
      return false;
  }
}

}  // namespace

LoadResult loadImageFile(const QString& path, const LoadOptions& options) {
  raiseAllocationLimit(options.maxFramePixels);
  QImageReader reader(path);
  reader.setDecideFormatFromContent(true);
  reader.setAutoTransform(false);  // pixels as stored: EXIF rotation would break pixel identity with Pillow
  const QByteArray format = reader.format();
  if (format.isEmpty()) {
    return {nullptr, loadError(path, QStringLiteral("it is neither a DICOM file nor an image format this program reads "
                                                    "(PNG, JPEG, TIFF, BMP)."))};
  }
  // The header's size, before anything is decoded (a 498 kB PNG can declare 16000x16000 16-bit).
  if (const QSize size = reader.size(); size.isValid())
    if (const QString why = pixelBudgetProblem(size.width(), size.height(), 1, options); !why.isEmpty())
      return {nullptr, loadError(path, why)};
  const QString incomplete = incompleteData(path, format);
  if (!incomplete.isEmpty() && !options.acceptIncomplete)
    return {nullptr, loadError(path, incomplete + QStringLiteral("; an incomplete image is not shown or analysed."))};
  const QImage decoded = reader.read();
  if (decoded.isNull()) {
    return {nullptr, loadError(path, QStringLiteral("the %1 data could not be decoded (%2).")
                                          .arg(QString::fromLatin1(format.toUpper()), reader.errorString()))};
  }

  auto image = std::make_shared<RadiographImage>();
  image->path = path;
  image->width = decoded.width();
  image->height = decoded.height();
  image->frames = 1;
  image->isDicom = false;
  image->incomplete = incomplete;
  const size_t pixels = size_t(image->width) * size_t(image->height);
  std::vector<qint32> values;

  if (isGray(decoded)) {
    const bool deep = decoded.format() == QImage::Format_Grayscale16;
    const QImage gray = decoded.convertToFormat(deep ? QImage::Format_Grayscale16 : QImage::Format_Grayscale8);
    image->samplesPerPixel = 1;
    image->photometric = Photometric::Monochrome2;
    image->bitsAllocated = image->bitsStored = deep ? 16 : 8;
    values.resize(pixels);
    for (int y = 0; y < gray.height(); ++y) {
      qint32* out = values.data() + size_t(y) * image->width;
      if (deep) {
        const auto* row = reinterpret_cast<const quint16*>(gray.constScanLine(y));
        for (int x = 0; x < gray.width(); ++x) out[x] = row[x];
      } else {
        const uchar* row = gray.constScanLine(y);
        for (int x = 0; x < gray.width(); ++x) out[x] = row[x];
      }
    }
    image->formatName = QStringLiteral("%1 %2-bit gray").arg(QString::fromLatin1(format.toUpper())).arg(image->bitsStored);
  } else {
    // Colour (or alpha): keep R, G, B and drop alpha, as Pillow's convert("L") does.
    const QImage rgb = decoded.convertToFormat(QImage::Format_RGB888);
    image->samplesPerPixel = 3;
    image->photometric = Photometric::Rgb;
    image->bitsAllocated = image->bitsStored = 8;
    values.resize(pixels * 3);
    for (int y = 0; y < rgb.height(); ++y) {
      const uchar* row = rgb.constScanLine(y);
      qint32* out = values.data() + size_t(y) * image->width * 3;
      for (int i = 0; i < rgb.width() * 3; ++i) out[i] = row[i];
    }
    image->formatName = QStringLiteral("%1 colour").arg(QString::fromLatin1(format.toUpper()));
  }
  image->framesData.push_back(std::move(values));
  computeStoredRange(*image);
  // No DisplayFields from the file name: a name such as "Doe_John_chest.png" can identify the
  // patient, and DisplayFields' non-identifying fields go wherever anonymity is promised (the
  // anonymised overlay, exported reports). Whoever wants to show the name has `path`.
  return {image, {}};
}

}  // namespace cxr::viewer::detail
