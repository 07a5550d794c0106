#include "cxr/assistant/evaluation_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace cxr::assistant {

QString uncertainPolicyName(UncertainPolicy policy) {
  switch (policy) {
    case UncertainPolicy::Positive: return QStringLiteral("positive");
    case UncertainPolicy::Negative: return QStringLiteral("negative");
    case UncertainPolicy::Ignore: return QStringLiteral("ignore");
  }
  return {};
}

bool parseUncertainPolicy(const QString& text, UncertainPolicy* out) {
  for (auto p : {UncertainPolicy::Positive, UncertainPolicy::Negative, UncertainPolicy::Ignore})
    if (text == uncertainPolicyName(p)) {
      *out = p;
      return true;
    }
  return false;
}

QString conventionText(UncertainPolicy policy) {
  QString uncertain;
  switch (policy) {
    case UncertainPolicy::Positive: uncertain = QStringLiteral("uncertain (-1) counts as positive"); break;
    case UncertainPolicy::Negative: uncertain = QStringLiteral("uncertain (-1) counts as negative"); break;
    case UncertainPolicy::Ignore:
      uncertain = QStringLiteral("an item uncertain (-1) on either side is left out of that finding");
      break;
  }
  return uncertain + QStringLiteral(", in predictions and labels alike; blank (not mentioned) counts as "
                                    "negative; a ratio with a zero denominator is 0.");
}

int binaryLabel(const LabelCode& code, UncertainPolicy policy) {
  if (!code) return 0;
  if (*code == 1) return 1;
  if (*code == 0) return 0;
  switch (policy) {
    case UncertainPolicy::Positive: return 1;
    case UncertainPolicy::Negative: return 0;
    case UncertainPolicy::Ignore: return -1;
  }
  return 0;
}

BinaryScores scoresOf(const Confusion& c) {
  auto ratio = [](long long num, long long den) { return den > 0 ? double(num) / double(den) : 0.0; };
  BinaryScores s;
  s.precision = ratio(c.tp, c.tp + c.fp);
  s.recall = ratio(c.tp, c.tp + c.fn);
  s.f1 = ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);  // = 2PR/(P+R), and 0 when tp = 0
  s.specificity = ratio(c.tn, c.tn + c.fp);
  return s;
}

namespace {

// Per item and finding: 0 tn, 1 fp, 2 fn, 3 tp, -1 left out.
using Outcomes = std::vector<std::array<signed char, kLabelFindingCount>>;

Outcomes outcomesOf(const QList<MatchedPair>& pairs, UncertainPolicy policy) {
  Outcomes out(size_t(pairs.size()));
  for (qsizetype i = 0; i < pairs.size(); ++i)
    for (int f = 0; f < kLabelFindingCount; ++f) {
      const int p = binaryLabel(pairs[i].predicted[size_t(f)], policy);
      const int r = binaryLabel(pairs[i].reference[size_t(f)], policy);
      out[size_t(i)][size_t(f)] = (p < 0 || r < 0) ? -1 : static_cast<signed char>(2 * r + p);
    }
  return out;
}

void add(Confusion& c, signed char outcome) {
  switch (outcome) {
    case 0: ++c.tn; break;
    case 1: ++c.fp; break;
    case 2: ++c.fn; break;
    case 3: ++c.tp; break;
    default: break;
  }
}

// numpy.percentile's default (linear interpolation between the closest ranks).
double percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double position = q * double(values.size() - 1);
  const size_t below = size_t(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double weight = position - double(below);
  return values[below] * (1.0 - weight) + values[above] * weight;
}

Interval interval(const std::vector<double>& values) { return {percentile(values, 0.025), percentile(values, 0.975)}; }

}  // namespace

