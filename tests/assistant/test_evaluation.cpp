// cxr-batch eval's library: metrics on hand-counted cases under the three uncertain conventions,
// seeded bootstrap intervals, BLEU-4 and ROUGE-L on hand-computed examples, the loaders' messages for
// bad input, id matching and control summaries, and the rendered report files.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>

#include "cxr/assistant/evaluation.h"
#include "cxr/assistant/evaluation_metrics.h"
#include "cxr/assistant/evaluation_report.h"
#include "cxr/assistant/text_overlap.h"

using namespace cxr::assistant;

namespace {

FindingLabels only(int finding, LabelCode code) {
  FindingLabels labels;
  labels[size_t(finding)] = code;
  return labels;
}

QString writeText(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes) {
  const QString path = dir.filePath(name);
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly)) return {};
  file.write(bytes);
  return path;
}

const QByteArray kHeader = "id,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion,Pneumothorax";

QByteArray jsonLine(const QString& id, const QString& task, const QString& text, const QString& findingsJson,
                    const QString& control = QString()) {
  QString line = QStringLiteral(R"({"id":"%1","image":"%1.png","task":"%2","text":"%3","findings":%4)")
                     .arg(id, task, text, findingsJson);
  if (!control.isEmpty()) line += QStringLiteral(R"(,"control":"%1")").arg(control);
  return (line + QStringLiteral("}\n")).toUtf8();
}

const QString kNoFindings = QStringLiteral(
    R"({"Atelectasis":null,"Cardiomegaly":0,"Consolidation":null,"Edema":null,"Pleural Effusion":0,"Pneumothorax":null})");
const QString kEffusion = QStringLiteral(
    R"({"Atelectasis":null,"Cardiomegaly":0,"Consolidation":null,"Edema":null,"Pleural Effusion":1,"Pneumothorax":null})");

}  // namespace

class TestEvaluation : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void countsUnderEachUncertainConvention();
  void zeroDenominatorsScoreZero();
  void macroAndMicroF1();
  void bootstrapIsSeeded();
  void undefinedResamplesLeaveTheInterval();
  void bleuOnAHandComputedCorpus();
  void rougeLOnHandComputedPairs();
  void tokensDropPunctuationKeepNumbers();
  void labelCsvErrorsNameFileRecordAndColumn();
  void jsonlErrorsNameFileLineAndKey();
  void unmatchedIdsAreCountedNotDropped();
  void noMatchingIdIsAnError();
  void textOverlapAndAgreementWithReferenceReports();
  void controlBaselineAndNearIdenticalReports();
  void writesAllReportFiles();
};

void TestEvaluation::countsUnderEachUncertainConvention() {
  // Atelectasis over five items (predicted, reference): (1,1) (1,0) (0,1) (blank,0) (-1,1).
  const QList<MatchedPair> pairs = {{only(0, 1), only(0, 1)},
                                    {only(0, 1), only(0, 0)},
                                    {only(0, 0), only(0, 1)},
                                    {only(0, std::nullopt), only(0, 0)},
                                    {only(0, -1), only(0, 1)}};
  auto m = computeMetrics(pairs, UncertainPolicy::Negative, 0);
  auto c = m.findings[0].confusion;
  QCOMPARE((QList<long long>{c.tp, c.fp, c.fn, c.tn}), (QList<long long>{1, 1, 2, 1}));
  QCOMPARE(m.findings[0].support, 3);
  QCOMPARE(m.findings[0].scores.precision, 0.5);
  QCOMPARE(m.findings[0].scores.recall, 1.0 / 3.0);
  QCOMPARE(m.findings[0].scores.f1, 0.4);  // 2TP / (2TP + FP + FN) = 2/5
  QCOMPARE(m.findings[0].scores.specificity, 0.5);

  m = computeMetrics(pairs, UncertainPolicy::Positive, 0);
  c = m.findings[0].confusion;
  QCOMPARE((QList<long long>{c.tp, c.fp, c.fn, c.tn}), (QList<long long>{2, 1, 1, 1}));
  QCOMPARE(m.findings[0].scores.f1, 2.0 / 3.0);

  m = computeMetrics(pairs, UncertainPolicy::Ignore, 0);
  c = m.findings[0].confusion;
  QCOMPARE((QList<long long>{c.tp, c.fp, c.fn, c.tn}), (QList<long long>{1, 1, 1, 1}));
  QCOMPARE(m.findings[0].ignored, 1);
  QCOMPARE(m.findings[0].evaluated, 4);
  // Every other finding is blank on both sides: all true negatives.
  QCOMPARE(m.findings[5].confusion.tn, 5);
}

