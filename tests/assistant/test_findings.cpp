// The findings checklist rules, one phrasing per row.
#include "cxr/assistant/findings.h"

#include <QTest>

using namespace cxr::assistant;
Q_DECLARE_METATYPE(cxr::assistant::Finding)
Q_DECLARE_METATYPE(cxr::assistant::FindingStatus)

class TestFindings : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void sentence_data();
  void sentence();
  void wholeReportLinksSentences();
  void statusesAcrossSentences_data();
  void statusesAcrossSentences();
  void splitKeepsNumbersAndAbbreviations();
};

void TestFindings::sentence_data() {
  QTest::addColumn<QString>("sentence");
  QTest::addColumn<Finding>("finding");
  QTest::addColumn<FindingStatus>("expected");
  const auto P = FindingStatus::Present, A = FindingStatus::Absent, U = FindingStatus::Uncertain,
             N = FindingStatus::NotMentioned;
  const auto atel = Finding::Atelectasis, cardio = Finding::Cardiomegaly, cons = Finding::Consolidation,
             edema = Finding::PulmonaryEdema, eff = Finding::PleuralEffusion, ptx = Finding::Pneumothorax;
  auto row = [](const char* name, const char* s, Finding f, FindingStatus e) {
    QTest::newRow(name) << QString::fromUtf8(s) << f << e;
  };
  // Plain negation
  row("no pneumothorax", "No pneumothorax.", ptx, A);
  row("there is no pneumothorax", "There is no pneumothorax.", ptx, A);
  row("without effusion", "Clear lungs without effusion.", eff, A);
  row("negative for", "Negative for pneumothorax.", ptx, A);
  row("absence of", "Absence of pleural effusion.", eff, A);
  row("free of", "The lungs are free of consolidation.", cons, A);
  row("no evidence of", "No evidence of pulmonary edema.", edema, A);
  row("no definite", "No definite consolidation.", cons, A);
  row("does not suggest", "Findings do not suggest pneumothorax.", ptx, A);
  row("resolution of", "Interval resolution of the left effusion.", eff, A);
  // Lists share the cue
  row("list first", "No evidence of pleural effusion, pneumothorax, or consolidation.", eff, A);
  row("list middle", "No evidence of pleural effusion, pneumothorax, or consolidation.", ptx, A);
  row("list last", "No evidence of pleural effusion, pneumothorax, or consolidation.", cons, A);
  row("no X or Y", "No focal consolidation or pleural effusion.", eff, A);
  row("no X nor Y", "There is no effusion nor pneumothorax.", ptx, A);
  row("no X and no Y", "No pleural effusion and no pneumothorax.", ptx, A);
  // Post negation
  row("is not seen", "A pneumothorax is not seen.", ptx, A);
  row("not identified", "Pleural effusion not identified.", eff, A);
  row("list post negation", "Effusion, pneumothorax and consolidation are not seen.", eff, A);
  row("is absent", "Pulmonary edema is absent.", edema, A);
  row("has resolved", "The right pneumothorax has resolved.", ptx, A);
  row("no longer seen", "Atelectasis is no longer seen.", atel, A);
  // Hedges
  row("cannot exclude", "Cannot exclude a small left effusion.", eff, U);
  row("cannot be excluded", "A small pneumothorax cannot be excluded.", ptx, U);
  row("not ruled out", "Consolidation is not ruled out.", cons, U);
  row("can not rule out", "We can not rule out early consolidation.", cons, U);
  row("possible", "Possible small right pleural effusion.", eff, U);
  row("likely", "Likely bibasilar atelectasis.", atel, U);
  row("probable", "Probable mild pulmonary edema.", edema, U);
  row("suggestive of", "Hazy opacity suggestive of pulmonary edema.", edema, U);
  row("may represent", "Opacity at the left base may represent atelectasis or consolidation.", cons, U);
  row("may represent first", "Opacity at the left base may represent atelectasis or consolidation.", atel, U);
  row("suspicious for", "Findings suspicious for consolidation.", cons, U);
  row("versus", "Left basilar atelectasis versus consolidation.", cons, U);
  row("versus left side", "Left basilar atelectasis versus consolidation.", atel, U);
  row("vs.", "Atelectasis vs. consolidation at the right base.", atel, U);
  row("is suspected", "A small pneumothorax is suspected.", ptx, U);
  row("questionable", "Questionable tiny apical pneumothorax.", ptx, U);
  // "Upper limits of normal" is a normal size: so the IU X-ray indexers coded it (uids 64, 71, 104 of
  // tests/data/reports), unlike "borderline", which they coded as borderline cardiomegaly.
  row("upper limits of normal", "The heart size is at the upper limits of normal.", cardio, A);
  row("borderline enlarged silhouette", "The cardiac silhouette is borderline enlarged.", cardio, U);
  row("borderline cardiomegaly", "Borderline cardiomegaly.", cardio, U);
  // Present
  row("plain present", "Small left pleural effusion.", eff, P);
  row("there is", "There is a moderate right pneumothorax.", ptx, P);
  row("mild cardiomegaly", "Mild cardiomegaly.", cardio, P);
  row("enlarged cardiac silhouette", "Enlarged cardiac silhouette.", cardio, P);
  row("heart is enlarged", "The heart is moderately enlarged.", cardio, P);
  row("cardiac silhouette enlarged", "The cardiac silhouette is enlarged.", cardio, P);
  row("effusions plural", "Bilateral pleural effusions.", eff, P);
  row("bare effusion", "Small effusion at the right base.", eff, P);
  row("edema bare", "Interstitial edema is present.", edema, P);
  row("bare edema word", "Mild edema.", edema, P);
  row("vascular congestion", "Pulmonary vascular congestion.", edema, P);
  row("atelectatic", "Atelectatic changes at the bases.", atel, P);
  row("plate-like atelectasis", "Plate-like atelectasis in the left lower lobe.", atel, P);
  row("consolidative", "Consolidative opacity in the right upper lobe.", cons, P);
  row("no change pseudo-negation", "No change in the small left pleural effusion.", eff, P);
  row("no interval change", "No interval change in cardiomegaly.", cardio, P);
  row("pneumothoraces", "Bilateral pneumothoraces.", ptx, P);
  row("hydropneumothorax", "Right hydropneumothorax.", ptx, P);
  // Scope ends
  row("but ends negation", "No pneumothorax, but there is a small effusion.", eff, P);
  row("but keeps negation before", "No pneumothorax, but there is a small effusion.", ptx, A);
  row("semicolon ends", "No consolidation; atelectasis at the left base.", atel, P);
  row("however ends", "No edema, however mild cardiomegaly.", cardio, P);
  row("and the heart", "No effusion and the heart is enlarged.", cardio, P);
  row("other clause present", "Cardiomegaly is present, no effusion.", cardio, P);
  row("other clause absent", "Cardiomegaly is present, no effusion.", eff, A);
  row("hedge after negation", "No pneumothorax. Possible small effusion.", eff, U);
  row("nearest cue wins", "No pneumothorax, possible small effusion.", eff, U);
  row("nearest cue wins negation", "Possible effusion, no pneumothorax.", ptx, A);
  // Synonyms that mean absent
  row("heart size normal", "Heart size is normal.", cardio, A);
  row("normal cardiac silhouette", "Normal cardiac silhouette.", cardio, A);
  row("cardiomediastinal normal", "The cardiomediastinal silhouette is within normal limits.", cardio, A);
  row("heart not enlarged", "The heart is not enlarged.", cardio, A);
  row("no cardiomegaly", "No cardiomegaly.", cardio, A);
  // Not mentioned / other things
  row("pericardial effusion is not pleural", "Small pericardial effusion.", eff, N);
  row("soft tissue edema is not pulmonary", "Soft tissue edema of the chest wall.", edema, N);
  row("nothing", "The lungs are clear.", cons, N);
  row("nodule is not no", "A nodule in the right upper lobe.", ptx, N);
  row("case insensitive", "NO PNEUMOTHORAX.", ptx, A);
  // More phrasings seen in reports
  row("semicolon however", "There is no evidence of pneumothorax; however, a small right effusion is present.", eff, P);
  row("semicolon however negated part", "There is no evidence of pneumothorax; however, a small right effusion is present.", ptx, A);
  row("likely represent", "Bibasilar opacities likely represent atelectasis, although pneumonia cannot be excluded.", atel, U);
  row("heart normal in size", "The heart is normal in size.", cardio, A);
  row("unchanged is present", "Cardiomegaly is unchanged.", cardio, P);
  row("resolved before", "Resolved right pneumothorax.", ptx, A);
  row("resolved after", "The left pleural effusion has resolved.", eff, A);
  row("structured none", "Pneumothorax: none.", ptx, A);
  row("structured present", "Pleural effusion: small on the left.", eff, P);
  row("top normal heart size", "Top-normal heart size.", cardio, A);  // as "upper limits of normal"
  row("enlarged heart", "Mildly enlarged heart.", cardio, P);
  row("heart size enlarged", "Heart size is enlarged.", cardio, P);
  row("trace cannot be ruled out", "Trace pleural effusion cannot be ruled out.", eff, U);
  row("without evidence of edema", "Without evidence of edema.", edema, A);
  row("no new", "No new consolidation.", cons, A);
  row("persistent", "Persistent left effusion.", eff, P);
  row("low volumes with atelectasis", "Low lung volumes with bibasilar atelectasis.", atel, P);
  // Phrasings of real reports (IU X-ray, tests/data/reports/iu_xray_first108.csv; uid in the name).
  row("iu 104 or-differential", "Minimal left basilar subsegmental atelectasis or scarring.", atel, U);
  row("iu or-differential second", "Left basilar scarring or subsegmental atelectasis.", atel, U);
  row("iu 3 negated or-list stays absent", "No displaced rib fractures, pneumothorax, or pleural effusion identified.", eff, A);
  row("iu 1 heart with mediastinum", "The cardiac silhouette and mediastinum size are within normal limits.", cardio, A);
  row("iu 8 heart in a list", "The heart, pulmonary XXXX and mediastinum are within normal limits.", cardio, A);
  row("iu 27 normal size and contour", "Heart and mediastinum of normal size and contour.", cardio, A);
  row("iu 29 borderline heart size", "Borderline heart size.", cardio, U);
  row("iu 41 volume loss is not atelectasis", "Mild left-sided volume loss redemonstrated, unchanged.", atel, N);
  row("iu 45 vascular prominence", "Stable cardiomegaly with vascular prominence without overt edema.", edema, P);
  row("iu 88 congestive heart failure", "Findings consistent with mild congestive heart failure.", edema, P);
  row("iu 31 no CHF", "No suspicious nodules, pneumonia, effusions, or CHF.", edema, A);
  row("heart normal but enlarged elsewhere stays", "Heart size is enlarged but stable.", cardio, P);
  row("no effusions plural list", "No pleural effusions or pneumothoraces.", ptx, A);
  row("post negation after list with verb", "No acute findings. Pleural effusions are not present.", eff, A);
  row("edema with hedge after", "Mild interstitial edema is possible.", edema, U);
}

