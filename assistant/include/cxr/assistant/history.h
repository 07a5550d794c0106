// Conversation history in SQLite (Qt SQL): nothing a user saw may be lost.
//
// Written as it streams: the assistant's message row exists (complete = 0) before the first token
// and every chunk is appended in its own small transaction (or a few together, see CommitPolicy).
// WAL with synchronous=NORMAL makes a commit a plain write() into the -wal file, no fsync, so a
// killed process (kill -9, crash) loses at most the chunk it was appending; only a power cut can
// lose the last commits. Deleting is soft (deleted_at) so it can be undone.
//
// Nothing is lost silently either: opening runs PRAGMA quick_check, a damaged or truncated file is
// kept aside (renamed with a timestamp, its -wal/-shm along) and never overwritten, a read-only one
// is opened for reading, and every failed write is reported (condition(), the failure handler) for
// the window to show until the user acts. The folder is created 0700 and the files 0600: they hold
// reports, questions and full image paths.
//
// Single-thread use (the GUI thread): each HistoryStore has its own named connection.
#pragma once

#include "cxr/assistant/types.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QList>
#include <QString>
#include <chrono>
#include <functional>
#include <optional>

class QSqlError;

namespace cxr::assistant {

struct ImageProvenance {
  QString path;
  QString sha256;
  QString windowText;  // window the model input was rendered with, e.g. "default window C 2048 W 4096"
};

struct ModelIdentity {
  QString folder;
  QString configSha256;
  QString weightIndexSha256;
  QString device;
  QString dtype;
  static ModelIdentity from(const ModelInfo& info);
};

struct MessageRecord {
  qint64 id = 0;
  int seq = 0;
  QString role;         // "user" or "assistant"
  QString content;      // what the chat shows (the answer text; the question without "<image>\n")
  QString sentMessage;  // user rows: the exact message sent to the engine
  bool complete = true; // false: an answer that was still streaming when the program ended
  QString stopReason;
  std::optional<SamplingSettings> sampling;  // assistant rows
  QString timingsJson;
  QDateTime createdAt, finishedAt;
};

struct ConversationRecord {
  qint64 id = 0;
  QString title;
  ImageProvenance image;
  ModelIdentity model;
  QDateTime createdAt, updatedAt;
  bool deleted = false;
  QList<MessageRecord> messages;  // filled by HistoryStore::conversation()
};

struct HistoryQuery {
  QString text;           // substring of any message or the title (case-insensitive for ASCII)
  QString image;          // substring of the image path, or its full sha256
  QDate from, to;         // inclusive, by creation date (UTC); invalid = open
  bool includeDeleted = false;
};

// What opening (or writing) the history found. Everything but Healthy is shown in the window until
// the user acts.
enum class HistoryCondition {
  Healthy,      // open for reading and writing
  Truncated,    // the file was empty (0 bytes), which a history we created never is: it was kept
                // aside (keptAsidePath()) and a new, empty history was started
  Damaged,      // quick_check or a read/write found corruption: kept aside; nothing is open until
                // startNewHistory() or openKeptAsideReadOnly()
  ReadOnly,     // the file or its folder is not writable (or the kept-aside copy is being read):
                // open for reading, nothing is saved (readOnlyReason())
  WriteFailed,  // a write failed (disk full, I/O error...): the last one's error is errorString()
  Unavailable,  // cannot be created or opened at all
};

class HistoryStore {
 public:
  enum class Access { ReadWrite, ReadOnly };
  // What to do with a truncated or damaged file: keep it aside (the window, where the user sees it
  // and chooses), or leave it where it is for the window's next start (a scripted run, whose
  // warning on stderr a person may never read).
  enum class Repair { KeepAside, LeaveInPlace };
  // Opens (creating if needed) the database file. Check condition()/isOpen()/errorString().
  explicit HistoryStore(const QString& databasePath, Access access = Access::ReadWrite,
                        Repair repair = Repair::KeepAside);
  ~HistoryStore();
  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;

  bool isOpen() const { return open_; }          // can be read
  bool isWritable() const { return writable_; }  // new conversations are saved
  HistoryCondition condition() const { return condition_; }
  QString errorString() const { return error_; }
  // One paragraph for a person: what is wrong, with which file, where it was kept, what saving does.
  QString conditionText() const;
  QString readOnlyReason() const { return readOnlyReason_; }
  QString keptAsidePath() const { return keptAside_; }  // empty: nothing was moved
  QString path() const { return path_; }                // the file open now
  QString homePath() const { return homePath_; }        // the history's own path (given to the constructor)
  static QString defaultPath();  // <AppDataLocation>/history.sqlite

