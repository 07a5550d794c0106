#include "cxr/assistant/text_overlap.h"

#include <QHash>
#include <QRegularExpression>
#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr::assistant {

QStringList overlapTokens(const QString& text) {
  // A token is a run of letters/digits, with inner '.', ',' or '-' kept between digits ("1.5").
  static const QRegularExpression token(QStringLiteral(R"([\p{L}\p{N}]+(?:[.,][\p{N}]+)*)"));
  QStringList out;
  auto it = token.globalMatch(text);
  while (it.hasNext()) out.push_back(it.next().captured().toLower());
  return out;
}

namespace {

QHash<QString, int> ngramCounts(const QStringList& tokens, int n) {
  QHash<QString, int> counts;
  for (qsizetype i = 0; i + n <= tokens.size(); ++i) {
    // Tokens never contain a space, so a space-joined key identifies the n-gram.
    ++counts[tokens.mid(i, n).join(u' ')];
  }
  return counts;
}

}  // namespace

BleuScore corpusBleu4(const QList<QStringList>& hypotheses, const QList<QStringList>& references) {
  BleuScore s;
  const qsizetype pairs = std::min(hypotheses.size(), references.size());
  for (qsizetype k = 0; k < pairs; ++k) {
    const QStringList& hyp = hypotheses[k];
    const QStringList& ref = references[k];
    s.hypothesisLength += hyp.size();
    s.referenceLength += ref.size();
    for (int n = 1; n <= 4; ++n) {
      const auto hypCounts = ngramCounts(hyp, n);
      const auto refCounts = ngramCounts(ref, n);
      for (auto it = hypCounts.cbegin(); it != hypCounts.cend(); ++it) {
        s.candidates[size_t(n - 1)] += it.value();
        s.matches[size_t(n - 1)] += std::min(it.value(), refCounts.value(it.key(), 0));  // clipped count
      }
    }
  }
  double logSum = 0.0;
  bool anyZero = false;
  for (size_t n = 0; n < 4; ++n) {
    s.precisions[n] = s.candidates[n] > 0 ? double(s.matches[n]) / double(s.candidates[n]) : 0.0;
    if (s.precisions[n] <= 0.0) anyZero = true;
    else logSum += std::log(s.precisions[n]);
  }
  const double c = double(s.hypothesisLength), r = double(s.referenceLength);
  s.brevityPenalty = c <= 0.0 ? 0.0 : (c > r ? 1.0 : std::exp(1.0 - r / c));
  s.bleu = anyZero ? 0.0 : s.brevityPenalty * std::exp(logSum / 4.0);
  return s;
}

RougeL rougeL(const QStringList& hypothesis, const QStringList& reference) {
  RougeL out;
  const qsizetype m = hypothesis.size(), n = reference.size();
  if (m == 0 || n == 0) return out;
  // Classic dynamic programme over two rows: lcs[j] = LCS of hypothesis[0..i) and reference[0..j).
  std::vector<int> previous(size_t(n + 1), 0), current(size_t(n + 1), 0);
  for (qsizetype i = 1; i <= m; ++i) {
    for (qsizetype j = 1; j <= n; ++j)
      current[size_t(j)] = hypothesis[i - 1] == reference[j - 1]
                               ? previous[size_t(j - 1)] + 1
                               : std::max(previous[size_t(j)], current[size_t(j - 1)]);
    std::swap(previous, current);
  }
  const double lcs = previous[size_t(n)];
  out.precision = lcs / double(m);
  out.recall = lcs / double(n);
  out.f1 = lcs > 0 ? 2.0 * out.precision * out.recall / (out.precision + out.recall) : 0.0;
  return out;
}

}  // namespace cxr::assistant
