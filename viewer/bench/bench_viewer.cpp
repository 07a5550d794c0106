// bench-viewer: timings for issue 2's speed targets, on files it synthesises itself.
//   1. open + decode a 3000x3000 16-bit uncompressed DICOM          (target < 1 s)
//   2. window/level re-render of that frame, mean over 50 windows    (target < 16 ms)
//   3. decode of a 2000x2000 chest radiograph stored as JPEG 2000    (reported)
// Usage: bench-viewer [chest.png]   (default: the NIH image in ../shared/data/cxr, else a pattern)
#include "cxr/viewer/radiograph.h"
#include "j2k_test_encoder.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QRandomGenerator>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

using namespace cxr::viewer;

namespace {

double msSince(const QElapsedTimer& t) { return double(t.nsecsElapsed()) / 1e6; }

void putImageAttributes(DcmDataset& ds, int width, int height, int bitsStored) {
  char uid[100];
  ds.putAndInsertString(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
  ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds.putAndInsertString(DCM_Modality, "DX");
  ds.putAndInsertUint16(DCM_Rows, Uint16(height));
  ds.putAndInsertUint16(DCM_Columns, Uint16(width));
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds.putAndInsertUint16(DCM_BitsAllocated, 16);
  ds.putAndInsertUint16(DCM_BitsStored, Uint16(bitsStored));
  ds.putAndInsertUint16(DCM_HighBit, Uint16(bitsStored - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  ds.putAndInsertString(DCM_WindowCenter, "2048");
  ds.putAndInsertString(DCM_WindowWidth, "4096");
}

bool writeJ2kDicom(const QString& path, const std::vector<uint8_t>& codestream, int width, int height, int bits, bool lossless) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  putImageAttributes(ds, width, height, bits);
  const E_TransferSyntax xfer = lossless ? EXS_JPEG2000LosslessOnly : EXS_JPEG2000;
  auto* sequence = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
  sequence->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty Basic Offset Table
  auto* fragment = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
  std::vector<uint8_t> even = codestream;
  if (even.size() % 2) even.push_back(0);
  fragment->putUint8Array(even.data(), Uint32(even.size()));
  sequence->insert(fragment);
  auto* pixelData = new DcmPixelData(DCM_PixelData);
  pixelData->putOriginalRepresentation(xfer, nullptr, sequence);
  ds.insert(pixelData, true);
  return file.saveFile(QFile::encodeName(path).constData(), xfer).good();
}

// The chest image scaled to the requested size as 12-bit values (or a synthetic pattern).
std::vector<quint16> chestPixels(const QString& pngPath, int size, QString* source) {
  QImage chest(pngPath);
  std::vector<quint16> out(size_t(size) * size_t(size));
  if (!chest.isNull()) {
    *source = pngPath;
    const QImage big = chest.convertToFormat(QImage::Format_Grayscale16)
                           .scaled(size, size, Qt::IgnoreAspectRatio, Qt::SmoothTransformation)
                           .convertToFormat(QImage::Format_Grayscale16);
    for (int y = 0; y < size; ++y) {
      const auto* row = reinterpret_cast<const quint16*>(big.constScanLine(y));
      for (int x = 0; x < size; ++x) out[size_t(y) * size + x] = quint16(row[x] >> 4);
    }
    return out;
  }
  *source = QStringLiteral("synthetic pattern (chest PNG not found)");
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      out[size_t(y) * size + x] = quint16(2048 + 1500 * std::sin(x / 40.0) * std::cos(y / 55.0));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  QTemporaryDir dir;
  const QString chestPng = argc > 1 ? QString::fromLocal8Bit(argv[1])
                                    : QStringLiteral(CXR_SHARED_DATA_DIR "/cxr/nih_cxr14_00000001_000.png");

  // ---- 1. Open a 3000x3000 16-bit uncompressed DICOM ----
  const int big = 3000;
  {
    DcmFileFormat file;
    putImageAttributes(*file.getDataset(), big, big, 12);
    std::vector<Uint16> pixels(size_t(big) * big);
    QRandomGenerator rng(7);
    for (int y = 0; y < big; ++y)
      for (int x = 0; x < big; ++x)
        pixels[size_t(y) * big + x] = Uint16(std::clamp(int(2048 + 1200 * std::sin(x / 300.0) * std::cos(y / 410.0)) + int(rng.bounded(64)), 0, 4095));
    file.getDataset()->putAndInsertUint16Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(pixels.size()));
    if (file.saveFile(QFile::encodeName(dir.filePath(QStringLiteral("big.dcm"))).constData(), EXS_LittleEndianExplicit).bad()) {
      std::fprintf(stderr, "bench-viewer: cannot write the synthetic DICOM in %s\n", qPrintable(dir.path()));
      return 1;
    }
  }
  std::printf("bench-viewer (%s)\n", QT_VERSION_STR);
  std::shared_ptr<const RadiographImage> image;
  double bestOpen = 1e9, sumOpen = 0;
  const int openRuns = 3;
  for (int run = 0; run < openRuns; ++run) {
    QElapsedTimer t;
    t.start();
    const LoadResult r = loadRadiograph(dir.filePath(QStringLiteral("big.dcm")));
    const double ms = msSince(t);
    if (!r.ok()) {
      std::fprintf(stderr, "bench-viewer: %s\n", qPrintable(r.error));
      return 1;
    }
    image = r.image;
    bestOpen = std::min(bestOpen, ms);
    sumOpen += ms;
  }
  std::printf("open+decode 3000x3000 16-bit uncompressed DICOM: best %.1f ms, mean %.1f ms over %d runs (target < 1000 ms)\n",
              bestOpen, sumOpen / openRuns, openRuns);

  // ---- 2. Window/level re-render ----
  const int windows = 50;
  QElapsedTimer t;
  (void)renderFrame(*image, 0, defaultVoi(*image));  // warm caches
  t.start();
  quint64 checksum = 0;
  for (int i = 0; i < windows; ++i) {
    VoiSelection voi;
    voi.window = VoiWindow{500.0 + 60.0 * i, 300.0 + 50.0 * i, {}, VoiWindow::Function::Linear};
    const QImage shown = renderFrame(*image, 0, voi);
    checksum += shown.constScanLine(big / 2)[big / 2];
  }
  const double perWindow = msSince(t) / windows;
  std::printf("window/level re-render 3000x3000: %.2f ms per window, mean over %d windows (target < 16 ms) [checksum %llu]\n",
              perWindow, windows, static_cast<unsigned long long>(checksum));
  t.restart();
  const QList<VoiWindow> presets = radiographPresets(*image, 0);
  std::printf("radiographPresets (histogram percentiles) 3000x3000: %.1f ms, %lld presets\n", msSince(t),
              static_cast<long long>(presets.size()));
  t.restart();
  const QImage model = renderForModel(*image, 0);
  std::printf("renderForModel 3000x3000: %.1f ms\n", msSince(t));

  // ---- 3. JPEG 2000 decode of a 2000x2000 chest radiograph ----
  const int side = 2000;
  QString source;
  const std::vector<quint16> chest = chestPixels(chestPng, side, &source);
  std::printf("JPEG 2000 source: %s upscaled to %dx%d, 12-bit\n", qPrintable(source), side, side);
  for (const bool lossless : {true, false}) {
    t.restart();
    testsupport::J2kEncodeSettings settings;
    settings.precision = 12;
    settings.ratio = lossless ? 0.0f : 20.0f;
    settings.resolutions = 6;
    settings.threads = 2;
    const std::vector<uint8_t> codestream = testsupport::encodeJ2kGray(chest, side, side, settings);
    const double encodeMs = msSince(t);
    const QString path = dir.filePath(lossless ? QStringLiteral("j2k_lossless.dcm") : QStringLiteral("j2k_lossy.dcm"));
    if (codestream.empty() || !writeJ2kDicom(path, codestream, side, side, 12, lossless)) {
      std::fprintf(stderr, "bench-viewer: JPEG 2000 encoding failed\n");
      return 1;
    }
    double best = 1e9;
    LoadResult r;
    for (int run = 0; run < 3; ++run) {
      t.restart();
      r = loadRadiograph(path);
      best = std::min(best, msSince(t));
      if (!r.ok()) {
        std::fprintf(stderr, "bench-viewer: %s\n", qPrintable(r.error));
        return 1;
      }
    }
    qint64 maxError = 0;
    for (size_t i = 0; i < chest.size(); ++i) maxError = std::max<qint64>(maxError, std::abs(qint64(r.image->framesData[0][i]) - chest[i]));
    std::printf("JPEG 2000 %s 2000x2000 (%zu KiB, encoded in %.0f ms): open+decode best %.1f ms of 3, max |error| %lld\n",
                lossless ? "lossless (.90)" : "lossy 20:1 (.91)", codestream.size() / 1024, encodeMs, best,
                static_cast<long long>(maxError));
  }
  return 0;
}
