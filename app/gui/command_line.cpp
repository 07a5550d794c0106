#include "command_line.h"

#include "cxr/viewer/window_level.h"

#ifdef CXR_APP_WITH_ASSISTANT
#include "cxr/assistant/batch_run.h"
#include "cxr/assistant/report_export.h"
#endif

#include <QRegularExpression>

#include <cmath>
#include <limits>

namespace cxr::app {

CommandLine::CommandLine()
    : render_(QStringLiteral("render"),
               QStringLiteral("Headless: render IN as the model sees it (8-bit gray, default window) "
                              "to OUT.png and exit. Needs no display.")),
      frame_(QStringLiteral("frame"), QStringLiteral("With --render: frame to render, from 0."),
              QStringLiteral("N"), QStringLiteral("0")),
      window_(QStringLiteral("window"),
               QStringLiteral("With --render: window CENTER,WIDTH in modality units, e.g. 40,400."),
               QStringLiteral("CENTER,WIDTH")),
      open_(QStringLiteral("open"), QStringLiteral("Image to open (with --run: the image to ask about)."),
             QStringLiteral("IMG")),
      model_(QStringLiteral("model"),
              QStringLiteral("With --run: the CXR-LLaVA model folder (default: $CXR_LLAVA_MODEL, "
                             "then the Hugging Face cache)."),
              QStringLiteral("DIR")),
      run_(QStringLiteral("run"),
            QStringLiteral("Ask the assistant about --open IMG: report, differential or ask:QUESTION. "
                           "With --quit-when-done no window opens; exit code 0 done, 1 an export "
                           "failed, 2 model missing or failed to load, 3 generation failed, "
                           "4 stopped, 5 image cannot be opened."),
            QStringLiteral("WHAT")),
      exportPdf_(QStringLiteral("export-pdf"), QStringLiteral("With --run: write the PDF here."),
                  QStringLiteral("OUT.pdf")),
      exportTxt_(QStringLiteral("export-txt"), QStringLiteral("With --run: write plain text here."),
                  QStringLiteral("OUT.txt")),
      exportMarkdown_(QStringLiteral("export-md"), QStringLiteral("With --run: write Markdown here."),
                       QStringLiteral("OUT.md")),
      seed_(QStringLiteral("seed"), QStringLiteral("With --run: sampling seed (printed in the exports)."),
             QStringLiteral("N")),
      temperature_(QStringLiteral("temperature"),
                    QStringLiteral("With --run: sampling temperature (0 = greedy; default 0.2)."),
                    QStringLiteral("T")),
      quitWhenDone_(QStringLiteral("quit-when-done"),
                     QStringLiteral("With --run: no window; quit when the exports are written.")),
      maxImageMegapixels_(QStringLiteral("max-image-megapixels"),
                           QStringLiteral("Refuse images whose header says more than N megapixels per frame, "
                                          "before decoding (default 50, or Image > Image Size Limits)."),
                           QStringLiteral("N")),
      maxFileMegapixels_(QStringLiteral("max-file-megapixels"),
                          QStringLiteral("The same for all frames of a multi-frame file (default 500)."),
                          QStringLiteral("N")),
      screenshot_(QStringLiteral("screenshot"),
                   QStringLiteral("Debug: save a screenshot of the window to OUT.png and quit."),
                   QStringLiteral("OUT.png")),
      screenshotDelay_(QStringLiteral("screenshot-delay"),
                        QStringLiteral("Debug: milliseconds to wait before --screenshot."),
                        QStringLiteral("MS"), QStringLiteral("1000")),
      help_({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help.")),
      version_({QStringLiteral("v"), QStringLiteral("version")},
                QStringLiteral("Show the version.")) {
  parser_.setApplicationDescription(
      QStringLiteral("CXR Assistant: chest X-ray viewer with a local CXR-LLaVA assistant."));
  screenshot_.setFlags(QCommandLineOption::HiddenFromHelp);
  screenshotDelay_.setFlags(QCommandLineOption::HiddenFromHelp);
  parser_.addOptions({render_, frame_, window_, open_, model_, run_, exportPdf_, exportTxt_,
                       exportMarkdown_, seed_, temperature_, quitWhenDone_, maxImageMegapixels_,
                       maxFileMegapixels_, screenshot_,
                       screenshotDelay_, help_, version_});
  parser_.addPositionalArgument(
      QStringLiteral("FILE"),
      QStringLiteral("Image to open (DICOM, PNG, JPEG, TIFF, BMP). With --render: IN OUT.png."),
      QStringLiteral("[FILE | IN OUT.png]"));
}

bool CommandLine::parseRun(const QString& image, CommandLineOptions* o, QString* error) {
  const QString spec = parser_.value(run_);
#ifdef CXR_APP_WITH_ASSISTANT
  if (!cxr::assistant::parseRunSpec(spec, error))
    return false;
#else
  Q_UNUSED(spec);
  *error = QStringLiteral("--run needs the assistant, and this cxr-assistant was built without it "
                          "(configure with -DCXR_BUILD_ASSISTANT=ON).");
  return false;
#endif
  if (image.isEmpty()) {
    *error = QStringLiteral("--run needs the image to ask about: --open IMG.");
    return false;
  }
  AssistantRun run;
  run.image = image;
  run.runSpec = spec;
  run.modelFolder = parser_.value(model_);
  run.exportPdf = parser_.value(exportPdf_);
  run.exportTxt = parser_.value(exportTxt_);
  run.exportMarkdown = parser_.value(exportMarkdown_);
  if (parser_.isSet(seed_)) {
    // Digits only: toULongLong alone would take "-1" in some Qt versions and "0x10" never.
    const QString text = parser_.value(seed_);
    static const QRegularExpression digits(QStringLiteral("^[0-9]+$"));
    bool ok = false;
    run.seed = text.toULongLong(&ok);
    if (!ok || !digits.match(text).hasMatch()) {
      *error = QStringLiteral("--seed must be a whole number from 0 to %1 (got \"%2\").")
                   .arg(std::numeric_limits<quint64>::max())
                   .arg(text);
      return false;
    }
  }
  if (parser_.isSet(temperature_)) {
    bool ok = false;
    run.temperature = parser_.value(temperature_).toDouble(&ok);
    // NaN passes both comparisons below, so finiteness is checked on its own.
    if (!ok || !std::isfinite(*run.temperature) || *run.temperature < 0 || *run.temperature > 5) {
      *error = QStringLiteral("--temperature must be a number from 0 (greedy) to 5 (got \"%1\").")
                   .arg(parser_.value(temperature_));
      return false;
    }
  }
#ifdef CXR_APP_WITH_ASSISTANT
  // A folder as the destination, a missing folder, or one file for two formats: said now, before
  // the model runs for minutes and the export is lost.
  const QString exportProblem = cxr::assistant::checkExportDestinations(
      {{QStringLiteral("--export-pdf"), run.exportPdf},
       {QStringLiteral("--export-txt"), run.exportTxt},
       {QStringLiteral("--export-md"), run.exportMarkdown}});
  if (!exportProblem.isEmpty()) {
    *error = exportProblem;
    return false;
  }
#endif
  o->run = run;
  if (parser_.isSet(quitWhenDone_)) {
    if (!parser_.value(screenshot_).isEmpty()) {
      *error = QStringLiteral("--screenshot needs the window, and --quit-when-done opens none.");
      return false;
    }
    o->mode = CommandLineOptions::Mode::Batch;
  }
  return true;
}

CommandLineResult CommandLine::parse(const QStringList& arguments) {
  CommandLineResult result;
  CommandLineOptions& o = result.options;
  if (!parser_.parse(arguments)) {
    result.error = parser_.errorText();
    return result;
  }
  if (parser_.isSet(help_)) {
    o.mode = CommandLineOptions::Mode::Help;
    return result;
  }
  if (parser_.isSet(version_)) {
    o.mode = CommandLineOptions::Mode::Version;
    return result;
  }
  const QStringList positional = parser_.positionalArguments();
  for (auto [option, field] : {std::pair{&maxImageMegapixels_, &o.maxImageMegapixels},
                               std::pair{&maxFileMegapixels_, &o.maxFileMegapixels}}) {
    if (!parser_.isSet(*option)) continue;
    bool ok = false;
    const double value = parser_.value(*option).toDouble(&ok);
    if (!ok || !std::isfinite(value) || value <= 0) {
      result.error = QStringLiteral("--%1 must be a number of megapixels above 0 (got \"%2\").")
                         .arg(option->names().first(), parser_.value(*option));
      return result;
    }
    *field = value;
  }

  const QList<const QCommandLineOption*> runOnly = {&model_, &exportPdf_, &exportTxt_, &exportMarkdown_,
                                                    &seed_, &temperature_, &quitWhenDone_};
  if (parser_.isSet(render_)) {
    for (const QCommandLineOption* other : runOnly + QList<const QCommandLineOption*>{&run_, &open_}) {
      if (parser_.isSet(*other)) {
        result.error = QStringLiteral("--%1 cannot be used with --render.").arg(other->names().first());
        return result;
      }
    }
    if (positional.size() != 2) {
      result.error = QStringLiteral("--render needs exactly two arguments, IN and OUT.png (got %1).")
                         .arg(positional.size());
      return result;
    }
    RenderRequest r;
    r.input = positional[0];
    r.output = positional[1];
    bool ok = false;
    r.frame = parser_.value(frame_).toInt(&ok);
    if (!ok || r.frame < 0) {
      result.error = QStringLiteral("--frame must be a frame number from 0 (got \"%1\").")
                         .arg(parser_.value(frame_));
      return result;
    }
    if (parser_.isSet(window_)) {
      QString why;
      r.window = cxr::viewer::parseWindowSpec(parser_.value(window_), &why);
      if (!r.window) {
        result.error = u"--window: " + why;
        return result;
      }
    }
    o.mode = CommandLineOptions::Mode::Render;
    o.render = r;
    return result;
  }

  // GUI mode. Render-only options without --render are a mistake worth saying out loud.
  for (const QCommandLineOption* renderOnly : {&frame_, &window_}) {
    if (parser_.isSet(*renderOnly)) {
      result.error = QStringLiteral("--%1 is only used with --render.").arg(renderOnly->names().first());
      return result;
    }
  }
  if (positional.size() > 1) {
    result.error = QStringLiteral("Give at most one file to open (got %1).").arg(positional.size());
    return result;
  }
  if (parser_.isSet(open_) && !positional.isEmpty()) {
    result.error = QStringLiteral("Give the image either as FILE or with --open, not both.");
    return result;
  }
  o.mode = CommandLineOptions::Mode::Gui;
  o.fileToOpen = parser_.isSet(open_) ? parser_.value(open_) : positional.value(0);
  if (parser_.isSet(run_)) {
    if (!parseRun(o.fileToOpen, &o, &result.error))
      return result;
  } else {
    for (const QCommandLineOption* other : runOnly) {
      if (parser_.isSet(*other)) {
        result.error = QStringLiteral("--%1 is only used with --run.").arg(other->names().first());
        return result;
      }
    }
  }
  o.screenshotPath = parser_.value(screenshot_);
  bool ok = false;
  o.screenshotDelayMs = parser_.value(screenshotDelay_).toInt(&ok);
  if (!ok || o.screenshotDelayMs < 0) {
    result.error = QStringLiteral("--screenshot-delay must be milliseconds (got \"%1\").")
                       .arg(parser_.value(screenshotDelay_));
  }
  return result;
}

}  // namespace cxr::app