void TestFindings::sentence() {
  QFETCH(QString, sentence);
  QFETCH(Finding, finding);
  QFETCH(FindingStatus, expected);
  QCOMPARE(findingStatusName(classifySentence(sentence, finding)), findingStatusName(expected));
}

void TestFindings::wholeReportLinksSentences() {
  const QString report = QStringLiteral(
      "The cardiac silhouette is enlarged. There is no pneumothorax.\n"
      "Cannot exclude a small left pleural effusion. Lungs otherwise clear.");
  const auto results = classifyFindings(report);
  QCOMPARE(results.size(), 6);
  auto find = [&](Finding f) {
    for (const auto& r : results)
      if (r.finding == f) return r;
    return FindingResult{};
  };
  const auto cardio = find(Finding::Cardiomegaly);
  QCOMPARE(cardio.status, FindingStatus::Present);
  QCOMPARE(cardio.decisive.sentence, QStringLiteral("The cardiac silhouette is enlarged."));
  QCOMPARE(cardio.decisive.sentenceStart, 0);
  const auto ptx = find(Finding::Pneumothorax);
  QCOMPARE(ptx.status, FindingStatus::Absent);
  QCOMPARE(report.mid(ptx.decisive.sentenceStart, ptx.decisive.sentence.size()), ptx.decisive.sentence);
  QCOMPARE(ptx.decisive.cue, QStringLiteral("no"));
  const auto eff = find(Finding::PleuralEffusion);
  QCOMPARE(eff.status, FindingStatus::Uncertain);
  QVERIFY(eff.decisive.sentence.startsWith(QStringLiteral("Cannot exclude")));
  QCOMPARE(find(Finding::Atelectasis).status, FindingStatus::NotMentioned);
  QCOMPARE(find(Finding::Atelectasis).decisive.sentenceStart, -1);
}

