// Scores predicted findings labels against reference labels, one binary problem per finding, as
// the CXR-LLaVA paper scores its six findings.
//
// Conventions (stated in every output of `cxr-batch eval`):
// - blank (not mentioned) counts as negative, in predictions and in labels;
// - uncertain (-1) counts as positive, as negative, or is ignored (the item leaves that finding's
//   counts when either side is uncertain), as UncertainPolicy says, for predictions and labels alike;
// - a ratio whose denominator is 0 (no predicted positives for precision, ...) is 0, as
//   scikit-learn's zero_division=0.
// Confidence intervals: percentile bootstrap over items (the same resampled items for every
// finding and for macro/micro F1), seeded, so the same seed gives the same intervals. A resample in
// which a ratio is undefined (no positive label or prediction, for F1) is left out of that ratio's
// interval; an interval with no defined resample at all is NaN (null / "n/a" in the outputs).
#pragma once

#include <QList>
#include <QString>
#include <cstdint>

#include "cxr/assistant/label_table.h"

namespace cxr::assistant {

enum class UncertainPolicy { Positive, Negative, Ignore };
QString uncertainPolicyName(UncertainPolicy policy);  // "positive", "negative", "ignore"
bool parseUncertainPolicy(const QString& text, UncertainPolicy* out);
// One sentence saying how labels were counted (for the outputs).
QString conventionText(UncertainPolicy policy);

// 1 positive, 0 negative, -1 left out (uncertain under Ignore).
int binaryLabel(const LabelCode& code, UncertainPolicy policy);

struct Confusion {
  long long tp = 0, fp = 0, fn = 0, tn = 0;
};
struct BinaryScores {
  double precision = 0, recall = 0, f1 = 0, specificity = 0;
};
BinaryScores scoresOf(const Confusion& c);

struct Interval {
  double low = 0, high = 0;
};

struct FindingMetrics {
  QString name;            // CheXpert column name
  Confusion confusion;
  long long support = 0;   // reference positives (tp + fn)
  long long evaluated = 0; // items counted for this finding
  long long ignored = 0;   // items left out (uncertain under Ignore)
  BinaryScores scores;
  Interval ciPrecision, ciRecall, ciF1, ciSpecificity;
};

struct MatchedPair {
  FindingLabels predicted;
  FindingLabels reference;
};

struct EvaluationMetrics {
  UncertainPolicy policy = UncertainPolicy::Negative;
  QList<FindingMetrics> findings;  // allFindings() order
  double macroF1 = 0, microF1 = 0;
  Interval ciMacroF1, ciMicroF1;
  int bootstrapSamples = 0;
  std::uint64_t seed = 0;
  long long matched = 0;
};

// Counts, scores and bootstrap intervals (bootstrapSamples 0: intervals equal the point values).
EvaluationMetrics computeMetrics(const QList<MatchedPair>& pairs, UncertainPolicy policy,
                                 int bootstrapSamples = 1000, std::uint64_t seed = 20240229);

// How far two labelings of the same items agree, per finding: exact agreement of the four values
// (present / absent / uncertain / not mentioned) and Cohen's kappa of the binary labels under the
// policy. kappa is NaN when it is undefined (both labelings constant).
struct LabelAgreement {
  QString name;
  long long compared = 0;
  long long exactAgreements = 0;
  double agreement = 0;  // exactAgreements / compared
  double kappa = 0;
};
QList<LabelAgreement> labelAgreement(const QList<MatchedPair>& pairs, UncertainPolicy policy);

}  // namespace cxr::assistant