EvaluationMetrics computeMetrics(const QList<MatchedPair>& pairs, UncertainPolicy policy, int bootstrapSamples,
                                 std::uint64_t seed) {
  EvaluationMetrics m;
  m.policy = policy;
  m.bootstrapSamples = std::max(0, bootstrapSamples);
  m.seed = seed;
  m.matched = pairs.size();
  const Outcomes outcomes = outcomesOf(pairs, policy);
  const QStringList names = chexpertColumnNames();

  auto summarise = [&](const std::vector<size_t>* sample, std::array<Confusion, kLabelFindingCount>& perFinding) {
    perFinding = {};
    const size_t n = sample ? sample->size() : outcomes.size();
    for (size_t k = 0; k < n; ++k) {
      const auto& row = outcomes[sample ? (*sample)[k] : k];
      for (int f = 0; f < kLabelFindingCount; ++f) add(perFinding[size_t(f)], row[size_t(f)]);
    }
  };
  auto macroMicro = [](const std::array<Confusion, kLabelFindingCount>& perFinding, double* macro, double* micro) {
    Confusion total;
    double sum = 0;
    for (const Confusion& c : perFinding) {
      sum += scoresOf(c).f1;
      total.tp += c.tp, total.fp += c.fp, total.fn += c.fn, total.tn += c.tn;
    }
    *macro = sum / kLabelFindingCount;
    *micro = scoresOf(total).f1;
  };

  std::array<Confusion, kLabelFindingCount> point;
  summarise(nullptr, point);
  for (int f = 0; f < kLabelFindingCount; ++f) {
    FindingMetrics fm;
    fm.name = names[f];
    fm.confusion = point[size_t(f)];
    fm.support = fm.confusion.tp + fm.confusion.fn;
    fm.evaluated = fm.confusion.tp + fm.confusion.fp + fm.confusion.fn + fm.confusion.tn;
    fm.ignored = m.matched - fm.evaluated;
    fm.scores = scoresOf(fm.confusion);
    fm.ciPrecision = {fm.scores.precision, fm.scores.precision};
    fm.ciRecall = {fm.scores.recall, fm.scores.recall};
    fm.ciF1 = {fm.scores.f1, fm.scores.f1};
    fm.ciSpecificity = {fm.scores.specificity, fm.scores.specificity};
    m.findings.push_back(fm);
  }
  macroMicro(point, &m.macroF1, &m.microF1);
  m.ciMacroF1 = {m.macroF1, m.macroF1};
  m.ciMicroF1 = {m.microF1, m.microF1};
  if (m.bootstrapSamples == 0 || outcomes.empty()) return m;

  // Percentile bootstrap: resample the items with replacement, recompute everything.
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, outcomes.size() - 1);
  std::vector<size_t> sample(outcomes.size());
  std::array<std::array<std::vector<double>, 4>, kLabelFindingCount> perFinding;
  std::vector<double> macros, micros;
  for (int b = 0; b < m.bootstrapSamples; ++b) {
    for (size_t& index : sample) index = pick(rng);
    std::array<Confusion, kLabelFindingCount> counts;
    summarise(&sample, counts);
    // A resample in which a ratio is undefined (say no positive label and no positive prediction
    // for F1) says nothing about it: it is left out of that ratio's interval rather than counted as 0.
    for (int f = 0; f < kLabelFindingCount; ++f) {
      const Confusion& k = counts[size_t(f)];
      const BinaryScores s = scoresOf(k);
      if (k.tp + k.fp > 0) perFinding[size_t(f)][0].push_back(s.precision);
      if (k.tp + k.fn > 0) perFinding[size_t(f)][1].push_back(s.recall);
      if (k.tp + k.fp + k.fn > 0) perFinding[size_t(f)][2].push_back(s.f1);
      if (k.tn + k.fp > 0) perFinding[size_t(f)][3].push_back(s.specificity);
    }
    double macro = 0, micro = 0;
    macroMicro(counts, &macro, &micro);
    macros.push_back(macro);
    micros.push_back(micro);
  }
  for (int f = 0; f < kLabelFindingCount; ++f) {
    FindingMetrics& fm = m.findings[f];
    fm.ciPrecision = interval(perFinding[size_t(f)][0]);
    fm.ciRecall = interval(perFinding[size_t(f)][1]);
    fm.ciF1 = interval(perFinding[size_t(f)][2]);
    fm.ciSpecificity = interval(perFinding[size_t(f)][3]);
  }
  m.ciMacroF1 = interval(macros);
  m.ciMicroF1 = interval(micros);
  return m;
}

QList<LabelAgreement> labelAgreement(const QList<MatchedPair>& pairs, UncertainPolicy policy) {
  QList<LabelAgreement> out;
  const QStringList names = chexpertColumnNames();
  for (int f = 0; f < kLabelFindingCount; ++f) {
    LabelAgreement a;
    a.name = names[f];
    long long both = 0, firstPositive = 0, secondPositive = 0, binaryAgree = 0;
    for (const MatchedPair& p : pairs) {
      ++a.compared;
      if (p.predicted[size_t(f)] == p.reference[size_t(f)]) ++a.exactAgreements;
      const int x = binaryLabel(p.predicted[size_t(f)], policy), y = binaryLabel(p.reference[size_t(f)], policy);
      if (x < 0 || y < 0) continue;
      ++both;
      firstPositive += x;
      secondPositive += y;
      binaryAgree += x == y;
    }
    a.agreement = a.compared > 0 ? double(a.exactAgreements) / double(a.compared) : 0.0;
    if (both == 0) {
      a.kappa = std::numeric_limits<double>::quiet_NaN();
    } else {
      const double n = double(both);
      const double po = double(binaryAgree) / n;
      const double p1 = double(firstPositive) / n, p2 = double(secondPositive) / n;
      const double pe = p1 * p2 + (1 - p1) * (1 - p2);
      a.kappa = pe >= 1.0 ? std::numeric_limits<double>::quiet_NaN() : (po - pe) / (1.0 - pe);
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace cxr::assistant
