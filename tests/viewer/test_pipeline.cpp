// The display pipeline, rule by rule, on synthetic DICOM files whose every value is known:
// window maths (PS3.3 C.11.2.1.2), Modality LUT / rescale, VOI LUT, inversion after VOI, the
// MONOCHROME1 / MONOCHROME2 twin rule, signed and masked pixels, presets and defaults.
#include "support/dicom_synthetic.h"

#include "cxr/viewer/radiograph.h"

#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace cxr::viewer;
using cxr::test::SyntheticDicom;
using cxr::test::SyntheticLut;
using Function = VoiWindow::Function;
Q_DECLARE_METATYPE(VoiWindow::Function)

namespace {

// 64x64 = 4096 pixels holding every 12-bit value once, in a scrambled order.
std::vector<quint16> twelveBitRamp() {
  std::vector<quint16> v(4096);
  for (size_t i = 0; i < v.size(); ++i) v[i] = quint16((i * 1597) % 4096);
  return v;
}

int byteAt(const QImage& image, int index) { return image.constScanLine(index / image.width())[index % image.width()]; }

}  // namespace

class TestPipeline : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  int counter_ = 0;

  std::shared_ptr<const RadiographImage> load(const SyntheticDicom& s) {
    const QString path = tmp_.filePath(QStringLiteral("synthetic_%1.dcm").arg(++counter_));
    if (!cxr::test::writeSyntheticDicom(s, path)) {
      qWarning("could not write %s", qPrintable(path));
      return nullptr;
    }
    const LoadResult r = loadRadiograph(path);
    if (!r.ok()) qWarning("%s", qPrintable(r.error));
    return r.image;
  }

  static SyntheticDicom ramp(const QString& photometric, bool mirrored) {
    SyntheticDicom s;
    s.rows = s.columns = 64;
    s.bitsStored = 12;
    s.photometric = photometric;
    s.words = twelveBitRamp();
    if (mirrored)
      for (quint16& w : s.words) w = quint16(4095 - w);
    return s;
  }

 private Q_SLOTS:
  // ---- Window maths, row by row (output range 0..255) ----
  void windowFormula_data() {
    QTest::addColumn<Function>("function");
    QTest::addColumn<double>("center");
    QTest::addColumn<double>("width");
    QTest::addColumn<double>("x");
    QTest::addColumn<double>("expected");
    const Function lin = Function::Linear, exact = Function::LinearExact, sig = Function::Sigmoid;
    // LINEAR: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255 inside (c-0.5-(w-1)/2, c-0.5+(w-1)/2].
    QTest::newRow("linear at lower edge is black") << lin << 2048.0 << 1000.0 << 1548.0 << 0.0;
    QTest::newRow("linear just inside lower edge") << lin << 2048.0 << 1000.0 << 1549.0 << (1549 - 2047.5) / 999.0 * 255 + 127.5;
    QTest::newRow("linear at c-0.5 is mid-gray") << lin << 2048.0 << 1000.0 << 2047.5 << 127.5;
    QTest::newRow("linear at center") << lin << 2048.0 << 1000.0 << 2048.0 << (0.5 / 999.0 + 0.5) * 255;
    QTest::newRow("linear at upper edge is white") << lin << 2048.0 << 1000.0 << 2547.0 << 255.0;
    QTest::newRow("linear above upper edge") << lin << 2048.0 << 1000.0 << 3000.0 << 255.0;
    QTest::newRow("linear far below") << lin << 2048.0 << 1000.0 << -5000.0 << 0.0;
    QTest::newRow("width 1: x = c-0.5 is black") << lin << 100.0 << 1.0 << 99.5 << 0.0;
    QTest::newRow("width 1: x = c-0.49 is white") << lin << 100.0 << 1.0 << 99.51 << 255.0;
    QTest::newRow("width 1: x = c is white") << lin << 100.0 << 1.0 << 100.0 << 255.0;
    QTest::newRow("width 1: x = c-1 is black") << lin << 100.0 << 1.0 << 99.0 << 0.0;
    QTest::newRow("width 0.5 treated as 1") << lin << 100.0 << 0.5 << 99.6 << 255.0;
    QTest::newRow("width 2: x = c-1 is black") << lin << 100.0 << 2.0 << 99.0 << 0.0;
    QTest::newRow("width 2: x = c-0.5 is mid") << lin << 100.0 << 2.0 << 99.5 << 127.5;
    QTest::newRow("width 2: x = c is white") << lin << 100.0 << 2.0 << 100.0 << 255.0;
    QTest::newRow("negative center (CT lung)") << lin << -600.0 << 1500.0 << -600.5 << 127.5;
    // LINEAR_EXACT: y = ((x - c) / w + 0.5) * 255 inside (c - w/2, c + w/2].
    QTest::newRow("exact at center is mid-gray") << exact << 100.0 << 200.0 << 100.0 << 127.5;
    QTest::newRow("exact at lower edge is black") << exact << 100.0 << 200.0 << 0.0 << 0.0;
    QTest::newRow("exact at upper edge is white") << exact << 100.0 << 200.0 << 200.0 << 255.0;
    QTest::newRow("exact quarter") << exact << 100.0 << 200.0 << 50.0 << 63.75;
    QTest::newRow("exact width 0 threshold below") << exact << 100.0 << 0.0 << 100.0 << 0.0;
    QTest::newRow("exact width 0 threshold above") << exact << 100.0 << 0.0 << 100.001 << 255.0;
    // SIGMOID: y = 255 / (1 + exp(-4 (x - c) / w)).
    QTest::newRow("sigmoid at center") << sig << 100.0 << 50.0 << 100.0 << 127.5;
    QTest::newRow("sigmoid one quarter width up") << sig << 100.0 << 50.0 << 112.5 << 255.0 / (1.0 + std::exp(-1.0));
    QTest::newRow("sigmoid far below") << sig << 100.0 << 50.0 << -1000.0 << 0.0;
  }
  void windowFormula() {
    QFETCH(Function, function);
    QFETCH(double, center);
    QFETCH(double, width);
    QFETCH(double, x);
    QFETCH(double, expected);
    VoiWindow w;
    w.center = center;
    w.width = width;
    w.function = function;
    QVERIFY2(std::abs(applyWindow(w, x, 0, 255) - expected) < 1e-6,
             qPrintable(QStringLiteral("got %1").arg(applyWindow(w, x, 0, 255), 0, 'g', 12)));
  }

  // The rendered bytes are the formula rounded, for every stored value of a 12-bit image.
  void renderedBytesFollowTheFormula_data() {
    QTest::addColumn<Function>("function");
    QTest::addColumn<double>("center");
    QTest::addColumn<double>("width");
    QTest::newRow("linear 2048/1000") << Function::Linear << 2048.0 << 1000.0;
    QTest::newRow("linear 1000/1") << Function::Linear << 1000.0 << 1.0;
    QTest::newRow("exact 300.5/77") << Function::LinearExact << 300.5 << 77.0;
    QTest::newRow("sigmoid 3000/400") << Function::Sigmoid << 3000.0 << 400.0;
  }
  void renderedBytesFollowTheFormula() {
    QFETCH(Function, function);
    QFETCH(double, center);
    QFETCH(double, width);
    const auto image = load(ramp(QStringLiteral("MONOCHROME2"), false));
    QVERIFY(image);
    VoiSelection voi;
    voi.window = VoiWindow{center, width, {}, function};
    const QImage shown = renderFrame(*image, 0, voi);
    const std::vector<qint32>& stored = image->framesData[0];
    for (int i = 0; i < int(stored.size()); ++i) {
      const int expected = int(std::floor(applyWindow(*voi.window, stored[size_t(i)], 0, 255) + 0.5));
      QCOMPARE(byteAt(shown, i), expected);
    }
  }

  void windowFromTagsWithFunction() {
    SyntheticDicom s = ramp(QStringLiteral("MONOCHROME2"), false);
    s.windowCenters = {QStringLiteral("1000"), QStringLiteral("3000")};
    s.windowWidths = {QStringLiteral("500"), QStringLiteral("200")};
    s.windowExplanations = {QStringLiteral("SOFT"), QStringLiteral("HARD")};
    s.voiFunction = QStringLiteral("LINEAR_EXACT");
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->fileWindows.size(), 2);
    QCOMPARE(image->fileWindows[1].center, 3000.0);
    QCOMPARE(image->fileWindows[1].width, 200.0);
    QCOMPARE(image->fileWindows[1].explanation, QStringLiteral("HARD"));
    QCOMPARE(image->fileWindows[0].function, Function::LinearExact);
    QCOMPARE(*defaultVoi(*image).window, image->fileWindows[0]);
    const QList<VoiWindow> presets = radiographPresets(*image);
    QCOMPARE(presets[0], image->fileWindows[0]);
    QCOMPARE(presets[1], image->fileWindows[1]);
  }

  // ---- MONOCHROME1 vs MONOCHROME2 ----
  // Twin = the same picture: MONOCHROME1 stores 4095 - v where MONOCHROME2 stores v, with the
  // window mirrored (LINEAR's half-unit offset makes its mirror 4096 - c, the others 4095 - c).
  void monochrome1TwinRendersLikeMonochrome2_data() {
    QTest::addColumn<QString>("function");
    QTest::addColumn<QString>("center2");
    QTest::addColumn<QString>("center1");
    QTest::addColumn<QString>("width");
    QTest::newRow("no window (full range)") << QString() << QString() << QString() << QString();
    QTest::newRow("LINEAR") << QString() << QStringLiteral("1500") << QStringLiteral("2596") << QStringLiteral("1000");
    QTest::newRow("LINEAR narrow") << QString() << QStringLiteral("2000") << QStringLiteral("2096") << QStringLiteral("10");
    QTest::newRow("LINEAR_EXACT") << QStringLiteral("LINEAR_EXACT") << QStringLiteral("1500.3") << QStringLiteral("2594.7") << QStringLiteral("1000");
    QTest::newRow("SIGMOID") << QStringLiteral("SIGMOID") << QStringLiteral("1500.3") << QStringLiteral("2594.7") << QStringLiteral("700");
  }
  void monochrome1TwinRendersLikeMonochrome2() {
    QFETCH(QString, function);
    QFETCH(QString, center2);
    QFETCH(QString, center1);
    QFETCH(QString, width);
    SyntheticDicom m2 = ramp(QStringLiteral("MONOCHROME2"), false);
    SyntheticDicom m1 = ramp(QStringLiteral("MONOCHROME1"), true);
    if (!center2.isEmpty()) {
      m2.windowCenters = {center2};
      m1.windowCenters = {center1};
      m2.windowWidths = m1.windowWidths = {width};
      m2.voiFunction = m1.voiFunction = function;
    }
    const auto a = load(m2), b = load(m1);
    QVERIFY(a && b);
    QCOMPARE(b->photometric, Photometric::Monochrome1);
    QCOMPARE(renderFrame(*a, 0, defaultVoi(*a)), renderFrame(*b, 0, defaultVoi(*b)));
    QCOMPARE(renderForModel(*a, 0), renderForModel(*b, 0));
  }

  // Same stored values, only the photometric differs: exact complements, under any VOI.
  void inversionIsAppliedAfterVoi() {
    SyntheticDicom s = ramp(QStringLiteral("MONOCHROME2"), false);
    // A strongly non-linear VOI LUT (square law): inverting before the LUT would give different bytes.
    SyntheticLut lut;
    lut.entries = 4096;
    lut.bits = 16;
    for (int i = 0; i < 4096; ++i) lut.data.push_back(quint16(std::lround(65535.0 * (i / 4095.0) * (i / 4095.0))));
    s.voiLuts = {lut};
    const auto m2 = load(s);
    s.photometric = QStringLiteral("MONOCHROME1");
    const auto m1 = load(s);
    s.photometric = QStringLiteral("MONOCHROME2");
    s.presentationShape = QStringLiteral("INVERSE");
    const auto inverse = load(s);
    s.photometric = QStringLiteral("MONOCHROME1");
    const auto m1Inverse = load(s);  // DX style: MONOCHROME1 declared together with INVERSE
    QVERIFY(m2 && m1 && inverse && m1Inverse);
    QVERIFY(defaultVoi(*m2).voiLutIndex.has_value());

    const QImage normal = renderFrame(*m2, 0, defaultVoi(*m2));
    const std::vector<qint32>& stored = m2->framesData[0];
    for (int i = 0; i < 4096; i += 7) {
      const double v = stored[size_t(i)] / 4095.0;
      QCOMPARE(byteAt(normal, i), int(std::floor(255.0 * std::lround(65535.0 * v * v) / 65535.0 + 0.5)));
    }
    for (const auto& invertedImage : {m1, inverse, m1Inverse}) {
      const QImage shown = renderFrame(*invertedImage, 0, defaultVoi(*invertedImage));
      for (int i = 0; i < 4096; ++i) QCOMPARE(byteAt(shown, i), 255 - byteAt(normal, i));
    }
    // The user's Invert toggles on top; the model never sees it.
    VoiSelection flipped = defaultVoi(*m1);
    flipped.userInvert = true;
    QCOMPARE(renderFrame(*m1, 0, flipped), normal);
    QCOMPARE(renderForModel(*m1, 0, flipped), renderFrame(*m1, 0, defaultVoi(*m1)));
  }

  // ---- Modality LUT and rescale ----
  void modalityLutSequence() {
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 8;
    s.isSigned = true;
    s.bitsStored = 16;
    const qint16 values[8] = {-20, -10, -9, 0, 5, 10, 11, 300};
    for (qint16 v : values) s.words.push_back(quint16(v));
    SyntheticLut lut;  // maps stored -10..10 to 1000 + 10 * (v + 10)
    lut.entries = 21;
    lut.firstMapped = -10;
    lut.bits = 16;
    for (int v = -10; v <= 10; ++v) lut.data.push_back(quint16(1000 + 10 * (v + 10)));
    s.modalityLut = lut;
    s.slope = 5;  // ignored: the LUT sequence wins
    s.windowCenters = {QStringLiteral("1100")};
    s.windowWidths = {QStringLiteral("201")};
    s.voiFunction = QStringLiteral("LINEAR_EXACT");
    const auto image = load(s);
    QVERIFY(image);
    QVERIFY(image->modalityLut.has_value());
    QCOMPARE(image->modalityLut->firstMapped, -10);
    const double expected[8] = {1000, 1000, 1010, 1100, 1150, 1200, 1200, 1200};  // clamped outside the table
    for (int i = 0; i < 8; ++i) QCOMPARE(image->modalityValue(image->framesData[0][size_t(i)]), expected[i]);
    QCOMPARE(image->minModality(), 1000.0);
    QCOMPARE(image->maxModality(), 1200.0);
    const QImage shown = renderFrame(*image, 0, defaultVoi(*image));
    for (int i = 0; i < 8; ++i)
      QCOMPARE(int(shown.constScanLine(0)[i]), int(std::floor(applyWindow(image->fileWindows[0], expected[i], 0, 255) + 0.5)));
  }

  void rescaleSlopeIntercept() {
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 4;
    s.words = {0, 100, 200, 4095};
    s.bitsStored = 12;
    s.slope = 2;
    s.intercept = -1024;
    s.windowCenters = {QStringLiteral("-624")};  // = stored 200
    s.windowWidths = {QStringLiteral("400")};
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->modalityValue(100), -824.0);
    QCOMPARE(image->minModality(), -1024.0);
    QCOMPARE(image->maxModality(), 2.0 * 4095 - 1024);
    const QImage shown = renderFrame(*image, 0, defaultVoi(*image));
    QCOMPARE(int(shown.constScanLine(0)[0]), 0);
    QCOMPARE(int(shown.constScanLine(0)[3]), 255);
    QCOMPARE(int(shown.constScanLine(0)[2]), int(std::floor(applyWindow(image->fileWindows[0], -624, 0, 255) + 0.5)));
  }

  // ---- Stored values: sign, BitsStored < BitsAllocated, HighBit ----
  void storedValuesAreMaskedAndSignExtended_data() {
    QTest::addColumn<int>("bitsStored");
    QTest::addColumn<int>("highBit");
    QTest::addColumn<bool>("isSigned");
    QTest::addColumn<int>("raw");
    QTest::addColumn<int>("expected");
    QTest::newRow("12 unsigned, junk in top bits") << 12 << 11 << false << 0xF123 << 0x123;
    QTest::newRow("12 signed positive") << 12 << 11 << true << 0x07FF << 2047;
    QTest::newRow("12 signed -1 with junk") << 12 << 11 << true << 0xAFFF << -1;
    QTest::newRow("12 signed most negative") << 12 << 11 << true << 0x0800 << -2048;
    QTest::newRow("16 signed -32768") << 16 << 15 << true << 0x8000 << -32768;
    QTest::newRow("16 unsigned 65535") << 16 << 15 << false << 0xFFFF << 65535;
    QTest::newRow("12 bits at the top (high bit 15)") << 12 << 15 << false << 0x1230 << 0x123;
    QTest::newRow("10 signed, high bit 15") << 10 << 15 << true << 0xFFC0 << -1;
  }
  void storedValuesAreMaskedAndSignExtended() {
    QFETCH(int, bitsStored);
    QFETCH(int, highBit);
    QFETCH(bool, isSigned);
    QFETCH(int, raw);
    QFETCH(int, expected);
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 2;
    s.bitsStored = bitsStored;
    s.highBit = highBit;
    s.isSigned = isSigned;
    s.words = {quint16(raw), 0};
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->framesData[0][0], expected);
  }

  void eightBitSignedAndOddLength() {
    SyntheticDicom s;
    s.rows = s.columns = 3;  // 9 bytes: odd length, padded on write
    s.bitsAllocated = s.bitsStored = 8;
    s.isSigned = true;
    s.bytes = {0x80, 0xFF, 0x00, 0x01, 0x7F, 0x10, 0x20, 0x30, 0x40};
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->framesData[0][0], -128);
    QCOMPARE(image->framesData[0][1], -1);
    QCOMPARE(image->framesData[0][4], 127);
    QCOMPARE(image->minStored, -128);
    QCOMPARE(image->maxStored, 127);
  }

  void multiFrameKeepsFramesApart() {
    SyntheticDicom s;
    s.rows = s.columns = 4;
    s.frames = 3;
    for (int f = 0; f < 3; ++f)
      for (int i = 0; i < 16; ++i) s.words.push_back(quint16(f * 1000 + i));
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->frames, 3);
    QCOMPARE(image->framesData[2][5], 2005);
    QVERIFY(renderFrame(*image, 3, defaultVoi(*image)).isNull());
    QCOMPARE(qGray(renderFrame(*image, 2, defaultVoi(*image)).pixel(3, 3)), 255);
    QCOMPARE(qGray(renderFrame(*image, 0, defaultVoi(*image)).pixel(0, 0)), 0);
  }

  void colourPlanarAndYbr() {
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 2;
    s.samples = 3;
    s.bitsAllocated = s.bitsStored = 8;
    s.photometric = QStringLiteral("RGB");
    s.planar = 1;  // RR GG BB
    s.bytes = {10, 20, 30, 40, 50, 60};
    auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->framesData[0], (std::vector<qint32>{10, 30, 50, 20, 40, 60}));
    s.planar = 0;
    s.photometric = QStringLiteral("YBR_FULL");
    s.bytes = {76, 85, 255, 128, 128, 128};  // full-range red, mid gray
    image = load(s);
    QVERIFY(image);
    QCOMPARE(image->photometric, Photometric::Rgb);
    QVERIFY(std::abs(image->framesData[0][0] - 254) <= 1);
    QVERIFY(image->framesData[0][1] <= 1);
    QVERIFY(image->framesData[0][2] <= 1);
    QCOMPARE(image->framesData[0][3], 128);
  }

  void paletteColour() {
    SyntheticDicom s;
    s.rows = 1;
    s.columns = 4;
    s.bitsAllocated = s.bitsStored = 8;
    s.photometric = QStringLiteral("PALETTE COLOR");
    s.bytes = {10, 11, 12, 200};  // 200 is past the table: clamps to the last entry
    s.extra = [](DcmDataset& ds) {
      const DcmTagKey descriptors[3] = {DCM_RedPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableDescriptor,
                                        DCM_BluePaletteColorLookupTableDescriptor};
      const DcmTagKey data[3] = {DCM_RedPaletteColorLookupTableData, DCM_GreenPaletteColorLookupTableData,
                                 DCM_BluePaletteColorLookupTableData};
      const Uint16 descriptor[3] = {3, 10, 16};  // 3 entries, first index 10, 16-bit entries
      const Uint16 tables[3][3] = {{0xFFFF, 0x0000, 0x8000}, {0x0000, 0xFFFF, 0x8000}, {0x0000, 0x0000, 0x8000}};
      for (int c = 0; c < 3; ++c) {
        ds.putAndInsertUint16Array(descriptors[c], descriptor, 3);
        auto* element = new DcmOtherByteOtherWord(DcmTag(data[c], EVR_OW));
        element->putUint16Array(tables[c], 3);
        ds.insert(element, true);
      }
    };
    const auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->samplesPerPixel, 3);
    QCOMPARE(image->framesData[0], (std::vector<qint32>{255, 0, 0, 0, 255, 0, 128, 128, 128, 128, 128, 128}));
  }

  // ---- Defaults and presets ----
  void defaultVoiOrder() {
    SyntheticDicom s = ramp(QStringLiteral("MONOCHROME2"), false);
    auto image = load(s);
    QVERIFY(image);
    VoiSelection voi = defaultVoi(*image);
    QVERIFY(voi.window && !voi.voiLutIndex);
    QCOMPARE(voi.window->explanation, QStringLiteral("Full range"));
    QCOMPARE(voi.window->center - voi.window->width / 2, 0.0);
    QCOMPARE(voi.window->center + voi.window->width / 2, 4095.0);
    QCOMPARE(byteAt(renderFrame(*image, 0, voi), 0), 0);  // stored 0

    SyntheticLut lut;
    lut.entries = 4096;
    lut.bits = 12;
    for (int i = 0; i < 4096; ++i) lut.data.push_back(quint16(i));
    s.voiLuts = {lut};
    image = load(s);
    QVERIFY(image);
    voi = defaultVoi(*image);
    QVERIFY(!voi.window && voi.voiLutIndex == 0);

    s.windowCenters = {QStringLiteral("100")};
    s.windowWidths = {QStringLiteral("50")};
    image = load(s);
    QVERIFY(image);
    voi = defaultVoi(*image);
    QVERIFY(voi.window && voi.window->center == 100.0);
  }

  void percentilePresets() {
    const auto m2 = load(ramp(QStringLiteral("MONOCHROME2"), false));
    const auto m1 = load(ramp(QStringLiteral("MONOCHROME1"), true));
    QVERIFY(m2 && m1);
    const auto find = [](const QList<VoiWindow>& presets, const QString& prefix) {
      for (const VoiWindow& w : presets)
        if (w.explanation.startsWith(prefix)) return w;
      return VoiWindow{};
    };
    const QList<VoiWindow> p2 = radiographPresets(*m2), p1 = radiographPresets(*m1);
    QCOMPARE(p2.size(), 4);  // full range, soft tissue, lung, bone
    const VoiWindow lung2 = find(p2, QStringLiteral("Lung")), bone2 = find(p2, QStringLiteral("Bone"));
    const VoiWindow soft2 = find(p2, QStringLiteral("Soft"));
    // Uniform histogram over 0..4095: percentiles are fractions of 4095.
    QVERIFY(std::abs((soft2.center - soft2.width / 2) - 0.02 * 4096) <= 2);
    QVERIFY(std::abs((soft2.center + soft2.width / 2) - 0.98 * 4096) <= 2);
    QVERIFY(std::abs((lung2.center + lung2.width / 2) - 0.65 * 4096) <= 2);
    QVERIFY(std::abs((bone2.center - bone2.width / 2) - 0.35 * 4096) <= 2);
    QVERIFY(lung2.center < bone2.center);
    // MONOCHROME1: the same anatomy sits at mirrored stored values.
    const VoiWindow lung1 = find(p1, QStringLiteral("Lung")), bone1 = find(p1, QStringLiteral("Bone"));
    QVERIFY(lung1.center > bone1.center);
    QVERIFY(std::abs((4095 - lung1.center) - lung2.center) <= 2);
    QVERIFY(std::abs(lung1.width - lung2.width) <= 2);
  }

  void calibrationSource() {
    SyntheticDicom s = ramp(QStringLiteral("MONOCHROME2"), false);
    s.imagerPixelSpacing = QStringLiteral("0.143\\0.15");
    auto image = load(s);
    QVERIFY(image);
    QCOMPARE(image->calibration.source, Calibration::Source::ImagerPixelSpacing);
    QCOMPARE(image->calibration.label(), QStringLiteral("at detector"));
    QCOMPARE(image->calibration.rowSpacingMm, 0.143);
    QCOMPARE(image->calibration.columnSpacingMm, 0.15);
    s.pixelSpacing = QStringLiteral("0.2\\0.2");
    image = load(s);
    QVERIFY(image);
    QCOMPARE(image->calibration.source, Calibration::Source::PixelSpacing);
    QCOMPARE(image->calibration.rowSpacingMm, 0.2);
    s.pixelSpacing.clear();
    s.imagerPixelSpacing.clear();
    image = load(s);
    QVERIFY(image);
    QCOMPARE(image->calibration.label(), QStringLiteral("uncalibrated (px)"));
  }

  void inconsistentHeadersAreRejected_data() {
    QTest::addColumn<int>("bitsAllocated");
    QTest::addColumn<int>("bitsStored");
    QTest::addColumn<int>("highBit");
    QTest::addColumn<int>("pixelWords");
    QTest::addColumn<QString>("problem");
    QTest::newRow("pixel data too short") << 16 << 16 << 15 << 10 << QStringLiteral("holds");
    QTest::newRow("bits stored > allocated") << 16 << 17 << 16 << 64 << QStringLiteral("inconsistent");
    QTest::newRow("bits allocated 12") << 12 << 12 << 11 << 64 << QStringLiteral("Bits Allocated 12");
    QTest::newRow("high bit beyond allocated") << 16 << 12 << 16 << 64 << QStringLiteral("inconsistent");
  }
  void inconsistentHeadersAreRejected() {
    QFETCH(int, bitsAllocated);
    QFETCH(int, bitsStored);
    QFETCH(int, highBit);
    QFETCH(int, pixelWords);
    QFETCH(QString, problem);
    SyntheticDicom s;
    s.bitsAllocated = bitsAllocated;
    s.bitsStored = bitsStored;
    s.highBit = highBit;
    s.words.assign(size_t(pixelWords), 7);
    const QString path = tmp_.filePath(QStringLiteral("bad_header_%1.dcm").arg(++counter_));
    QVERIFY(cxr::test::writeSyntheticDicom(s, path));
    const LoadResult r = loadRadiograph(path);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QFileInfo(path).fileName()), qPrintable(r.error));
    QVERIFY2(r.error.contains(problem), qPrintable(r.error));
  }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "test_pipeline.moc"
