// The viewer widget and its dialogs, offscreen: overlay anonymisation, window/level drag by the
// expected amount, render caching, measurements by mouse, the tag browser's filter.
#include "cxr/viewer/overlay.h"
#include "cxr/viewer/tag_browser.h"
#include "cxr/viewer/viewer_actions.h"
#include "cxr/viewer/viewer_widget.h"
#include "cxr/viewer/window_dialog.h"
#include "support/synthetic_radiograph.h"

#include <QAction>
#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QSlider>
#include <QLineEdit>
#include <QMenu>
#include <QStandardItemModel>
#include <QTest>

using namespace cxr::viewer;

namespace {

// 200x100 gray, stored values 0..1000 in a horizontal ramp, isotropic 0.5 mm pixel spacing.
std::shared_ptr<RadiographImage> rampImage() {
  auto img = std::make_shared<RadiographImage>(
      cxr::test::grayRadiograph(200, 100, [](int x, int) { return qint32(x * 1000 / 199); }));
  img->path = QStringLiteral("/data/Doe_John_chest.png");
  img->formatName = QStringLiteral("synthetic 16-bit");
  img->calibration.source = Calibration::Source::PixelSpacing;
  img->calibration.rowSpacingMm = img->calibration.columnSpacingMm = 0.5;
  VoiWindow w;
  w.center = 500;
  w.width = 400;
  img->fileWindows = {w};
  return img;
}

DisplayFields identifyingMarkers() {
  DisplayFields f;
  f.patientName = QStringLiteral("MARK_NAME^Patient");
  f.patientId = QStringLiteral("MARK_ID_0001");
  f.patientBirthDate = QStringLiteral("19010203");
  f.studyDate = QStringLiteral("20990405");
  f.seriesDate = QStringLiteral("20980506");
  f.acquisitionDate = QStringLiteral("20970607");
  f.institution = QStringLiteral("MARK_HOSPITAL");
  f.accessionNumber = QStringLiteral("MARK_ACC_77");
  f.referringPhysician = QStringLiteral("MARK_DR^Who");
  f.modality = QStringLiteral("DX");
  f.viewPosition = QStringLiteral("PA");
  f.bodyPart = QStringLiteral("CHEST");
  return f;
}

}  // namespace

