// cxr-assistant: parse the command line, then either render headless (no display needed) or open
// the main window. Everything else lives in the cxr_app_gui library and the module libraries.
#include "command_line.h"
#include "main_window.h"

#include "cxr/viewer/headless.h"

#include <QApplication>
#include <QCoreApplication>
#include <QDir>

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

int renderHeadless(const cxr::app::RenderRequest& r) {
  QString error;
  if (!cxr::viewer::renderFileToPng(r.input, r.output, r.frame, r.window, &error)) {
    printLine(stderr, error);
    return 1;
  }
  printLine(stdout, QStringLiteral("Rendered %1 to %2")
                        .arg(QDir::toNativeSeparators(r.input), QDir::toNativeSeparators(r.output)));
  return 0;
}

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
      return renderHeadless(*options.render);
    }
    case Mode::Gui:
      break;
  }

  QApplication app(argc, argv);
  setApplicationIdentity();
  QGuiApplication::setDesktopFileName(QStringLiteral("cxr-assistant"));
  cxr::app::MainWindow window;
  window.show();
  if (!options.fileToOpen.isEmpty())
    window.openFile(options.fileToOpen);
  if (!options.screenshotPath.isEmpty())
    window.scheduleScreenshot(options.screenshotPath, options.screenshotDelayMs);
  return app.exec();
}
