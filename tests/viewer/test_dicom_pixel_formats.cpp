// Native (uncompressed) DICOM pixel formats, including every odd one a hostile or broken file can
// declare: a generated grid of Samples per Pixel x Bits Allocated/Stored x Photometric
// Interpretation x Planar Configuration x odd/even widths x frames. Each file must be decoded into a
// consistent image or refused with a message naming the file: never a crash. This is the test the
// sanitized suite (ASan + UBSan) relies on for the native decoder's bounds.
#include "support/dicom_synthetic.h"

#include "cxr/viewer/radiograph.h"

#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::viewer;
using cxr::test::SyntheticDicom;
using cxr::test::writeSyntheticDicom;

namespace {

// A three-entry 8-bit palette, so that PALETTE COLOR files have something to look up.
void putPalette(DcmDataset& ds) {
  const Uint16 descriptor[3] = {256, 0, 16};
  std::vector<Uint16> table(256);
  for (size_t i = 0; i < table.size(); ++i) table[i] = Uint16(i * 257);
  for (const auto& [d, data] : {std::pair{DCM_RedPaletteColorLookupTableDescriptor, DCM_RedPaletteColorLookupTableData},
                                std::pair{DCM_GreenPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableData},
                                std::pair{DCM_BluePaletteColorLookupTableDescriptor, DCM_BluePaletteColorLookupTableData}}) {
    ds.putAndInsertUint16Array(d, descriptor, 3);
    ds.putAndInsertUint16Array(data, table.data(), Uint32(table.size()));
  }
}

}  // namespace

