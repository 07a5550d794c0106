// CSV files as research datasets ship them: RFC 4180 (quoted fields may hold commas, quotes and line
// breaks), UTF-8 with or without a byte-order mark, a header row. Parsing is libcsv's (Debian
// libcsv-dev) in strict mode, so a stray quote is an error with the record it sits in, never a
// silently shifted column.
#pragma once

#include <QHash>
#include <QIODevice>
#include <QList>
#include <QString>
#include <QStringList>

namespace cxr::assistant {

struct CsvTable {
  QString path;                // the file it was read from (for messages)
  QStringList header;          // the first record
  QList<QStringList> rows;     // every later record, each padded or kept as read (see rowWidthErrors)
  QList<int> rowNumbers;       // 1-based record number of each row in the file (the header is record 1)

  // Index of a header column, -1 when absent. Exact match first, then case-insensitive.
  int column(const QString& name) const;
  // The value of `name` in row `row`, empty when the column is absent or the row is short.
  QString value(int row, int column) const;
};

struct CsvReadResult {
  CsvTable table;
  QString error;  // empty on success: otherwise "FILE: record N: what is wrong"
  bool ok() const { return error.isEmpty(); }
};

// Reads a whole CSV file. Records whose field count differs from the header's are an error (naming
// the record and both counts), as are malformed quotes, invalid UTF-8 and files over `maxBytes`.
CsvReadResult readCsvFile(const QString& path, qint64 maxBytes = qint64(2) << 30);
// The same over bytes already in memory; `path` only names the source in messages.
CsvReadResult parseCsv(const QByteArray& bytes, const QString& path);

// One field quoted as RFC 4180 requires (only when it holds a comma, quote, CR or LF).
QString csvField(const QString& value);
// One record, fields quoted as needed, ending in "\r\n" as RFC 4180 says.
QString csvRecord(const QStringList& fields);

}  // namespace cxr::assistant
