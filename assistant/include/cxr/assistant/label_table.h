// Findings labels in the CheXpert convention, as label files of the public datasets carry them:
// one column per finding named as CheXpert names it ("Atelectasis", ..., "Pleural Effusion"), each
// cell 1.0 (present), 0.0 (absent), -1.0 (uncertain) or blank (not mentioned).
//
// `cxr-batch label` is labelTable() over a CSV: our findings rules (findings.h) read each row's
// report text and write one labelled row per input row.
#pragma once

#include <QString>
#include <QStringList>
#include <array>
#include <optional>

#include "cxr/assistant/csv.h"
#include "cxr/assistant/findings.h"

namespace cxr::assistant {

constexpr int kLabelFindingCount = 6;

// One finding's label: 1 present, 0 absent, -1 uncertain; nullopt when not mentioned (blank).
using LabelCode = std::optional<int>;
// The six labels in allFindings() order.
using FindingLabels = std::array<LabelCode, kLabelFindingCount>;

// "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion", "Pneumothorax".
QStringList chexpertColumnNames();

LabelCode labelCodeFromStatus(FindingStatus status);
// "1.0", "0.0", "-1.0" or "" (the way CheXpert's CSVs write them).
QString labelCodeText(const LabelCode& code);
// Reads a label cell: 1, 0, -1, 1.0, 0.0, -1.0 or blank (surrounding spaces ignored). Returns false
// for anything else ("2", "yes", "0.5"), leaving *out untouched.
bool parseLabelCode(const QString& text, LabelCode* out);

// Our rules' labels for one report.
FindingLabels labelReport(const QString& report);

struct LabelTableResult {
  QString csv;       // the labelled table, RFC 4180, header first
  int rows = 0;      // data rows written
  QString idColumn;  // the id column used ("row" when the input has none)
  QString error;     // empty on success: otherwise names the file and the column
  bool ok() const { return error.isEmpty(); }
};

// Labels every row of `table`. The report is the `textColumns` joined in order (blank cells
// skipped, each on its own line). `idColumn` names the id column; when empty, "id" is used if the
// table has one, else the row's record number in a column "row". A missing text or id column is
// an error naming the file, the column and the columns the file has.
LabelTableResult labelTable(const CsvTable& table, const QStringList& textColumns, const QString& idColumn);

}  // namespace cxr::assistant
