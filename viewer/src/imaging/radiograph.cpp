// RadiographImage's small methods, and loadRadiograph(): which loader a file goes to.
#include "loaders.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace cxr::viewer {

quint16 LookupTable::lookup(double input) const {
  if (data.empty()) return 0;
  // Inputs below the first mapped value map to the first entry, above the last to the last entry
  // (PS3.3 C.11.1.1 / C.11.2.1.1).
  const double index = std::floor(input) - firstMapped;
  if (index <= 0) return data.front();
  if (index >= static_cast<double>(data.size() - 1)) return data.back();
  return data[static_cast<size_t>(index)];
}

QString Calibration::label() const {
  switch (source) {
    case Source::PixelSpacing: return QStringLiteral("pixel spacing");
    case Source::ImagerPixelSpacing: return QStringLiteral("at detector");
    case Source::None: break;
  }
  return QStringLiteral("uncalibrated (px)");
}

double RadiographImage::modalityValue(qint32 stored) const {
  if (modalityLut) return modalityLut->lookup(stored);
  return stored * rescaleSlope + rescaleIntercept;
}

namespace {

// The lowest and highest modality values the stored range [minStored, maxStored] reaches.
std::pair<double, double> modalityExtremes(const RadiographImage& image) {
  const double atMin = image.modalityValue(image.minStored), atMax = image.modalityValue(image.maxStored);
  if (!image.modalityLut) return {std::min(atMin, atMax), std::max(atMin, atMax)};
  // A LUT need not be monotonic: take the extremes of the entries the stored range reaches.
  double lo = atMax, hi = atMax;
  const qint64 span = qint64(image.maxStored) - image.minStored;
  const qint64 step = std::max<qint64>(1, span / 65536);
  for (qint64 v = image.minStored; v <= image.maxStored; v += step) {
    const double m = image.modalityValue(qint32(v));
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  return {lo, hi};
}

}  // namespace

double RadiographImage::minModality() const { return modalityExtremes(*this).first; }

double RadiographImage::maxModality() const { return modalityExtremes(*this).second; }

bool RadiographImage::displayInverted() const {
  return photometric == Photometric::Monochrome1 || presentationInverse;
}

namespace detail {

QString loadError(const QString& path, const QString& reason) {
  return QStringLiteral("Cannot open %1: %2").arg(QDir::toNativeSeparators(path), reason);
}

QString pixelBudgetProblem(qint64 width, qint64 height, qint64 frames, const LoadOptions& options) {
  const auto megapixels = [](double pixels) {  // "256 megapixels", "1.5 megapixels", "8000 pixels"
    if (pixels < 1e5) return QStringLiteral("%1 pixels").arg(qint64(pixels));
    return QStringLiteral("%1 megapixels").arg(QString::number(pixels / 1e6, 'f', pixels < 1e7 ? 1 : 0));
  };
  // Doubles: 65535 x 65535 x 2^31 frames would overflow 64 bits.
  const double framePixels = double(width) * double(height);
  if (framePixels > double(options.maxFramePixels))
    return QStringLiteral("its header says the image is %1x%2 pixels (%3), more than the pixel budget of %4 per "
                          "frame, so it is not decoded. If you trust the file, raise the budget (--max-image-megapixels "
                          "in the command-line tools, Image > Image Size Limits in the window).")
        .arg(width).arg(height).arg(megapixels(framePixels), megapixels(double(options.maxFramePixels)));
  if (frames > 1 && framePixels * double(frames) > double(options.maxTotalPixels))
    return QStringLiteral("its header says it has %1 frames of %2x%3 pixels (%4 in all), more than the pixel "
                          "budget of %5 per file, so it is not decoded. If you trust the file, raise the budget "
                          "(--max-file-megapixels in the command-line tools, Image > Image Size Limits in the window).")
        .arg(frames).arg(width).arg(height).arg(megapixels(framePixels * double(frames)),
                                                  megapixels(double(options.maxTotalPixels)));
  return {};
}

bool hasDicomMagic(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return false;
  const QByteArray head = file.read(132);
  return head.size() == 132 && head.mid(128, 4) == "DICM";
}

void computeStoredRange(RadiographImage& image) {
  if (image.samplesPerPixel != 1) {
    image.minStored = 0;
    image.maxStored = 255;
    return;
  }
  qint32 lo = std::numeric_limits<qint32>::max();
  qint32 hi = std::numeric_limits<qint32>::min();
  for (const auto& frame : image.framesData) {
    for (qint32 v : frame) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) lo = hi = 0;
  image.minStored = lo;
  image.maxStored = hi;
}

}  // namespace detail

QString setPixelBudget(LoadOptions& options, double frameMegapixels, double fileMegapixels) {
  // `!(x >= lo)` also catches NaN.
  if (!(frameMegapixels >= 0.1 && frameMegapixels <= kMaxFrameMegapixelsLimit))
    return QStringLiteral("The largest image must be 0.1 to %1 megapixels per frame (%2 was given).")
        .arg(kMaxFrameMegapixelsLimit).arg(frameMegapixels);
  if (!(fileMegapixels >= frameMegapixels && fileMegapixels <= kMaxFileMegapixelsLimit))
    return QStringLiteral("The largest file must be %1 to %2 megapixels (at least one frame's budget; %3 was given).")
        .arg(frameMegapixels).arg(kMaxFileMegapixelsLimit).arg(fileMegapixels);
  options.maxFramePixels = qint64(frameMegapixels * 1e6);
  options.maxTotalPixels = qint64(fileMegapixels * 1e6);
  return {};
}

LoadResult loadRadiograph(const QString& path, const LoadOptions& options) {
  const QFileInfo info(path);
  if (!info.exists()) return {nullptr, detail::loadError(path, QStringLiteral("the file does not exist."))};
  if (info.isDir()) return {nullptr, detail::loadError(path, QStringLiteral("it is a folder, not a file."))};
  if (!info.isReadable()) return {nullptr, detail::loadError(path, QStringLiteral("the file is not readable (check its permissions)."))};
  if (info.size() == 0) return {nullptr, detail::loadError(path, QStringLiteral("the file is empty."))};

  // The file's identity is hashed here, from one mapping of its bytes, on the loading thread: a
  // result always carries the hash of the bytes it was decoded from, and nobody reads the file again.
  const QString sha256 = detail::fileSha256(path);
  if (sha256.isEmpty()) return {nullptr, detail::loadError(path, QStringLiteral("the file could not be read (check its permissions, or whether it is still being copied)."))};
  LoadResult result = detail::decodeFile(path, info, options);
  if (result.ok())  // fresh from the loader and not shared yet
    std::const_pointer_cast<RadiographImage>(result.image)->sha256 = sha256;
  return result;
}

namespace detail {

QString fileSha256(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  QCryptographicHash hash(QCryptographicHash::Sha256);
  if (const qint64 size = file.size(); size > 0) {
    if (const uchar* data = file.map(0, size)) {
      hash.addData(QByteArrayView(data, size));
      return QString::fromLatin1(hash.result().toHex());
    }
  }
  if (!hash.addData(&file)) return {};  // a file that cannot be mapped (a pipe, some network shares)
  return QString::fromLatin1(hash.result().toHex());
}

LoadResult decodeFile(const QString& path, const QFileInfo& info, const LoadOptions& options) {
  if (detail::hasDicomMagic(path)) return detail::loadDicomFile(path, options);

  // Ordinary image formats are recognised by content, so a PNG named .dcm still opens.
  QImageReader probe(path);
  probe.setDecideFormatFromContent(true);
  const QByteArray format = probe.format();
  const bool dicomSuffix = info.suffix().compare(QStringLiteral("dcm"), Qt::CaseInsensitive) == 0 ||
                           info.suffix().compare(QStringLiteral("dicom"), Qt::CaseInsensitive) == 0;
  if (!format.isEmpty() && !dicomSuffix) return detail::loadImageFile(path, options);

  // No magic and no image format: perhaps a DICOM data set written without the Part 10 header.
  LoadResult dicom = detail::loadDicomFile(path, options);
  if (dicom.ok() || format.isEmpty()) return dicom;
  LoadResult image = detail::loadImageFile(path, options);
  return image.ok() ? image : dicom;
}

}  // namespace detail

namespace {

// "img2" before "img10", case-insensitive. Written out because QCollator's numeric mode depends on
// the locale back end (it is ignored under the C locale, which is what CI runs with).
bool naturalLess(const QString& a, const QString& b) {
  qsizetype i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].isDigit() && b[j].isDigit()) {
      qsizetype ei = i, ej = j;
      while (ei < a.size() && a[ei].isDigit()) ++ei;
      while (ej < b.size() && b[ej].isDigit()) ++ej;
      // Compare the digit runs as numbers of any length: strip leading zeros, then length, then text.
      QStringView x = QStringView(a).mid(i, ei - i), y = QStringView(b).mid(j, ej - j);
      while (x.size() > 1 && x.front() == u'0') x = x.mid(1);
      while (y.size() > 1 && y.front() == u'0') y = y.mid(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (const int c = x.compare(y); c != 0) return c < 0;
      i = ei;
      j = ej;
      continue;
    }
    const QChar ca = a[i].toCaseFolded(), cb = b[j].toCaseFolded();
    if (ca != cb) return ca < cb;
    ++i;
    ++j;
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;  // equal ignoring case and zero padding: any fixed order
}

}  // namespace

QStringList listImagesInFolder(const QString& folder) {
  static const QStringList patterns = {
      QStringLiteral("*.dcm"), QStringLiteral("*.dicom"), QStringLiteral("*.dic"), QStringLiteral("*.png"),
      QStringLiteral("*.jpg"), QStringLiteral("*.jpeg"), QStringLiteral("*.tif"), QStringLiteral("*.tiff"),
      QStringLiteral("*.bmp")};
  QDir dir(folder);
  QStringList names = dir.entryList(patterns, QDir::Files | QDir::Readable, QDir::NoSort);
  // DICOM exports often have no extension at all (IM0001, 1.2.840...); include files that carry the
  // DICM magic.
  for (const QString& name : dir.entryList(QDir::Files | QDir::Readable, QDir::NoSort)) {
    if (!QFileInfo(name).suffix().isEmpty() || names.contains(name)) continue;
    if (detail::hasDicomMagic(dir.filePath(name))) names << name;
  }
  std::sort(names.begin(), names.end(), [](const QString& a, const QString& b) { return naturalLess(a, b); });
  QStringList paths;
  for (const QString& name : names) paths << dir.filePath(name);
  return paths;
}

}  // namespace cxr::viewer
