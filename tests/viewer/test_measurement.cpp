// Measurement geometry and ROI statistics, with every calibration case: PixelSpacing,
// ImagerPixelSpacing ("at detector"), none (pixels), and anisotropic row/column spacing.
#include "cxr/viewer/measurement.h"
#include "support/synthetic_radiograph.h"

#include <QTest>

using namespace cxr::viewer;

Q_DECLARE_METATYPE(cxr::viewer::Calibration)
Q_DECLARE_METATYPE(cxr::viewer::MeasurementKind)

namespace {

Calibration calibration(Calibration::Source source, double row, double column) {
  Calibration c;
  c.source = source;
  c.rowSpacingMm = row;
  c.columnSpacingMm = column;
  return c;
}

// A 10x8 gray image whose stored value at (x, y) is x + 10*y, with rescale 2*s - 100 "HU", so
// every ROI's expected statistics can be worked out by hand.
RadiographImage syntheticImage(const Calibration& cal = {}) {
  RadiographImage img = cxr::test::grayRadiograph(10, 8, [](int x, int y) { return qint32(x + 10 * y); });
  img.rescaleSlope = 2;
  img.rescaleIntercept = -100;
  img.rescaleType = QStringLiteral("HU");
  img.calibration = cal;
  // A second frame, all 7, to check that statistics follow the measurement's frame.
  img.framesData.push_back(std::vector<qint32>(img.framesData[0].size(), 7));
  img.frames = 2;
  return img;
}

}  // namespace

