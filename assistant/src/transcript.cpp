#include "cxr/assistant/transcript.h"

#include "cxr/assistant/prompting.h"

namespace cxr::assistant {

void Transcript::beginExchange(const QString& sentMessage, RequestKind kind, qint64 nowMs) {
  TranscriptEntry user;
  user.role = TranscriptEntry::Role::User;
  user.kind = kind;
  user.sentMessage = sentMessage;
  user.text = displayedUserMessage(sentMessage);
  user.startedMs = nowMs;
  entries_.push_back(user);
  TranscriptEntry answer;
  answer.role = TranscriptEntry::Role::Assistant;
  answer.kind = kind;
  answer.streaming = true;
  answer.startedMs = nowMs;
  entries_.push_back(answer);
}

void Transcript::appendChunk(const QString& chunk, qint64 nowMs) {
  if (!isStreaming()) return;
  TranscriptEntry& e = entries_.last();
  e.text += chunk;
  ++e.streamedChunks;
  if (e.firstTokenMs < 0) e.firstTokenMs = nowMs;
  e.lastTokenMs = nowMs;
}

void Transcript::finish(const AnswerResult& result) {
  if (entries_.isEmpty() || entries_.last().role != TranscriptEntry::Role::Assistant) return;
  TranscriptEntry& e = entries_.last();
  e.streaming = false;
  e.text = result.text;  // authoritative (identical to the chunks when nothing was lost)
  e.result = result;
}

QList<TranscriptEntry> Transcript::dropLastExchange() {
  QList<TranscriptEntry> dropped;
  if (!entries_.isEmpty() && entries_.last().role == TranscriptEntry::Role::Assistant)
    dropped.prepend(entries_.takeLast());
  if (!entries_.isEmpty() && entries_.last().role == TranscriptEntry::Role::User)
    dropped.prepend(entries_.takeLast());
  return dropped;
}

int Transcript::exchangeCount() const {
  int n = 0;
  for (const auto& e : entries_) n += e.role == TranscriptEntry::Role::User;
  return n;
}

QString Transcript::reportText() const {
  for (auto it = entries_.crbegin(); it != entries_.crend(); ++it)
    if (it->role == TranscriptEntry::Role::Assistant && it->kind == RequestKind::Report) return it->text;
  for (auto it = entries_.crbegin(); it != entries_.crend(); ++it)
    if (it->role == TranscriptEntry::Role::Assistant) return it->text;
  return {};
}

const TranscriptEntry* Transcript::lastUser() const {
  for (auto it = entries_.crbegin(); it != entries_.crend(); ++it)
    if (it->role == TranscriptEntry::Role::User) return &*it;
  return nullptr;
}

QString Transcript::statsText(const TranscriptEntry& e, qint64 nowMs) {
  if (e.role != TranscriptEntry::Role::Assistant) return {};
  if (e.result) {
    const Timings& t = e.result->timings;
    const double total = t.preprocessSeconds + t.visionSeconds + t.prefillSeconds + t.decodeSeconds;
    QString s = QStringLiteral("%1 s · %2 tokens · %3 tokens/s · seed %4")
                    .arg(total, 0, 'f', 1)
                    .arg(t.decodeTokens)
                    .arg(t.decodeTokensPerSecond(), 0, 'f', 1)
                    .arg(e.result->seed);
    if (e.result->stopReason != StopReason::EndOfSequence) s += QStringLiteral(" · ") + e.result->stopReasonText();
    return s;
  }
  const double elapsed = double(nowMs - e.startedMs) / 1000.0;
  QString s = QStringLiteral("%1 s").arg(elapsed, 0, 'f', 1);
  if (e.firstTokenMs >= 0 && e.lastTokenMs > e.firstTokenMs && e.streamedChunks > 1) {
    const double rate = double(e.streamedChunks - 1) / (double(e.lastTokenMs - e.firstTokenMs) / 1000.0);
    s += QStringLiteral(" · %1 tokens/s").arg(rate, 0, 'f', 1);
  }
  return s;
}

}  // namespace cxr::assistant