class TestDicomPixelFormats : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  int counter_ = 0;
  int decoded_ = 0, refused_ = 0;

  LoadResult writeAndLoad(const SyntheticDicom& s, QString* path) {
    *path = tmp_.filePath(QStringLiteral("format_%1.dcm").arg(++counter_));
    if (!writeSyntheticDicom(s, *path)) return {nullptr, QStringLiteral("the test could not write ") + *path};
    return loadRadiograph(*path);
  }

  // Pixel data of `bytes` bytes of a repeating pattern, as 16-bit words (any Bits Allocated but 8).
  static void fill(SyntheticDicom& s, size_t bytes) {
    if (s.bitsAllocated == 8) {
      s.bytes.resize(bytes);
      for (size_t i = 0; i < bytes; ++i) s.bytes[i] = quint8(i * 37 + 11);
    } else {
      s.words.resize((bytes + 1) / 2);
      for (size_t i = 0; i < s.words.size(); ++i) s.words[i] = quint16(i * 7919 + 13);
    }
  }

  // The contract for one file: a consistent, renderable image, or a refusal naming the file.
  bool decodedOrRefused(const SyntheticDicom& s, const QString& what) {
    QString path;
    const LoadResult r = writeAndLoad(s, &path);
    if (!r.ok()) {
      ++refused_;
      if (!r.error.contains(QFileInfo(path).fileName()) || r.error.contains(QStringLiteral("internal"))) {
        qWarning("%s: the refusal does not name the file: %s", qPrintable(what), qPrintable(r.error));
        return false;
      }
      return true;
    }
    ++decoded_;
    const RadiographImage& im = *r.image;
    const size_t values = size_t(im.width) * size_t(im.height) * size_t(im.samplesPerPixel);
    if (im.width != s.columns || im.height != s.rows || im.frames != s.frames || int(im.framesData.size()) != s.frames) {
      qWarning("%s: decoded %dx%d, %d frame(s)", qPrintable(what), im.width, im.height, im.frames);
      return false;
    }
    for (const auto& frame : im.framesData) {
      if (frame.size() != values) {
        qWarning("%s: a frame holds %zu values, %zu expected", qPrintable(what), frame.size(), values);
        return false;
      }
      if (im.samplesPerPixel == 3)
        for (qint32 v : frame)
          if (v < 0 || v > 255) {
            qWarning("%s: colour value %d outside 0..255", qPrintable(what), v);
            return false;
          }
    }
    for (int f = 0; f < im.frames; ++f)
      if (renderForModel(im, f).isNull()) {
        qWarning("%s: frame %d does not render", qPrintable(what), f);
        return false;
      }
    return true;
  }

 private Q_SLOTS:
  // The crash of issue 12: the 16-bit branch of the YBR_FULL_422 unpacking read the 8-bit pointer
  // (null for 16-bit data). Y0 Y1 Cb Cr per pixel pair, here two gray pixels 200 and 100.
  void ybrFull422With16BitsAllocatedDoesNotCrash() {
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 2;
    s.samples = 3;
    s.photometric = QStringLiteral("YBR_FULL_422");
    s.bitsAllocated = s.bitsStored = 16;
    s.words = {200 << 8, 100 << 8, 128 << 8, 128 << 8};
    QString path;
    const LoadResult r = writeAndLoad(s, &path);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.image->framesData[0], (std::vector<qint32>{200, 200, 200, 100, 100, 100}));
  }

  // YBR_FULL_422 stores horizontal pixel pairs: an odd width has no defined layout, and reading it as
  // pairs ran two bytes past the last frame.
  void ybrFull422WithOddColumnsIsRefused() {
    SyntheticDicom s;
    s.rows = 3;
    s.columns = 5;
    s.samples = 3;
    s.photometric = QStringLiteral("YBR_FULL_422");
    s.bitsAllocated = s.bitsStored = 8;
    fill(s, size_t(s.rows * s.columns) * 2);
    QString path;
    const LoadResult r = writeAndLoad(s, &path);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QFileInfo(path).fileName()) && r.error.contains(QStringLiteral("YBR_FULL_422")) &&
                 r.error.contains(QStringLiteral("5")),
             qPrintable(r.error));
  }

  // Colour with a Planar Configuration that DICOM does not define.
  void undefinedPlanarConfigurationIsRefused() {
    SyntheticDicom s;
    s.samples = 3;
    s.photometric = QStringLiteral("RGB");
    s.planar = 2;
    s.bitsAllocated = s.bitsStored = 8;
    fill(s, size_t(s.rows * s.columns) * 3);
    QString path;
    const LoadResult r = writeAndLoad(s, &path);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QStringLiteral("Planar Configuration 2")), qPrintable(r.error));
  }

  // The grid: every combination below, with pixel data exactly as long as the header asks (for the
  // formats that have a defined length) or one byte short.
  void oddPixelFormatGridIsDecodedOrRefused() {
    const int samplesList[] = {1, 2, 3, 4};
    const int allocatedList[] = {1, 7, 8, 12, 16, 24, 32, 33};
    const char* photometrics[] = {"MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "GARBAGE", ""};
    int cases = 0;
    for (int samples : samplesList)
      for (int allocated : allocatedList)
        for (int storedStep = 0; storedStep < 3; ++storedStep)
          for (const char* photometric : photometrics)
            for (int planar : {0, 1, 7})
              for (int shape = 0; shape < 3; ++shape) {
                if (planar != 0 && samples != 3) continue;  // Planar Configuration only means something for colour
                SyntheticDicom s;
                s.samples = samples;
                s.bitsAllocated = allocated;
                // Bits Stored: all of them, fewer (with a high bit in the middle), or more than allocated.
                s.bitsStored = storedStep == 0 ? allocated : storedStep == 1 ? std::max(1, allocated - 3) : allocated + 1;
                s.highBit = storedStep == 1 ? std::min(allocated - 1, s.bitsStored) : -1;
                s.isSigned = (cases % 2) == 1;
                s.photometric = QString::fromLatin1(photometric);
                s.planar = planar;
                s.rows = shape == 2 ? 1 : 5;
                s.columns = shape == 0 ? 8 : shape == 1 ? 7 : 1;  // even, odd, a single column
                s.frames = shape == 1 ? 2 : 1;
                s.extra = putPalette;
                const size_t bytesPerSample = size_t(std::max(1, (allocated + 7) / 8));
                const size_t exact = size_t(s.rows * s.columns * samples) * bytesPerSample * size_t(s.frames);
                fill(s, cases % 7 == 3 ? exact - 1 : exact);  // 7: spread over every shape and format
                const QString what = QStringLiteral("%1 sample(s), %2/%3 bits, %4, planar %5, %6x%7x%8")
                                         .arg(samples).arg(allocated).arg(s.bitsStored).arg(s.photometric).arg(planar)
                                         .arg(s.columns).arg(s.rows).arg(s.frames);
                QVERIFY2(decodedOrRefused(s, what), qPrintable(what));
                ++cases;
              }
    qInfo("%d combinations: %d decoded, %d refused", cases, decoded_, refused_);
    QVERIFY(decoded_ > 0 && refused_ > 0);
  }
};

QTEST_GUILESS_MAIN(TestDicomPixelFormats)
#include "test_dicom_pixel_formats.moc"
