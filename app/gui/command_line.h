// The command line of cxr-assistant, parsed into a plain struct so main() only dispatches and the
// parsing is unit-tested (tests/app/test_app_command_line.cpp).
//
//   cxr-assistant [FILE]                                     open FILE (or nothing) in the window
//   cxr-assistant --render IN OUT.png [--frame N] [--window CENTER,WIDTH]
//                                                            headless: write the model's rendering
//   cxr-assistant --open IMG [--model DIR] --run report|differential|ask:QUESTION
//                 [--export-pdf OUT.pdf] [--export-txt OUT.txt] [--export-md OUT.md]
//                 [--seed N] [--temperature T] [--quit-when-done]
//   any mode: [--max-image-megapixels N] [--max-file-megapixels N]  the pixel budget for this run
//                                                            the assistant without a person: with
//                 --quit-when-done headless (no display, exit code says how it went); without it
//                 the window opens, runs the request in the panel and stays open.
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

// --run: one assistant request on one image, exports written when it is done.
struct AssistantRun {
  QString image;        // --open
  QString modelFolder;  // --model; empty: discovered like the command-line tool does
  QString runSpec;      // "report", "differential" or "ask:QUESTION" (checked by parse())
  QString exportPdf, exportTxt, exportMarkdown;
  std::optional<quint64> seed;
  std::optional<double> temperature;
};

struct CommandLineOptions {
  enum class Mode { Gui, Render, Batch, Help, Version } mode = Mode::Gui;
  QString fileToOpen;                   // GUI: the positional FILE or --open, if any
  std::optional<RenderRequest> render;  // Mode::Render
  // Mode::Batch (--run with --quit-when-done: headless), or Mode::Gui with --run (in the window).
  std::optional<AssistantRun> run;
  // --max-image-megapixels / --max-file-megapixels (checked together; the other one's default or
  // saved value fills in when only one is given).
  std::optional<double> maxImageMegapixels, maxFileMegapixels;
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

  // Exit code of --run when the image cannot be opened (BatchRun's own codes are 0 to 4).
  static constexpr int kExitBadImage = 5;
  QString helpText() const {
    return parser_.helpText().replace(QStringLiteral("<executable_name>"), QStringLiteral("cxr-assistant"));
  }

 private:
  bool parseRun(const QString& image, CommandLineOptions* o, QString* error);

  QCommandLineParser parser_;
  QCommandLineOption render_;
  QCommandLineOption frame_;
  QCommandLineOption window_;
  QCommandLineOption open_;
  QCommandLineOption model_;
  QCommandLineOption run_;
  QCommandLineOption exportPdf_;
  QCommandLineOption exportTxt_;
  QCommandLineOption exportMarkdown_;
  QCommandLineOption seed_;
  QCommandLineOption temperature_;
  QCommandLineOption quitWhenDone_;
  QCommandLineOption maxImageMegapixels_;
  QCommandLineOption maxFileMegapixels_;
  QCommandLineOption screenshot_;
  QCommandLineOption screenshotDelay_;
  QCommandLineOption help_;
  QCommandLineOption version_;
};

}  // namespace cxr::app
