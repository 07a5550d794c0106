// cxr-batch label: our findings rules over the report text of a CSV, written as CheXpert-style
// label columns (assistant/label_table.h does the work).
#include <QCommandLineParser>
#include <QSaveFile>
#include <QTextStream>

#include "batch_commands.h"
#include "cxr/assistant/csv.h"
#include "cxr/assistant/label_table.h"

namespace cxr::batch {

int labelCommand(const QStringList& args) {
  QTextStream out(stdout), err(stderr);
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "Labels report text with the six findings (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion, "
      "Pneumothorax) as CheXpert writes them: 1.0 present, 0.0 absent, -1.0 uncertain, blank not mentioned."));
  parser.addHelpOption();
  const QCommandLineOption in(QStringLiteral("in"), QStringLiteral("CSV with a header row (RFC 4180, UTF-8)."), QStringLiteral("CSV"));
  const QCommandLineOption text(QStringLiteral("text-column"),
                                QStringLiteral("Column(s) holding the report; several are joined in order."),
                                QStringLiteral("NAME[,NAME...]"));
  const QCommandLineOption id(QStringLiteral("id-column"),
                              QStringLiteral("Id column copied to the output (default: id, else the record number)."),
                              QStringLiteral("NAME"));
  const QCommandLineOption output(QStringLiteral("out"), QStringLiteral("Output CSV."), QStringLiteral("CSV"));
  parser.addOptions({in, text, id, output});
  if (!parser.parse(QStringList{QStringLiteral("cxr-batch label")} + args)) {
    err << "cxr-batch label: " << parser.errorText() << "\n\n" << parser.helpText();
    return 2;
  }
  if (parser.isSet(QStringLiteral("help"))) {
    out << parser.helpText();
    return 0;
  }
  if (!parser.positionalArguments().isEmpty()) {
    err << "cxr-batch label: unexpected argument '" << parser.positionalArguments().first() << "'\n";
    return 2;
  }
  for (const auto* required : {&in, &text, &output})
    if (!parser.isSet(*required)) {
      err << "cxr-batch label: --" << required->names().first() << " is required\n\n" << parser.helpText();
      return 2;
    }

  const auto read = assistant::readCsvFile(parser.value(in));
  if (!read.ok()) {
    err << "cxr-batch label: " << read.error << '\n';
    return 1;
  }
  QStringList columns;
  for (const QString& name : parser.value(text).split(u',')) columns.push_back(name.trimmed());
  const auto labelled = assistant::labelTable(read.table, columns, parser.value(id));
  if (!labelled.ok()) {
    err << "cxr-batch label: " << labelled.error << '\n';
    return 1;
  }
  QSaveFile file(parser.value(output));
  const QByteArray bytes = labelled.csv.toUtf8();
  if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
    err << "cxr-batch label: " << parser.value(output) << ": cannot write: " << file.errorString() << '\n';
    return 1;
  }
  err << "cxr-batch label: " << labelled.rows << " rows labelled into " << parser.value(output) << '\n';
  return 0;
}

}  // namespace cxr::batch
