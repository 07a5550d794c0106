// cxr-batch label's library: CheXpert-style label cells, and whole tables labelled by our rules,
// on our own phrasings and on sentences from real radiology reports (Indiana University chest X-ray
// collection, tests/data/reports).
#include <QTest>

#include "cxr/assistant/csv.h"
#include "cxr/assistant/label_table.h"

using namespace cxr::assistant;

class TestLabelTable : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void columnNamesAreCheXperts();
  void parsesOnlyTheConvention_data();
  void parsesOnlyTheConvention();
  void labelsReports_data();
  void labelsReports();
  void joinsTextColumnsInOrder();
  void idColumnDefaultsAndRecordNumbers();
  void missingColumnsNameFileAndColumn();
};

void TestLabelTable::columnNamesAreCheXperts() {
  QCOMPARE(chexpertColumnNames(),
           QStringList({QStringLiteral("Atelectasis"), QStringLiteral("Cardiomegaly"), QStringLiteral("Consolidation"),
                        QStringLiteral("Edema"), QStringLiteral("Pleural Effusion"), QStringLiteral("Pneumothorax")}));
  QCOMPARE(labelCodeText(1), QStringLiteral("1.0"));
  QCOMPARE(labelCodeText(0), QStringLiteral("0.0"));
  QCOMPARE(labelCodeText(-1), QStringLiteral("-1.0"));
  QCOMPARE(labelCodeText(std::nullopt), QString());
}

void TestLabelTable::parsesOnlyTheConvention_data() {
  QTest::addColumn<QString>("cell");
  QTest::addColumn<bool>("accepted");
  QTest::addColumn<int>("code");  // 9: blank
  QTest::newRow("1") << QStringLiteral("1") << true << 1;
  QTest::newRow("1.0") << QStringLiteral("1.0") << true << 1;
  QTest::newRow("0") << QStringLiteral("0") << true << 0;
  QTest::newRow("0.0 with spaces") << QStringLiteral(" 0.0 ") << true << 0;
  QTest::newRow("-1") << QStringLiteral("-1") << true << -1;
  QTest::newRow("-1.0") << QStringLiteral("-1.0") << true << -1;
  QTest::newRow("blank") << QString() << true << 9;
  QTest::newRow("2") << QStringLiteral("2") << false << 0;
  QTest::newRow("0.5") << QStringLiteral("0.5") << false << 0;
  QTest::newRow("yes") << QStringLiteral("yes") << false << 0;
  QTest::newRow("1.00") << QStringLiteral("1.00") << false << 0;
}

void TestLabelTable::parsesOnlyTheConvention() {
  QFETCH(QString, cell);
  QFETCH(bool, accepted);
  QFETCH(int, code);
  LabelCode parsed = 42;
  QCOMPARE(parseLabelCode(cell, &parsed), accepted);
  if (!accepted) QCOMPARE(parsed, LabelCode(42));  // untouched
  else if (code == 9) QVERIFY(!parsed.has_value());
  else QCOMPARE(parsed, LabelCode(code));
}

void TestLabelTable::labelsReports_data() {
  QTest::addColumn<QString>("report");
  QTest::addColumn<QString>("expected");  // the six cells joined by '|'
  // Our phrasings.
  QTest::newRow("normal") << QStringLiteral("Heart size is normal. No pleural effusion or pneumothorax. No consolidation.")
                          << QStringLiteral("|0.0|0.0||0.0|0.0");
  QTest::newRow("hedged") << QStringLiteral("Possible small left effusion. Atelectasis cannot be excluded.")
                          << QStringLiteral("-1.0||||-1.0|");
  // Real report sentences (IU X-ray uids 1, 45, 64, 73; tests/data/reports/iu_xray_first108.csv).
  QTest::newRow("iu 1") << QStringLiteral(
      "The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema. There is no "
      "focal consolidation. There are no XXXX of a pleural effusion. There is no evidence of pneumothorax.")
                        << QStringLiteral("|0.0|0.0|0.0|0.0|0.0");
  QTest::newRow("iu 45") << QStringLiteral(
      "Stable cardiomegaly with vascular prominence without overt edema. No focal airspace disease. No large pleural "
      "effusion or pneumothorax.")
                         << QStringLiteral("|1.0||1.0|0.0|0.0");  // vascular prominence: edema, as CheXpert counts it
  QTest::newRow("iu 64") << QStringLiteral(
      "There is a small to moderate sized right apical pneumothorax which measures approximately 2.0 cm. No focal "
      "airspace consolidation is seen.")
                         << QStringLiteral("||0.0|||1.0");
  QTest::newRow("iu 73") << QStringLiteral(
      "Persistent small bilateral pleural effusions, XXXX on the right, small on the left with some associated left "
      "basilar atelectasis.")
                         << QStringLiteral("1.0||||1.0|");
}