void TestFindings::statusesAcrossSentences_data() {
  QTest::addColumn<QString>("report");
  QTest::addColumn<FindingStatus>("expected");
  QTest::newRow("present beats absent") << QStringLiteral("No right effusion. Small left effusion.")
                                        << FindingStatus::Present;
  QTest::newRow("uncertain beats absent") << QStringLiteral("No effusion on the right. Possible effusion on the left.")
                                          << FindingStatus::Uncertain;
  QTest::newRow("absent only") << QStringLiteral("No effusion. Heart normal.") << FindingStatus::Absent;
  QTest::newRow("not mentioned") << QStringLiteral("Heart normal.") << FindingStatus::NotMentioned;
}

void TestFindings::statusesAcrossSentences() {
  QFETCH(QString, report);
  QFETCH(FindingStatus, expected);
  const auto results = classifyFindings(report);
  QCOMPARE(findingStatusName(results[int(Finding::PleuralEffusion)].status), findingStatusName(expected));
}

void TestFindings::splitKeepsNumbersAndAbbreviations() {
  const auto s = splitSentences(QStringLiteral(
      "A 1.5 cm nodule. Atelectasis vs. consolidation at the base!  Is there effusion? Yes\nnew line"));
  QCOMPARE(s.size(), 5);
  QCOMPARE(s[0].text, QStringLiteral("A 1.5 cm nodule."));
  QCOMPARE(s[1].text, QStringLiteral("Atelectasis vs. consolidation at the base!"));
  QCOMPARE(s[2].text, QStringLiteral("Is there effusion?"));
  QCOMPARE(s[3].text, QStringLiteral("Yes"));
  QCOMPARE(s[4].text, QStringLiteral("new line"));
  QCOMPARE(s[2].start, 61);
}

QTEST_GUILESS_MAIN(TestFindings)
#include "test_findings.moc"
