// cxr-batch: runs CXR-LLaVA over a dataset and scores it. A thin client of viewer/ (images read and
// rendered exactly as the GUI feeds the model), assistant/ (findings, CSV, export) and model/.
#include <QCoreApplication>
#include <QGuiApplication>
#include <QStringList>
#include <QTextStream>
#include <cstring>
#include <memory>

#include "batch_commands.h"

namespace {

const char* const kUsage =
    "Usage: cxr-batch COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run     write reports (and other tasks) for every image of a folder or manifest\n"
    "  merge   combine the shards of a run into one results file\n"
    "  label   label report text with the six findings (CheXpert columns)\n"
    "  eval    score predictions against reference labels (metrics, HTML and PDF report)\n"
    "\n"
    "'cxr-batch COMMAND --help' lists a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  // QCoreApplication (no GUI) is enough for files and JSON. eval draws a chart and lays out a PDF,
  // which need fonts and so a QGuiApplication; on the offscreen platform unless the user chose one,
  // so that it runs on cluster nodes without a display. arguments() decode the command line as the
  // locale says (UTF-8 paths).
  const bool drawsReports = argc > 1 && std::strcmp(argv[1], "eval") == 0;
  if (drawsReports && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  std::unique_ptr<QCoreApplication> app = drawsReports ? std::make_unique<QGuiApplication>(argc, argv)
                                                       : std::make_unique<QCoreApplication>(argc, argv);
  QCoreApplication::setApplicationName(QStringLiteral("cxr-batch"));
  QStringList args = QCoreApplication::arguments().mid(1);
  QTextStream out(stdout), err(stderr);
  if (args.isEmpty() || args.first() == QLatin1String("--help") || args.first() == QLatin1String("-h")) {
    out << kUsage;
    return args.isEmpty() ? 2 : 0;
  }
  const QString command = args.takeFirst();
  if (command == QLatin1String("run")) return cxr::batch::runCommand(args);
  if (command == QLatin1String("merge")) return cxr::batch::mergeCommand(args);
  if (command == QLatin1String("label")) return cxr::batch::labelCommand(args);
  if (command == QLatin1String("eval")) return cxr::batch::evalCommand(args);
  err << "cxr-batch: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