void TestEvaluation::zeroDenominatorsScoreZero() {
  const auto m = computeMetrics({{only(1, 0), only(1, 0)}}, UncertainPolicy::Negative, 0);
  QCOMPARE(m.findings[1].scores.precision, 0.0);
  QCOMPARE(m.findings[1].scores.recall, 0.0);
  QCOMPARE(m.findings[1].scores.f1, 0.0);
  QCOMPARE(m.findings[1].scores.specificity, 1.0);
}

void TestEvaluation::macroAndMicroF1() {
  // Atelectasis: TP 1; Cardiomegaly: FP 1; others all TN.
  FindingLabels pred, ref;
  pred[0] = 1, ref[0] = 1;
  pred[1] = 1, ref[1] = 0;
  const auto m = computeMetrics({{pred, ref}}, UncertainPolicy::Negative, 0);
  QCOMPARE(m.macroF1, 1.0 / 6.0);       // (1 + 0 + 0 + 0 + 0 + 0) / 6
  QCOMPARE(m.microF1, 2.0 / 3.0);       // TP 1, FP 1, FN 0 summed: 2/(2+1)
}

void TestEvaluation::bootstrapIsSeeded() {
  QList<MatchedPair> pairs;
  for (int i = 0; i < 60; ++i) pairs.push_back({only(4, i % 3 == 0 ? 1 : 0), only(4, i % 4 == 0 ? 1 : 0)});
  const auto a = computeMetrics(pairs, UncertainPolicy::Negative, 500, 7);
  const auto b = computeMetrics(pairs, UncertainPolicy::Negative, 500, 7);
  const auto c = computeMetrics(pairs, UncertainPolicy::Negative, 500, 8);
  QCOMPARE(a.findings[4].ciF1.low, b.findings[4].ciF1.low);
  QCOMPARE(a.findings[4].ciF1.high, b.findings[4].ciF1.high);
  QCOMPARE(a.ciMacroF1.low, b.ciMacroF1.low);
  QVERIFY(a.findings[4].ciF1.low != c.findings[4].ciF1.low || a.findings[4].ciF1.high != c.findings[4].ciF1.high);
  QVERIFY(a.findings[4].ciF1.low <= a.findings[4].scores.f1 && a.findings[4].scores.f1 <= a.findings[4].ciF1.high);
  QVERIFY(a.findings[4].ciF1.low < a.findings[4].ciF1.high);
}

void TestEvaluation::undefinedResamplesLeaveTheInterval() {
  // One positive among 30, found: many resamples hold no positive at all, where F1 is undefined.
  // Those say nothing about F1, so the interval stays [1, 1] instead of reaching down to 0.
  QList<MatchedPair> pairs;
  for (int i = 0; i < 30; ++i) pairs.push_back({only(2, i == 0 ? 1 : 0), only(2, i == 0 ? 1 : 0)});
  const auto m = computeMetrics(pairs, UncertainPolicy::Negative, 300, 3);
  QCOMPARE(m.findings[2].ciF1.low, 1.0);
  QCOMPARE(m.findings[2].ciF1.high, 1.0);
  // A finding never positive on either side: no resample defines F1, so no interval (NaN -> null).
  QVERIFY(std::isnan(m.findings[3].ciF1.low) && std::isnan(m.findings[3].ciF1.high));
  QCOMPARE(m.findings[3].scores.f1, 0.0);  // the point value keeps scikit-learn's zero_division=0
  QCOMPARE(m.findings[3].ciSpecificity.low, 1.0);
}

