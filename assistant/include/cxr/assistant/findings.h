// Findings checklist: reads a report and marks the six findings the stock report prompt asks about
// as present / absent / uncertain / not mentioned, each linked to the sentence that decided it.
//
// A small NegEx-style rule set (Chapman et al. 2001; CheXpert labeler conventions): synonyms find
// the mentions, cue phrases before or after a mention negate or hedge it, within the mention's
// clause. Lists share one cue ("no evidence of effusion, pneumothorax or consolidation"); words such
// as "but", "however", ";" or a new verb end a cue's scope. "No change in the effusion" is a
// pseudo-negation (the effusion is present). Hedges win over negations inside one cue phrase
// ("cannot exclude"). Across sentences: present > uncertain > absent.
#pragma once

#include <QList>
#include <QString>

namespace cxr::assistant {

enum class Finding { Atelectasis, Cardiomegaly, Consolidation, PulmonaryEdema, PleuralEffusion, Pneumothorax };
enum class FindingStatus { NotMentioned, Absent, Uncertain, Present };

QString findingName(Finding finding);          // "Pleural effusion"
QString findingStatusName(FindingStatus status);  // "present", "absent", "uncertain", "not mentioned"
QList<Finding> allFindings();

struct FindingEvidence {
  FindingStatus status = FindingStatus::NotMentioned;
  QString sentence;       // the sentence as written in the report
  int sentenceStart = -1; // character offset of the sentence in the report
  QString mention;        // the words that named the finding
  QString cue;            // the negation / hedge phrase that decided it (empty: affirmed)
};

struct FindingResult {
  Finding finding = Finding::Atelectasis;
  FindingStatus status = FindingStatus::NotMentioned;
  FindingEvidence decisive;          // the sentence that decided the status
  QList<FindingEvidence> evidence;   // every mention, in report order
};

// Splits a report into sentences (keeps "1.5 cm", "vs." and "e.g." inside their sentence).
struct Sentence {
  QString text;
  int start = 0;
};
QList<Sentence> splitSentences(const QString& report);

// Classifies the six findings in report order of allFindings().
QList<FindingResult> classifyFindings(const QString& report);
// The status of one finding in one sentence (for tests and tooling).
FindingStatus classifySentence(const QString& sentence, Finding finding);

}  // namespace cxr::assistant
