// cxr-assistant: parse the command line, then either render headless (no display needed) or open
// the main window. Everything else lives in the cxr_app_gui library and the module libraries.
#include "command_line.h"
#include "image_budget.h"
#include "main_window.h"
#include "private_settings.h"

#include "cxr/viewer/headless.h"

#ifdef CXR_APP_WITH_ASSISTANT
#include "assistant_integration.h"
#include "batch_mode.h"

#include "cxr/assistant/batch_run.h"
#endif

#include <QApplication>
#include <QCoreApplication>
#include <QDir>
#include <QGuiApplication>

#include <algorithm>
#include <cstdio>

namespace {

void printLine(FILE* stream, const QString& text) {
  std::fputs(text.toLocal8Bit().constData(), stream);
  std::fputc('\n', stream);
}

void setApplicationIdentity() {
  QCoreApplication::setOrganizationName(QStringLiteral("CXR Assistant"));
  QCoreApplication::setApplicationName(QStringLiteral("cxr-assistant"));
  QCoreApplication::setApplicationVersion(QStringLiteral(CXR_VERSION_STRING));
}

// --max-image-megapixels / --max-file-megapixels: this run's pixel budget (the saved setting fills
// in the one not given). Needs the application's identity (the settings). False: said on stderr.
bool applyImageBudgetOptions(const cxr::app::CommandLineOptions& options) {
  if (!options.maxImageMegapixels && !options.maxFileMegapixels) return true;
  cxr::app::ImageBudget budget = cxr::app::savedImageBudget();
  budget.frameMegapixels = options.maxImageMegapixels.value_or(budget.frameMegapixels);
  budget.fileMegapixels = options.maxFileMegapixels.value_or(std::max(budget.fileMegapixels, budget.frameMegapixels));
  const QString problem = cxr::app::overrideImageBudget(budget);
  if (problem.isEmpty()) return true;
  printLine(stderr, QStringLiteral("cxr-assistant: --max-image-megapixels / --max-file-megapixels: %1").arg(problem));
  return false;
}

int renderHeadless(const cxr::app::RenderRequest& r) {
  QString error;
  if (!cxr::viewer::renderFileToPng(r.input, r.output, r.frame, r.window, &error, cxr::app::imageLoadOptions())) {
    printLine(stderr, error);
    return 1;
  }
  printLine(stdout, QStringLiteral("Rendered %1 to %2")
                        .arg(QDir::toNativeSeparators(r.input), QDir::toNativeSeparators(r.output)));
  return 0;
}

#ifdef CXR_APP_WITH_ASSISTANT
// --run without --quit-when-done: the request runs in the window's panel once the model is loaded;
// the exports are written when the answer is done, and a --screenshot is taken then.
void runInWindow(cxr::app::MainWindow& window, cxr::app::AssistantIntegration& assistant,
                 const cxr::app::AssistantRun& run, const QString& screenshotPath) {
  using namespace cxr::assistant;
  auto* panel = assistant.panel();
  const BatchOptions options = cxr::app::batchOptions(run);
  panel->setSamplingSettings([&] {
    SamplingSettings s = panel->samplingSettings();
    s.temperature = options.sampling.temperature;
    s.seed = options.sampling.seed;
    return s;
  }());
  QObject::connect(&assistant.engine(), &AssistantEngine::modelLoaded, panel, [panel, options] {
    switch (options.request.kind) {
      case RequestKind::Report: panel->writeReport(); break;
      case RequestKind::Differential: panel->differentialDiagnosis(); break;
      case RequestKind::Question: panel->askQuestion(options.request.question); break;
    }
  }, Qt::QueuedConnection);  // after the panel has taken the loaded model in
  QObject::connect(panel, &ChatPanel::answerFinished, &window, [&window, panel, options, screenshotPath] {
    const struct { QString path; ExportFormat format; } exports[] = {
        {options.exportPdf, ExportFormat::Pdf},
        {options.exportTxt, ExportFormat::PlainText},
        {options.exportMarkdown, ExportFormat::Markdown}};
    for (const auto& e : exports) {
      QString error;
      if (!e.path.isEmpty() && !panel->exportTo(e.path, e.format, ExportDocument::Scope::Conversation, &error))
        printLine(stderr, u"cxr-assistant: " + error);
    }
    if (!screenshotPath.isEmpty())
      window.scheduleScreenshot(screenshotPath, 300);
  });
  // A model that does not load or an answer that fails ends a screenshot run too (showing why).
  if (!screenshotPath.isEmpty()) {
    for (auto failure : {&AssistantEngine::loadFailed, &AssistantEngine::failed})
      QObject::connect(&assistant.engine(), failure, &window, [&window, screenshotPath](const QString& message) {
        printLine(stderr, u"cxr-assistant: " + message);
        window.scheduleScreenshot(screenshotPath, 300);
      });
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  QStringList arguments;
  for (int i = 0; i < argc; ++i)
    arguments << QString::fromLocal8Bit(argv[i]);

  cxr::app::CommandLine commandLine;
  const cxr::app::CommandLineResult parsed = commandLine.parse(arguments);
  if (!parsed.ok()) {
    printLine(stderr, QStringLiteral("cxr-assistant: %1").arg(parsed.error));
    printLine(stderr, QStringLiteral("Run 'cxr-assistant --help' for usage."));
    return 2;
  }
  const cxr::app::CommandLineOptions& options = parsed.options;
  using Mode = cxr::app::CommandLineOptions::Mode;
  switch (options.mode) {
    case Mode::Help:
      printLine(stdout, commandLine.helpText());
      return 0;
    case Mode::Version:
      printLine(stdout, QStringLiteral("cxr-assistant " CXR_VERSION_STRING));
      return 0;
    case Mode::Render: {
      // A core application (image plugins, no window system): works on machines with no display.
      QCoreApplication app(argc, argv);
      setApplicationIdentity();
      if (!applyImageBudgetOptions(options)) return 2;
      return renderHeadless(*options.render);
    }
    case Mode::Batch: {
#ifdef CXR_APP_WITH_ASSISTANT
      // No window: the offscreen platform unless the caller chose one, so that it runs without a
      // display. The PDF exporter needs the GUI application's fonts, hence not a core application.
      if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
      cxr::app::installBatchMessageHandler();
      QGuiApplication app(argc, argv);
      setApplicationIdentity();
      if (!applyImageBudgetOptions(options)) return 2;
      return cxr::app::runBatch(*options.run);
#else
      return 2;  // CommandLine refuses --run in a build without the assistant
#endif
    }
    case Mode::Gui:
      break;
  }

  QApplication app(argc, argv);
  setApplicationIdentity();
  cxr::app::makeSettingsPrivate();
  if (!applyImageBudgetOptions(options)) return 2;
  QGuiApplication::setDesktopFileName(QStringLiteral("cxr-assistant"));
  cxr::app::MainWindow window;
#ifdef CXR_APP_WITH_ASSISTANT
  auto* assistant = new cxr::app::AssistantIntegration(window);  // owned by the window
#endif
  window.show();
  if (!options.fileToOpen.isEmpty())
    window.openFile(options.fileToOpen);
#ifdef CXR_APP_WITH_ASSISTANT
  if (options.run) {
    runInWindow(window, *assistant, *options.run, options.screenshotPath);
    if (options.run->modelFolder.isEmpty())
      assistant->loadModelAtStart();
    else
      assistant->loadModelForThisRun(options.run->modelFolder);
    return app.exec();
  }
  assistant->loadModelAtStart();
#endif
  if (!options.screenshotPath.isEmpty())
    window.scheduleScreenshot(options.screenshotPath, options.screenshotDelayMs);
  return app.exec();
}