void TestEvaluation::bleuOnAHandComputedCorpus() {
  // Pair 1: "the cat sat on the mat" vs "the cat is on the mat": clipped matches 5/6, 3/5, 1/4, 0/3.
  // Pair 2: "there is no pleural effusion" vs "... effusion or pneumothorax": 5/5, 4/4, 3/3, 2/2.
  // Corpus: p = 10/11, 7/9, 4/7, 2/5; c = 11, r = 13, BP = exp(1 - 13/11).
  const QList<QStringList> hyp = {overlapTokens(QStringLiteral("The cat sat on the mat.")),
                                  overlapTokens(QStringLiteral("There is no pleural effusion."))};
  const QList<QStringList> ref = {overlapTokens(QStringLiteral("The cat is on the mat.")),
                                  overlapTokens(QStringLiteral("There is no pleural effusion or pneumothorax."))};
  const BleuScore s = corpusBleu4(hyp, ref);
  QCOMPARE(s.hypothesisLength, 11);
  QCOMPARE(s.referenceLength, 13);
  QCOMPARE(s.precisions[0], 10.0 / 11.0);
  QCOMPARE(s.precisions[1], 7.0 / 9.0);
  QCOMPARE(s.precisions[2], 4.0 / 7.0);
  QCOMPARE(s.precisions[3], 2.0 / 5.0);
  QCOMPARE(s.brevityPenalty, std::exp(1.0 - 13.0 / 11.0));
  const double expected = std::exp(1.0 - 13.0 / 11.0) * std::pow(10.0 / 11.0 * 7.0 / 9.0 * 4.0 / 7.0 * 2.0 / 5.0, 0.25);
  QVERIFY(std::abs(s.bleu - expected) < 1e-12);
  // Pair 1 alone has no 4-gram match: BLEU without smoothing is 0.
  QCOMPARE(corpusBleu4({hyp[0]}, {ref[0]}).bleu, 0.0);
  // A hypothesis longer than its reference has no brevity penalty; clipping caps repeated words.
  const BleuScore repeated = corpusBleu4({overlapTokens(QStringLiteral("no no no no effusion"))},
                                         {overlapTokens(QStringLiteral("no effusion"))});
  QCOMPARE(repeated.brevityPenalty, 1.0);
  QCOMPARE(repeated.precisions[0], 2.0 / 5.0);  // "no" counts once (clipped), "effusion" once
}

void TestEvaluation::rougeLOnHandComputedPairs() {
  // LCS("the cat sat on the mat", "the cat is on the mat") = "the cat on the mat" = 5.
  RougeL r = rougeL(overlapTokens(QStringLiteral("the cat sat on the mat")),
                    overlapTokens(QStringLiteral("the cat is on the mat")));
  QCOMPARE(r.precision, 5.0 / 6.0);
  QCOMPARE(r.recall, 5.0 / 6.0);
  QVERIFY(std::abs(r.f1 - 5.0 / 6.0) < 1e-12);
  // LCS("no effusion", "there is no pleural effusion") = 2: P 1, R 2/5, F 2PR/(P+R) = 4/7.
  r = rougeL(overlapTokens(QStringLiteral("No effusion.")), overlapTokens(QStringLiteral("There is no pleural effusion.")));
  QCOMPARE(r.precision, 1.0);
  QCOMPARE(r.recall, 0.4);
  QVERIFY(std::abs(r.f1 - 4.0 / 7.0) < 1e-12);
  QCOMPARE(rougeL({}, overlapTokens(QStringLiteral("x"))).f1, 0.0);
  QCOMPARE(rougeL(overlapTokens(QStringLiteral("a b")), overlapTokens(QStringLiteral("c d"))).f1, 0.0);
}

void TestEvaluation::tokensDropPunctuationKeepNumbers() {
  QCOMPARE(overlapTokens(QStringLiteral("No effusion, 1.5 cm. Heart: normal!")),
           QStringList({QStringLiteral("no"), QStringLiteral("effusion"), QStringLiteral("1.5"), QStringLiteral("cm"),
                        QStringLiteral("heart"), QStringLiteral("normal")}));
}

