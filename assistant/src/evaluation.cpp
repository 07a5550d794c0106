#include "cxr/assistant/evaluation.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QMap>
#include <cmath>

#include "cxr/assistant/csv.h"

namespace cxr::assistant {
namespace {

QString at(const QString& path, const QString& where, const QString& what) {
  return QStringLiteral("%1: %2: %3").arg(path, where, what);
}

// The id column: the one named, else the first of id / Path / path that the file has.
int idColumnOf(const CsvTable& table, const QString& idColumn, QString* error) {
  if (!idColumn.isEmpty()) {
    const int index = table.column(idColumn);
    if (index < 0)
      *error = QStringLiteral("%1: no id column '%2' (the header has: %3)")
                   .arg(table.path, idColumn, table.header.join(QStringLiteral(", ")));
    return index;
  }
  for (const char* name : {"id", "Path", "path"}) {
    const int index = int(table.header.indexOf(QString::fromLatin1(name)));
    if (index >= 0) return index;
  }
  *error = QStringLiteral("%1: no id column (looked for id, Path, path; the header has: %2); name one with --id-column")
               .arg(table.path, table.header.join(QStringLiteral(", ")));
  return -1;
}

}  // namespace

ItemSet loadLabelCsv(const QString& path, const QString& idColumn, const QString& textColumn) {
  ItemSet set;
  set.path = path;
  const CsvReadResult read = readCsvFile(path);
  if (!read.ok()) {
    set.error = read.error;
    return set;
  }
  const CsvTable& table = read.table;
  const int idIndex = idColumnOf(table, idColumn, &set.error);
  if (idIndex < 0) return set;
  QList<int> findingIndex;
  for (const QString& name : chexpertColumnNames()) {
    const int index = table.column(name);
    if (index < 0) {
      set.error = QStringLiteral("%1: no column '%2' (a label file needs the six findings: %3; the header has: %4)")
                      .arg(path, name, chexpertColumnNames().join(QStringLiteral(", ")),
                           table.header.join(QStringLiteral(", ")));
      return set;
    }
    findingIndex.push_back(index);
  }
  const int textIndex = textColumn.isEmpty() ? -1 : table.column(textColumn);
  set.hasText = textIndex >= 0;
  QHash<QString, int> seen;
  for (int row = 0; row < table.rows.size(); ++row) {
    const int record = table.rowNumbers.value(row, row + 2);
    LabeledItem item;
    item.line = record;
    item.id = table.value(row, idIndex).trimmed();
    if (item.id.isEmpty()) {
      set.error = at(path, QStringLiteral("record %1, column '%2'").arg(record).arg(table.header[idIndex]),
                     QStringLiteral("the id is blank"));
      return set;
    }
    if (seen.contains(item.id)) {
      set.error = at(path, QStringLiteral("record %1, column '%2'").arg(record).arg(table.header[idIndex]),
                     QStringLiteral("id '%1' already appeared in record %2").arg(item.id).arg(seen.value(item.id)));
      return set;
    }
    seen.insert(item.id, record);
    for (int f = 0; f < kLabelFindingCount; ++f) {
      const QString cell = table.value(row, findingIndex[f]);
      if (!parseLabelCode(cell, &item.labels[size_t(f)])) {
        set.error = at(path, QStringLiteral("record %1, column '%2'").arg(record).arg(table.header[findingIndex[f]]),
                       QStringLiteral("'%1' is not a label (use 1, 0, -1, 1.0, 0.0, -1.0 or blank)").arg(cell));
        return set;
      }
    }
    if (textIndex >= 0) item.text = table.value(row, textIndex);
    set.items.push_back(item);
  }
  return set;
}

ItemSet loadResultsJsonl(const QString& path, const QString& task) {
  ItemSet set;
  set.path = path;
  set.hasText = true;
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    set.error = QStringLiteral("%1: cannot open: %2").arg(path, file.errorString());
    return set;
  }
  const QStringList names = chexpertColumnNames();
  QHash<QString, int> seen;
  int lineNumber = 0;
  while (!file.atEnd()) {
    const QByteArray line = file.readLine();
    ++lineNumber;
    if (line.trimmed().isEmpty()) continue;
    const QString where = QStringLiteral("line %1").arg(lineNumber);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
      set.error = at(path, where,
                     QStringLiteral("not a JSON object (%1)").arg(doc.isObject() ? parseError.errorString()
                                                                                 : parseError.error != QJsonParseError::NoError
                                                                                       ? parseError.errorString()
                                                                                       : QStringLiteral("not an object")));
      return set;
    }
    const QJsonObject o = doc.object();
    if (!o.value(QStringLiteral("task")).isString()) {
      set.error = at(path, where, QStringLiteral("key 'task' is missing or not a string"));
      return set;
    }
    if (o.value(QStringLiteral("task")).toString() != task) {
      ++set.otherTasks;
      continue;
    }
    LabeledItem item;
    item.line = lineNumber;
    const QJsonValue id = o.value(QStringLiteral("id"));
    if (!id.isString() || id.toString().trimmed().isEmpty()) {
      set.error = at(path, where, QStringLiteral("key 'id' is missing, blank or not a string"));
      return set;
    }
    item.id = id.toString().trimmed();
    item.text = o.value(QStringLiteral("text")).toString();
    item.control = o.value(QStringLiteral("control")).toString();
    const QJsonValue findings = o.value(QStringLiteral("findings"));
    if (!findings.isObject()) {
      set.error = at(path, where, QStringLiteral("key 'findings' is missing or not an object"));
      return set;
    }
    const QJsonObject f = findings.toObject();
    for (int k = 0; k < kLabelFindingCount; ++k) {
      const QString key = names[k];
      if (!f.contains(key)) {
        set.error = at(path, where, QStringLiteral("findings has no '%1' (it needs the six: %2)")
                                        .arg(key, names.join(QStringLiteral(", "))));
        return set;
      }
      const QJsonValue v = f.value(key);
      const double d = v.toDouble(std::nan(""));
      if (v.isNull()) {
        item.labels[size_t(k)] = std::nullopt;
      } else if (v.isDouble() && (d == 1.0 || d == 0.0 || d == -1.0)) {
        item.labels[size_t(k)] = int(d);
      } else {
        const QString shown = QString::fromUtf8(QJsonDocument(QJsonObject{{key, v}}).toJson(QJsonDocument::Compact));
        set.error = at(path, where, QStringLiteral("findings '%1' is %2; expected 1, 0, -1 or null").arg(key, shown.mid(key.size() + 4).chopped(1)));
        return set;
      }
    }
    // Control items share an id with nothing; real items must be unique.
    const QString key = item.control.isEmpty() ? item.id : item.control + u'\x1f' + item.id;
    if (seen.contains(key)) {
      set.error = at(path, where, QStringLiteral("id '%1' (task '%2') already appeared on line %3")
                                      .arg(item.id, task).arg(seen.value(key)));
      return set;
    }
    seen.insert(key, lineNumber);
    set.items.push_back(item);
  }
  return set;
}

