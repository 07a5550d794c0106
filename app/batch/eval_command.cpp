// cxr-batch eval: predictions against reference labels; figures and report files come from
// assistant/evaluation.h and evaluation_report.h.
#include <QCommandLineParser>
#include <QDir>
#include <QTextStream>

#include "batch_commands.h"
#include "cxr/assistant/evaluation.h"
#include "cxr/assistant/evaluation_report.h"

namespace cxr::batch {

int evalCommand(const QStringList& args) {
  using namespace cxr::assistant;
  QTextStream out(stdout), err(stderr);
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "Scores predicted findings against reference labels: per finding support, precision, recall, F1 and "
      "specificity with 95 % bootstrap intervals, macro and micro F1. Writes metrics.json, metrics.csv, report.html "
      "and report.pdf into --out. Blank (not mentioned) counts as negative."));
  parser.addHelpOption();
  const QCommandLineOption predictions(QStringLiteral("predictions"),
                                       QStringLiteral("A run's results.jsonl (or its folder), or a label CSV."),
                                       QStringLiteral("CSV|JSONL"));
  const QCommandLineOption labels(QStringLiteral("labels"),
                                  QStringLiteral("Reference label CSV (CheXpert columns; optional reference_report)."),
                                  QStringLiteral("CSV"));
  const QCommandLineOption id(QStringLiteral("id-column"),
                              QStringLiteral("Id column of the CSV files (default: id, else Path, else path)."),
                              QStringLiteral("NAME"));
  const QCommandLineOption uncertain(QStringLiteral("uncertain"),
                                     QStringLiteral("How -1 counts: positive, negative (default) or ignore."),
                                     QStringLiteral("positive|negative|ignore"), QStringLiteral("negative"));
  const QCommandLineOption task(QStringLiteral("task"), QStringLiteral("Task of results.jsonl to score (default report)."),
                                QStringLiteral("TASK"), QStringLiteral("report"));
  const QCommandLineOption control(QStringLiteral("control"),
                                   QStringLiteral("Results (folder or results.jsonl) of a run with control images."),
                                   QStringLiteral("DIR"));
  const QCommandLineOption reference(QStringLiteral("reference-column"),
                                     QStringLiteral("Reference report column of --labels (default reference_report)."),
                                     QStringLiteral("NAME"), QStringLiteral("reference_report"));
  const QCommandLineOption samples(QStringLiteral("bootstrap"), QStringLiteral("Bootstrap resamples (default 1000)."),
                                   QStringLiteral("N"), QStringLiteral("1000"));
  const QCommandLineOption seed(QStringLiteral("seed"), QStringLiteral("Bootstrap seed (default 20240229)."),
                                QStringLiteral("N"), QStringLiteral("20240229"));
  const QCommandLineOption output(QStringLiteral("out"), QStringLiteral("Output folder."), QStringLiteral("DIR"));
  parser.addOptions({predictions, labels, id, uncertain, task, control, reference, samples, seed, output});
  if (!parser.parse(QStringList{QStringLiteral("cxr-batch eval")} + args)) {
    err << "cxr-batch eval: " << parser.errorText() << "\n\n" << parser.helpText();
    return 2;
  }
  if (parser.isSet(QStringLiteral("help"))) {
    out << parser.helpText();
    return 0;
  }
  if (!parser.positionalArguments().isEmpty()) {
    err << "cxr-batch eval: unexpected argument '" << parser.positionalArguments().first() << "'\n";
    return 2;
  }
  for (const auto* required : {&predictions, &labels, &output})
    if (!parser.isSet(*required)) {
      err << "cxr-batch eval: --" << required->names().first() << " is required\n\n" << parser.helpText();
      return 2;
    }
  EvaluationOptions options;
  options.predictionsPath = parser.value(predictions);
  options.labelsPath = parser.value(labels);
  options.idColumn = parser.value(id);
  options.task = parser.value(task);
  options.controlPath = parser.value(control);
  options.referenceTextColumn = parser.value(reference);
  if (!parseUncertainPolicy(parser.value(uncertain), &options.policy)) {
    err << "cxr-batch eval: --uncertain must be positive, negative or ignore, not '" << parser.value(uncertain) << "'\n";
    return 2;
  }
  bool ok = false;
  options.bootstrapSamples = parser.value(samples).toInt(&ok);
  if (!ok || options.bootstrapSamples < 0 || options.bootstrapSamples > 100000) {
    err << "cxr-batch eval: --bootstrap must be a whole number from 0 to 100000\n";
    return 2;
  }
  options.seed = parser.value(seed).toULongLong(&ok);
  if (!ok) {
    err << "cxr-batch eval: --seed must be a non-negative whole number\n";
    return 2;
  }

  const Evaluation ev = evaluate(options);
  if (!ev.ok()) {
    err << "cxr-batch eval: " << ev.error << '\n';
    return 1;
  }
  // Unmatched rows are never dropped silently: counted here, in metrics.json and in the report.
  err << "cxr-batch eval: " << ev.metrics.matched << " items matched; " << ev.unmatchedPredictions
      << " predictions without a label";
  if (!ev.unmatchedPredictionIds.isEmpty()) err << " (e.g. " << ev.unmatchedPredictionIds.mid(0, 5).join(QStringLiteral(", ")) << ")";
  err << "; " << ev.unmatchedLabels << " labels without a prediction";
  if (!ev.unmatchedLabelIds.isEmpty()) err << " (e.g. " << ev.unmatchedLabelIds.mid(0, 5).join(QStringLiteral(", ")) << ")";
  err << "; " << ev.controlItemsInPredictions << " control items left out\n";
  const QString error = writeEvaluationOutputs(ev, parser.value(output));
  if (!error.isEmpty()) {
    err << "cxr-batch eval: " << error << '\n';
    return 1;
  }
  out << "uncertain: " << uncertainPolicyName(options.policy) << " (" << conventionText(options.policy) << ")\n";
  for (const FindingMetrics& f : ev.metrics.findings)
    out << QStringLiteral("%1  support %2  precision %3  recall %4  F1 %5  specificity %6\n")
               .arg(f.name, -17)
               .arg(f.support, 5)
               .arg(f.scores.precision, 0, 'f', 3)
               .arg(f.scores.recall, 0, 'f', 3)
               .arg(f.scores.f1, 0, 'f', 3)
               .arg(f.scores.specificity, 0, 'f', 3);
  out << QStringLiteral("macro F1 %1  micro F1 %2\n").arg(ev.metrics.macroF1, 0, 'f', 3).arg(ev.metrics.microF1, 0, 'f', 3);
  out << "wrote " << QDir(parser.value(output)).filePath(QStringLiteral("report.html")) << " and report.pdf\n";
  return 0;
}

}  // namespace cxr::batch