void TestEvaluation::labelCsvErrorsNameFileRecordAndColumn() {
  QTemporaryDir dir;
  const QString bad = writeText(dir, QStringLiteral("labels.csv"), kHeader + "\na,1,0,,,,\nb,1.0,0.0,2,,,\n");
  ItemSet set = loadLabelCsv(bad, QString());
  QVERIFY(!set.ok());
  QVERIFY2(set.error.contains(bad) && set.error.contains(QStringLiteral("record 3")) &&
               set.error.contains(QStringLiteral("'Consolidation'")) && set.error.contains(QStringLiteral("'2'")),
           qPrintable(set.error));

  const QString missing = writeText(dir, QStringLiteral("missing.csv"), "id,Atelectasis,Cardiomegaly\na,1,0\n");
  set = loadLabelCsv(missing, QString());
  QVERIFY2(!set.ok() && set.error.contains(missing) && set.error.contains(QStringLiteral("'Consolidation'")),
           qPrintable(set.error));

  const QString broken = writeText(dir, QStringLiteral("broken.csv"), kHeader + "\na,1,0,,,,\n\"b,1,0,,,,\n");
  set = loadLabelCsv(broken, QString());
  QVERIFY2(!set.ok() && set.error.contains(broken) && set.error.contains(QStringLiteral("record")), qPrintable(set.error));

  const QString duplicate = writeText(dir, QStringLiteral("dup.csv"), kHeader + "\na,1,0,,,,\na,0,0,,,,\n");
  set = loadLabelCsv(duplicate, QString());
  QVERIFY2(!set.ok() && set.error.contains(QStringLiteral("record 3")) && set.error.contains(QStringLiteral("record 2")),
           qPrintable(set.error));

  const QString noId = writeText(dir, QStringLiteral("noid.csv"),
                                 "study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion,Pneumothorax\ns,1,,,,,\n");
  set = loadLabelCsv(noId, QString());
  QVERIFY2(!set.ok() && set.error.contains(QStringLiteral("--id-column")), qPrintable(set.error));
  set = loadLabelCsv(noId, QStringLiteral("study"));
  QVERIFY2(set.ok(), qPrintable(set.error));
  QCOMPARE(set.items.size(), 1);

  // CheXpert's own files: Path as id, extra columns ignored, blank cells.
  const QString chexpert = writeText(dir, QStringLiteral("valid.csv"),
                                     "Path,Sex,No Finding,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion,"
                                     "Pneumothorax\nCheXpert-v1.0/valid/p1/s1/view1_frontal.jpg,Male,,1.0,,-1.0,0.0,,\n");
  set = loadLabelCsv(chexpert, QString());
  QVERIFY2(set.ok(), qPrintable(set.error));
  QCOMPARE(set.items[0].labels[0], LabelCode(1));
  QCOMPARE(set.items[0].labels[2], LabelCode(-1));
  QVERIFY(!set.items[0].labels[1].has_value());
}

void TestEvaluation::jsonlErrorsNameFileLineAndKey() {
  QTemporaryDir dir;
  const QString notJson = writeText(dir, QStringLiteral("a.jsonl"),
                                    jsonLine(QStringLiteral("x"), QStringLiteral("report"), QStringLiteral("t"), kNoFindings) +
                                        "{\"id\": \"y\", \"task\": \n");
  ItemSet set = loadResultsJsonl(notJson, QStringLiteral("report"));
  QVERIFY2(!set.ok() && set.error.contains(notJson) && set.error.contains(QStringLiteral("line 2")), qPrintable(set.error));

  QString badValue = kNoFindings;
  badValue.replace(QStringLiteral("\"Edema\":null"), QStringLiteral("\"Edema\":2"));
  const QString outside = writeText(dir, QStringLiteral("b.jsonl"),
                                    jsonLine(QStringLiteral("x"), QStringLiteral("report"), QStringLiteral("t"), badValue));
  set = loadResultsJsonl(outside, QStringLiteral("report"));
  QVERIFY2(!set.ok() && set.error.contains(QStringLiteral("line 1")) && set.error.contains(QStringLiteral("'Edema'")) &&
               set.error.contains(QStringLiteral("2")),
           qPrintable(set.error));

  QString missingKey = kNoFindings;
  missingKey.replace(QStringLiteral(",\"Pneumothorax\":null"), QString());
  const QString missing = writeText(dir, QStringLiteral("c.jsonl"),
                                    jsonLine(QStringLiteral("x"), QStringLiteral("report"), QStringLiteral("t"), missingKey));
  set = loadResultsJsonl(missing, QStringLiteral("report"));
  QVERIFY2(!set.ok() && set.error.contains(QStringLiteral("'Pneumothorax'")), qPrintable(set.error));

  // Other tasks are counted, not read; the same id twice for one task is an error naming both lines.
  const QString mixed = writeText(
      dir, QStringLiteral("d.jsonl"),
      jsonLine(QStringLiteral("x"), QStringLiteral("report"), QStringLiteral("t"), kNoFindings) +
          jsonLine(QStringLiteral("x"), QStringLiteral("differential"), QStringLiteral("t"), kNoFindings) +
          jsonLine(QStringLiteral("x"), QStringLiteral("report"), QStringLiteral("t"), kNoFindings));
  set = loadResultsJsonl(mixed, QStringLiteral("report"));
  QVERIFY2(!set.ok() && set.error.contains(QStringLiteral("line 3")) && set.error.contains(QStringLiteral("line 1")),
           qPrintable(set.error));
  set = loadResultsJsonl(mixed, QStringLiteral("differential"));
  QVERIFY2(set.ok(), qPrintable(set.error));
  QCOMPARE(set.items.size(), 1);
  QCOMPARE(set.otherTasks, 2);
}

