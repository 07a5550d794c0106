// ViewTransform maths: zoom around the cursor keeps the image point under it, rotations and flips
// round-trip, fit and 1:1 honour the device pixel ratio.
#include "cxr/viewer/view_transform.h"

#include <QTest>

using cxr::viewer::ViewTransform;

namespace {

// Orientation steps applied in order: 'c' clockwise, 'a' anticlockwise, 'h' flip horizontal,
// 'v' flip vertical.
void applyOrientation(ViewTransform& t, const QString& steps) {
  for (QChar c : steps) {
    if (c == u'c') t.rotateClockwise();
    else if (c == u'a') t.rotateCounterClockwise();
    else if (c == u'h') t.flipHorizontal();
    else if (c == u'v') t.flipVertical();
  }
}

bool near(QPointF a, QPointF b, double eps = 1e-9) {
  return std::abs(a.x() - b.x()) < eps && std::abs(a.y() - b.y()) < eps;
}

ViewTransform makeView(QSize image, QSizeF viewport, double dpr) {
  ViewTransform t;
  t.setDevicePixelRatio(dpr);
  t.setViewportSize(viewport);
  t.setImageSize(image);
  return t;
}

}  // namespace

class TestViewTransform : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void zoomKeepsPointUnderCursor_data() {
    QTest::addColumn<QSize>("image");
    QTest::addColumn<double>("dpr");
    QTest::addColumn<QString>("orientation");
    QTest::addColumn<QPointF>("panFirst");
    QTest::addColumn<QPointF>("cursor");
    QTest::addColumn<double>("factor");
    QTest::newRow("plain zoom in at corner") << QSize(2000, 2500) << 1.0 << QString() << QPointF() << QPointF(10, 10) << 2.0;
    QTest::newRow("zoom out off-centre") << QSize(2000, 2500) << 1.0 << QString() << QPointF() << QPointF(700, 120) << 0.5;
    QTest::newRow("high-DPI 2x") << QSize(3000, 3000) << 2.0 << QString() << QPointF() << QPointF(333, 444) << 1.25;
    QTest::newRow("fractional DPI 1.5") << QSize(512, 512) << 1.5 << QString() << QPointF() << QPointF(50, 590) << 3.0;
    QTest::newRow("rotated clockwise") << QSize(1200, 800) << 1.0 << QStringLiteral("c") << QPointF() << QPointF(100, 500) << 2.0;
    QTest::newRow("rotated 180 + flipped") << QSize(1200, 800) << 1.0 << QStringLiteral("cch") << QPointF() << QPointF(640, 20) << 1.7;
    QTest::newRow("flip vertical, panned") << QSize(1200, 800) << 2.0 << QStringLiteral("v") << QPointF(-130, 55) << QPointF(400, 300) << 4.0;
    QTest::newRow("anticlockwise + flip h, panned") << QSize(640, 480) << 1.0 << QStringLiteral("ah") << QPointF(75, -20) << QPointF(0, 0) << 0.8;
    QTest::newRow("cursor outside image") << QSize(100, 100) << 1.0 << QString() << QPointF() << QPointF(790, 5) << 5.0;
  }
  void zoomKeepsPointUnderCursor() {
    QFETCH(QSize, image);
    QFETCH(double, dpr);
    QFETCH(QString, orientation);
    QFETCH(QPointF, panFirst);
    QFETCH(QPointF, cursor);
    QFETCH(double, factor);
    ViewTransform t = makeView(image, QSizeF(800, 600), dpr);
    applyOrientation(t, orientation);
    t.panBy(panFirst);
    const QPointF underCursor = t.mapToImage(cursor);
    const double zoomBefore = t.zoom();
    t.zoomAround(cursor, factor);
    QVERIFY(near(t.mapToWidget(underCursor), cursor, 1e-6));
    QCOMPARE(t.zoom(), zoomBefore * factor);
    QVERIFY(!t.isFitMode());
  }

  void mappingRoundTrips_data() {
    QTest::addColumn<QString>("orientation");
    QTest::addColumn<QPointF>("imagePoint");
    for (const QString& o : {QString(), QStringLiteral("c"), QStringLiteral("cc"), QStringLiteral("a"),
                             QStringLiteral("h"), QStringLiteral("v"), QStringLiteral("chv"),
                             QStringLiteral("hc")}) {
      QTest::addRow("'%s' corner", qPrintable(o)) << o << QPointF(0, 0);
      QTest::addRow("'%s' inner", qPrintable(o)) << o << QPointF(123.25, 456.5);
    }
  }
  void mappingRoundTrips() {
    QFETCH(QString, orientation);
    QFETCH(QPointF, imagePoint);
    ViewTransform t = makeView(QSize(1000, 700), QSizeF(640, 480), 1.25);
    applyOrientation(t, orientation);
    t.zoomAround(QPointF(100, 100), 1.7);
    t.panBy(QPointF(13, -7));
    QVERIFY(near(t.mapToImage(t.mapToWidget(imagePoint)), imagePoint, 1e-9));
    // The painter's QTransform must agree with mapToWidget.
    QVERIFY(near(t.imageToWidget().map(imagePoint), t.mapToWidget(imagePoint), 1e-9));
  }

  void orientationSequencesCancel_data() {
    QTest::addColumn<QString>("steps");
    QTest::newRow("four clockwise") << QStringLiteral("cccc");
    QTest::newRow("clockwise then back") << QStringLiteral("ca");
    QTest::newRow("flip h twice") << QStringLiteral("hh");
    QTest::newRow("flip v twice") << QStringLiteral("vv");
    QTest::newRow("h + v == 180, + 180") << QStringLiteral("hvcc");
    QTest::newRow("rotate, flip, rotate, flip") << QStringLiteral("chch");
  }
  void orientationSequencesCancel() {
    QFETCH(QString, steps);
    ViewTransform t = makeView(QSize(300, 200), QSizeF(600, 600), 1.0);
    const QPointF corner = t.mapToWidget(QPointF(0, 0));
    applyOrientation(t, steps);
    QCOMPARE(t.rotationDegrees(), 0);
    QVERIFY(!t.isMirrored());
    QVERIFY(near(t.mapToWidget(QPointF(0, 0)), corner, 1e-9));
  }

  void orientationIsWhatTheScreenShows_data() {
    QTest::addColumn<QString>("steps");
    QTest::addColumn<int>("degrees");
    QTest::addColumn<bool>("mirrored");
    // Where the file's top-left pixel ends up on screen: left/right, top/bottom.
    QTest::addColumn<bool>("originRight");
    QTest::addColumn<bool>("originBottom");
    QTest::newRow("none") << QString() << 0 << false << false << false;
    QTest::newRow("clockwise") << QStringLiteral("c") << 90 << false << true << false;
    QTest::newRow("anticlockwise") << QStringLiteral("a") << 270 << false << false << true;
    QTest::newRow("180") << QStringLiteral("cc") << 180 << false << true << true;
    QTest::newRow("flip h") << QStringLiteral("h") << 0 << true << true << false;
    QTest::newRow("flip v") << QStringLiteral("v") << 180 << true << false << true;
    // Flip after rotating acts on the picture on screen: rotate cw puts the origin top-right,
    // the horizontal flip then moves it to the top-left.
    QTest::newRow("clockwise then flip h") << QStringLiteral("ch") << 270 << true << false << false;
  }
  void orientationIsWhatTheScreenShows() {
    QFETCH(QString, steps);
    QFETCH(int, degrees);
    QFETCH(bool, mirrored);
    QFETCH(bool, originRight);
    QFETCH(bool, originBottom);
    ViewTransform t = makeView(QSize(300, 200), QSizeF(600, 600), 1.0);
    applyOrientation(t, steps);
    QCOMPARE(t.rotationDegrees(), degrees);
    QCOMPARE(t.isMirrored(), mirrored);
    const QPointF origin = t.mapToWidget(QPointF(0, 0));
    const QPointF centre = t.mapToWidget(QPointF(150, 100));
    QCOMPARE(origin.x() > centre.x(), originRight);
    QCOMPARE(origin.y() > centre.y(), originBottom);
  }

  void fitUsesRotatedSize_data() {
    QTest::addColumn<QString>("steps");
    QTest::addColumn<double>("dpr");
    QTest::addColumn<double>("expectedScale");
    // 1000x400 image in an 800x400 viewport.
    QTest::newRow("upright") << QString() << 1.0 << 0.8;
    QTest::newRow("rotated") << QStringLiteral("c") << 1.0 << 0.4;
    QTest::newRow("upright, dpr 2 (fit is in logical pixels)") << QString() << 2.0 << 0.8;
  }
  void fitUsesRotatedSize() {
    QFETCH(QString, steps);
    QFETCH(double, dpr);
    QFETCH(double, expectedScale);
    ViewTransform t = makeView(QSize(1000, 400), QSizeF(800, 400), dpr);
    applyOrientation(t, steps);
    t.fitToWindow();
    QCOMPARE(t.scale(), expectedScale);
    QCOMPARE(t.zoom(), expectedScale * dpr);
    QVERIFY(near(t.mapToWidget(QPointF(500, 200)), QPointF(400, 200)));  // centred
  }

  void actualPixelsCountsDevicePixels_data() {
    QTest::addColumn<double>("dpr");
    QTest::newRow("1x") << 1.0;
    QTest::newRow("1.5x") << 1.5;
    QTest::newRow("2x") << 2.0;
  }
  void actualPixelsCountsDevicePixels() {
    QFETCH(double, dpr);
    ViewTransform t = makeView(QSize(3000, 3000), QSizeF(800, 600), dpr);
    t.setActualPixels();
    QCOMPARE(t.zoom(), 1.0);
    // Ten image pixels cover ten device pixels, i.e. 10/dpr logical pixels.
    const double logical = t.mapToWidget(QPointF(10, 0)).x() - t.mapToWidget(QPointF(0, 0)).x();
    QCOMPARE(logical * dpr, 10.0);
  }

  void panMovesImageWithMouse() {
    ViewTransform t = makeView(QSize(1000, 1000), QSizeF(500, 500), 1.0);
    t.rotateClockwise();
    t.flipVertical();
    const QPointF p(123, 321);
    const QPointF under = t.mapToImage(p);
    t.panBy(QPointF(40, -25));
    QVERIFY(near(t.mapToWidget(under), p + QPointF(40, -25), 1e-9));
  }

  void fitModeSurvivesResizeUntilUserZooms() {
    ViewTransform t = makeView(QSize(1000, 1000), QSizeF(500, 500), 1.0);
    t.setViewportSize(QSizeF(1000, 800));
    QCOMPARE(t.scale(), 0.8);
    t.zoomAround(QPointF(10, 10), 2.0);
    t.setViewportSize(QSizeF(500, 500));
    QCOMPARE(t.scale(), 1.6);  // the user's zoom is kept
  }

  void zoomIsClamped() {
    ViewTransform t = makeView(QSize(100, 100), QSizeF(500, 500), 1.0);
    t.setZoomAround(1e6, QPointF(0, 0));
    QCOMPARE(t.zoom(), ViewTransform::kMaxZoom);
    t.setZoomAround(1e-9, QPointF(0, 0));
    QCOMPARE(t.zoom(), ViewTransform::kMinZoom);
  }
};

QTEST_APPLESS_MAIN(TestViewTransform)
#include "test_viewtransform.moc"
