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
    : m_render(QStringLiteral("render"),
               QStringLiteral("Headless: render IN as the model sees it (8-bit gray, default window) "
                              "to OUT.png and exit. Needs no display.")),
      m_frame(QStringLiteral("frame"), QStringLiteral("With --render: frame to render, from 0."),
              QStringLiteral("N"), QStringLiteral("0")),
      m_window(QStringLiteral("window"),
               QStringLiteral("With --render: window CENTER,WIDTH in modality units, e.g. 40,400."),
               QStringLiteral("CENTER,WIDTH")),
      m_open(QStringLiteral("open"), QStringLiteral("Image to open (with --run: the image to ask about)."),
             QStringLiteral("IMG")),
      m_model(QStringLiteral("model"),
              QStringLiteral("With --run: the CXR-LLaVA model folder (default: $CXR_LLAVA_MODEL, "
                             "then the Hugging Face cache)."),
              QStringLiteral("DIR")),
      m_run(QStringLiteral("run"),
            QStringLiteral("Ask the assistant about --open IMG: report, differential or ask:QUESTION. "
                           "With --quit-when-done no window opens; exit code 0 done, 1 an export "
                           "failed, 2 model missing or failed to load, 3 generation failed, "
                           "4 stopped, 5 image cannot be opened."),
            QStringLiteral("WHAT")),
      m_exportPdf(QStringLiteral("export-pdf"), QStringLiteral("With --run: write the PDF here."),
                  QStringLiteral("OUT.pdf")),
      m_exportTxt(QStringLiteral("export-txt"), QStringLiteral("With --run: write plain text here."),
                  QStringLiteral("OUT.txt")),
      m_exportMarkdown(QStringLiteral("export-md"), QStringLiteral("With --run: write Markdown here."),
                       QStringLiteral("OUT.md")),
      m_seed(QStringLiteral("seed"), QStringLiteral("With --run: sampling seed (printed in the exports)."),
             QStringLiteral("N")),
      m_temperature(QStringLiteral("temperature"),
                    QStringLiteral("With --run: sampling temperature (0 = greedy; default 0.2)."),
                    QStringLiteral("T")),
      m_quitWhenDone(QStringLiteral("quit-when-done"),
                     QStringLiteral("With --run: no window; quit when the exports are written.")),
      m_maxImageMegapixels(QStringLiteral("max-image-megapixels"),
                           QStringLiteral("Refuse images whose header says more than N megapixels per frame, "
                                          "before decoding (default 50, or Image > Image Size Limits)."),
                           QStringLiteral("N")),
      m_maxFileMegapixels(QStringLiteral("max-file-megapixels"),
                          QStringLiteral("The same for all frames of a multi-frame file (default 500)."),
                          QStringLiteral("N")),
      m_screenshot(QStringLiteral("screenshot"),
                   QStringLiteral("Debug: save a screenshot of the window to OUT.png and quit."),
                   QStringLiteral("OUT.png")),
      m_screenshotDelay(QStringLiteral("screenshot-delay"),
                        QStringLiteral("Debug: milliseconds to wait before --screenshot."),
                        QStringLiteral("MS"), QStringLiteral("1000")),
      m_help({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help.")),
      m_version({QStringLiteral("v"), QStringLiteral("version")},
                QStringLiteral("Show the version.")) {
  m_parser.setApplicationDescription(
      QStringLiteral("CXR Assistant: chest X-ray viewer with a local CXR-LLaVA assistant."));
  m_screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
  m_screenshotDelay.setFlags(QCommandLineOption::HiddenFromHelp);
  m_parser.addOptions({m_render, m_frame, m_window, m_open, m_model, m_run, m_exportPdf, m_exportTxt,
                       m_exportMarkdown, m_seed, m_temperature, m_quitWhenDone, m_maxImageMegapixels,
                       m_maxFileMegapixels, m_screenshot,
                       m_screenshotDelay, m_help, m_version});
  m_parser.addPositionalArgument(
      QStringLiteral("FILE"),
      QStringLiteral("Image to open (DICOM, PNG, JPEG, TIFF, BMP). With --render: IN OUT.png."),
      QStringLiteral("[FILE | IN OUT.png]"));
}

bool CommandLine::parseRun(const QString& image, CommandLineOptions* o, QString* error) {
  const QString spec = m_parser.value(m_run);
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
  run.modelFolder = m_parser.value(m_model);
  run.exportPdf = m_parser.value(m_exportPdf);
  run.exportTxt = m_parser.value(m_exportTxt);
  run.exportMarkdown = m_parser.value(m_exportMarkdown);
  if (m_parser.isSet(m_seed)) {
    // Digits only: toULongLong alone would take "-1" in some Qt versions and "0x10" never.
    const QString text = m_parser.value(m_seed);
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
  if (m_parser.isSet(m_temperature)) {
    bool ok = false;
    run.temperature = m_parser.value(m_temperature).toDouble(&ok);
    // NaN passes both comparisons below, so finiteness is checked on its own.
    if (!ok || !std::isfinite(*run.temperature) || *run.temperature < 0 || *run.temperature > 5) {
      *error = QStringLiteral("--temperature must be a number from 0 (greedy) to 5 (got \"%1\").")
                   .arg(m_parser.value(m_temperature));
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
  if (m_parser.isSet(m_quitWhenDone)) {
    if (!m_parser.value(m_screenshot).isEmpty()) {
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
  if (!m_parser.parse(arguments)) {
    result.error = m_parser.errorText();
    return result;
  }
  if (m_parser.isSet(m_help)) {
    o.mode = CommandLineOptions::Mode::Help;
    return result;
  }
  if (m_parser.isSet(m_version)) {
    o.mode = CommandLineOptions::Mode::Version;
    return result;
  }
  const QStringList positional = m_parser.positionalArguments();
  for (auto [option, field] : {std::pair{&m_maxImageMegapixels, &o.maxImageMegapixels},
                               std::pair{&m_maxFileMegapixels, &o.maxFileMegapixels}}) {
    if (!m_parser.isSet(*option)) continue;
    bool ok = false;
    const double value = m_parser.value(*option).toDouble(&ok);
    if (!ok || !std::isfinite(value) || value <= 0) {
      result.error = QStringLiteral("--%1 must be a number of megapixels above 0 (got \"%2\").")
                         .arg(option->names().first(), m_parser.value(*option));
      return result;
    }
    *field = value;
  }

  const QList<const QCommandLineOption*> runOnly = {&m_model, &m_exportPdf, &m_exportTxt, &m_exportMarkdown,
                                                    &m_seed, &m_temperature, &m_quitWhenDone};
  if (m_parser.isSet(m_render)) {
    for (const QCommandLineOption* other : runOnly + QList<const QCommandLineOption*>{&m_run, &m_open}) {
      if (m_parser.isSet(*other)) {
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
    r.frame = m_parser.value(m_frame).toInt(&ok);
    if (!ok || r.frame < 0) {
      result.error = QStringLiteral("--frame must be a frame number from 0 (got \"%1\").")
                         .arg(m_parser.value(m_frame));
      return result;
    }
    if (m_parser.isSet(m_window)) {
      QString why;
      r.window = cxr::viewer::parseWindowSpec(m_parser.value(m_window), &why);
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
  for (const QCommandLineOption* renderOnly : {&m_frame, &m_window}) {
    if (m_parser.isSet(*renderOnly)) {
      result.error = QStringLiteral("--%1 is only used with --render.").arg(renderOnly->names().first());
      return result;
    }
  }
  if (positional.size() > 1) {
    result.error = QStringLiteral("Give at most one file to open (got %1).").arg(positional.size());
    return result;
  }
  if (m_parser.isSet(m_open) && !positional.isEmpty()) {
    result.error = QStringLiteral("Give the image either as FILE or with --open, not both.");
    return result;
  }
  o.mode = CommandLineOptions::Mode::Gui;
  o.fileToOpen = m_parser.isSet(m_open) ? m_parser.value(m_open) : positional.value(0);
  if (m_parser.isSet(m_run)) {
    if (!parseRun(o.fileToOpen, &o, &result.error))
      return result;
  } else {
    for (const QCommandLineOption* other : runOnly) {
      if (m_parser.isSet(*other)) {
        result.error = QStringLiteral("--%1 is only used with --run.").arg(other->names().first());
        return result;
      }
    }
  }
  o.screenshotPath = m_parser.value(m_screenshot);
  bool ok = false;
  o.screenshotDelayMs = m_parser.value(m_screenshotDelay).toInt(&ok);
  if (!ok || o.screenshotDelayMs < 0) {
    result.error = QStringLiteral("--screenshot-delay must be milliseconds (got \"%1\").")
                       .arg(m_parser.value(m_screenshotDelay));
  }
  return result;
}

}  // namespace cxr::app
