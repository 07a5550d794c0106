#include "cxr/assistant/label_table.h"

namespace cxr::assistant {

QStringList chexpertColumnNames() {
  return {QStringLiteral("Atelectasis"),   QStringLiteral("Cardiomegaly"),     QStringLiteral("Consolidation"),
          QStringLiteral("Edema"),         QStringLiteral("Pleural Effusion"), QStringLiteral("Pneumothorax")};
}

LabelCode labelCodeFromStatus(FindingStatus status) {
  switch (status) {
    case FindingStatus::Present: return 1;
    case FindingStatus::Absent: return 0;
    case FindingStatus::Uncertain: return -1;
    case FindingStatus::NotMentioned: return std::nullopt;
  }
  return std::nullopt;
}

QString labelCodeText(const LabelCode& code) {
  if (!code) return {};
  switch (*code) {
    case 1: return QStringLiteral("1.0");
    case 0: return QStringLiteral("0.0");
    case -1: return QStringLiteral("-1.0");
  }
  return {};
}

bool parseLabelCode(const QString& text, LabelCode* out) {
  const QString t = text.trimmed();
  if (t.isEmpty()) {
    *out = std::nullopt;
    return true;
  }
  static const QStringList positive = {QStringLiteral("1"), QStringLiteral("1.0")};
  static const QStringList negative = {QStringLiteral("0"), QStringLiteral("0.0")};
  static const QStringList uncertain = {QStringLiteral("-1"), QStringLiteral("-1.0")};
  if (positive.contains(t)) *out = 1;
  else if (negative.contains(t)) *out = 0;
  else if (uncertain.contains(t)) *out = -1;
  else return false;
  return true;
}

FindingLabels labelReport(const QString& report) {
  FindingLabels labels;
  const auto results = classifyFindings(report);
  for (int i = 0; i < kLabelFindingCount && i < results.size(); ++i) labels[size_t(i)] = labelCodeFromStatus(results[i].status);
  return labels;
}

namespace {

QString missingColumn(const CsvTable& table, const QString& column, const QString& role) {
  return QStringLiteral("%1: no %2 column '%3' (the header has: %4)")
      .arg(table.path, role, column, table.header.join(QStringLiteral(", ")));
}

}  // namespace

LabelTableResult labelTable(const CsvTable& table, const QStringList& textColumns, const QString& idColumn) {
  LabelTableResult result;
  if (textColumns.isEmpty()) {
    result.error = table.path + QStringLiteral(": no text column named (--text-column NAME[,NAME...])");
    return result;
  }
  QList<int> textIndex;
  for (const QString& name : textColumns) {
    const int index = table.column(name);
    if (index < 0) {
      result.error = missingColumn(table, name, QStringLiteral("text"));
      return result;
    }
    textIndex.push_back(index);
  }
  int idIndex = -1;
  if (!idColumn.isEmpty()) {
    idIndex = table.column(idColumn);
    if (idIndex < 0) {
      result.error = missingColumn(table, idColumn, QStringLiteral("id"));
      return result;
    }
    result.idColumn = table.header[idIndex];
  } else if ((idIndex = table.column(QStringLiteral("id"))) >= 0) {
    result.idColumn = table.header[idIndex];
  } else {
    result.idColumn = QStringLiteral("row");
  }

  QStringList header = {result.idColumn};
  header += chexpertColumnNames();
  result.csv = csvRecord(header);
  for (int row = 0; row < table.rows.size(); ++row) {
    QStringList parts;
    for (int index : textIndex) {
      const QString part = table.value(row, index).trimmed();
      if (!part.isEmpty()) parts.push_back(part);
    }
    const FindingLabels labels = labelReport(parts.join(u'\n'));
    QStringList fields = {idIndex >= 0 ? table.value(row, idIndex) : QString::number(table.rowNumbers.value(row, row + 2))};
    for (const LabelCode& code : labels) fields.push_back(labelCodeText(code));
    result.csv += csvRecord(fields);
    ++result.rows;
  }
  return result;
}

}  // namespace cxr::assistant
