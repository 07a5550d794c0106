// The main window, offscreen: opening from the command line, errors that name the file without
// crashing, folder stepping, the assistant slot in the splitter, shortcuts, export, settings.
#include "command_line.h"
#include "image_budget.h"
#include "main_window.h"
#include "shortcuts_dialog.h"

#include "cxr/viewer/viewer_actions.h"
#include "cxr/viewer/viewer_widget.h"

#include <QAction>
#include <QClipboard>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSplitter>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUrl>

#include <cmath>

using cxr::app::MainWindow;

namespace {

const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);

QMessageBox* visibleError(const MainWindow& w) {
  for (QMessageBox* box : w.findChildren<QMessageBox*>())
    if (box->isVisible())
      return box;
  return nullptr;
}

void closeErrors(MainWindow& w) {
  for (QMessageBox* box : w.findChildren<QMessageBox*>())
    box->close();
}

}  // namespace

class TestAppMainWindow : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    // Settings go to a test location, never to the developer's real configuration.
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("CXR Assistant Tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_app_main_window"));
    QVERIFY2(QFile::exists(kSample), qPrintable(kSample));
  }
  void init() { QSettings().clear(); }

  void opensTheFileGivenOnTheCommandLine() {
    cxr::app::CommandLine cl;
    const auto parsed = cl.parse({QStringLiteral("cxr-assistant"), kSample});
    QVERIFY(parsed.ok());
    MainWindow w;
    QSignalSpy opened(&w, &MainWindow::imageOpened);
    w.show();
    QVERIFY(w.openFile(parsed.options.fileToOpen));
    QVERIFY(w.viewer()->hasImage());
    QCOMPARE(w.viewer()->image()->width, 512);
    QVERIFY(w.windowTitle().contains(u"sample_chest_pa.png"));
    QCOMPARE(opened.count(), 1);
    QCOMPARE(w.recentFiles().value(0), QFileInfo(kSample).absoluteFilePath());
    QVERIFY(!visibleError(w));
    // The status bar describes the image.
    bool described = false;
    for (QLabel* l : w.findChildren<QLabel*>())
      described |= l->text().contains(u"512 x 512");
    QVERIFY(described);
  }

  void nonImageShowsErrorNamingTheFile_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("name");
    QTest::newRow("text with .png name") << QByteArray("this is not an image\n") << QStringLiteral("notes.png");
    QTest::newRow("empty .dcm") << QByteArray() << QStringLiteral("empty.dcm");
    QTest::newRow("truncated PNG") << QByteArray("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) << QStringLiteral("cut.png");
    QTest::newRow("garbage DICOM preamble") << (QByteArray(128, '\0') + "DICM" + QByteArray(40, '\xff')) << QStringLiteral("broken.dcm");
  }
  void nonImageShowsErrorNamingTheFile() {
    QFETCH(QByteArray, content);
    QFETCH(QString, name);
    QTemporaryDir dir;
    const QString path = dir.filePath(name);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(content);
    f.close();

    MainWindow w;
    w.show();
    QVERIFY(w.openFile(kSample));
    QVERIFY(!w.openFile(path));
    QVERIFY2(w.lastError().contains(name), qPrintable(w.lastError()));
    QMessageBox* box = visibleError(w);
    QVERIFY(box);
    QVERIFY2(box->text().contains(name), qPrintable(box->text()));
    // The previous image stays on screen and the window keeps working.
    QVERIFY(w.viewer()->hasImage());
    QCOMPARE(w.currentFile(), QFileInfo(kSample).absoluteFilePath());
    closeErrors(w);
  }

  void missingFileShowsError() {
    MainWindow w;
    QVERIFY(!w.openFile(QStringLiteral("/nonexistent/dir/ghost.dcm")));
    QVERIFY(w.lastError().contains(u"ghost.dcm"));
    QVERIFY(!w.viewer()->hasImage());
    closeErrors(w);
  }

  void stepsThroughAFolder() {
    QTemporaryDir dir;
    for (const QString& n : {QStringLiteral("a1.png"), QStringLiteral("b2.png"), QStringLiteral("d4.png")})
      QVERIFY(QFile::copy(kSample, dir.filePath(n)));
    QFile bad(dir.filePath(QStringLiteral("c3.png")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("not a png");
    bad.close();

    MainWindow w;
    w.show();
    QVERIFY(w.openFolder(dir.path()));
    // Sorted: a1, b2, c3 (broken), d4.
    QCOMPARE(w.folderImages().size(), 4);
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("a1.png"));
    w.showNextImage();
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("b2.png"));
    w.showNextImage();  // the broken one: an error, and the position moves on
    QVERIFY(w.lastError().contains(u"c3.png"));
    QCOMPARE(w.folderIndex(), 2);
    closeErrors(w);
    w.showNextImage();
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("d4.png"));
    w.showNextImage();  // past the end: stays
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("d4.png"));
    w.showPreviousImage();
    w.showPreviousImage();
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("b2.png"));
    closeErrors(w);
  }

  void folderOfBrokenFilesGivesOneMessage() {
    QTemporaryDir dir;
    for (const QString& n : {QStringLiteral("x.dcm"), QStringLiteral("y.png"), QStringLiteral("z.jpg")}) {
      QFile f(dir.filePath(n));
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("garbage");
    }
    MainWindow w;
    w.show();
    QVERIFY(!w.openFolder(dir.path()));
    int boxes = 0;
    for (QMessageBox* box : w.findChildren<QMessageBox*>())
      boxes += box->isVisible() ? 1 : 0;
    QCOMPARE(boxes, 1);
    QVERIFY2(w.lastError().contains(u"x.dcm"), qPrintable(w.lastError()));  // the first reason
    QVERIFY(w.lastError().contains(u"3 image file"));
    closeErrors(w);
    QVERIFY(!w.openFolder(dir.filePath(QStringLiteral("no-such-folder"))));
    closeErrors(w);
  }

  void pageDownStepsThroughTheFolderOfAnOpenedFile() {
    QTemporaryDir dir;
    QVERIFY(QFile::copy(kSample, dir.filePath(QStringLiteral("a.png"))));
    QVERIFY(QFile::copy(kSample, dir.filePath(QStringLiteral("b.png"))));
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.openFile(dir.filePath(QStringLiteral("a.png"))));
    w.viewer()->setFocus();
    QTest::keyClick(w.viewer(), Qt::Key_PageDown);
    QCOMPARE(QFileInfo(w.currentFile()).fileName(), QStringLiteral("b.png"));
  }

  void assistantPanelGoesRightOfTheViewer() {
    MainWindow w;
    QCOMPARE(w.splitter()->count(), 1);  // nothing on the right by default
    QCOMPARE(w.assistantPanel(), nullptr);
    auto* panel = new QLabel(QStringLiteral("assistant"));
    w.setAssistantPanel(panel);
    QCOMPARE(w.splitter()->count(), 2);
    QCOMPARE(w.splitter()->widget(0), static_cast<QWidget*>(w.viewer()));
    QCOMPARE(w.splitter()->widget(1), static_cast<QWidget*>(panel));
    QPointer<QLabel> old(panel);
    w.setAssistantPanel(new QLabel(QStringLiteral("second")));
    QVERIFY(old.isNull());  // the previous panel is deleted
    QCOMPARE(w.splitter()->count(), 2);
    w.setAssistantPanel(nullptr);
    QCOMPARE(w.splitter()->count(), 1);
  }

  void shortcutsAreUniqueAndAllListed() {
    MainWindow w;
    const QList<QAction*> actions = w.shortcutActions();
    QHash<QString, QString> seen;
    for (QAction* a : actions) {
      for (const QKeySequence& k : a->shortcuts()) {
        const QString key = k.toString(QKeySequence::PortableText);
        QVERIFY2(!seen.contains(key), qPrintable(key + u" is used by both " + seen.value(key) + u" and " + a->text()));
        seen.insert(key, a->text());
      }
    }
    // Every tool has a shortcut and appears in the dialog.
    for (QAction* tool : w.viewerActions()->toolActions())
      QVERIFY2(actions.contains(tool), qPrintable(tool->text()));
    cxr::app::ShortcutsDialog dialog(actions);
    QCOMPARE(dialog.table()->rowCount(),
             actions.size() + cxr::app::ShortcutsDialog::mouseGestures().size());
    QVERIFY(!dialog.table()->findItems(QStringLiteral("Length"), Qt::MatchExactly).isEmpty());
  }

  void keyboardSelectsTools() {
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.openFile(kSample));
    w.viewer()->setFocus();
    QTest::keyClick(w.viewer(), Qt::Key_L);
    QCOMPARE(w.viewer()->tool(), cxr::viewer::ViewerTool::Length);
    QTest::keyClick(w.viewer(), Qt::Key_I);
    QVERIFY(w.viewer()->isInverted());
    QTest::keyClick(w.viewer(), Qt::Key_BracketRight);
    QCOMPARE(w.viewer()->view().rotationDegrees(), 90);
    const double zoom = w.viewer()->view().zoom();
    QTest::keyClick(w.viewer(), Qt::Key_Equal);  // '+' without Shift
    QVERIFY(w.viewer()->view().zoom() > zoom);
    QTest::keyClick(w.viewer(), Qt::Key_F);
    QCOMPARE(w.viewer()->view().zoom(), zoom);
  }

  void exportsTheViewAsDisplayed() {
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.openFile(kSample));
    QTemporaryDir dir;
    const QString out = dir.filePath(QStringLiteral("view.png"));
    QVERIFY(w.exportView(out));
    const QImage img(out);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), w.viewer()->size() * w.viewer()->devicePixelRatio());
    QVERIFY(!w.exportView(dir.filePath(QStringLiteral("no/such/dir/view.png"))));
    QVERIFY(w.lastError().contains(u"view.png"));
    closeErrors(w);
  }

  void copiesTheViewToTheClipboard() {
    MainWindow w;
    w.show();
    QVERIFY(w.openFile(kSample));
    QGuiApplication::clipboard()->clear();
    w.copyViewToClipboard();
    const QImage copied = QGuiApplication::clipboard()->image();
    QVERIFY(!copied.isNull());
    QCOMPARE(copied.size(), w.viewer()->size() * w.viewer()->devicePixelRatio());
  }

  void dropOpensTheFile() {
    MainWindow w;
    w.show();
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(kSample)});
    // Qt delivers a drop only to the widget that accepted the drag's enter event.
    QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    QVERIFY(w.viewer()->hasImage());
  }

  void settingsPersist() {
    {
      MainWindow w;
      w.show();
      w.viewerActions()->anonymised->setChecked(true);
      w.viewerActions()->overlays->setChecked(false);
      QVERIFY(w.openFile(kSample));
      QVERIFY(w.windowTitle().contains(u"anonymised"));
      QVERIFY(!w.windowTitle().contains(u"sample_chest"));
      w.close();
    }
    MainWindow again;
    QVERIFY(again.viewer()->isAnonymised());
    QVERIFY(!again.viewer()->overlaysVisible());
    QCOMPARE(again.recentFiles().value(0), QFileInfo(kSample).absoluteFilePath());
  }

  // A file decodes off the GUI thread: timers (painting, the streaming chat) keep running and a
  // busy bar shows while it does, and a second open asked meanwhile is declined, not nested.
  void windowKeepsRunningWhileAFileDecodes() {
    QTemporaryDir dir;
    const QString big = dir.filePath(QStringLiteral("big.png"));
    QImage noise(2000, 2000, QImage::Format_Grayscale16);
    for (int y = 0; y < noise.height(); ++y) {
      auto* row = reinterpret_cast<quint16*>(noise.scanLine(y));
      for (int x = 0; x < noise.width(); ++x) row[x] = quint16((x * 2654435761u + y * 40503u) >> 7);
    }
    QVERIFY(noise.save(big, "PNG", 0));  // uncompressed-ish: decoding takes a while
    MainWindow w;
    w.show();
    bool timerRan = false, busyShown = false, secondOpenDeclined = false;
    QTimer::singleShot(0, &w, [&] {
      timerRan = true;
      for (QProgressBar* bar : w.findChildren<QProgressBar*>())
        busyShown = busyShown || bar->isVisible();
      secondOpenDeclined = !w.openFile(kSample);
    });
    QVERIFY(w.openFile(big));
    QVERIFY2(timerRan, "the GUI thread ran no events while the file decoded");
    QVERIFY(busyShown);
    QVERIFY(secondOpenDeclined);
    QCOMPARE(w.currentFile(), QFileInfo(big).absoluteFilePath());
    for (QProgressBar* bar : w.findChildren<QProgressBar*>())
      QVERIFY(!bar->isVisible());
    QVERIFY(w.openFile(kSample));  // and the next open works
  }

  // Issue 12: the pixel budget is a setting. Image > Image Size Limits saves it; every file the
  // window opens is checked against it, and the refusal says how to raise it.
  void imageSizeLimitsAreASetting() {
    QCOMPARE(cxr::app::imageLoadOptions().maxFramePixels, cxr::viewer::LoadOptions::kDefaultMaxFramePixels);
    QVERIFY(!cxr::app::saveImageBudget({0.2, 0.1}).isEmpty());  // the file budget below one frame's
    QVERIFY(!cxr::app::saveImageBudget({std::nan(""), 500}).isEmpty());
    QVERIFY2(cxr::app::saveImageBudget({0.2, 0.2}).isEmpty(), "0.2 megapixels per frame is a valid budget");
    QCOMPARE(cxr::app::imageLoadOptions().maxFramePixels, 200000);

    MainWindow w;
    w.show();
    QVERIFY2(!w.openFile(kSample), "a 512x512 image (0.26 megapixels) opened under a 0.2 megapixel budget");
    QVERIFY2(w.lastError().contains(u"512x512") && w.lastError().contains(u"Image Size Limits"), qPrintable(w.lastError()));
    closeErrors(w);

    cxr::app::ImageBudgetDialog dialog(&w);
    auto spins = dialog.findChildren<QDoubleSpinBox*>();
    QCOMPARE(spins.size(), 2);
    QCOMPARE(spins[0]->value(), 0.2);
    spins[0]->setValue(50);
    spins[1]->setValue(500);
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QVERIFY(w.openFile(kSample));

    // A hand-edited setting out of range falls back to the defaults instead of refusing everything.
    QSettings().setValue(QStringLiteral("images/maxFrameMegapixels"), -3);
    QCOMPARE(cxr::app::imageLoadOptions().maxFramePixels, cxr::viewer::LoadOptions::kDefaultMaxFramePixels);
  }
};

QTEST_MAIN(TestAppMainWindow)
#include "test_app_main_window.moc"