ItemSet loadPredictions(const QString& path, const QString& idColumn, const QString& task) {
  const QFileInfo info(path);
  if (info.isDir()) return loadResultsJsonl(QFileInfo(QDir(path), QStringLiteral("results.jsonl")).filePath(), task);
  const QString suffix = info.suffix().toLower();
  if (suffix == QLatin1String("jsonl") || suffix == QLatin1String("json")) return loadResultsJsonl(path, task);
  return loadLabelCsv(path, idColumn);
}

namespace {

ControlSummary summariseControl(const ItemSet& controlSet, const QList<LabeledItem>& generated, double threshold) {
  ControlSummary summary;
  summary.path = controlSet.path;
  summary.threshold = threshold;
  QMap<QString, int> rowOf;
  QList<QStringList> controlTokens;
  for (const LabeledItem& item : controlSet.items) {
    if (item.control.isEmpty()) continue;
    if (!rowOf.contains(item.control)) {
      rowOf.insert(item.control, int(summary.rows.size()));
      summary.rows.push_back(ControlRow{item.control, 0, {}, {}});
    }
    ControlRow& row = summary.rows[rowOf.value(item.control)];
    ++row.items;
    for (int f = 0; f < kLabelFindingCount; ++f) {
      if (item.labels[size_t(f)] == 1) ++row.positives[size_t(f)];
      if (item.labels[size_t(f)] == -1) ++row.uncertain[size_t(f)];
    }
    controlTokens.push_back(overlapTokens(item.text));
  }
  for (const LabeledItem& item : generated) {
    ++summary.generated;
    const QStringList tokens = overlapTokens(item.text);
    for (const QStringList& control : controlTokens)
      if (rougeL(tokens, control).f1 > threshold) {
        ++summary.nearIdentical;
        break;
      }
  }
  return summary;
}

}  // namespace

