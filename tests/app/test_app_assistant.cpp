// The composed window: the assistant panel beside the viewer, what the model is handed when an
// image opens or the window changes, the crop outline, reopening from the history, the Assistant
// menu, and the single-key viewer shortcuts staying quiet while someone types in the panel.
// Uses the assistant's scripted backend (no model needed); the real engine is exercised through
// the executable in test_app_batch.
#include "assistant_integration.h"
#include "main_window.h"
#include "model_image_feed.h"

#include "cxr/assistant/question_box.h"
#include "cxr/assistant/scripted_backend.h"
#include "cxr/viewer/radiograph.h"
#include "cxr/viewer/viewer_widget.h"

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QCryptographicHash>
#include <QFile>
#include <QLabel>
#include <QMenuBar>
#include <QPushButton>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QSplitter>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QToolButton>

using cxr::app::AssistantIntegration;
using cxr::app::MainWindow;
using cxr::assistant::ModelImageSource;

Q_DECLARE_METATYPE(Qt::Key)

namespace {

const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);

QString sha256Of(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QString::fromLatin1(QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex());
}

// A window with the assistant over the scripted backend and a scratch history database.
struct Composed {
  QTemporaryDir dir;
  MainWindow window;
  AssistantIntegration* assistant;
  // `historyPath`: a history prepared by the test; empty for a new one in a scratch folder.
  explicit Composed(const QString& historyPath = {})
      : assistant(new AssistantIntegration(window, std::make_unique<cxr::assistant::ScriptedBackend>(),
                                           historyPath.isEmpty() ? dir.filePath(QStringLiteral("history.sqlite"))
                                                                 : historyPath)) {}
  bool loadScriptedModel() {
    QSignalSpy loaded(&assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
    assistant->panel()->loadModel(dir.path());
    return loaded.wait(5000);
  }
};

QAction* menuAction(MainWindow& w, const QString& menuTitle, const QString& text) {
  for (QAction* top : w.menuBar()->actions()) {
    if (QString(top->text()).remove(u'&') != menuTitle || !top->menu())
      continue;
    for (QAction* a : top->menu()->actions())
      if (QString(a->text()).remove(u'&') == text)
        return a;
  }
  return nullptr;
}

// A history with `n` stored conversations whose pages from `first` on are overwritten with random
// bytes (the header stays intact, so SQLite opens it without complaint).
void writeDamagedHistory(const QString& path, int n, int first) {
  {
    cxr::assistant::HistoryStore store(path);
    QVERIFY(store.isWritable());
    for (int i = 0; i < n; ++i) {
      const qint64 c = store.createConversation(QStringLiteral("Report %1").arg(i), {}, {});
      store.addUserMessage(c, QStringLiteral("No pleural effusion. ").repeated(120), {});
    }
  }
  QFile f(path);
  QVERIFY(f.open(QIODevice::ReadWrite));
  QVERIFY(f.size() > (first + 4) * 4096);
  QByteArray garbage(4 * 4096, Qt::Uninitialized);
  QRandomGenerator rng(99);
  for (auto& b : garbage)
    b = char(rng.generate() & 0xff);
  QVERIFY(f.seek(qint64(first) * 4096));
  QCOMPARE(f.write(garbage), qint64(garbage.size()));
}

QPushButton* bannerButton(AssistantIntegration* a, const char* name) {
  return a->historyBanner()->findChild<QPushButton*>(QString::fromLatin1(name));
}

}  // namespace

