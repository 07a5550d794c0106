#include "cxr/assistant/csv.h"

#include <csv.h>

#include <QFile>
#include <QStringDecoder>

namespace cxr::assistant {

int CsvTable::column(const QString& name) const {
  const int exact = int(header.indexOf(name));
  if (exact >= 0) return exact;
  for (int i = 0; i < header.size(); ++i)
    if (header[i].compare(name, Qt::CaseInsensitive) == 0) return i;
  return -1;
}

QString CsvTable::value(int row, int columnIndex) const {
  if (row < 0 || row >= rows.size() || columnIndex < 0) return {};
  const QStringList& fields = rows[row];
  return columnIndex < fields.size() ? fields[columnIndex] : QString();
}

namespace {

// libcsv hands over raw bytes field by field; this collects them into records.
struct Collector {
  QList<QByteArray> fields;
  QList<QList<QByteArray>> records;
};

void onField(void* bytes, size_t length, void* data) {
  auto* c = static_cast<Collector*>(data);
  c->fields.append(QByteArray(static_cast<const char*>(bytes), qsizetype(length)));
}

void onRecordEnd(int /*terminator*/, void* data) {
  auto* c = static_cast<Collector*>(data);
  c->records.append(std::move(c->fields));
  c->fields.clear();
}

QString recordError(const QString& path, qsizetype record, const QString& what) {
  return QStringLiteral("%1: record %2: %3").arg(path).arg(record).arg(what);
}

}  // namespace

CsvReadResult parseCsv(const QByteArray& input, const QString& path) {
  CsvReadResult result;
  result.table.path = path;
  QByteArray bytes = input;
  if (bytes.startsWith("\xEF\xBB\xBF")) bytes.remove(0, 3);  // Excel writes a UTF-8 byte-order mark

  csv_parser parser {};
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
    result.error = path + QStringLiteral(": cannot start the CSV parser (out of memory)");
    return result;
  }
  Collector collector;
  const size_t parsed = csv_parse(&parser, bytes.constData(), size_t(bytes.size()), onField, onRecordEnd, &collector);
  const bool parseFailed = parsed != size_t(bytes.size()) || csv_fini(&parser, onField, onRecordEnd, &collector) != 0;
  const QString parserMessage = QString::fromUtf8(csv_strerror(csv_error(&parser)));
  csv_free(&parser);
  if (parseFailed) {
    // The record in progress is the one after the last complete record.
    result.error = recordError(path, collector.records.size() + 1,
                               parserMessage + QStringLiteral(" (a quote inside an unquoted field, or an "
                                                              "unterminated quoted field?)"));
    return result;
  }
  if (collector.records.isEmpty()) {
    result.error = path + QStringLiteral(": the file is empty: a header row is needed");
    return result;
  }

  for (qsizetype r = 0; r < collector.records.size(); ++r) {
    QStringList fields;
    for (qsizetype f = 0; f < collector.records[r].size(); ++f) {
      QStringDecoder utf8(QStringDecoder::Utf8);
      QString text = utf8.decode(collector.records[r][f]);
      if (utf8.hasError()) {
        result.error = recordError(path, r + 1, QStringLiteral("field %1 is not valid UTF-8 text").arg(f + 1));
        return result;
      }
      fields.append(std::move(text));
    }
    if (r == 0) {
      result.table.header = fields;
      continue;
    }
    if (fields.size() != result.table.header.size()) {
      result.error = recordError(path, r + 1, QStringLiteral("%1 fields, but the header has %2")
                                                  .arg(fields.size()).arg(result.table.header.size()));
      return result;
    }
    result.table.rows.append(std::move(fields));
    result.table.rowNumbers.append(int(r + 1));
  }
  return result;
}

CsvReadResult readCsvFile(const QString& path, qint64 maxBytes) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    CsvReadResult result;
    result.error = QStringLiteral("%1: cannot open it: %2").arg(path, file.errorString());
    return result;
  }
  if (!file.isSequential() && file.size() > maxBytes) {
    CsvReadResult result;
    result.error = QStringLiteral("%1: the file is %2 bytes, more than the %3 bytes a CSV may have here")
                       .arg(path).arg(file.size()).arg(maxBytes);
    return result;
  }
  const QByteArray bytes = file.read(maxBytes + 1);
  if (bytes.size() > maxBytes) {
    CsvReadResult result;
    result.error = QStringLiteral("%1: more than %2 bytes: too large a CSV").arg(path).arg(maxBytes);
    return result;
  }
  return parseCsv(bytes, path);
}

QString csvField(const QString& value) {
  const bool needsQuotes = value.contains(QLatin1Char(',')) || value.contains(QLatin1Char('"')) ||
                           value.contains(QLatin1Char('\n')) || value.contains(QLatin1Char('\r'));
  if (!needsQuotes) return value;
  QString quoted = value;
  quoted.replace(QLatin1String("\""), QLatin1String("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString csvRecord(const QStringList& fields) {
  QStringList quoted;
  quoted.reserve(fields.size());
  for (const QString& f : fields) quoted.append(csvField(f));
  return quoted.join(QLatin1Char(',')) + QStringLiteral("\r\n");
}

}  // namespace cxr::assistant
