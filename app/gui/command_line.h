// The command line of cxr-assistant, parsed into a plain struct so main() only dispatches and the
// parsing is unit-tested (tests/app/tst_app_command_line.cpp).
//
//   cxr-assistant [FILE]                                     open FILE (or nothing) in the window
//   cxr-assistant --render IN OUT.png [--frame N] [--window CENTER,WIDTH]
//                                                            headless: write the model's rendering
//
// To add an option (e.g. the assistant's --open/--model/--run/--export-pdf): declare it in
// CommandLine::CommandLine(), add a field to CommandLineOptions, fill it in parse(), and add a
// row to the test. Cross-option rules (which options need which) belong in parse() too, so every
// mistake is reported before any window opens.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QString>
#include <QStringList>

#include <optional>

namespace cxr::app {

struct RenderRequest {
  QString input;
  QString output;
  int frame = 0;                                   // 0-based
  std::optional<cxr::viewer::VoiWindow> window;    // default: the file's default window
};

struct CommandLineOptions {
  enum class Mode { Gui, Render, Help, Version } mode = Mode::Gui;
  QString fileToOpen;                   // GUI: the positional FILE, if any
  std::optional<RenderRequest> render;  // Mode::Render
  QString screenshotPath;               // debug: grab the window to this PNG, then quit
  int screenshotDelayMs = 1000;
};

struct CommandLineResult {
  CommandLineOptions options;
  QString error;  // non-empty: print it with the usage line and exit non-zero
  bool ok() const { return error.isEmpty(); }
};

class CommandLine {
 public:
  CommandLine();
  // `arguments` includes the program name first, as QCoreApplication::arguments() does.
  CommandLineResult parse(const QStringList& arguments);
  QString helpText() const {
    return m_parser.helpText().replace(QStringLiteral("<executable_name>"), QStringLiteral("cxr-assistant"));
  }

 private:
  QCommandLineParser m_parser;
  QCommandLineOption m_render;
  QCommandLineOption m_frame;
  QCommandLineOption m_window;
  QCommandLineOption m_screenshot;
  QCommandLineOption m_screenshotDelay;
  QCommandLineOption m_help;
  QCommandLineOption m_version;
};

}  // namespace cxr::app
