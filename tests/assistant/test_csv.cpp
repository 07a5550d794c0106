// The CSV reader that reads dataset manifests and label files: RFC 4180 quoting, a byte-order mark,
// and errors that name the record instead of shifting columns silently.
#include <QTemporaryDir>
#include <QTest>

#include "cxr/assistant/csv.h"

using namespace Qt::StringLiterals;

using cxr::assistant::csvRecord;
using cxr::assistant::parseCsv;
using cxr::assistant::readCsvFile;

class TestCsv : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void quotedFieldsKeepCommasQuotesAndLineBreaks() {
    const auto r = parseCsv("id,report\r\n7,\"Heart, normal.\nNo \"\"acute\"\" finding.\"\r\n8,clear\n", u"m.csv"_s);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.table.header, (QStringList{u"id"_s, u"report"_s}));
    QCOMPARE(r.table.rows.size(), 2);
    QCOMPARE(r.table.rows[0][1], QString(u"Heart, normal.\nNo \"acute\" finding."_s));
    QCOMPARE(r.table.rowNumbers, (QList<int>{2, 3}));
  }

  void byteOrderMarkIsNotPartOfTheFirstColumnName() {
    const auto r = parseCsv("\xEF\xBB\xBFPath,Edema\nimg.png,1.0\n", u"chexpert.csv"_s);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.table.column(u"Path"_s), 0);
    QCOMPARE(r.table.column(u"edema"_s), 1);  // case-insensitive fallback
    QCOMPARE(r.table.value(0, 1), QString(u"1.0"_s));
  }

  void aRowWithTheWrongFieldCountNamesTheRecord() {
    const auto r = parseCsv("path,id\na.png,1\nb.png\n", u"m.csv"_s);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(u"m.csv: record 3"_s) && r.error.contains(u"1 fields, but the header has 2"_s),
             qPrintable(r.error));
  }

  void aStrayQuoteIsAnErrorNotAShiftedColumn() {
    const auto r = parseCsv("path,id\na\"b.png,1\n", u"m.csv"_s);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.startsWith(u"m.csv: record 2"_s), qPrintable(r.error));
    const auto unterminated = parseCsv("path,id\n\"a.png,1\n", u"m.csv"_s);
    QVERIFY(!unterminated.ok());
  }

  void invalidUtf8IsRefused() {
    const auto r = parseCsv("path\n\xff\xfe.png\n", u"m.csv"_s);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(u"not valid UTF-8"_s), qPrintable(r.error));
  }

  void emptyFileAndMissingFileSaySo() {
    QVERIFY(parseCsv("", u"e.csv"_s).error.contains(u"empty"_s));
    const auto missing = readCsvFile(u"/nonexistent/labels.csv"_s);
    QVERIFY(missing.error.startsWith(u"/nonexistent/labels.csv: cannot open it"_s));
  }

  void aFileOverTheSizeLimitIsRefused() {
    QTemporaryDir dir;
    QFile f(dir.filePath(u"big.csv"_s));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("path\n" + QByteArray(1000, 'a') + "\n");
    f.close();
    QVERIFY(readCsvFile(f.fileName(), 100).error.contains(u"more than the 100 bytes"_s));
    QVERIFY(readCsvFile(f.fileName()).ok());
  }

  void writtenRecordsReadBackUnchanged() {
    const QStringList fields{u"plain"_s, u"a,b"_s, u"say \"hi\""_s, u"two\nlines"_s, u""_s};
    const auto r = parseCsv((u"h1,h2,h3,h4,h5\r\n"_s + csvRecord(fields)).toUtf8(), u"w.csv"_s);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.table.rows[0], fields);
  }
};

QTEST_APPLESS_MAIN(TestCsv)
#include "test_csv.moc"