Evaluation evaluate(const EvaluationOptions& options) {
  Evaluation ev;
  ev.options = options;
  const ItemSet predictions = loadPredictions(options.predictionsPath, options.idColumn, options.task);
  if (!predictions.ok()) {
    ev.error = predictions.error;
    return ev;
  }
  const ItemSet labels = loadLabelCsv(options.labelsPath, options.idColumn, options.referenceTextColumn);
  if (!labels.ok()) {
    ev.error = labels.error;
    return ev;
  }
  ev.otherTaskItems = predictions.otherTasks;

  QList<LabeledItem> generated;  // the predictions that are not control items
  for (const LabeledItem& item : predictions.items) {
    if (item.control.isEmpty()) generated.push_back(item);
    else ++ev.controlItemsInPredictions;
  }
  ev.predictionItems = generated.size();
  ev.labelItems = labels.items.size();
  if (generated.isEmpty()) {
    ev.error = QStringLiteral("%1: no predictions to score (task '%2': %3 control items, %4 items of other tasks)")
                   .arg(predictions.path, options.task)
                   .arg(ev.controlItemsInPredictions)
                   .arg(predictions.otherTasks);
    return ev;
  }

  QHash<QString, int> labelIndex;
  for (int i = 0; i < labels.items.size(); ++i) labelIndex.insert(labels.items[i].id, i);
  QList<bool> labelUsed(labels.items.size(), false);
  QList<MatchedPair> pairs, textPairs;
  QList<QStringList> hypotheses, references;
  double rougeSum = 0;
  for (const LabeledItem& item : generated) {
    const auto it = labelIndex.constFind(item.id);
    if (it == labelIndex.constEnd()) {
      ++ev.unmatchedPredictions;
      if (ev.unmatchedPredictionIds.size() < 20) ev.unmatchedPredictionIds.push_back(item.id);
      continue;
    }
    const LabeledItem& reference = labels.items[it.value()];
    labelUsed[it.value()] = true;
    pairs.push_back({item.labels, reference.labels});
    if (predictions.hasText && labels.hasText && !item.text.trimmed().isEmpty() &&
        !reference.text.trimmed().isEmpty()) {
      textPairs.push_back({item.labels, labelReport(reference.text)});
      hypotheses.push_back(overlapTokens(item.text));
      references.push_back(overlapTokens(reference.text));
      rougeSum += rougeL(hypotheses.back(), references.back()).f1;
    }
  }
  for (int i = 0; i < labels.items.size(); ++i)
    if (!labelUsed[i]) {
      ++ev.unmatchedLabels;
      if (ev.unmatchedLabelIds.size() < 20) ev.unmatchedLabelIds.push_back(labels.items[i].id);
    }
  if (pairs.isEmpty()) {
    ev.error = QStringLiteral("no id of %1 matches an id of %2 (%3 predictions, %4 labels; first prediction ids: %5; "
                              "first label ids: %6); check --id-column")
                   .arg(predictions.path, labels.path)
                   .arg(ev.predictionItems)
                   .arg(ev.labelItems)
                   .arg(ev.unmatchedPredictionIds.mid(0, 3).join(QStringLiteral(", ")),
                        ev.unmatchedLabelIds.mid(0, 3).join(QStringLiteral(", ")));
    return ev;
  }
  ev.metrics = computeMetrics(pairs, options.policy, options.bootstrapSamples, options.seed);
  if (!textPairs.isEmpty()) {
    TextOverlapSummary overlap;
    overlap.pairs = textPairs.size();
    overlap.bleu = corpusBleu4(hypotheses, references);
    overlap.meanRougeL = rougeSum / double(textPairs.size());
    ev.overlap = overlap;
    ev.agreement = labelAgreement(textPairs, options.policy);
  }
  if (!options.controlPath.isEmpty()) {
    const ItemSet controlSet = loadPredictions(options.controlPath, options.idColumn, options.task);
    if (!controlSet.ok()) {
      ev.error = controlSet.error;
      return ev;
    }
    ControlSummary summary = summariseControl(controlSet, generated, options.nearIdenticalRougeL);
    if (summary.rows.isEmpty()) {
      ev.error = QStringLiteral("%1: no control items (lines with \"control\") for task '%2'")
                     .arg(controlSet.path, options.task);
      return ev;
    }
    ev.control = summary;
  }
  return ev;
}

}  // namespace cxr::assistant
