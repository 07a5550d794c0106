#include "cxr/assistant/findings.h"

#include <QRegularExpression>
#include <algorithm>
#include <vector>

namespace cxr::assistant {
namespace {

using Re = QRegularExpression;
constexpr auto kCi = QRegularExpression::CaseInsensitiveOption;

Re re(const char* pattern) { return Re(QString::fromUtf8(pattern), kCi); }

// ---- Vocabulary ------------------------------------------------------------------------------

struct FindingVocabulary {
  Finding finding;
  std::vector<Re> mentions;       // phrases that name the finding
  std::vector<Re> absentPhrases;  // phrases that state it is absent without a negation cue
  std::vector<Re> borderline;     // phrases that leave it uncertain on their own
  Re exclude;                     // mention is about something else when this directly precedes it
};

const std::vector<FindingVocabulary>& vocabulary() {
  static const std::vector<FindingVocabulary> table = [] {
    std::vector<FindingVocabulary> t;
    t.push_back({Finding::Atelectasis,
                 // Not "volume loss": it has other causes, and the CheXpert labeler does not count it either
                 // (IU X-ray uid 41, "mild left-sided volume loss" in fibrosis, coded volume loss only).
                 {re(R"(\batelecta\w*)"), re(R"(\b(?:lobar|segmental) collapse\b)")},
                 {},
                 {},
                 Re()});
    t.push_back({Finding::Cardiomegaly,
                 {re(R"(\bcardiomegaly\b)"),
                  re(R"(\bcardiac enlargement\b)"),
                  re(R"(\benlarge(?:d|ment of the) (?:cardiac silhouette|cardiac shadow|heart(?: size)?|cardiomediastinal silhouette)\b)"),
                  re(R"(\b(?:cardiac silhouette|cardiac shadow|heart size|heart|cardiomediastinal silhouette)(?: (?:is|are|appears|remains|seems))?(?: (?:mildly|moderately|severely|markedly|slightly))? (?:enlarged|increased)\b)")},
                 {re(R"(\b(?:heart size|cardiac size|size of the heart|cardiac silhouette|cardiomediastinal silhouette|heart|cardiac shadow|cardiomediastinal contours?)(?: (?:is|are|appears|remains))? (?:normal|within normal limits|unremarkable|not enlarged|stable and normal)\b)"),
                  re(R"(\bnormal (?:heart size|cardiac size|heart|cardiac silhouette|cardiomediastinal silhouette|cardiomediastinal contours?|cardiac contours?)\b)"),
                  // Real reports name the heart with its neighbours: "The cardiac silhouette and mediastinum
                  // size are within normal limits", "Heart and mediastinum of normal size and contour",
                  // "The heart, pulmonary vasculature and mediastinum are within normal limits".
                  re(R"(\b(?:heart|cardiac|cardio ?mediastinal)\b(?:(?!\benlarg|\bincreas|\bexcept|\bbut\b)[^.;:]){0,70}?\b(?:normal|within (?:normal )?limits(?: of normal)?|unremarkable|not enlarged)\b)"),
                  // "Upper limits of normal" / "top-normal" is normal size: the IU X-ray indexers coded such
                  // reports normal (uids 64, 71, 104) and "borderline" ones as borderline cardiomegaly.
                  re(R"(\b(?:upper limits? of normal|top[- ]normal)\b)")},
                 {re(R"(\bborderline (?:enlarged|enlargement|cardiomegaly|heart size|cardiac silhouette)\b)")},
                 Re()});
    t.push_back({Finding::Consolidation, {re(R"(\bconsolidat\w*)")}, {}, {}, Re()});
    t.push_back({Finding::PulmonaryEdema,
                 {re(R"(\b(?:pulmonary |interstitial |alveolar |perihilar )?o?edema\b)"),
                  re(R"(\b(?:pulmonary )?vascular congestion\b)"), re(R"(\bkerley\b)"),
                  // As the CheXpert labeler counts them (its edema mention list).
                  re(R"(\b(?:pulmonary )?vascular prominence\b)"), re(R"(\b(?:congestive )?heart failure\b)"),
                  re(R"(\bchf\b)")},
                 {},
                 {},
                 // Soft-tissue or other non-pulmonary oedema is not pulmonary edema.
                 re(R"((?:soft[- ]tissue|subcutaneous|chest wall|mucosal|bowel wall|periportal|extremity|facial|scalp)\s+$)")});
    t.push_back({Finding::PleuralEffusion,
                 {re(R"(\b(?:pleural )?effusions?\b)"), re(R"(\bpleural fluid\b)"),
                  re(R"(\bblunting of the (?:(?:left|right|bilateral|both) )?costophrenic angles?\b)"),
                  re(R"(\bhydrothorax\b)")},
                 {},
                 {},
                 re(R"((?:pericardial|joint|knee|peritoneal)\s+$)")});
    t.push_back({Finding::Pneumothorax,
                 {re(R"(\b(?:hydro)?pneumothora(?:x|ces)\b)"), re(R"(\bptx\b)")}, {}, {}, Re()});
    return t;
  }();
  return table;
}

// ---- Cues ------------------------------------------------------------------------------------

enum class CueKind { PreNegation, PreHedge, PostNegation, PostHedge, Pseudo, Terminator };

struct CuePattern {
  CueKind kind;
  Re pattern;
};

const std::vector<CuePattern>& cuePatterns() {
  // Order matters: earlier patterns claim their characters first, so multi-word hedges that
  // contain a negation word ("cannot exclude", "not ruled out") and pseudo-negations ("no change")
  // are never read as plain negations.
  static const std::vector<CuePattern> table = {
      {CueKind::Pseudo, re(R"(\b(?:no|without) (?:significant |interval |substantial |appreciable )?(?:change|increase|decrease|worsening|improvement|progression)(?: (?:in|of))?\b)")},
      {CueKind::Pseudo, re(R"(\bnot only\b)")},
      {CueKind::PostHedge, re(R"(\b(?:cannot|can ?not|could not|can't) be (?:excluded|ruled out|entirely excluded|completely excluded)\b)")},
      {CueKind::PostHedge, re(R"(\b(?:is|are) not (?:excluded|ruled out)\b)")},
      {CueKind::PostHedge, re(R"(\bnot (?:entirely |completely )?(?:excluded|ruled out)\b)")},
      {CueKind::PostHedge, re(R"(\b(?:is|are) (?:suspected|possible|likely|probable|questioned|not entirely clear)\b)")},
      {CueKind::PostHedge, re(R"(\b(?:may|might|could) be (?:present|seen|developing)\b)")},
      {CueKind::PostHedge, re(R"(\bversus\b|\bvs\.?(?=\s))")},
      {CueKind::PreHedge, re(R"(\b(?:cannot|can ?not|can't|could not|does not|do not|did not|unable to) (?:entirely |completely |definitely )?(?:exclude|rule out|be excluded)\b)")},
      {CueKind::PreHedge, re(R"(\b(?:possible|possibly|probable|probably|likely|questionable|equivocal|indeterminate|suspected|presumed|may represent|may reflect|may be|might be|could be|could represent|suggestive of|suggests|suggesting|suspicious for|suspicious of|concerning for|worrisome for|question of|differential (?:diagnosis )?(?:includes?|of)|versus|vs\.?(?=\s)|cannot be differentiated from|borderline)\b)")},
      // Structured reports: "Pneumothorax: none."
      {CueKind::PostNegation, re(R"(:\s*(?:none|no|negative|absent|not seen)\b)")},
      // "Resolved right pneumothorax" (before the mention; "the effusion has resolved" is a post cue).
      {CueKind::PreNegation, re(R"(\b(?:resolved|cleared)(?=\s+(?!and\b|or\b|but\b)[a-z]))")},
      {CueKind::PostNegation, re(R"(\b(?:is|are|was|were) (?:not|no longer) (?:seen|identified|present|visualized|visualised|demonstrated|appreciated|evident|noted|detected|observed)\b)")},
      {CueKind::PostNegation, re(R"(\b(?:not|no longer) (?:seen|identified|present|visualized|visualised|demonstrated|appreciated|evident|noted|detected|observed)\b)")},
      {CueKind::PostNegation, re(R"(\b(?:is|are|has|have)? ?(?:absent|resolved|cleared|excluded|ruled out)\b)")},
      {CueKind::PreNegation, re(R"(\b(?:no evidence of|no signs? of|no radiographic evidence of|no definite|no convincing|no obvious|negative for|absence of|free of|clear of|without|resolution of|no|not|nor|neither)\b)")},
      // Scope ends: a new clause or a new statement.
      {CueKind::Terminator, re(R"(\b(?:but|however|although|though|except|apart from|aside from|whereas|while|yet|which|otherwise)\b|;|\b(?:and|,)\s+(?:the|there)\b|\bthere (?:is|are)\b|\b(?:is|are|was|were|has|have|appears?|remains?|seen|noted|present|identified|demonstrated|shows?)\b)")},
  };
  return table;
}

struct Cue {
  CueKind kind;
  int start, end;
  QString text;
};

std::vector<Cue> findCues(const QString& sentence) {
  std::vector<Cue> cues;
  std::vector<bool> claimed(size_t(sentence.size()), false);
  for (const auto& cp : cuePatterns()) {
    auto it = cp.pattern.globalMatch(sentence);
    while (it.hasNext()) {
      const auto m = it.next();
      const int s = int(m.capturedStart()), e = int(m.capturedEnd());
      if (e <= s) continue;
      bool overlaps = false;
      if (cp.kind != CueKind::Terminator)  // terminators may sit inside other cues ("is not seen")
        for (int i = s; i < e; ++i) overlaps = overlaps || claimed[size_t(i)];
      if (overlaps) continue;
      if (cp.kind != CueKind::Terminator)
        for (int i = s; i < e; ++i) claimed[size_t(i)] = true;
      cues.push_back({cp.kind, s, e, m.captured().trimmed()});
    }
  }
  // A terminator inside a claimed cue ("is" in "is not seen") is part of that cue, not a break.
  std::erase_if(cues, [&](const Cue& c) {
    if (c.kind != CueKind::Terminator) return false;
    for (int i = c.start; i < c.end; ++i)
      if (claimed[size_t(i)]) return true;
    return false;
  });
  std::sort(cues.begin(), cues.end(), [](const Cue& a, const Cue& b) { return a.start < b.start; });
  return cues;
}

struct Mention {
  int start, end;
  QString text;
};

std::vector<Mention> findMentions(const QString& sentence, const FindingVocabulary& vocab) {
  std::vector<Mention> mentions;
  for (const auto& pattern : vocab.mentions) {
    auto it = pattern.globalMatch(sentence);
    while (it.hasNext()) {
      const auto m = it.next();
      const int s = int(m.capturedStart()), e = int(m.capturedEnd());
      if (vocab.exclude.isValid() && !vocab.exclude.pattern().isEmpty() &&
          vocab.exclude.match(sentence.left(s)).hasMatch())
        continue;
      const bool overlaps = std::any_of(mentions.begin(), mentions.end(),
                                        [&](const Mention& o) { return s < o.end && o.start < e; });
      if (!overlaps) mentions.push_back({s, e, m.captured()});
    }
  }
  std::sort(mentions.begin(), mentions.end(), [](const Mention& a, const Mention& b) { return a.start < b.start; });
  return mentions;
}

bool terminatorBetween(const std::vector<Cue>& cues, int from, int to) {
  return std::any_of(cues.begin(), cues.end(), [&](const Cue& c) {
    return c.kind == CueKind::Terminator && c.start >= from && c.end <= to;
  });
}

// Another finding's mention between a post cue and our mention does not break the list
// ("effusion and pneumothorax are not seen"), so only terminators matter.
FindingEvidence classifyMention(const QString& sentence, const std::vector<Cue>& cues, const Mention& m) {
  FindingEvidence ev;
  ev.mention = m.text;
  ev.status = FindingStatus::Present;
  // After the mention: a post-hedge or post-negation in the same clause.
  for (const Cue& c : cues) {
    if (c.start < m.end || terminatorBetween(cues, m.end, c.start)) continue;
    if (c.kind == CueKind::PostHedge) {
      ev.status = FindingStatus::Uncertain;
      ev.cue = c.text;
      return ev;
    }
    if (c.kind == CueKind::PostNegation) {
      ev.status = FindingStatus::Absent;
      ev.cue = c.text;
      break;  // a hedge before the mention still wins below ("possible effusion is not excluded")
    }
  }
  // Before the mention: the nearest negation or hedge whose scope reaches it.
  for (auto it = cues.rbegin(); it != cues.rend(); ++it) {
    const Cue& c = *it;
    if (c.end > m.start) continue;
    if (terminatorBetween(cues, c.end, m.start)) break;
    if (c.kind == CueKind::PreHedge || (c.kind == CueKind::PostHedge && c.text.startsWith(u'v'))) {
      ev.status = FindingStatus::Uncertain;
      ev.cue = c.text;
      return ev;
    }
    if (c.kind == CueKind::PreNegation) {
      ev.status = FindingStatus::Absent;
      ev.cue = c.text;
      return ev;
    }
    if (c.kind == CueKind::Pseudo) break;  // "no change in the effusion": affirmed
  }
  // "Subsegmental atelectasis or scarring", "scarring or atelectasis": an affirmed finding offered as
  // one of two explanations is a differential, so uncertain. (A negated list, "no effusion or
  // pneumothorax", was decided above.)
  static const Re orAfter = re(R"(^\s*,?\s+or\s+(?!no\b|not\b)\w)");
  static const Re orBefore = re(R"(\w,?\s+or\s+(?:[a-z]+\s+){0,2}$)");
  if (orAfter.match(sentence.mid(m.end)).hasMatch() || orBefore.match(sentence.left(m.start)).hasMatch()) {
    ev.status = FindingStatus::Uncertain;
    ev.cue = QStringLiteral("or");
  }
  return ev;
}

int rank(FindingStatus s) {
  switch (s) {
    case FindingStatus::NotMentioned: return 0;
    case FindingStatus::Absent: return 1;
    case FindingStatus::Uncertain: return 2;
    case FindingStatus::Present: return 3;
  }
  return 0;
}

QList<FindingEvidence> classifyInSentence(const Sentence& sentence, const FindingVocabulary& vocab) {
  QList<FindingEvidence> out;
  const auto cues = findCues(sentence.text);
  for (const auto& m : findMentions(sentence.text, vocab)) {
    FindingEvidence ev = classifyMention(sentence.text, cues, m);
    ev.sentence = sentence.text;
    ev.sentenceStart = sentence.start;
    out.push_back(ev);
  }
  auto addPhrase = [&](const Re& pattern, FindingStatus status) {
    const auto match = pattern.match(sentence.text);
    if (!match.hasMatch()) return;
    FindingEvidence ev;
    ev.status = status;
    ev.mention = match.captured();
    ev.sentence = sentence.text;
    ev.sentenceStart = sentence.start;
    out.push_back(ev);
  };
  for (const auto& p : vocab.borderline) addPhrase(p, FindingStatus::Uncertain);
  if (out.isEmpty())  // "heart size is normal" only counts when nothing stronger was said
    for (const auto& p : vocab.absentPhrases) addPhrase(p, FindingStatus::Absent);
  return out;
}

}  // namespace

QString findingName(Finding finding) {
  switch (finding) {
    case Finding::Atelectasis: return QStringLiteral("Atelectasis");
    case Finding::Cardiomegaly: return QStringLiteral("Cardiomegaly");
    case Finding::Consolidation: return QStringLiteral("Consolidation");
    case Finding::PulmonaryEdema: return QStringLiteral("Pulmonary edema");
    case Finding::PleuralEffusion: return QStringLiteral("Pleural effusion");
    case Finding::Pneumothorax: return QStringLiteral("Pneumothorax");
  }
  return {};
}

QString findingStatusName(FindingStatus status) {
  switch (status) {
    case FindingStatus::NotMentioned: return QStringLiteral("not mentioned");
    case FindingStatus::Absent: return QStringLiteral("absent");
    case FindingStatus::Uncertain: return QStringLiteral("uncertain");
    case FindingStatus::Present: return QStringLiteral("present");
  }
  return {};
}

QList<Finding> allFindings() {
  return {Finding::Atelectasis, Finding::Cardiomegaly, Finding::Consolidation,
          Finding::PulmonaryEdema, Finding::PleuralEffusion, Finding::Pneumothorax};
}

QList<Sentence> splitSentences(const QString& report) {
  // A sentence ends at . ! ? followed by whitespace, or at a line break. Abbreviations that end in
  // a period ("vs.", "e.g.", "approx.") do not end a sentence; "1.5 cm" has no space after the dot.
  static const Re abbreviation = re(R"((?:\bvs|\be\.g|\bi\.e|\bapprox|\bcf|\bDr)\.$)");
  QList<Sentence> out;
  int start = 0;
  auto flush = [&](int end) {
    int first = start;
    while (first < end && report.at(first).isSpace()) ++first;
    int last = end;
    while (last > first && report.at(last - 1).isSpace()) --last;
    if (last > first) out.push_back({report.mid(first, last - first), first});
    start = end;
  };
  for (int i = 0; i < report.size(); ++i) {
    const QChar c = report.at(i);
    if (c == u'\n') {
      flush(i + 1);
      continue;
    }
    if ((c == u'.' || c == u'!' || c == u'?') && (i + 1 == report.size() || report.at(i + 1).isSpace())) {
      if (c == u'.' && abbreviation.match(report.mid(start, i + 1 - start)).hasMatch()) continue;
      flush(i + 1);
    }
  }
  flush(int(report.size()));
  return out;
}

FindingStatus classifySentence(const QString& sentence, Finding finding) {
  for (const auto& vocab : vocabulary()) {
    if (vocab.finding != finding) continue;
    FindingStatus best = FindingStatus::NotMentioned;
    for (const auto& ev : classifyInSentence({sentence, 0}, vocab))
      if (rank(ev.status) > rank(best)) best = ev.status;
    return best;
  }
  return FindingStatus::NotMentioned;
}

QList<FindingResult> classifyFindings(const QString& report) {
  const auto sentences = splitSentences(report);
  QList<FindingResult> results;
  for (const auto& vocab : vocabulary()) {
    FindingResult result;
    result.finding = vocab.finding;
    for (const auto& sentence : sentences)
      for (const auto& ev : classifyInSentence(sentence, vocab)) {
        result.evidence.push_back(ev);
        if (rank(ev.status) > rank(result.status)) {
          result.status = ev.status;
          result.decisive = ev;
        }
      }
    results.push_back(result);
  }
  return results;
}

}  // namespace cxr::assistant
