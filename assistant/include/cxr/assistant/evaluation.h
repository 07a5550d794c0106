// `cxr-batch eval`'s inputs and figures: predictions (a run's results.jsonl, or a label CSV) matched
// by id to reference labels (a CheXpert-style label CSV), scored per finding (evaluation_metrics.h);
// when both sides carry report text, the two labelings are compared and the texts' overlap measured
// (text_overlap.h); with a control run, the control images' findings form a baseline row and the
// generated reports that copy a control report are counted.
//
// Nothing is dropped silently: ids only on one side are counted (and listed), control items are
// counted apart, items of other tasks are counted, and every malformed input stops the evaluation
// with a message naming the file, the row or line, and the column or key.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

#include "cxr/assistant/evaluation_metrics.h"
#include "cxr/assistant/label_table.h"
#include "cxr/assistant/text_overlap.h"

namespace cxr::assistant {

struct LabeledItem {
  QString id;
  FindingLabels labels;
  QString text;     // the report (results.jsonl "text"; a label CSV's reference report column)
  QString control;  // "gray", "noise", ... for control items of a run; empty otherwise
  int line = 0;     // 1-based line (JSONL) or record (CSV, header = 1) for messages
};

struct ItemSet {
  QString path;
  QList<LabeledItem> items;
  bool hasText = false;          // whether the items carry report text
  long long otherTasks = 0;      // JSONL lines of tasks other than the one evaluated
  QString error;                 // empty on success: otherwise "FILE: line/record N[, column C]: what"
  bool ok() const { return error.isEmpty(); }
};

// A CheXpert-style label CSV: the id column (`idColumn`, or by default the first of id, Path, path),
// the six finding columns (other columns are ignored), and optionally the text column
// (`textColumn`, ignored when the file has none). Values must be 1, 0, -1, 1.0, 0.0, -1.0 or blank.
ItemSet loadLabelCsv(const QString& path, const QString& idColumn, const QString& textColumn = QString());
// A run's results.jsonl: the lines of `task` ("report", "differential", "ask:..."); each needs "id",
// "task" and "findings" with the six names mapped to 1, 0, -1 or null.
ItemSet loadResultsJsonl(const QString& path, const QString& task);
// Either of the above, by content: a folder means FOLDER/results.jsonl, a .jsonl/.json file JSONL,
// anything else CSV.
ItemSet loadPredictions(const QString& path, const QString& idColumn, const QString& task);

struct EvaluationOptions {
  QString predictionsPath;
  QString labelsPath;
  QString idColumn;                                // empty: id, Path or path
  QString referenceTextColumn = QStringLiteral("reference_report");
  QString task = QStringLiteral("report");
  UncertainPolicy policy = UncertainPolicy::Negative;
  QString controlPath;                             // empty: no control section
  int bootstrapSamples = 1000;
  std::uint64_t seed = 20240229;
  double nearIdenticalRougeL = 0.9;
};

struct TextOverlapSummary {
  long long pairs = 0;
  BleuScore bleu;
  double meanRougeL = 0;
};

struct ControlRow {
  QString kind;                                     // "gray", "noise"
  long long items = 0;
  std::array<long long, kLabelFindingCount> positives {};  // items with the finding present (1)
  std::array<long long, kLabelFindingCount> uncertain {};  // items with it uncertain (-1)
};

struct ControlSummary {
  QString path;
  QList<ControlRow> rows;
  long long generated = 0;      // generated (non-control) reports compared
  long long nearIdentical = 0;  // those whose ROUGE-L to some control report exceeds the threshold
  double threshold = 0.9;
};

struct Evaluation {
  EvaluationOptions options;
  EvaluationMetrics metrics;
  long long predictionItems = 0, labelItems = 0;
  long long unmatchedPredictions = 0, unmatchedLabels = 0;
  QStringList unmatchedPredictionIds, unmatchedLabelIds;  // the first 20 of each, for the message
  long long controlItemsInPredictions = 0;                // control items left out of the metrics
  long long otherTaskItems = 0;
  std::optional<TextOverlapSummary> overlap;    // when predictions and labels both carry text
  QList<LabelAgreement> agreement;              // generated vs reference labelled by our rules
  std::optional<ControlSummary> control;
  QString error;
  bool ok() const { return error.isEmpty(); }
};

Evaluation evaluate(const EvaluationOptions& options);

}  // namespace cxr::assistant
