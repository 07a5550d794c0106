// The conversation as the panel shows it and the exports print it: user turns, streamed answers,
// their results. Plain data + the bookkeeping of streaming (elapsed time, tokens/s).
#pragma once

#include "cxr/assistant/types.h"

#include <QList>
#include <QString>
#include <optional>

namespace cxr::assistant {

struct TranscriptEntry {
  enum class Role { User, Assistant };
  Role role = Role::User;
  RequestKind kind = RequestKind::Question;
  QString text;         // as shown: the question without "<image>\n", or the answer so far
  QString sentMessage;  // user entries: exactly what the engine received
  bool streaming = false;
  int streamedChunks = 0;
  qint64 startedMs = 0;     // monotonic clock (QElapsedTimer-based) when the turn started
  qint64 firstTokenMs = -1;
  qint64 lastTokenMs = -1;
  std::optional<AnswerResult> result;  // assistant entries once finished
  qint64 historyId = 0;                // row in the history database (0: not stored)
};

class Transcript {
 public:
  void beginExchange(const QString& sentMessage, RequestKind kind, qint64 nowMs);
  void appendChunk(const QString& chunk, qint64 nowMs);
  void finish(const AnswerResult& result);
  // Removes the last user+assistant pair (regenerate / edit). Returns the removed entries.
  QList<TranscriptEntry> dropLastExchange();
  void clear() { entries_.clear(); }
  void restore(QList<TranscriptEntry> entries) { entries_ = std::move(entries); }

  const QList<TranscriptEntry>& entries() const { return entries_; }
  QList<TranscriptEntry>& entries() { return entries_; }
  bool isEmpty() const { return entries_.isEmpty(); }
  bool isStreaming() const { return !entries_.isEmpty() && entries_.last().streaming; }
  int exchangeCount() const;
  // The text the checklist and "export report" use: the last answer to a report request, else
  // the last answer.
  QString reportText() const;
  const TranscriptEntry* lastUser() const;
  // "12.4 s · 5.1 tokens/s" while streaming or after; empty for user entries.
  static QString statsText(const TranscriptEntry& entry, qint64 nowMs);

 private:
  QList<TranscriptEntry> entries_;
};

}  // namespace cxr::assistant