class TestMeasurement : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void length_data() {
    QTest::addColumn<Calibration>("cal");
    QTest::addColumn<QPointF>("a");
    QTest::addColumn<QPointF>("b");
    QTest::addColumn<double>("value");
    QTest::addColumn<QString>("unit");
    QTest::addColumn<QString>("text");
    // 30 px across, 40 px down: 50 px.
    QTest::newRow("PixelSpacing isotropic 0.5") << calibration(Calibration::Source::PixelSpacing, 0.5, 0.5)
        << QPointF(0, 0) << QPointF(30, 40) << 25.0 << QStringLiteral("mm") << QStringLiteral("25.0 mm (pixel spacing)");
    QTest::newRow("ImagerPixelSpacing 0.15") << calibration(Calibration::Source::ImagerPixelSpacing, 0.15, 0.15)
        << QPointF(10, 10) << QPointF(40, 50) << 7.5 << QStringLiteral("mm") << QStringLiteral("7.5 mm (at detector)");
    QTest::newRow("no spacing: pixels") << Calibration{}
        << QPointF(0, 0) << QPointF(30, 40) << 50.0 << QStringLiteral("px") << QStringLiteral("50.0 px");
    // Row spacing (between rows, scales y) 0.2, column spacing (scales x) 0.1:
    // dx = 30 * 0.1 = 3, dy = 40 * 0.2 = 8, length sqrt(73).
    QTest::newRow("anisotropic row 0.2 column 0.1") << calibration(Calibration::Source::PixelSpacing, 0.2, 0.1)
        << QPointF(0, 0) << QPointF(30, 40) << std::sqrt(73.0) << QStringLiteral("mm") << QStringLiteral("8.5 mm (pixel spacing)");
    QTest::newRow("anisotropic, horizontal line uses column spacing") << calibration(Calibration::Source::PixelSpacing, 0.2, 0.1)
        << QPointF(5, 5) << QPointF(105, 5) << 10.0 << QStringLiteral("mm") << QStringLiteral("10.0 mm (pixel spacing)");
    QTest::newRow("anisotropic, vertical line uses row spacing") << calibration(Calibration::Source::ImagerPixelSpacing, 0.2, 0.1)
        << QPointF(5, 5) << QPointF(5, 105) << 20.0 << QStringLiteral("mm") << QStringLiteral("20.0 mm (at detector)");
    QTest::newRow("source set but spacing zero: pixels") << calibration(Calibration::Source::PixelSpacing, 0, 0)
        << QPointF(0, 0) << QPointF(3, 4) << 5.0 << QStringLiteral("px") << QStringLiteral("5.0 px");
  }
  void length() {
    QFETCH(Calibration, cal);
    QFETCH(QPointF, a);
    QFETCH(QPointF, b);
    QFETCH(double, value);
    QFETCH(QString, unit);
    QFETCH(QString, text);
    const LengthValue v = measureLength(a, b, cal);
    QCOMPARE(v.value, value);
    QCOMPARE(v.unit, unit);
    QCOMPARE(v.text(), text);
  }

  void angle_data() {
    QTest::addColumn<Calibration>("cal");
    QTest::addColumn<QPointF>("arm1");
    QTest::addColumn<QPointF>("vertex");
    QTest::addColumn<QPointF>("arm2");
    QTest::addColumn<double>("degrees");
    const Calibration aniso = calibration(Calibration::Source::PixelSpacing, 0.2, 0.1);
    QTest::newRow("right angle, uncalibrated") << Calibration{} << QPointF(10, 0) << QPointF(0, 0) << QPointF(0, 10) << 90.0;
    QTest::newRow("straight line") << Calibration{} << QPointF(-5, 3) << QPointF(0, 3) << QPointF(7, 3) << 180.0;
    QTest::newRow("45 degrees") << calibration(Calibration::Source::ImagerPixelSpacing, 0.3, 0.3) << QPointF(10, 0) << QPointF(0, 0) << QPointF(10, 10) << 45.0;
    QTest::newRow("diagonals, isotropic: 90") << calibration(Calibration::Source::PixelSpacing, 0.5, 0.5) << QPointF(10, 10) << QPointF(0, 0) << QPointF(10, -10) << 90.0;
    // Physical arms (1, 2) and (1, -2): cos = -3/5.
    QTest::newRow("diagonals, anisotropic: physical angle") << aniso << QPointF(10, 10) << QPointF(0, 0) << QPointF(10, -10)
                                                            << std::acos(-0.6) * 180.0 / M_PI;
    QTest::newRow("axis-aligned arms stay 90 when anisotropic") << aniso << QPointF(10, 0) << QPointF(0, 0) << QPointF(0, 10) << 90.0;
    QTest::newRow("degenerate arm") << Calibration{} << QPointF(0, 0) << QPointF(0, 0) << QPointF(0, 10) << 0.0;
  }
  void angle() {
    QFETCH(Calibration, cal);
    QFETCH(QPointF, arm1);
    QFETCH(QPointF, vertex);
    QFETCH(QPointF, arm2);
    QFETCH(double, degrees);
    QVERIFY(qAbs(measureAngleDegrees(arm1, vertex, arm2, cal) - degrees) < 1e-9);
  }

  void roi_data() {
    QTest::addColumn<MeasurementKind>("shape");
    QTest::addColumn<QRectF>("rect");
    QTest::addColumn<int>("frame");
    QTest::addColumn<qint64>("count");
    QTest::addColumn<double>("mean");
    QTest::addColumn<double>("sd");
    QTest::addColumn<double>("min");
    QTest::addColumn<double>("max");
    // Pixels x 2..4, y 1..2: stored 12,13,14,22,23,24 -> HU -76,-74,-72,-56,-54,-52.
    // Deviations from -64: +-12, +-10, +-8 -> population variance 616/6.
    QTest::newRow("rectangle 3x2") << MeasurementKind::RectangleRoi << QRectF(2, 1, 3, 2) << 0 << qint64(6)
                                   << -64.0 << std::sqrt(616.0 / 6.0) << -76.0 << -52.0;
    QTest::newRow("rectangle drawn backwards") << MeasurementKind::RectangleRoi << QRectF(5, 3, -3, -2) << 0 << qint64(6)
                                               << -64.0 << std::sqrt(616.0 / 6.0) << -76.0 << -52.0;
    // Ellipse inscribed in the 4x4 square at the origin: the four corner pixel centres
    // ((0.5,0.5): (1.5/2)^2 * 2 = 1.125 > 1) are outside, 12 pixels remain.
    // Stored sum over the square 264, corners 0+3+30+33 = 66 -> mean stored 198/12 = 16.5 -> HU -67.
    QTest::newRow("ellipse 4x4 excludes corners") << MeasurementKind::EllipseRoi << QRectF(0, 0, 4, 4) << 0 << qint64(12)
                                                  << -67.0 << -1.0 << -98.0 << -36.0;
    QTest::newRow("single pixel") << MeasurementKind::RectangleRoi << QRectF(9.2, 7.2, 0.6, 0.6) << 0 << qint64(1)
                                  << 2.0 * 79 - 100 << 0.0 << 58.0 << 58.0;
    QTest::newRow("clipped at the image border") << MeasurementKind::RectangleRoi << QRectF(-5, -5, 6, 6) << 0 << qint64(1)
                                                 << -100.0 << 0.0 << -100.0 << -100.0;
    QTest::newRow("second frame") << MeasurementKind::RectangleRoi << QRectF(0, 0, 10, 8) << 1 << qint64(80)
                                  << -86.0 << 0.0 << -86.0 << -86.0;
    QTest::newRow("outside the image") << MeasurementKind::RectangleRoi << QRectF(20, 20, 5, 5) << 0 << qint64(0)
                                       << 0.0 << 0.0 << 0.0 << 0.0;
    QTest::newRow("frame out of range") << MeasurementKind::RectangleRoi << QRectF(0, 0, 5, 5) << 7 << qint64(0)
                                        << 0.0 << 0.0 << 0.0 << 0.0;
  }
  void roi() {
    QFETCH(MeasurementKind, shape);
    QFETCH(QRectF, rect);
    QFETCH(int, frame);
    QFETCH(qint64, count);
    QFETCH(double, mean);
    QFETCH(double, sd);
    QFETCH(double, min);
    QFETCH(double, max);
    const RadiographImage img = syntheticImage();
    const RoiStatistics s = measureRoi(img, frame, shape, rect);
    QCOMPARE(s.pixelCount, count);
    if (count == 0) {
      QVERIFY(!s.valid());
      return;
    }
    QCOMPARE(s.mean, mean);
    if (sd >= 0)
      QVERIFY(qAbs(s.standardDeviation - sd) < 1e-9);
    QCOMPARE(s.minimum, min);
    QCOMPARE(s.maximum, max);
    QCOMPARE(s.unit, QStringLiteral("HU"));
  }

  void roiArea_data() {
    QTest::addColumn<Calibration>("cal");
    QTest::addColumn<MeasurementKind>("shape");
    QTest::addColumn<double>("area");
    QTest::addColumn<QString>("unit");
    // Rectangle 3 x 2 px; ellipse in it: pi * 1.5 * 1.
    QTest::newRow("rect, pixel spacing anisotropic") << calibration(Calibration::Source::PixelSpacing, 0.2, 0.1)
        << MeasurementKind::RectangleRoi << 6 * 0.02 << QStringLiteral("mm²");
    QTest::newRow("rect, at detector") << calibration(Calibration::Source::ImagerPixelSpacing, 0.5, 0.5)
        << MeasurementKind::RectangleRoi << 1.5 << QStringLiteral("mm²");
    QTest::newRow("rect, uncalibrated") << Calibration{} << MeasurementKind::RectangleRoi << 6.0 << QStringLiteral("px²");
    QTest::newRow("ellipse, uncalibrated") << Calibration{} << MeasurementKind::EllipseRoi << M_PI * 1.5 << QStringLiteral("px²");
    QTest::newRow("ellipse, anisotropic") << calibration(Calibration::Source::PixelSpacing, 0.2, 0.1)
        << MeasurementKind::EllipseRoi << M_PI * 1.5 * 0.02 << QStringLiteral("mm²");
  }
  void roiArea() {
    QFETCH(Calibration, cal);
    QFETCH(MeasurementKind, shape);
    QFETCH(double, area);
    QFETCH(QString, unit);
    const RoiStatistics s = measureRoi(syntheticImage(cal), 0, shape, QRectF(2, 1, 3, 2));
    QCOMPARE(s.area, area);
    QCOMPARE(s.areaUnit, unit);
  }

  void colourRoiUsesLuma() {
    RadiographImage img;
    img.width = 2;
    img.height = 1;
    img.samplesPerPixel = 3;
    img.photometric = Photometric::Rgb;
    img.framesData.push_back({255, 0, 0, 0, 0, 255});  // red, blue
    const RoiStatistics s = measureRoi(img, 0, MeasurementKind::RectangleRoi, QRectF(0, 0, 2, 1));
    QCOMPARE(s.pixelCount, qint64(2));
    QCOMPARE(s.maximum, 76.0);  // (255*19595 + 0x8000) >> 16
    QCOMPARE(s.minimum, 29.0);  // (255*7471 + 0x8000) >> 16
  }

  void labels() {
    const RadiographImage img = syntheticImage(calibration(Calibration::Source::ImagerPixelSpacing, 0.5, 0.5));
    Measurement len{MeasurementKind::Length, {QPointF(0, 0), QPointF(0, 10)}};
    QCOMPARE(measurementLabel(len, img, 0), QStringLiteral("5.0 mm (at detector)"));
    Measurement ang{MeasurementKind::Angle, {QPointF(10, 0), QPointF(0, 0), QPointF(0, 10)}};
    QCOMPARE(measurementLabel(ang, img, 0), QStringLiteral("90.0°"));
    Measurement roi{MeasurementKind::RectangleRoi, {QPointF(2, 1), QPointF(5, 3)}};
    const QString text = measurementLabel(roi, img, 0);
    QVERIFY2(text.contains(u"Mean -64 HU"), qPrintable(text));
    QVERIFY2(text.contains(u"Min -76"), qPrintable(text));
    QVERIFY2(text.contains(u"Max -52"), qPrintable(text));
    QVERIFY2(text.contains(u"Area 1.5 mm²"), qPrintable(text));
    // The label follows the frame on screen: frame 1 is all 7 -> HU -86.
    QVERIFY(measurementLabel(roi, img, 1).contains(u"Mean -86 HU"));
  }

  void picking_data() {
    QTest::addColumn<MeasurementKind>("kind");
    QTest::addColumn<QPointF>("probe");
    QTest::addColumn<double>("distance");
    QTest::newRow("on the line") << MeasurementKind::Length << QPointF(5, 0) << 0.0;
    QTest::newRow("beside the line") << MeasurementKind::Length << QPointF(5, 3) << 3.0;
    QTest::newRow("beyond the end") << MeasurementKind::Length << QPointF(13, 4) << 5.0;
    QTest::newRow("rect border") << MeasurementKind::RectangleRoi << QPointF(5, 1) << 1.0;
    QTest::newRow("ellipse outline") << MeasurementKind::EllipseRoi << QPointF(10, 5) << 0.0;
  }
  void picking() {
    QFETCH(MeasurementKind, kind);
    QFETCH(QPointF, probe);
    QFETCH(double, distance);
    Measurement m{kind, {QPointF(0, 0), QPointF(10, kind == MeasurementKind::Length ? 0 : 10)}};
    QVERIFY(qAbs(distanceToMeasurement(m, probe) - distance) < 1e-9);
  }
};

QTEST_APPLESS_MAIN(TestMeasurement)
#include "test_measurement.moc"