class TestWidgetViewer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void anonymisedOverlayHidesEveryIdentifyingField_data() {
    QTest::addColumn<QString>("marker");
    // Each identifying value, in every form the overlay could print it.
    QTest::newRow("name") << QStringLiteral("MARK_NAME");
    QTest::newRow("id") << QStringLiteral("MARK_ID_0001");
    QTest::newRow("birth date raw") << QStringLiteral("19010203");
    QTest::newRow("birth date iso") << QStringLiteral("1901-02-03");
    QTest::newRow("study date iso") << QStringLiteral("2099-04-05");
    QTest::newRow("series date iso") << QStringLiteral("2098-05-06");
    QTest::newRow("acquisition date iso") << QStringLiteral("2097-06-07");
    QTest::newRow("institution") << QStringLiteral("MARK_HOSPITAL");
    QTest::newRow("accession") << QStringLiteral("MARK_ACC_77");
    QTest::newRow("referring physician") << QStringLiteral("MARK_DR");
    QTest::newRow("file name") << QStringLiteral("Doe_John");
  }
  void anonymisedOverlayHidesEveryIdentifyingField() {
    QFETCH(QString, marker);
    DisplayFields fields = identifyingMarkers();
    OverlayState state;
    state.anonymised = true;
    state.fileName = QStringLiteral("Doe_John_chest.png");
    // With and without the non-identifying fields set: anonymity must not depend on them.
    QVERIFY2(!buildOverlay(fields, state).joined().contains(marker), qPrintable(buildOverlay(fields, state).joined()));
    QVERIFY(!buildOverlay(DisplayFields{fields.patientName, fields.patientId, fields.patientBirthDate,
                                        fields.studyDate, fields.seriesDate, fields.acquisitionDate,
                                        fields.institution, fields.accessionNumber,
                                        fields.referringPhysician, {}, {}, {}, {}, {}, {}, {}},
                          state).joined().contains(marker));
  }

  void anonymisedOverlayDropsDescriptionsNamingTheFile() {
    // A description that repeats the file name (some writers do); a name like
    // "Doe_John_chest.png" must not come back that way.
    DisplayFields fields;
    fields.seriesDescription = QStringLiteral("Doe_John_chest.png");
    fields.studyDescription = QStringLiteral("CHEST PA");
    OverlayState state;
    state.fileName = QStringLiteral("Doe_John_chest.png");
    QVERIFY(buildOverlay(fields, state).joined().contains(u"Doe_John"));
    QCOMPARE(buildOverlay(fields, state).joined().count(u"Doe_John"), 1);  // not twice
    state.anonymised = true;
    const QString anon = buildOverlay(fields, state).joined();
    QVERIFY2(!anon.contains(u"Doe_John"), qPrintable(anon));
    QVERIFY(anon.contains(u"CHEST PA"));
  }

  void overlayShowsFieldsWhenNotAnonymised() {
    OverlayState state;
    state.windowCenter = 40;
    state.windowWidth = 400;
    state.zoom = 1.5;
    state.frame = 2;
    state.frames = 5;
    const QString text = buildOverlay(identifyingMarkers(), state).joined();
    for (const QString& expected : {QStringLiteral("MARK_NAME"), QStringLiteral("MARK_ID_0001"),
                                    QStringLiteral("2099-04-05"), QStringLiteral("DX CHEST PA"),
                                    QStringLiteral("C 40  W 400"), QStringLiteral("Zoom 150%"),
                                    QStringLiteral("Frame 3/5")})
      QVERIFY2(text.contains(expected), qPrintable(expected + u" missing in:\n" + text));
    // The non-identifying fields stay in anonymised mode.
    state.anonymised = true;
    const QString anon = buildOverlay(identifyingMarkers(), state).joined();
    QVERIFY(anon.contains(u"DX CHEST PA"));
    QVERIFY(anon.contains(u"C 40  W 400"));
  }

  void widgetOverlayFollowsAnonymisedToggle() {
    ViewerWidget w;
    auto img = rampImage();
    img->fields = identifyingMarkers();
    w.setImage(img);
    QVERIFY(w.overlayText().joined().contains(u"MARK_NAME"));
    w.setAnonymised(true);
    QVERIFY(!w.overlayText().joined().contains(u"MARK_NAME"));
    QVERIFY(!w.overlayText().joined().contains(u"Doe_John"));
  }

  void rightDragChangesWindowByExpectedAmount_data() {
    QTest::addColumn<QPoint>("delta");
    QTest::newRow("right 100: wider") << QPoint(100, 0);
    QTest::newRow("down 64: higher centre") << QPoint(0, 64);
    QTest::newRow("up-left") << QPoint(-50, -30);
    QTest::newRow("width floors at 1") << QPoint(-400, 0);
  }
  void rightDragChangesWindowByExpectedAmount() {
    QFETCH(QPoint, delta);
    ViewerWidget w;
    w.resize(600, 400);
    w.setImage(rampImage());
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QCOMPARE(w.currentWindow().center, 500.0);
    QCOMPARE(w.currentWindow().width, 400.0);
    const double step = 1000.0 / WindowDrag::kPixelsForRange;  // range 0..1000 over 512 px
    const QPoint start(300, 200);
    QTest::mousePress(&w, Qt::RightButton, {}, start);
    // Two moves: the window is live during the drag and only depends on the total movement.
    QTest::mouseMove(&w, start + delta / 2);
    QTest::mouseMove(&w, start + delta);
    QTest::mouseRelease(&w, Qt::RightButton, {}, start + delta);
    QCOMPARE(w.currentWindow().center, 500.0 + delta.y() * step);
    QCOMPARE(w.currentWindow().width, std::max(1.0, 400.0 + delta.x() * step));
  }

  void windowToolDragsWithLeftButton() {
    ViewerWidget w;
    w.resize(600, 400);
    w.setImage(rampImage());
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setTool(ViewerTool::WindowLevel);
    QTest::mousePress(&w, Qt::LeftButton, {}, QPoint(100, 100));
    QTest::mouseMove(&w, QPoint(151, 100));
    QTest::mouseRelease(&w, Qt::LeftButton, {}, QPoint(151, 100));
    QCOMPARE(w.currentWindow().width, 400.0 + 51 * 1000.0 / 512.0);
  }

  void rendersOnlyOnWindowOrFrameChange() {
    ViewerWidget w;
    w.resize(400, 300);
    w.setImage(rampImage());
    (void)w.renderView();
    const int afterFirst = w.renderCount();
    QCOMPARE(afterFirst, 1);
    w.zoomIn();
    w.rotateClockwise();
    w.flipHorizontal();
    (void)w.renderView();
    QCOMPARE(w.renderCount(), afterFirst);  // view changes reuse the cached frame
    VoiWindow win;
    win.center = 100;
    win.width = 50;
    w.setWindow(win);
    (void)w.renderView();
    QCOMPARE(w.renderCount(), afterFirst + 1);
    w.setInverted(true);
    (void)w.renderView();
    QCOMPARE(w.renderCount(), afterFirst + 2);
  }

  void exportedViewShowsTheWindowedImage() {
    ViewerWidget w;
    w.resize(400, 200);
    w.setOverlaysVisible(false);
    w.setImage(rampImage());
    const QImage view = w.renderView();
    QCOMPARE(view.size(), QSize(400, 200));
    // Window 500/400: the left of the ramp (value 0..300) is black, the right (700..1000) white.
    QCOMPARE(qGray(view.pixel(10, 100)), 0);
    QCOMPARE(qGray(view.pixel(390, 100)), 255);
    w.setInverted(true);
    QCOMPARE(qGray(w.renderView().pixel(10, 100)), 255);
  }

  void lengthMeasuredByDrag() {
    ViewerWidget w;
    w.resize(400, 200);  // fit: 200x100 image at scale 2
    w.setImage(rampImage());
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setTool(ViewerTool::Length);
    QTest::mousePress(&w, Qt::LeftButton, {}, QPoint(100, 100));
    QTest::mouseMove(&w, QPoint(200, 100));
    QTest::mouseRelease(&w, Qt::LeftButton, {}, QPoint(200, 100));
    QCOMPARE(w.measurements().size(), 1);
    const Measurement m = w.measurements().first();
    // 100 widget px at scale 2 = 50 image px = 25 mm at 0.5 mm.
    QCOMPARE(measureLength(m.points[0], m.points[1], w.image()->calibration).value, 25.0);
    QCOMPARE(measurementLabel(m, *w.image(), 0), QStringLiteral("25.0 mm (pixel spacing)"));

    // Angle by three clicks.
    w.setTool(ViewerTool::Angle);
    for (const QPoint p : {QPoint(300, 50), QPoint(250, 50), QPoint(250, 150)})
      QTest::mouseClick(&w, Qt::LeftButton, {}, p);
    QCOMPARE(w.measurements().size(), 2);
    QCOMPARE(measurementLabel(w.measurements().last(), *w.image(), 0), QStringLiteral("90.0°"));

    // Clicking twice on the same spot makes no zero-length measurement: the tool waits.
    w.setTool(ViewerTool::Length);
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(50, 50));
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(51, 50));
    QCOMPARE(w.measurements().size(), 2);
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(50, 90));
    QCOMPARE(w.measurements().size(), 3);
    QCOMPARE(measureLength(w.measurements().last().points[0], w.measurements().last().points[1],
                           w.image()->calibration).value, 10.0);  // 40 widget px = 20 image px = 10 mm
    w.selectMeasurement(2);
    w.deleteSelectedMeasurement();

    // Select the length by clicking on it with the pan tool, then delete it.
    w.setTool(ViewerTool::Pan);
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(150, 102));
    QCOMPARE(w.selectedMeasurement(), 0);
    w.deleteSelectedMeasurement();
    QCOMPARE(w.measurements().size(), 1);
    QCOMPARE(w.measurements().first().kind, MeasurementKind::Angle);
  }

  // A truncated image loaded on request (LoadOptions::acceptIncomplete) is never shown without its
  // mark: a red banner across the top, with overlays on or off.
  void incompleteImageShowsItsMark() {
    const auto redPixelsOnTop = [](const QImage& view) {
      int n = 0;
      for (int x = 0; x < view.width(); x += 4) {
        const QRgb c = view.pixel(x, 3);
        n += (qRed(c) > 150 && qGreen(c) < 60 && qBlue(c) < 60) ? 1 : 0;
      }
      return n;
    };
    ViewerWidget w;
    w.resize(400, 200);
    w.setOverlaysVisible(false);
    w.setImage(rampImage());
    QCOMPARE(redPixelsOnTop(w.renderView()), 0);
    auto cut = rampImage();
    cut->incomplete = QStringLiteral("the JPEG data stop after 100 bytes");
    w.setImage(cut);
    QVERIFY2(redPixelsOnTop(w.renderView()) > 90, qPrintable(QString::number(redPixelsOnTop(w.renderView()))));
    w.setOverlaysVisible(true);
    QVERIFY(redPixelsOnTop(w.renderView()) > 90);
  }

  void regionOutlineIsDrawnAndClearedWithTheImage() {
    ViewerWidget w;
    w.resize(400, 200);  // fit: scale 2
    w.setOverlaysVisible(false);
    w.setImage(rampImage());
    const QImage before = w.renderView();
    w.setRegionOutline(QRectF(50, 25, 100, 50), QStringLiteral("model input"));
    const QImage after = w.renderView();
    // The outline's left edge runs at widget x = 100 from y 50 to 150 (dashed): count the
    // magenta pixels along it; the gray ramp has none.
    auto magentaAlong = [](const QImage& img) {
      int n = 0;
      for (int y = 50; y <= 150; ++y) {
        const QRgb c = img.pixel(100, y);
        n += (qRed(c) > qGreen(c) + 60 && qBlue(c) > qGreen(c) + 60) ? 1 : 0;
      }
      return n;
    };
    QCOMPARE(magentaAlong(before), 0);
    QVERIFY2(magentaAlong(after) > 40, qPrintable(QString::number(magentaAlong(after))));
    QCOMPARE(after.pixel(300, 20), before.pixel(300, 20));  // elsewhere unchanged
    w.setImage(rampImage());
    QVERIFY(w.regionOutline().isEmpty());
  }

  void measurementsCanBeEditedByDragging() {
    ViewerWidget w;
    w.resize(400, 200);  // fit: scale 2, image (x, y) at widget (2x, 2y)
    w.setImage(rampImage());
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.addMeasurement({MeasurementKind::Length, {QPointF(20, 20), QPointF(60, 20)}});
    QSignalSpy changed(&w, &ViewerWidget::measurementsChanged);
    // Drag the right end (widget 120,40) 40 px further right: +20 image px = 60 px long.
    QTest::mousePress(&w, Qt::LeftButton, {}, QPoint(121, 41));
    QTest::mouseMove(&w, QPoint(141, 41));
    QTest::mouseMove(&w, QPoint(161, 41));
    QTest::mouseRelease(&w, Qt::LeftButton, {}, QPoint(161, 41));
    const Measurement edited = w.measurements().first();
    QCOMPARE(measureLength(edited.points[0], edited.points[1], Calibration{}).value, 60.0);
    QCOMPARE(edited.points[0], QPointF(20, 20));
    QCOMPARE(changed.count(), 1);
    // Drag the middle of the line: the whole measurement moves, its length stays.
    QTest::mousePress(&w, Qt::LeftButton, {}, QPoint(100, 40));
    QTest::mouseMove(&w, QPoint(100, 60));
    QTest::mouseMove(&w, QPoint(100, 80));
    QTest::mouseRelease(&w, Qt::LeftButton, {}, QPoint(100, 80));
    const Measurement moved = w.measurements().first();
    QCOMPARE(moved.points[0], QPointF(20, 40));
    QCOMPARE(moved.points[1], QPointF(80, 40));
    QCOMPARE(w.view().zoom(), 2.0);  // the view did not pan
  }

  void wheelZoomKeepsPointUnderCursor() {
    ViewerWidget w;
    w.resize(400, 200);
    w.setImage(rampImage());
    const QPointF cursor(123, 77);
    const QPointF before = w.view().mapToImage(cursor);
    QWheelEvent wheel(cursor, w.mapToGlobal(cursor), QPoint(), QPoint(0, 120), Qt::NoButton,
                      Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &wheel);
    QCOMPARE(w.view().zoom(), 2.0 * 1.25);
    const QPointF after = w.view().mapToImage(cursor);
    QVERIFY(qAbs(after.x() - before.x()) < 1e-9 && qAbs(after.y() - before.y()) < 1e-9);
  }

  void everyViewerActionHasAShortcut() {
    ViewerWidget w;
    ViewerActions actions(&w);
    for (QAction* a : actions.all())
      QVERIFY2(!a->shortcut().isEmpty(), qPrintable(a->text()));
    actions.lengthTool->trigger();
    QCOMPARE(w.tool(), ViewerTool::Length);
    w.setImage(rampImage());
    QVERIFY(!actions.presetMenu()->actions().isEmpty());
  }

  void numericWindowEntryEditsLive() {
    VoiWindow start;
    start.center = 500;
    start.width = 400;
    WindowEntryDialog dialog(start, 0, 1000);
    QSignalSpy edited(&dialog, &WindowEntryDialog::windowEdited);
    auto* center = dialog.findChild<QDoubleSpinBox*>(QStringLiteral("windowCenter"));
    auto* width = dialog.findChild<QDoubleSpinBox*>(QStringLiteral("windowWidth"));
    QVERIFY(center && width);
    center->setValue(40);
    width->setValue(80);
    QCOMPARE(edited.count(), 2);
    QCOMPARE(dialog.window().center, 40.0);
    QCOMPARE(dialog.window().width, 80.0);
  }

  void multiFrameSliderAndKeys() {
    auto img = rampImage();
    img->framesData.push_back(std::vector<qint32>(img->framesData[0].size(), 1000));
    img->framesData.push_back(std::vector<qint32>(img->framesData[0].size(), 0));
    img->frames = 3;
    ViewerWidget w;
    w.resize(400, 300);
    w.setImage(img);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* slider = w.findChild<QSlider*>(QStringLiteral("frameSlider"));
    QVERIFY(slider && slider->isVisible());
    QCOMPARE(slider->maximum(), 2);
    QSignalSpy changed(&w, &ViewerWidget::frameChanged);
    slider->setValue(1);
    QCOMPARE(w.frame(), 1);
    QCOMPARE(changed.count(), 1);
    QVERIFY(w.overlayText().joined().contains(u"Frame 2/3"));
    w.nextFrame();
    w.nextFrame();  // clamps at the last frame
    QCOMPARE(w.frame(), 2);
    QCOMPARE(slider->value(), 2);
    // A single-frame image hides the slider.
    w.setImage(rampImage());
    QVERIFY(!slider->isVisible());
  }

  void tagBrowserFiltersAndKeepsParents() {
    RadiographImage img;
    TagNode name{QStringLiteral("(0010,0010)"), QStringLiteral("PN"), QStringLiteral("PatientName"),
                 QStringLiteral("Doe^Jane"), {}};
    TagNode meaning{QStringLiteral("(0008,0104)"), QStringLiteral("LO"), QStringLiteral("CodeMeaning"),
                    QStringLiteral("Chest PA view"), {}};
    TagNode item{QStringLiteral("(FFFE,E000)"), QString(), QStringLiteral("Item 1"), QString(), {meaning}};
    TagNode seq{QStringLiteral("(0054,0220)"), QStringLiteral("SQ"), QStringLiteral("ViewCodeSequence"),
                QString(), {item}};
    TagNode rows{QStringLiteral("(0028,0010)"), QStringLiteral("US"), QStringLiteral("Rows"),
                 QStringLiteral("2048"), {}};
    img.tags = {name, seq, rows};

    TagBrowserDialog dialog(img, /*anonymised=*/false);
    TagFilterModel* f = dialog.filterModel();
    QCOMPARE(f->rowCount(), 3);
    dialog.searchField()->setText(QStringLiteral("chest pa"));  // a value, nested two levels deep
    QCOMPARE(f->rowCount(), 1);
    const QModelIndex seqIndex = f->index(0, TagColumnName);
    QCOMPARE(seqIndex.data().toString(), QStringLiteral("ViewCodeSequence"));
    QCOMPARE(f->rowCount(f->index(0, 0)), 1);  // the item is kept as parent of the match
    dialog.searchField()->setText(QStringLiteral("0028,0010"));  // by tag
    QCOMPARE(f->rowCount(), 1);
    QCOMPARE(f->index(0, TagColumnValue).data().toString(), QStringLiteral("2048"));
    dialog.searchField()->setText(QStringLiteral("patientname"));  // by name, case-insensitive
    QCOMPARE(f->rowCount(), 1);
    dialog.searchField()->setText(QStringLiteral("no such thing"));
    QCOMPARE(f->rowCount(), 0);

    TagBrowserDialog anonymous(img, /*anonymised=*/true);
    anonymous.searchField()->setText(QStringLiteral("Doe"));
    QCOMPARE(anonymous.filterModel()->rowCount(), 0);  // the name is masked, so cannot be found
  }
};

QTEST_MAIN(TestWidgetViewer)
#include "test_widget_viewer.moc"