  // Called with a message naming the file whenever a write fails (the window shows it).
  void setWriteFailureHandler(std::function<void(const QString&)> handler) { onWriteFailure_ = std::move(handler); }

  // The user's choices after a problem. startNewHistory keeps whatever is at homePath() aside (never
  // overwritten) and opens a new, empty, writable history there. openKeptAsideReadOnly reads the
  // copy kept aside (what can be read of it); nothing is saved meanwhile.
  bool startNewHistory();
  bool openKeptAsideReadOnly();
  // Tries the home path again (a fixed permission, a freed disk).
  bool retry();

  // Renames `path` to `path.damaged-YYYYMMDD-HHMMSS` (-2, -3... if taken) with its -wal and -shm
  // files; returns the new path, or empty with *error set.
  static QString keepAside(const QString& path, QString* error);

  qint64 createConversation(const QString& title, const ImageProvenance& image, const ModelIdentity& model);
  qint64 addUserMessage(qint64 conversationId, const QString& shown, const QString& sent);
  // An empty, incomplete assistant row that chunks are appended to.
  qint64 beginAssistantMessage(qint64 conversationId, const SamplingSettings& sampling);
  bool appendToMessage(qint64 messageId, const QString& text);  // one transaction
  bool finishAssistantMessage(qint64 messageId, const AnswerResult& result);
  // Regenerate / edit: the dropped exchange stays in the history, marked as superseded.
  bool markSuperseded(qint64 messageId);

  QList<ConversationRecord> search(const HistoryQuery& query) const;  // newest first, no messages
  std::optional<ConversationRecord> conversation(qint64 id) const;    // with messages
  // Why the last search() or conversation() returned less than was asked (a damaged page); empty
  // when everything was read.
  QString readError() const { return readError_; }
  bool softDelete(qint64 conversationId);
  bool undoDelete(qint64 conversationId);
  int purgeDeletedBefore(const QDateTime& cutoff);

  static QString timestamp(const QDateTime& t);  // ISO-8601 UTC with milliseconds (sorts as text)

 private:
  bool open(const QString& path, Access access);
  bool openReadOnly(const QString& path, const QString& reason);
  bool connect(const QString& name, const QString& options);
  void close();
  bool exec(const QString& sql);
  bool canWrite() const;
  bool writeFailed(const QSqlError& error, const char* what);
  QString connectionName_;
  QString homePath_;
  QString path_;
  bool open_ = false;
  bool writable_ = false;
  HistoryCondition condition_ = HistoryCondition::Unavailable;
  Repair repair_ = Repair::KeepAside;
  QString readOnlyReason_;
  QString keptAside_;
  QString truncatedNote_;
  mutable QString error_;
  mutable QString readError_;
  std::function<void(const QString&)> onWriteFailure_;
};

// When to commit streamed chunks. Defaults commit every chunk (cheap under WAL+NORMAL, and the
// promise "lose at most the last chunk"); a fast GPU may prefer fewer, larger commits.
struct CommitPolicy {
  int maxPendingChunks = 1;
  std::chrono::milliseconds maxDelay{250};
};

// Writes one answer as it streams. The timer is only consulted when a chunk arrives, so a policy
// with maxPendingChunks > 1 flushes the tail at finish() or at the next chunk.
class StreamingRecorder {
 public:
  StreamingRecorder(HistoryStore& store, CommitPolicy policy = {});
  void begin(qint64 conversationId, const SamplingSettings& sampling);
  void append(const QString& chunk);
  void finish(const AnswerResult& result);
  bool flush();
  qint64 messageId() const { return messageId_; }
  int commits() const { return commits_; }
  bool active() const { return messageId_ != 0; }

 private:
  HistoryStore& store_;
  CommitPolicy policy_;
  qint64 messageId_ = 0;
  QString pending_;
  int pendingChunks_ = 0;
  int commits_ = 0;
  QElapsedTimer sinceCommit_;
};

QString timingsToJson(const Timings& timings);

}  // namespace cxr::assistant
