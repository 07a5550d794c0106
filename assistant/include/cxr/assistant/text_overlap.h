// Text-overlap metrics between generated and reference reports: corpus BLEU-4 (Papineni et al.,
// ACL 2002) and ROUGE-L (Lin, 2004). They count shared words, not clinical correctness: two reports
// that disagree on every finding can still overlap well, so they are reported beside, never instead
// of, the findings metrics.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <array>

namespace cxr::assistant {

// Lower-cased words and numbers in reading order; punctuation and spacing are dropped
// ("No effusion, 1.5 cm." -> no, effusion, 1.5, cm).
QStringList overlapTokens(const QString& text);

struct BleuScore {
  double bleu = 0.0;                          // BP * exp(mean log p_n), 0 when some p_n is 0
  std::array<double, 4> precisions {};        // modified (clipped) n-gram precisions p_1..p_4
  std::array<long long, 4> matches {};        // clipped n-gram matches summed over the corpus
  std::array<long long, 4> candidates {};     // hypothesis n-grams summed over the corpus
  double brevityPenalty = 0.0;                // 1 if c > r, else exp(1 - r/c)
  long long hypothesisLength = 0;             // c: hypothesis tokens in the corpus
  long long referenceLength = 0;              // r: reference tokens in the corpus
};

// Corpus BLEU-4 with one reference per hypothesis, uniform weights, no smoothing: n-gram matches
// and counts are summed over the whole corpus before the precisions are taken (Papineni et al.,
// section 2.2), and the brevity penalty uses the corpus lengths. Pairs are matched by index.
BleuScore corpusBleu4(const QList<QStringList>& hypotheses, const QList<QStringList>& references);

// ROUGE-L of one pair: the longest common subsequence's precision (LCS/|hypothesis|), recall
// (LCS/|reference|) and their F1 (beta = 1). Two empty texts score 0.
struct RougeL {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
};
RougeL rougeL(const QStringList& hypothesis, const QStringList& reference);

}  // namespace cxr::assistant
