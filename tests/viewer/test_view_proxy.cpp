// The reduced display copy used at low zoom: block means of stored values, partial edge blocks,
// colour per channel, rendering through the original image's table, and the widget painting the
// same picture through it.
#include "cxr/viewer/display_proxy.h"
#include "cxr/viewer/viewer_widget.h"
#include "support/synthetic_radiograph.h"

#include <QTest>

using namespace cxr::viewer;

namespace {

RadiographImage grayImage(int w, int h, const std::vector<qint32>& values) {
  RadiographImage img = cxr::test::grayRadiograph(w, h, values);
  img.rescaleSlope = 2;
  img.rescaleType = QStringLiteral("US");
  return img;
}

}  // namespace

class TestViewProxy : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void factorForZoom_data() {
    QTest::addColumn<double>("zoom");
    QTest::addColumn<int>("factor");
    QTest::newRow("1:1") << 1.0 << 1;
    QTest::newRow("50% still full resolution") << 0.5 << 1;
    QTest::newRow("49%") << 0.49 << 2;
    QTest::newRow("30% (3000 px in 900)") << 0.3 << 3;
    QTest::newRow("tiny zoom capped") << 0.001 << 16;
  }
  void factorForZoom() {
    QFETCH(double, zoom);
    QFETCH(int, factor);
    QCOMPARE(displayProxyFactor(zoom), factor);
  }

  void blockMeans() {
    // 5x3, factor 2 -> 3x2; the right column and bottom row are partial blocks.
    const std::vector<qint32> v = {
        0,  2,  4,  6,  100,   //
        10, 12, 14, 16, 101,   //
        20, 21, 22, 23, 7};
    const RadiographImage img = grayImage(5, 3, v);
    const ReducedFrame proxy = reduceFrame(img, 0, {}, 2);
    QCOMPARE(proxy.width, 3);
    QCOMPARE(proxy.height, 2);
    QCOMPARE(proxy.region, QRect(0, 0, 5, 3));
    QCOMPARE(proxy.factor, 2);
    const std::vector<qint32> expected = {
        6, 10, 101,  // (0+2+10+12)/4, (4+6+14+16)/4, (100+101)/2 rounded
        21, 23, 7};  // (20+21)/2 = 20.5 -> 21, (22+23)/2 = 22.5 -> 23
    QCOMPARE(proxy.values, expected);
    // Displayed through the image's own attributes (rescale, stored range, window): exactly as an
    // image holding those values with the same attributes would be.
    RadiographImage same = img;
    same.width = 3;
    same.height = 2;
    same.framesData = {expected};
    VoiSelection voi;
    voi.window = VoiWindow{60, 100, {}, VoiWindow::Function::Linear};
    const QImage shown = renderFrame(img, proxy, voi);
    QCOMPARE(shown.size(), QSize(3, 2));
    QCOMPARE(shown, renderFrame(same, 0, voi));
    QCOMPARE(renderFrame(img, 0, voi, {}, 2), shown);  // the one-call form
  }

  void regionRendersAsTheSamePartOfTheWholeFrame_data() {
    QTest::addColumn<QRect>("region");
    QTest::addColumn<bool>("colour");
    QTest::newRow("gray middle") << QRect(1, 1, 3, 2) << false;
    QTest::newRow("gray clipped at the edge") << QRect(3, 2, 10, 10) << false;
    QTest::newRow("gray empty = whole") << QRect() << false;
    QTest::newRow("colour middle") << QRect(1, 0, 2, 3) << true;
  }
  void regionRendersAsTheSamePartOfTheWholeFrame() {
    QFETCH(QRect, region);
    QFETCH(bool, colour);
    RadiographImage img;
    img.width = 5;
    img.height = 3;
    if (colour) {
      img.samplesPerPixel = 3;
      img.photometric = Photometric::Rgb;
      img.framesData.push_back({});
      for (int i = 0; i < 5 * 3 * 3; ++i) img.framesData[0].push_back((i * 37) % 256);
      img.maxStored = 255;
    } else {
      img = grayImage(5, 3, {0, 2, 4, 6, 100, 10, 12, 14, 16, 101, 20, 21, 22, 23, 7});
    }
    VoiSelection voi;
    voi.window = VoiWindow{50, 120, {}, VoiWindow::Function::Linear};
    const QImage whole = renderFrame(img, 0, voi);
    const QRect clipped = region.isEmpty() ? QRect(0, 0, 5, 3) : region & QRect(0, 0, 5, 3);
    QCOMPARE(renderFrame(img, 0, voi, region), whole.copy(clipped));
    QVERIFY(renderFrame(img, 7, voi, region).isNull());
  }

  void colourChannelsSeparately() {
    RadiographImage img;
    img.width = 2;
    img.height = 1;
    img.samplesPerPixel = 3;
    img.photometric = Photometric::Rgb;
    img.framesData.push_back({255, 0, 10, 0, 255, 20});
    const ReducedFrame proxy = reduceFrame(img, 0, {}, 2);
    QCOMPARE(proxy.samplesPerPixel, 3);
    QCOMPARE(proxy.values, (std::vector<qint32>{128, 128, 15}));
  }

  void regionForVisiblePart_data() {
    QTest::addColumn<QRectF>("visible");
    QTest::addColumn<int>("factor");
    QTest::addColumn<QRect>("region");
    // A 3000x3000 image.
    QTest::newRow("middle: visible plus a quarter on each side") << QRectF(1000, 1000, 500, 400) << 1 << QRect(875, 900, 750, 600);
    QTest::newRow("corner: clipped to the image") << QRectF(-100, -100, 500, 500) << 1 << QRect(0, 0, 525, 525);
    QTest::newRow("origin aligned to the factor") << QRectF(1001, 1001, 300, 300) << 3 << QRect(924, 924, 452, 452);
    QTest::newRow("most of the image: whole") << QRectF(200, 200, 2000, 2000) << 1 << QRect(0, 0, 3000, 3000);
    QTest::newRow("zoomed out: whole") << QRectF(-1000, -500, 5000, 4000) << 2 << QRect(0, 0, 3000, 3000);
  }
  void regionForVisiblePart() {
    QFETCH(QRectF, visible);
    QFETCH(int, factor);
    QFETCH(QRect, region);
    QCOMPARE(displayRegionFor(visible, QSize(3000, 3000), factor), region);
  }

  void proxyOfARegion() {
    const std::vector<qint32> v = {
        0,  2,  4,  6,  100,   //
        10, 12, 14, 16, 101,   //
        20, 21, 22, 23, 7};
    const RadiographImage img = grayImage(5, 3, v);
    const ReducedFrame part = reduceFrame(img, 0, QRect(1, 1, 3, 2), 1);
    QCOMPARE(part.width, 3);
    QCOMPARE(part.height, 2);
    QCOMPARE(part.values, (std::vector<qint32>{12, 14, 16, 21, 22, 23}));
    const ReducedFrame reduced = reduceFrame(img, 0, QRect(2, 0, 3, 3), 2);  // columns 2..4
    // (4+6+14+16)/4, (100+101)/2 = 100.5, (22+23)/2 = 22.5, 7; halves round up
    QCOMPARE(reduced.values, (std::vector<qint32>{10, 101, 23, 7}));
  }

  void widgetRendersOnlyTheVisiblePartOfALargeImage() {
    // 3000x2000, value = (x + y) mod 4096: every region looks different.
    std::vector<qint32> v(3000 * 2000);
    for (int y = 0; y < 2000; ++y)
      for (int x = 0; x < 3000; ++x)
        v[static_cast<size_t>(y) * 3000 + x] = (x + y) % 4096;
    auto img = std::make_shared<RadiographImage>(grayImage(3000, 2000, v));
    img->rescaleSlope = 1;
    ViewerWidget w;
    w.resize(400, 300);
    w.setOverlaysVisible(false);
    w.setImage(img);
    w.actualPixels();  // 1:1 around the centre (1500, 1000)
    const QImage view = w.renderView();
    QCOMPARE(w.displayFactor(), 1);
    const QRect region = w.displayRegion();
    QVERIFY2(region.width() < 1000 && region.height() < 1000,
             qPrintable(QStringLiteral("%1x%2").arg(region.width()).arg(region.height())));
    QVERIFY(region.contains(QPoint(1500, 1000)));
    // What is painted equals the full-resolution rendering, pixel for pixel (1:1, nearest).
    const QImage full = w.renderedFrame();
    for (const QPoint p : {QPoint(0, 0), QPoint(199, 149), QPoint(399, 299), QPoint(123, 45)}) {
      const QPointF ip = w.view().mapToImage(QPointF(p) + QPointF(0.5, 0.5));
      QCOMPARE(qGray(view.pixel(p)), qGray(full.pixel(ip.toPoint())));
    }
    // Panning within the margin reuses the render; panning far renders a new region.
    const int renders = w.renderCount();
    w.viewForTests().panBy(QPointF(60, 40));
    (void)w.renderView();
    QCOMPARE(w.renderCount(), renders);
    w.viewForTests().panBy(QPointF(900, 0));
    (void)w.renderView();
    QCOMPARE(w.renderCount(), renders + 1);
    QVERIFY(w.displayRegion() != region);
  }

  void badFrameGivesEmptyProxy() {
    const RadiographImage img = grayImage(2, 2, {1, 2, 3, 4});
    QVERIFY(reduceFrame(img, 5, {}, 2).isNull());
    QVERIFY(renderFrame(img, reduceFrame(img, 5, {}, 2), VoiSelection{}).isNull());
  }

  void widgetPaintsTheSamePictureThroughTheProxy() {
    // A 2000x1000 horizontal ramp in a 400x300 widget: zoom 0.2, proxy factor 5.
    std::vector<qint32> v(2000 * 1000);
    for (int y = 0; y < 1000; ++y)
      for (int x = 0; x < 2000; ++x)
        v[static_cast<size_t>(y) * 2000 + x] = x * 4000 / 1999;
    auto img = std::make_shared<RadiographImage>(grayImage(2000, 1000, v));
    img->rescaleSlope = 1;
    ViewerWidget w;
    w.resize(400, 300);
    w.setOverlaysVisible(false);
    w.setImage(img);
    QCOMPARE(w.displayFactor(), 5);
    const QImage view = w.renderView();
    // Full-range window: the ramp goes from black to white across the image (200 px wide band
    // from y 100 to 200). Compare each column with the full-resolution rendering.
    const QImage full = w.renderedFrame();
    QCOMPARE(full.size(), QSize(2000, 1000));
    for (int x = 5; x < 400; x += 37) {
      const int expected = qGray(full.pixel(x * 5 + 2, 500));
      QVERIFY2(qAbs(qGray(view.pixel(x, 150)) - expected) <= 3,
               qPrintable(QStringLiteral("column %1: %2 vs %3").arg(x).arg(qGray(view.pixel(x, 150))).arg(expected)));
    }
    // Zooming to 1:1 switches to full resolution.
    w.actualPixels();
    QCOMPARE(w.displayFactor(), 1);
  }
};

QTEST_MAIN(TestViewProxy)
#include "test_view_proxy.moc"