void TestEvaluation::unmatchedIdsAreCountedNotDropped() {
  QTemporaryDir dir;
  EvaluationOptions o;
  o.predictionsPath = writeText(dir, QStringLiteral("p.jsonl"),
                                jsonLine(QStringLiteral("a"), QStringLiteral("report"), QStringLiteral("t"), kEffusion) +
                                    jsonLine(QStringLiteral("b"), QStringLiteral("report"), QStringLiteral("t"), kNoFindings) +
                                    jsonLine(QStringLiteral("c"), QStringLiteral("report"), QStringLiteral("t"), kNoFindings));
  o.labelsPath = writeText(dir, QStringLiteral("l.csv"), kHeader + "\nb,,,,,0,\na,,,,,1,\nd,,,,,1,\n");
  o.bootstrapSamples = 50;
  const Evaluation ev = evaluate(o);
  QVERIFY2(ev.ok(), qPrintable(ev.error));
  QCOMPARE(ev.metrics.matched, 2);
  QCOMPARE(ev.unmatchedPredictions, 1);
  QCOMPARE(ev.unmatchedLabels, 1);
  QCOMPARE(ev.unmatchedPredictionIds, QStringList{QStringLiteral("c")});
  QCOMPARE(ev.unmatchedLabelIds, QStringList{QStringLiteral("d")});
  QCOMPARE(ev.metrics.findings[4].confusion.tp, 1);
  QCOMPARE(ev.metrics.findings[4].confusion.tn, 1);
  const QJsonObject json = metricsJson(ev);
  QCOMPARE(json.value(QStringLiteral("unmatched_predictions")).toInt(), 1);
  QCOMPARE(json.value(QStringLiteral("unmatched_labels")).toInt(), 1);
  QCOMPARE(json.value(QStringLiteral("matched")).toInt(), 2);
  QCOMPARE(json.value(QStringLiteral("uncertain")).toString(), QStringLiteral("negative"));
}

void TestEvaluation::noMatchingIdIsAnError() {
  QTemporaryDir dir;
  EvaluationOptions o;
  o.predictionsPath = writeText(dir, QStringLiteral("p.csv"), kHeader + "\nimg1.png,1,,,,,\n");
  o.labelsPath = writeText(dir, QStringLiteral("l.csv"), kHeader + "\nstudy1,1,,,,,\n");
  const Evaluation ev = evaluate(o);
  QVERIFY(!ev.ok());
  QVERIFY2(ev.error.contains(QStringLiteral("img1.png")) && ev.error.contains(QStringLiteral("study1")) &&
               ev.error.contains(QStringLiteral("--id-column")),
           qPrintable(ev.error));
}

void TestEvaluation::textOverlapAndAgreementWithReferenceReports() {
  QTemporaryDir dir;
  EvaluationOptions o;
  o.predictionsPath = writeText(
      dir, QStringLiteral("p.jsonl"),
      jsonLine(QStringLiteral("a"), QStringLiteral("report"), QStringLiteral("Small left pleural effusion."), kEffusion) +
          jsonLine(QStringLiteral("b"), QStringLiteral("report"), QStringLiteral("No pleural effusion. Heart size is normal."),
                   kNoFindings));
  o.labelsPath = writeText(dir, QStringLiteral("l.csv"),
                           kHeader + ",reference_report\na,,,,,1,,Small left pleural effusion.\n"
                                     "b,,,,,1,,Moderate right pleural effusion.\n");
  o.bootstrapSamples = 0;
  const Evaluation ev = evaluate(o);
  QVERIFY2(ev.ok(), qPrintable(ev.error));
  QVERIFY(ev.overlap.has_value());
  QCOMPARE(ev.overlap->pairs, 2);
  // ROUGE-L: pair a identical (1.0); pair b: LCS "pleural effusion" = 2 of 7 and 4 tokens: F = 2*(2/7)(2/4)/(2/7+2/4).
  const double pb = 2.0 / 7.0, rb = 2.0 / 4.0;
  QVERIFY(std::abs(ev.overlap->meanRougeL - (1.0 + 2 * pb * rb / (pb + rb)) / 2.0) < 1e-12);
  // Pleural effusion: a agrees (present/present), b disagrees (absent vs present).
  QCOMPARE(ev.agreement[4].compared, 2);
  QCOMPARE(ev.agreement[4].exactAgreements, 1);
  const QJsonObject json = metricsJson(ev);
  QVERIFY(json.value(QStringLiteral("text_overlap")).toObject().value(QStringLiteral("note")).toString().contains(
      QStringLiteral("text-overlap")));
}

