#include "command_line.h"

#include "cxr/viewer/window_level.h"

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
  m_parser.addOptions({m_render, m_frame, m_window, m_screenshot, m_screenshotDelay, m_help,
                       m_version});
  m_parser.addPositionalArgument(
      QStringLiteral("FILE"),
      QStringLiteral("Image to open (DICOM, PNG, JPEG, TIFF, BMP). With --render: IN OUT.png."),
      QStringLiteral("[FILE | IN OUT.png]"));
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

  if (m_parser.isSet(m_render)) {
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
  o.mode = CommandLineOptions::Mode::Gui;
  o.fileToOpen = positional.value(0);
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
