// The DICOM conformance set: every file either loads with the expected geometry, or fails with a
// message that names the file and the problem; twins (same image, different encoding) give the
// same pixels. Files are taken from tests/data/dicom/ when copied there, else from the team's shared
// data; a row whose file is in neither place is skipped.
#include "cxr/viewer/radiograph.h"

#include <QDir>
#include <QFileInfo>
#include <QTest>

#include <thread>

#include <algorithm>
#include <atomic>
#include <cstdlib>

using namespace cxr::viewer;

namespace {

QString locate(const QString& name) {
  const QString local = QStringLiteral(CXR_TEST_DATA_DIR "/dicom/") + name;
  if (QFileInfo::exists(local)) return local;
  const QString shared = QStringLiteral(CXR_SHARED_DATA_DIR "/dicom/") + name;
  return QFileInfo::exists(shared) ? shared : QString();
}

// Largest absolute difference between two frames' stored values (or -1 if shapes differ).
qint64 maxStoredDifference(const RadiographImage& a, const RadiographImage& b, int frame) {
  const auto& x = a.framesData[size_t(frame)];
  const auto& y = b.framesData[size_t(frame)];
  if (x.size() != y.size()) return -1;
  qint64 worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max<qint64>(worst, std::llabs(qint64(x[i]) - y[i]));
  return worst;
}

int maxRenderDifference(const QImage& a, const QImage& b) {
  if (a.size() != b.size() || a.format() != b.format()) return 256;
  int worst = 0;
  for (int y = 0; y < a.height(); ++y)
    for (int x = 0; x < a.width(); ++x) {
      const QRgb p = a.pixel(x, y), q = b.pixel(x, y);
      worst = std::max({worst, std::abs(qRed(p) - qRed(q)), std::abs(qGreen(p) - qGreen(q)), std::abs(qBlue(p) - qBlue(q))});
    }
  return worst;
}

}  // namespace