class TestAppAssistant : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("CXR Assistant Tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_app_assistant"));
    qunsetenv("CXR_LLAVA_MODEL");
    QVERIFY2(QFile::exists(kSample), qPrintable(kSample));
  }
  void init() { QSettings().clear(); }

  void panelIsRightOfTheViewerWithMenuAndStatus() {
    Composed c;
    QCOMPARE(c.window.splitter()->count(), 2);
    QCOMPARE(c.window.splitter()->widget(0), static_cast<QWidget*>(c.window.viewer()));
    QCOMPARE(c.window.splitter()->widget(1), static_cast<QWidget*>(c.assistant->panel()));
    QCOMPARE(c.window.assistantPanel(), static_cast<QWidget*>(c.assistant->panel()));
    for (const char* item : {"Write Report", "Differential Diagnosis", "Stop", "New Conversation",
                             "History…", "Include Identifying Fields in Exports", "Model Settings…"})
      QVERIFY2(menuAction(c.window, QStringLiteral("Assistant"), QString::fromUtf8(item)), item);
    QAction* identifying = c.assistant->includeIdentifyingAction();
    QVERIFY(identifying->isCheckable());
    QVERIFY(!identifying->isChecked());  // anonymised exports unless the user opts in
    // Requests wait for a model and an image.
    QVERIFY(!menuAction(c.window, QStringLiteral("Assistant"), QStringLiteral("Write Report"))->isEnabled());
    // The model's status reaches the status bar.
    QVERIFY(c.loadScriptedModel());
    QTRY_VERIFY(!c.assistant->modelStatusButton()->text().contains(u"not loaded"));
    QVERIFY2(c.assistant->modelStatusButton()->text().contains(u"bf16"),
             qPrintable(c.assistant->modelStatusButton()->text()));
  }

  void openingAnImageHandsThePanelTheModelImage() {
    Composed c;
    QSignalSpy handed(c.assistant, &AssistantIntegration::imageSourceChanged);
    QVERIFY(c.window.openFile(kSample));
    QCOMPARE(handed.count(), 1);
    const ModelImageSource src = c.assistant->imageSource();
    const auto loaded = cxr::viewer::loadRadiograph(kSample);
    QVERIFY(loaded.ok());
    QCOMPARE(src.defaultWindow, cxr::viewer::renderForModel(*loaded.image, 0));
    QCOMPARE(src.defaultWindow.format(), QImage::Format_Grayscale8);
    QVERIFY(!src.currentWindow.isNull());
    QCOMPARE(src.sha256, sha256Of(kSample));
    QCOMPARE(src.filePath, QFileInfo(kSample).absoluteFilePath());
    QVERIFY2(src.defaultWindowText.contains(u"default"), qPrintable(src.defaultWindowText));
    // The description is for exports that may be anonymised: never the file name.
    QVERIFY2(!src.description.contains(QFileInfo(kSample).completeBaseName()), qPrintable(src.description));
    QVERIFY(src.patient.isEmpty());  // a PNG carries no patient fields
  }

  void onScreenWindowFollowsTheViewer() {
    Composed c;
    QVERIFY(c.window.openFile(kSample));
    const ModelImageSource before = c.assistant->imageSource();
    cxr::viewer::VoiWindow narrow;
    narrow.center = 100;
    narrow.width = 40;
    QSignalSpy handed(c.assistant, &AssistantIntegration::imageSourceChanged);
    c.window.viewer()->setWindow(narrow);
    QVERIFY(handed.wait(3000));  // once the window stops changing
    const ModelImageSource after = c.assistant->imageSource();
    QCOMPARE(after.defaultWindow, before.defaultWindow);  // the default rendering does not move
    QVERIFY(after.currentWindow != before.currentWindow);
    QVERIFY2(after.currentWindowText.contains(u"center 100, width 40"), qPrintable(after.currentWindowText));
    QVERIFY2(after.currentWindowText.contains(u"on screen"), qPrintable(after.currentWindowText));
  }

  // The panel's crop (as the engine's preprocessing reports it) becomes the viewer's outline when
  // something is cut away; a crop of the whole image draws nothing.
  void theModelsSquareIsOutlinedOnTheViewer_data() {
    QTest::addColumn<QRectF>("crop");
    QTest::addColumn<bool>("outlined");
    QTest::newRow("centre square of a wide image") << QRectF(100, 0, 312, 312) << true;
    QTest::newRow("the whole image") << QRectF(0, 0, 512, 512) << false;
  }
  void theModelsSquareIsOutlinedOnTheViewer() {
    QFETCH(QRectF, crop);
    QFETCH(bool, outlined);
    Composed c;
    QVERIFY(c.window.openFile(kSample));  // 512 x 512
    Q_EMIT c.assistant->panel()->cropRectChanged(crop);
    QCOMPARE(c.window.viewer()->regionOutline(), outlined ? crop : QRectF());
  }

  void theEnginesCropReachesTheViewer() {
    Composed c;
    QVERIFY(c.loadScriptedModel());
    QSignalSpy crops(c.assistant->panel(), &cxr::assistant::ChatPanel::cropRectChanged);
    QVERIFY(c.window.openFile(kSample));
    QVERIFY(crops.count() > 0 || crops.wait(5000));
  }

  void historyReopenOpensThatImage() {
    Composed c;
    QTemporaryDir dir;
    const QString other = dir.filePath(QStringLiteral("other.png"));
    QVERIFY(QFile::copy(kSample, other));
    QVERIFY(c.window.openFile(kSample));
    Q_EMIT c.assistant->panel()->reopenImageRequested(other);
    QCOMPARE(c.window.currentFile(), QFileInfo(other).absoluteFilePath());
  }

  void chosenModelFolderPersists() {
    QTemporaryDir folder;
    {
      Composed c;
      QSignalSpy loaded(&c.assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
      c.assistant->useModelFolder(folder.path());
      QVERIFY(loaded.wait(5000));
    }
    QCOMPARE(AssistantIntegration::savedModelFolder(), folder.path());
    Composed again;  // the next start loads it
    QSignalSpy loaded(&again.assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
    QVERIFY(again.assistant->loadModelAtStart());
    QVERIFY(loaded.wait(5000));
  }

  void splitterAndPanelSettingsPersist() {
    QList<int> sizes;
    {
      Composed c;
      c.window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&c.window));
      QTest::qWait(50);  // the first-show 3:2 split
      const int total = c.window.splitter()->sizes().value(0) + c.window.splitter()->sizes().value(1);
      c.window.splitter()->setSizes({total - 620, 620});
      sizes = c.window.splitter()->sizes();
      auto sampling = c.assistant->panel()->samplingSettings();
      sampling.temperature = 0.55;
      c.assistant->panel()->setSamplingSettings(sampling);
      c.window.close();  // saves the window's and the panel's settings
    }
    Composed again;
    again.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again.window));
    QTest::qWait(50);
    QCOMPARE(again.window.splitter()->sizes(), sizes);
    QCOMPARE(again.assistant->panel()->samplingSettings().temperature, 0.55);
  }

  // The viewer keeps fitting the image when the splitter gives it less room.
  void viewerRefitsWhenTheSplitterMoves() {
    Composed c;
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    QVERIFY(c.window.openFile(kSample));
    QTest::qWait(50);
    auto* viewer = c.window.viewer();
    const QList<int> sizes = c.window.splitter()->sizes();
    c.window.splitter()->setSizes({sizes[0] - 150, sizes[1] + 150});
    QTest::qWait(50);
    const auto& image = viewer->image();
    const double expected = std::min(viewer->width() / double(image->width), viewer->height() / double(image->height)) *
                            viewer->devicePixelRatioF();
    QVERIFY2(std::abs(viewer->view().zoom() - expected) < 0.02,
             qPrintable(QStringLiteral("zoom %1, fit %2 (viewer %3 x %4)").arg(viewer->view().zoom()).arg(expected)
                            .arg(viewer->width()).arg(viewer->height())));
  }

  void aFolderForOneRunIsNotRemembered() {
    QTemporaryDir chosen, once;
    Composed c;
    QSignalSpy loaded(&c.assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
    c.assistant->useModelFolder(chosen.path());
    QVERIFY(loaded.wait(5000));
    c.assistant->loadModelForThisRun(once.path());
    QVERIFY(loaded.wait(5000));
    QCOMPARE(AssistantIntegration::savedModelFolder(), chosen.path());
  }

  void shortcutsAreUniqueInTheComposedWindow() {
    Composed c;
    QHash<QString, QString> seen;
    for (QAction* a : c.window.shortcutActions()) {
      for (const QKeySequence& k : a->shortcuts()) {
        const QString key = k.toString();
        QVERIFY2(!seen.contains(key), qPrintable(key + u": " + seen.value(key) + u" and " + a->text()));
        seen.insert(key, a->text());
      }
    }
    QVERIFY(seen.contains(QStringLiteral("Ctrl+R")));  // Write Report is listed (Help > Shortcuts)
  }

  void withoutAModelThePanelSaysHowToGetIt() {
    QTemporaryDir emptyCache;
    qputenv("HF_HOME", emptyCache.path().toUtf8());
    qunsetenv("HF_HUB_CACHE");
    Composed c;
    QVERIFY(!c.assistant->loadModelAtStart());
    QVERIFY2(!c.assistant->panel()->statusText().isEmpty(), "the panel says nothing");
    // The viewer works fully.
    QVERIFY(c.window.openFile(kSample));
    QVERIFY(c.window.viewer()->hasImage());
  }

  // Keys a person types into the question box, each of which is a viewer shortcut.
  void shortcutsDoNotFireWhileTyping_data() {
    QTest::addColumn<Qt::Key>("key");
    QTest::addColumn<QString>("typed");
    QTest::newRow("I (invert)") << Qt::Key_I << QStringLiteral("i");
    QTest::newRow("F (fit)") << Qt::Key_F << QStringLiteral("f");
    QTest::newRow("H (flip)") << Qt::Key_H << QStringLiteral("h");
    QTest::newRow("L (length tool)") << Qt::Key_L << QStringLiteral("l");
    QTest::newRow("N (window entry)") << Qt::Key_N << QStringLiteral("n");
    QTest::newRow("] (rotate)") << Qt::Key_BracketRight << QStringLiteral("]");
    QTest::newRow("= (zoom)") << Qt::Key_Equal << QStringLiteral("=");
  }
  void shortcutsDoNotFireWhileTyping() {
    QFETCH(Qt::Key, key);
    QFETCH(QString, typed);
    Composed c;
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    QVERIFY(c.window.openFile(kSample));
    auto* viewer = c.window.viewer();
    const auto tool = viewer->tool();
    const double zoom = viewer->view().zoom();
    const int rotation = viewer->view().rotationDegrees();
    auto unchanged = [&] {
      return !viewer->isInverted() && viewer->tool() == tool && viewer->view().zoom() == zoom &&
             viewer->view().rotationDegrees() == rotation && !viewer->view().isMirrored() &&
             QApplication::activeModalWidget() == nullptr && c.window.findChildren<QDialog*>().isEmpty();
    };
    // In the question box: the letter is text.
    auto* box = c.assistant->panel()->questionBox();
    box->setFocus();
    QTRY_VERIFY(box->hasFocus());
    QTest::keyClick(box, key);
    QVERIFY2(box->toPlainText().contains(typed), qPrintable(box->toPlainText()));
    QVERIFY2(unchanged(), "a viewer shortcut fired while typing a question");
    // In the read-only transcript: nothing at all happens to the image either.
    auto* transcript = c.assistant->panel()->findChild<QTextBrowser*>();
    QVERIFY(transcript);
    transcript->setFocus();
    QTRY_VERIFY(transcript->hasFocus());
    QTest::keyClick(transcript, key);
    QVERIFY2(unchanged(), "a viewer shortcut fired from the read-only transcript");
  }

  // Before: a damaged history left History enabled and nothing was saved, unseen; at most a
  // 15-second status-bar line. Now a bar across the window says so until the user chooses.
  void damagedHistoryShowsABannerUntilTheUserActs() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("history.sqlite"));
    writeDamagedHistory(db, 40, 8);
    Composed c(db);
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    auto* banner = c.assistant->historyBanner();
    QVERIFY(banner->isVisible());
    const QString aside = c.assistant->history().keptAsidePath();
    QVERIFY2(banner->text().contains(u"damaged") && banner->text().contains(aside), qPrintable(banner->text()));
    QVERIFY(bannerButton(c.assistant, "historyStartNew")->isVisible());
    QVERIFY(bannerButton(c.assistant, "historyReadDamaged")->isVisible());
    QVERIFY(!bannerButton(c.assistant, "historyDismiss")->isVisible());  // saving is off: it stays
    QTest::qWait(200);
    QVERIFY(banner->isVisible());

    bannerButton(c.assistant, "historyReadDamaged")->click();  // what can be read, read-only
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains(u"reading only") && banner->text().contains(aside), qPrintable(banner->text()));
    QVERIFY(!c.assistant->history().isWritable());
    QVERIFY(bannerButton(c.assistant, "historyStartNew")->isVisible());

    bannerButton(c.assistant, "historyStartNew")->click();
    QVERIFY(!banner->isVisible());
    QVERIFY(c.assistant->history().isWritable());
    QVERIFY(QFileInfo::exists(aside));
  }

  void truncatedHistoryIsSaidUntilDismissed() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("history.sqlite"));
    { QFile f(db); QVERIFY(f.open(QIODevice::WriteOnly)); }
    Composed c(db);
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    auto* banner = c.assistant->historyBanner();
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains(u"0 bytes"), qPrintable(banner->text()));
    QVERIFY(c.assistant->history().isWritable());  // a new history was started
    bannerButton(c.assistant, "historyDismiss")->click();
    QVERIFY(!banner->isVisible());
  }

  // Every failed write reaches the bar (here: another program holds the write lock).
  void failedWriteShowsTheBanner() {
    Composed c;
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    auto* banner = c.assistant->historyBanner();
    QVERIFY(!banner->isVisible());
    QSqlDatabase other = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("locker"));
    other.setDatabaseName(c.assistant->history().path());
    QVERIFY(other.open());
    {
      QSqlQuery lock(other);
      QVERIFY(lock.exec(QStringLiteral("BEGIN IMMEDIATE")));
      QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("Could not save")));
      QCOMPARE(c.assistant->history().createConversation(QStringLiteral("blocked"), {}, {}), qint64(0));
      QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
    }
    other.close();
    other = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("locker"));
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains(u"Could not save"), qPrintable(banner->text()));
  }

  void shortcutsStillWorkOnTheViewer() {
    Composed c;
    c.window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c.window));
    QVERIFY(c.window.openFile(kSample));
    c.window.viewer()->setFocus();
    QTest::keyClick(c.window.viewer(), Qt::Key_I);
    QVERIFY(c.window.viewer()->isInverted());
    // And a modified one works from the panel.
    c.assistant->panel()->questionBox()->setFocus();
    QTRY_VERIFY(c.assistant->panel()->questionBox()->hasFocus());
    QTest::keyClick(c.assistant->panel()->questionBox(), Qt::Key_A, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(c.window.viewer()->isAnonymised());
  }
};

QTEST_MAIN(TestAppAssistant)
#include "test_app_assistant.moc"