void TestLabelTable::labelsReports() {
  QFETCH(QString, report);
  QFETCH(QString, expected);
  QStringList cells;
  for (const LabelCode& code : labelReport(report)) cells.push_back(labelCodeText(code));
  QCOMPARE(cells.join(u'|'), expected);
}

void TestLabelTable::joinsTextColumnsInOrder() {
  const auto read = parseCsv(QByteArrayLiteral("uid,findings,impression\r\n"
                                               "7,The heart is normal in size.,\"Small effusion, no pneumothorax.\"\r\n"
                                               "8,,No acute disease.\r\n"),
                             QStringLiteral("mem.csv"));
  QVERIFY2(read.ok(), qPrintable(read.error));
  const auto result = labelTable(read.table, {QStringLiteral("findings"), QStringLiteral("impression")},
                                 QStringLiteral("uid"));
  QVERIFY2(result.ok(), qPrintable(result.error));
  QCOMPARE(result.rows, 2);
  const auto back = parseCsv(result.csv.toUtf8(), QStringLiteral("out.csv"));
  QVERIFY2(back.ok(), qPrintable(back.error));
  QCOMPARE(back.table.header, QStringList({QStringLiteral("uid")}) + chexpertColumnNames());
  QCOMPARE(back.table.rows[0], QStringList({QStringLiteral("7"), QString(), QStringLiteral("0.0"), QString(), QString(),
                                            QStringLiteral("1.0"), QStringLiteral("0.0")}));
  QCOMPARE(back.table.rows[1], QStringList({QStringLiteral("8"), QString(), QString(), QString(), QString(), QString(),
                                            QString()}));
}

void TestLabelTable::idColumnDefaultsAndRecordNumbers() {
  const auto withId = parseCsv(QByteArrayLiteral("id,report\r\na1,No effusion.\r\n"), QStringLiteral("a.csv"));
  auto result = labelTable(withId.table, {QStringLiteral("report")}, QString());
  QCOMPARE(result.idColumn, QStringLiteral("id"));
  QVERIFY(result.csv.contains(QStringLiteral("a1,,,,,0.0,")));
  const auto withoutId = parseCsv(QByteArrayLiteral("report\r\nNo effusion.\r\nCardiomegaly.\r\n"), QStringLiteral("b.csv"));
  result = labelTable(withoutId.table, {QStringLiteral("report")}, QString());
  QCOMPARE(result.idColumn, QStringLiteral("row"));
  // Record numbers count the header as record 1, as every error message does.
  QVERIFY(result.csv.contains(QStringLiteral("\r\n2,,,,,0.0,\r\n3,,1.0,,,,\r\n")));
}

void TestLabelTable::missingColumnsNameFileAndColumn() {
  const auto read = parseCsv(QByteArrayLiteral("uid,findings\r\n1,No effusion.\r\n"), QStringLiteral("/data/reports.csv"));
  auto result = labelTable(read.table, {QStringLiteral("findings"), QStringLiteral("impression")}, QStringLiteral("uid"));
  QVERIFY(!result.ok());
  QVERIFY2(result.error.contains(QStringLiteral("/data/reports.csv")) && result.error.contains(QStringLiteral("'impression'")) &&
               result.error.contains(QStringLiteral("uid, findings")),
           qPrintable(result.error));
  result = labelTable(read.table, {QStringLiteral("findings")}, QStringLiteral("study"));
  QVERIFY2(!result.ok() && result.error.contains(QStringLiteral("id column 'study'")), qPrintable(result.error));
  result = labelTable(read.table, {}, QString());
  QVERIFY(!result.ok());
}

QTEST_GUILESS_MAIN(TestLabelTable)
#include "test_label_table.moc"