class TestDicomConformance : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void loadsAsExpected_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("frames");
    QTest::addColumn<int>("samples");
    QTest::addColumn<int>("photometric");  // Photometric as int
    QTest::addColumn<int>("bitsStored");
    QTest::addColumn<bool>("isSigned");
    QTest::addColumn<int>("windows");      // number of file windows
    const int m1 = int(Photometric::Monochrome1), m2 = int(Photometric::Monochrome2), rgb = int(Photometric::Rgb);
    const auto row = [](const char* f, int w, int h, int n, int spp, int ph, int bits, bool s, int win) {
      QTest::newRow(f) << QString::fromLatin1(f) << w << h << n << spp << ph << bits << s << win;
    };
    row("MR_small_implicit.dcm", 64, 64, 1, 1, m2, 16, true, 1);
    row("CT_small.dcm", 128, 128, 1, 1, m2, 16, true, 0);
    row("MR_small_bigendian.dcm", 64, 64, 1, 1, m2, 16, true, 1);
    row("no_meta.dcm", 128, 128, 1, 1, m2, 16, true, 0);
    row("image_dfl.dcm", 512, 512, 1, 1, m2, 8, false, 0);
    row("SC_rgb_jpeg_dcmtk.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("SC_rgb_dcmtk_+eb+cy+np.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("JPGExtended.dcm", 256, 1024, 1, 1, m2, 12, false, 0);
    row("HasFragmentSequence.dcm", 512, 512, 96, 1, m2, 8, false, 0);
    row("GH184.dcm", 128, 128, 1, 1, m2, 16, true, 0);
    row("JPGLosslessP14SV1_1s_1f_8b.dcm", 1024, 768, 1, 1, m2, 8, false, 1);
    row("MR_small_jpeg_ls_lossless.dcm", 64, 64, 1, 1, m2, 16, true, 1);
    row("JLSN_RGB_ILV0.dcm", 256, 256, 1, 3, rgb, 8, false, 0);
    row("MR_small_jp2klossless.dcm", 64, 64, 1, 1, m2, 16, true, 1);
    row("693_J2KI.dcm", 512, 512, 1, 1, m2, 14, true, 1);
    row("MR_small_RLE.dcm", 64, 64, 1, 1, m2, 16, true, 1);
    row("SC_rgb_rle.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("RG3_J2KI.dcm", 1760, 1760, 1, 1, m1, 10, false, 1);
    row("SC_rgb.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("SC_rgb_small_odd.dcm", 3, 3, 1, 3, rgb, 8, false, 0);
    row("SC_ybr_full_uncompressed.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("SC_ybr_full_422_uncompressed.dcm", 100, 100, 1, 3, rgb, 8, false, 0);
    row("vlut_04.dcm", 512, 512, 1, 1, m2, 8, false, 0);
    row("mlut_18.dcm", 512, 512, 1, 1, m2, 12, true, 0);
    row("emri_small.dcm", 64, 64, 10, 1, m2, 12, false, 0);
    row("emri_small_RLE.dcm", 64, 64, 10, 1, m2, 12, false, 0);
    row("GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm", 512, 512, 1, 1, m2, 16, true, 0);
    row("bad_sequence.dcm", 512, 512, 1, 1, m2, 12, false, 2);
    row("RG3_J2KI_decompressed_explicit_le_mono1.dcm", 1760, 1760, 1, 1, m1, 10, false, 1);
  }
  void loadsAsExpected() {
    QFETCH(QString, file);
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(int, frames);
    QFETCH(int, samples);
    QFETCH(int, photometric);
    QFETCH(int, bitsStored);
    QFETCH(bool, isSigned);
    QFETCH(int, windows);
    const QString path = locate(file);
    if (path.isEmpty()) QSKIP("file not in tests/data/dicom nor in the shared data");
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const RadiographImage& image = *loaded.image;
    QVERIFY(image.isDicom);
    QCOMPARE(image.width, width);
    QCOMPARE(image.height, height);
    QCOMPARE(image.frames, frames);
    QCOMPARE(int(image.framesData.size()), frames);
    QCOMPARE(image.samplesPerPixel, samples);
    QCOMPARE(int(image.photometric), photometric);
    QCOMPARE(image.bitsStored, bitsStored);
    QCOMPARE(image.isSigned, isSigned);
    QCOMPARE(int(image.fileWindows.size()), windows);
    QVERIFY(!image.tags.empty());
    for (int f = 0; f < frames; f += std::max(1, frames / 4)) {
      const QImage shown = renderFrame(image, f, defaultVoi(image));
      QCOMPARE(shown.size(), QSize(width, height));
      const QImage model = renderForModel(image, f);
      QCOMPARE(model.format(), QImage::Format_Grayscale8);
    }
  }

  void brokenFilesNameTheFileAndTheProblem_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("problem");  // a fragment the message must contain
    QTest::newRow("truncated pixel data") << QStringLiteral("MR_truncated.dcm") << QStringLiteral("truncated");
    QTest::newRow("J2K fragment too short") << QStringLiteral("emri_small_jpeg_2k_lossless_too_short.dcm") << QStringLiteral("Sequence Delimitation");
    QTest::newRow("J2K with a sequence delimiter inside") << QStringLiteral("JPEG2000-embedded-sequence-delimiter.dcm") << QStringLiteral("JPEG 2000");
    QTest::newRow("meta without transfer syntax") << QStringLiteral("meta_missing_tsyntax.dcm") << QStringLiteral("Transfer Syntax UID");
    QTest::newRow("truncated JPEG lossless") << QStringLiteral("GH1339.dcm") << QStringLiteral("truncated");
    QTest::newRow("cut at 600 bytes") << QStringLiteral("CT_small_cut_at_600_bytes.dcm") << QStringLiteral("truncated");
  }
  void brokenFilesNameTheFileAndTheProblem() {
    QFETCH(QString, file);
    QFETCH(QString, problem);
    const QString path = locate(file);
    if (path.isEmpty()) QSKIP("file not in tests/data/dicom nor in the shared data");
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(!loaded.ok(), "a deliberately broken file loaded");
    QVERIFY2(loaded.error.contains(file), qPrintable(loaded.error));
    QVERIFY2(loaded.error.contains(problem, Qt::CaseInsensitive), qPrintable(loaded.error));
  }

  // Same image, different encodings. maxStored/maxRender: allowed differences (0 = identical).
  void twinsAgree_data() {
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<int>("maxStored");
    QTest::addColumn<int>("maxRender");
    const auto row = [](const char* name, const char* a, const char* b, int stored, int render) {
      QTest::newRow(name) << QString::fromLatin1(a) << QString::fromLatin1(b) << stored << render;
    };
    row("J2K lossless = implicit", "MR_small_jp2klossless.dcm", "MR_small_implicit.dcm", 0, 0);
    row("RLE = implicit", "MR_small_RLE.dcm", "MR_small_implicit.dcm", 0, 0);
    row("big endian = implicit", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", 0, 0);
    row("JPEG-LS lossless = implicit", "MR_small_jpeg_ls_lossless.dcm", "MR_small_implicit.dcm", 0, 0);
    row("bare data set = Part 10", "no_meta.dcm", "CT_small.dcm", 0, 0);
    row("multi-frame RLE = explicit", "emri_small_RLE.dcm", "emri_small.dcm", 0, 0);
    row("RGB RLE = RGB", "SC_rgb_rle.dcm", "SC_rgb.dcm", 0, 0);
    // pydicom decompressed RG3 with the same OpenJPEG, so the lossy file and its copy agree exactly.
    row("J2K lossy MONOCHROME1 = its decompressed copy", "RG3_J2KI.dcm", "RG3_J2KI_decompressed_explicit_le_mono1.dcm", 0, 0);
    // The YBR files were made from the RGB one through rounding (and 4:2:2 averaging) conversions;
    // measured worst case 6 units (saturated patches, e.g. 255,128,128 -> 251,129,128). A wrong
    // matrix or swapped Cb/Cr gives differences of 100+.
    row("YBR_FULL = RGB", "SC_ybr_full_uncompressed.dcm", "SC_rgb.dcm", 8, 8);
    row("YBR_FULL_422 = RGB", "SC_ybr_full_422_uncompressed.dcm", "SC_rgb.dcm", 8, 8);
  }
  void twinsAgree() {
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(int, maxStored);
    QFETCH(int, maxRender);
    const QString pathA = locate(a), pathB = locate(b);
    if (pathA.isEmpty() || pathB.isEmpty()) QSKIP("twin not in tests/data/dicom nor in the shared data");
    const LoadResult x = loadRadiograph(pathA), y = loadRadiograph(pathB);
    QVERIFY2(x.ok(), qPrintable(x.error));
    QVERIFY2(y.ok(), qPrintable(y.error));
    QCOMPARE(x.image->frames, y.image->frames);
    for (int f = 0; f < x.image->frames; ++f) {
      const qint64 stored = maxStoredDifference(*x.image, *y.image, f);
      QVERIFY2(stored >= 0 && stored <= maxStored, qPrintable(QStringLiteral("frame %1: stored values differ by %2").arg(f).arg(stored)));
      // Both rendered under the same (b's default) window.
      const VoiSelection voi = defaultVoi(*y.image);
      const int render = maxRenderDifference(renderFrame(*x.image, f, voi), renderFrame(*y.image, f, voi));
      QVERIFY2(render <= maxRender, qPrintable(QStringLiteral("frame %1: renders differ by %2").arg(f).arg(render)));
    }
  }

  // Lossy JPEG colour: the centre column of each colour band against the values pydicom's own test
  // suite expects for these files (pydicom tests/test_pillow_handler.py / pylibjpeg), +-2 for the
  // IJG-versus-libjpeg-turbo upsampling difference. Rows 5, 15, ..., 95 at column 50.
  void lossyJpegColourMatchesReference_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QList<QRgb>>("expected");
    QTest::newRow("YBR_FULL_422 (4:2:2)") << QStringLiteral("SC_rgb_dcmtk_+eb+cy+np.dcm")
        << QList<QRgb>{qRgb(253, 1, 0), qRgb(253, 129, 131), qRgb(0, 255, 5), qRgb(127, 255, 129), qRgb(0, 0, 254),
                       qRgb(127, 128, 255), qRgb(0, 0, 0), qRgb(64, 64, 64), qRgb(192, 192, 192), qRgb(255, 255, 255)};
    QTest::newRow("YBR_FULL (4:4:4)") << QStringLiteral("SC_rgb_jpeg_dcmtk.dcm")
        << QList<QRgb>{qRgb(254, 0, 0), qRgb(255, 127, 127), qRgb(0, 255, 5), qRgb(129, 255, 129), qRgb(0, 0, 254),
                       qRgb(128, 127, 255), qRgb(0, 0, 0), qRgb(64, 64, 64), qRgb(192, 192, 192), qRgb(255, 255, 255)};
  }
  void lossyJpegColourMatchesReference() {
    QFETCH(QString, file);
    QFETCH(QList<QRgb>, expected);
    const QString path = locate(file);
    if (path.isEmpty()) QSKIP("file not in tests/data/dicom nor in the shared data");
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const QImage shown = renderFrame(*loaded.image, 0, defaultVoi(*loaded.image));
    for (int band = 0; band < expected.size(); ++band) {
      const QRgb got = shown.pixel(50, 5 + 10 * band), want = expected[band];
      const int diff = std::max({std::abs(qRed(got) - qRed(want)), std::abs(qGreen(got) - qGreen(want)), std::abs(qBlue(got) - qBlue(want))});
      QVERIFY2(diff <= 2, qPrintable(QStringLiteral("band %1: got %2,%3,%4").arg(band).arg(qRed(got)).arg(qGreen(got)).arg(qBlue(got))));
    }
  }

  // The GUI may load on a worker thread while another load runs: codec registration and DCMTK's
  // codec list must cope. Four threads load the same files; every result must equal the serial one.
  void concurrentLoadsAgree() {
    QStringList paths;
    for (const char* name : {"MR_small_jp2klossless.dcm", "MR_small_RLE.dcm", "CT_small.dcm", "no_meta.dcm", "SC_rgb.dcm",
                             "693_J2KI.dcm", "JPGExtended.dcm", "MR_small_jpeg_ls_lossless.dcm"}) {
      const QString path = locate(QString::fromLatin1(name));
      if (!path.isEmpty()) paths << path;
    }
    std::vector<std::vector<qint32>> serial;
    for (const QString& p : paths) {
      const LoadResult r = loadRadiograph(p);
      QVERIFY2(r.ok(), qPrintable(r.error));
      serial.push_back(r.image->framesData[0]);
    }
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int round = 0; round < 3; ++round)
          for (int i = 0; i < paths.size(); ++i) {
            const int k = (i + t) % int(paths.size());
            const LoadResult r = loadRadiograph(paths[k]);
            if (!r.ok() || r.image->framesData[0] != serial[size_t(k)]) ++mismatches;
          }
      });
    for (auto& th : threads) th.join();
    QCOMPARE(mismatches.load(), 0);
  }

  void attributesAreRead() {
    const QString ct = locate(QStringLiteral("CT_small.dcm"));
    if (ct.isEmpty()) QSKIP("CT_small.dcm missing");
    const LoadResult loaded = loadRadiograph(ct);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const RadiographImage& image = *loaded.image;
    QCOMPARE(image.rescaleIntercept, -1024.0);
    QCOMPARE(image.rescaleSlope, 1.0);
    QCOMPARE(image.fields.modality, QStringLiteral("CT"));
    QCOMPARE(image.calibration.source, Calibration::Source::PixelSpacing);
    QCOMPARE(image.calibration.label(), QStringLiteral("pixel spacing"));
    QVERIFY(image.calibration.rowSpacingMm > 0);
    QVERIFY(!image.fields.patientName.isEmpty());
    const auto tag = std::find_if(image.tags.begin(), image.tags.end(), [](const TagNode& n) { return n.tag == QStringLiteral("(0028,0010)"); });
    QVERIFY(tag != image.tags.end());
    QCOMPARE(tag->name, QStringLiteral("Rows"));
    QCOMPARE(tag->value, QStringLiteral("128"));
    // The tag tree shows sequences as children.
    const bool anySequenceWithItems = std::any_of(image.tags.begin(), image.tags.end(), [](const TagNode& n) {
      return n.vr == QStringLiteral("SQ") && !n.children.empty() && !n.children.front().children.empty();
    });
    QVERIFY(anySequenceWithItems);

    const QString windows = locate(QStringLiteral("bad_sequence.dcm"));
    if (windows.isEmpty()) return;
    const LoadResult two = loadRadiograph(windows);
    QVERIFY2(two.ok(), qPrintable(two.error));
    QCOMPARE(two.image->fileWindows.size(), 2);
    QCOMPARE(two.image->fileWindows[0].center, 40.0);
    QCOMPARE(two.image->fileWindows[1].center, 450.0);
    QCOMPARE(two.image->fileWindows[0].explanation, QStringLiteral("WINDOW1"));
  }

  void lutSequencesAreRead() {
    const QString mlut = locate(QStringLiteral("mlut_18.dcm")), vlut = locate(QStringLiteral("vlut_04.dcm"));
    if (mlut.isEmpty() || vlut.isEmpty()) QSKIP("mlut_18/vlut_04 missing (shared data)");
    const LoadResult m = loadRadiograph(mlut), v = loadRadiograph(vlut);
    QVERIFY2(m.ok(), qPrintable(m.error));
    QVERIFY2(v.ok(), qPrintable(v.error));
    QVERIFY(m.image->modalityLut.has_value());
    QVERIFY(!m.image->modalityLut->data.empty());
    QCOMPARE(int(v.image->voiLuts.size()), 1);
    QVERIFY(defaultVoi(*v.image).voiLutIndex.has_value());
    // Both IHE display tests carry the same SMPTE pattern: through their LUTs the 0 % patch must
    // come out black and the 100 % patch white, and the two renders must agree.
    const QImage a = renderFrame(*m.image, 0, defaultVoi(*m.image));
    const QImage b = renderFrame(*v.image, 0, defaultVoi(*v.image));
    QVERIFY2(maxRenderDifference(a, b) <= 2, qPrintable(QStringLiteral("differ by %1").arg(maxRenderDifference(a, b))));
  }
};

QTEST_GUILESS_MAIN(TestDicomConformance)
#include "test_dicom_conformance.moc"
