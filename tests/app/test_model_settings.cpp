// Assistant > Model Settings…: what is saved, what a damaged settings file falls back to, the
// dialog's keyboard path and names, and what applying a change does to the window's engine (the
// scripted backend reports the thread count it was loaded with).
#include "assistant_integration.h"
#include "main_window.h"
#include "model_settings.h"

#include "cxr/assistant/scripted_backend.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <algorithm>

using cxr::app::AssistantIntegration;
using cxr::app::MainWindow;
using cxr::app::ModelSettings;
using cxr::app::ModelSettingsDialog;
using cxr::app::readModelSettings;
using cxr::app::writeModelSettings;

namespace {

struct Composed {
  QTemporaryDir dir;
  MainWindow window;
  AssistantIntegration* assistant = new AssistantIntegration(
      window, std::make_unique<cxr::assistant::ScriptedBackend>(), dir.filePath(QStringLiteral("history.sqlite")));
};

}  // namespace

class TestModelSettings : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("CXR Assistant Tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_model_settings"));
    qunsetenv("CXR_LLAVA_MODEL");
  }
  void init() { QSettings().clear(); }

  void savedSettingsReadBack() {
    ModelSettings chosen;
    chosen.folder = QStringLiteral("/models/cxr-llava");
    chosen.threads = std::min(2, ModelSettings::maxThreads());
    chosen.prefixCacheImages = 5;
    chosen.prepareWhileLooking = false;
    {
      QSettings settings;
      writeModelSettings(settings, chosen);
    }
    const auto read = readModelSettings(QSettings());
    QVERIFY(read.problems.isEmpty());
    QVERIFY(read.settings == chosen);
    QCOMPARE(read.settings.loadSettings().threads, chosen.threads);
    QCOMPARE(read.settings.loadSettings().prefixCacheImages, 5);
  }

  void nothingSavedGivesTheDefaults() {
    const auto read = readModelSettings(QSettings());
    QVERIFY(read.problems.isEmpty());
    QVERIFY(read.settings == ModelSettings{});
    QCOMPARE(read.settings.threads, 0);
    QCOMPARE(read.settings.prefixCacheImages, cxr::LoadOptions{}.prefixCacheImages);
  }

  void badSavedValuesFallBackWithAMessage_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QVariant>("saved");
    QTest::newRow("threads not a number") << QStringLiteral("model/threads") << QVariant(QStringLiteral("many"));
    QTest::newRow("threads negative") << QStringLiteral("model/threads") << QVariant(-3);
    QTest::newRow("threads too many") << QStringLiteral("model/threads") << QVariant(100000);
    QTest::newRow("prefix cache above the engine's limit")
        << QStringLiteral("model/prefixCacheImages") << QVariant(cxr::LoadOptions::kMaxPrefixCacheImages + 1);
    QTest::newRow("prefix cache a fraction") << QStringLiteral("model/prefixCacheImages") << QVariant(QStringLiteral("2.5"));
    QTest::newRow("prepare neither true nor false")
        << QStringLiteral("assistant/prepareWhileLooking") << QVariant(QStringLiteral("maybe"));
  }
  void badSavedValuesFallBackWithAMessage() {
    QFETCH(QString, key);
    QFETCH(QVariant, saved);
    QSettings().setValue(key, saved);
    const auto read = readModelSettings(QSettings());
    QVERIFY(read.settings == ModelSettings{});
    QCOMPARE(read.problems.size(), 1);
    QVERIFY2(read.problems[0].contains(key) && read.problems[0].contains(saved.toString()), qPrintable(read.problems[0]));
  }

  void theWindowSaysWhichSavedValueItIgnored() {
    QSettings().setValue(QStringLiteral("model/threads"), QStringLiteral("lots"));
    Composed c;
    QVERIFY2(c.window.statusBar()->currentMessage().contains(QStringLiteral("model/threads")),
             qPrintable(c.window.statusBar()->currentMessage()));
    QCOMPARE(c.assistant->modelSettings().threads, 0);
  }

  void everyControlIsNamedAndReachableByKeyboard() {
    ModelSettingsDialog dialog(ModelSettings{}, QStringLiteral("No model loaded"));
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    const QStringList names = {QStringLiteral("modelFolder"), QStringLiteral("browseModelFolder"), QStringLiteral("threads"),
                               QStringLiteral("prefixCacheImages"), QStringLiteral("prepareWhileLooking")};
    QSet<QWidget*> reached;
    QWidget* first = QApplication::focusWidget();
    QVERIFY(first);
    for (int i = 0; i < 20; ++i) {
      reached.insert(QApplication::focusWidget());
      QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
    }
    for (const QString& name : names) {
      auto* w = dialog.findChild<QWidget*>(name);
      QVERIFY2(w, qPrintable(name));
      QVERIFY2(!w->accessibleName().isEmpty(), qPrintable(name + QStringLiteral(" has no accessible name")));
      // A spin box's focus goes to its line edit.
      const bool tabbedTo = reached.contains(w) || (w->focusProxy() && reached.contains(w->focusProxy())) ||
                            std::any_of(reached.begin(), reached.end(), [w](QWidget* r) { return r && r->parentWidget() == w; });
      QVERIFY2(tabbedTo, qPrintable(name + QStringLiteral(" is not reached with Tab")));
    }
    // The labels' mnemonics jump to their fields.
    QTest::keyClick(&dialog, Qt::Key_T, Qt::AltModifier);
    QCOMPARE(QApplication::focusWidget() == dialog.findChild<QSpinBox*>(QStringLiteral("threads")) ||
                 QApplication::focusWidget()->parentWidget() == dialog.findChild<QSpinBox*>(QStringLiteral("threads")),
             true);
  }

  void aFolderThatDoesNotExistIsRefusedInTheDialog() {
    ModelSettingsDialog dialog(ModelSettings{}, QString());
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QTemporaryDir scratch;
    const QString missing = scratch.filePath(QStringLiteral("no-such-model"));
    dialog.findChild<QLineEdit*>(QStringLiteral("modelFolder"))->setText(missing);
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QCOMPARE(dialog.result(), int(QDialog::Rejected));
    auto* problem = dialog.findChild<QLabel*>(QStringLiteral("problem"));
    QVERIFY(problem->isVisible());
    QVERIFY2(problem->text().contains(QStringLiteral("no-such-model")), qPrintable(problem->text()));
    dialog.findChild<QLineEdit*>(QStringLiteral("modelFolder"))->setText(scratch.path());
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
  }

  void restoreDefaultsKeepsTheFolder() {
    ModelSettings s;
    s.folder = QStringLiteral("/models/x");
    s.threads = 1;
    s.prefixCacheImages = 0;
    s.prepareWhileLooking = false;
    ModelSettingsDialog dialog(s, QString());
    QCOMPARE(dialog.settings().threads, 1);
    dialog.setSettings([&] { ModelSettings d; d.folder = s.folder; return d; }());
    QVERIFY(dialog.settings() == [&] { ModelSettings d; d.folder = s.folder; return d; }());
  }

  void applyingLoadsTheModelWithTheChosenThreadsAndSavesThem() {
    QTemporaryDir folder;
    {
      Composed c;
      QSignalSpy loaded(&c.assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
      ModelSettings chosen;
      chosen.folder = folder.path();
      chosen.threads = 1;  // within any machine's logical CPUs (the saved value is checked against them)
      chosen.prepareWhileLooking = false;
      c.assistant->applyModelSettings(chosen);
      QVERIFY(loaded.wait(5000));
      QCOMPARE(loaded.last().at(0).value<cxr::assistant::ModelSummary>().info.threads, 1);
      QVERIFY(!c.assistant->panel()->prepareWhileLooking());
      QVERIFY(!c.window.findChild<QAction*>(QStringLiteral("prepareWhileLooking"))->isChecked());
      QVERIFY2(c.assistant->modelStatusButton()->text().contains(QStringLiteral("1 threads")),
               qPrintable(c.assistant->modelStatusButton()->text()));
    }
    const auto read = readModelSettings(QSettings());
    QCOMPARE(read.settings.folder, folder.path());
    QCOMPARE(read.settings.threads, 1);
    QCOMPARE(read.settings.prepareWhileLooking, false);
    Composed again;  // the next start loads it with the saved threads
    QSignalSpy loaded(&again.assistant->engine(), &cxr::assistant::AssistantEngine::modelLoaded);
    QVERIFY(again.assistant->loadModelAtStart());
    QVERIFY(loaded.wait(5000));
    QCOMPARE(loaded.last().at(0).value<cxr::assistant::ModelSummary>().info.threads, 1);
    QVERIFY(!again.assistant->panel()->prepareWhileLooking());
  }

  void theStatusBarModelOpensTheDialog() {
    Composed c;
    QVERIFY(c.assistant->modelStatusButton());
    QVERIFY(!c.assistant->modelStatusButton()->accessibleName().isEmpty());
    c.assistant->modelStatusButton()->click();
    auto* dialog = c.window.findChild<ModelSettingsDialog*>();
    QVERIFY(dialog && dialog->isVisible());
    QVERIFY(c.window.findChild<QAction*>(QStringLiteral("modelSettingsAction")));
    dialog->reject();
  }
};

QTEST_MAIN(TestModelSettings)
#include "test_model_settings.moc"