void TestEvaluation::controlBaselineAndNearIdenticalReports() {
  QTemporaryDir dir;
  const QString canned = QStringLiteral("The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.");
  EvaluationOptions o;
  o.predictionsPath = writeText(
      dir, QStringLiteral("results.jsonl"),
      jsonLine(QStringLiteral("a"), QStringLiteral("report"), canned, kNoFindings) +
          jsonLine(QStringLiteral("b"), QStringLiteral("report"), QStringLiteral("Large right pleural effusion with basal atelectasis."),
                   kEffusion) +
          jsonLine(QStringLiteral("gray"), QStringLiteral("report"), canned, kNoFindings, QStringLiteral("gray")) +
          jsonLine(QStringLiteral("noise"), QStringLiteral("report"), QStringLiteral("Pleural effusion."), kEffusion,
                   QStringLiteral("noise")));
  o.labelsPath = writeText(dir, QStringLiteral("l.csv"), kHeader + "\na,,,,,0,\nb,,,,,1,\n");
  o.controlPath = dir.path();  // the folder: its results.jsonl
  o.bootstrapSamples = 0;
  const Evaluation ev = evaluate(o);
  QVERIFY2(ev.ok(), qPrintable(ev.error));
  QCOMPARE(ev.controlItemsInPredictions, 2);  // never scored as images
  QCOMPARE(ev.metrics.matched, 2);
  QVERIFY(ev.control.has_value());
  QCOMPARE(ev.control->rows.size(), 2);
  QCOMPARE(ev.control->rows[0].kind, QStringLiteral("gray"));
  QCOMPARE(ev.control->rows[1].positives[4], 1);
  QCOMPARE(ev.control->generated, 2);
  QCOMPARE(ev.control->nearIdentical, 1);  // report a is the gray image's report word for word

  // A control path without control items says so.
  o.controlPath = writeText(dir, QStringLiteral("plain.jsonl"),
                            jsonLine(QStringLiteral("a"), QStringLiteral("report"), canned, kNoFindings));
  const Evaluation without = evaluate(o);
  QVERIFY2(!without.ok() && without.error.contains(QStringLiteral("no control items")), qPrintable(without.error));
}

void TestEvaluation::writesAllReportFiles() {
  QTemporaryDir dir;
  EvaluationOptions o;
  o.predictionsPath = writeText(dir, QStringLiteral("p.csv"), kHeader + "\na,1,0,,,1,\nb,0,1,,-1,,\nc,,,1,,0,1\n");
  o.labelsPath = writeText(dir, QStringLiteral("l.csv"), kHeader + "\na,1,0,,,1,\nb,1,1,,1,,\nc,,,0,,0,1\n");
  o.bootstrapSamples = 100;
  o.policy = UncertainPolicy::Ignore;
  const Evaluation ev = evaluate(o);
  QVERIFY2(ev.ok(), qPrintable(ev.error));
  const QString out = dir.filePath(QStringLiteral("out/nested"));
  const QString error = writeEvaluationOutputs(ev, out);
  QVERIFY2(error.isEmpty(), qPrintable(error));
  for (const char* name : {"metrics.json", "metrics.csv", "report.html", "report.pdf", "f1_chart.png"})
    QVERIFY2(QFileInfo(QDir(out).filePath(QString::fromLatin1(name))).size() > 0, name);
  QFile pdf(QDir(out).filePath(QStringLiteral("report.pdf")));
  QVERIFY(pdf.open(QIODevice::ReadOnly));
  QVERIFY(pdf.read(5) == "%PDF-");
  QFile html(QDir(out).filePath(QStringLiteral("report.html")));
  QVERIFY(html.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(html.readAll());
  QVERIFY(text.contains(QStringLiteral("uncertain = <b>ignore</b>")));
  for (const QString& name : chexpertColumnNames()) QVERIFY2(text.contains(name), qPrintable(name));
  QFile csv(QDir(out).filePath(QStringLiteral("metrics.csv")));
  QVERIFY(csv.open(QIODevice::ReadOnly));
  const QList<QByteArray> lines = csv.readAll().trimmed().split('\n');
  QCOMPARE(lines.size(), 1 + 6 + 2);
  for (int i = 1; i < lines.size(); ++i) QVERIFY(lines[i].contains(",ignore,"));
}

QTEST_MAIN(TestEvaluation)
#include "test_evaluation.moc"
