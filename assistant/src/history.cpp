#include "cxr/assistant/history.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTimeZone>
#include <QUuid>
#include <QVariant>

namespace cxr::assistant {
namespace {

const char* const kSchema[] = {
    R"(CREATE TABLE IF NOT EXISTS conversations (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         title TEXT DEFAULT '',
         image_path TEXT DEFAULT '',
         image_sha256 TEXT DEFAULT '',
         image_window TEXT DEFAULT '',
         model_folder TEXT DEFAULT '',
         model_config_sha256 TEXT DEFAULT '',
         model_weight_index_sha256 TEXT DEFAULT '',
         model_device TEXT DEFAULT '',
         model_dtype TEXT DEFAULT '',
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL,
         deleted_at TEXT))",
    R"(CREATE TABLE IF NOT EXISTS messages (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
         seq INTEGER NOT NULL,
         role TEXT NOT NULL,
         content TEXT DEFAULT '',
         sent_message TEXT DEFAULT '',
         complete INTEGER NOT NULL DEFAULT 0,
         superseded INTEGER NOT NULL DEFAULT 0,
         stop_reason TEXT DEFAULT '',
         temperature REAL, top_p REAL, top_k INTEGER, max_new_tokens INTEGER, seed TEXT,
         timings_json TEXT DEFAULT '',
         created_at TEXT NOT NULL,
         finished_at TEXT))",
    "CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, seq)",
    "CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated_at)",
};

QString now() { return HistoryStore::timestamp(QDateTime::currentDateTimeUtc()); }

QDateTime parseTime(const QVariant& v) {
  if (v.isNull()) return {};
  return QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
}

QString likePattern(const QString& text) {
  QString escaped = text;
  escaped.replace(u'\\', QStringLiteral("\\\\")).replace(u'%', QStringLiteral("\\%")).replace(u'_', QStringLiteral("\\_"));
  return u'%' + escaped + u'%';
}

}  // namespace

ModelIdentity ModelIdentity::from(const ModelInfo& info) {
  return {QString::fromStdString(info.folder), QString::fromStdString(info.configSha256),
          QString::fromStdString(info.weightIndexSha256), QString::fromStdString(info.device),
          QString::fromStdString(info.dtype)};
}

QString HistoryStore::timestamp(const QDateTime& t) {
  return t.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzzZ"));
}

QString HistoryStore::defaultPath() {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  return QDir(dir).filePath(QStringLiteral("history.sqlite"));
}

HistoryStore::HistoryStore(const QString& databasePath)
    : connectionName_(QStringLiteral("cxr-history-") + QUuid::createUuid().toString(QUuid::WithoutBraces)),
      path_(databasePath) {
  QDir().mkpath(QFileInfo(databasePath).absolutePath());
  QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connectionName_);
  db.setDatabaseName(databasePath);
  db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=2000"));
  if (!db.open()) {
    error_ = QStringLiteral("Cannot open the history database %1: %2")
                 .arg(QDir::toNativeSeparators(databasePath), db.lastError().text());
    return;
  }
  open_ = exec(QStringLiteral("PRAGMA journal_mode=WAL")) && exec(QStringLiteral("PRAGMA synchronous=NORMAL")) &&
          exec(QStringLiteral("PRAGMA foreign_keys=ON"));
  for (const char* statement : kSchema) open_ = open_ && exec(QString::fromUtf8(statement));
}

HistoryStore::~HistoryStore() {
  {
    QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
    if (db.isOpen()) db.close();
  }
  QSqlDatabase::removeDatabase(connectionName_);
}

bool HistoryStore::exec(const QString& sql) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  if (q.exec(sql)) return true;
  error_ = QStringLiteral("History database %1: %2 (%3)")
               .arg(QDir::toNativeSeparators(path_), q.lastError().text(), sql.left(60));
  return false;
}

qint64 HistoryStore::createConversation(const QString& title, const ImageProvenance& image,
                                        const ModelIdentity& model) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral(
      "INSERT INTO conversations (title, image_path, image_sha256, image_window, model_folder, "
      "model_config_sha256, model_weight_index_sha256, model_device, model_dtype, created_at, updated_at) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  const QString t = now();
  for (const QString& v : {title, image.path, image.sha256, image.windowText, model.folder, model.configSha256,
                           model.weightIndexSha256, model.device, model.dtype, t, t})
    q.addBindValue(v);
  if (!q.exec()) {
    error_ = q.lastError().text();
    return 0;
  }
  return q.lastInsertId().toLongLong();
}

qint64 HistoryStore::addUserMessage(qint64 conversationId, const QString& shown, const QString& sent) {
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  db.transaction();
  QSqlQuery q(db);
  q.prepare(QStringLiteral(
      "INSERT INTO messages (conversation_id, seq, role, content, sent_message, complete, created_at, finished_at) "
      "VALUES (?, (SELECT COALESCE(MAX(seq),0)+1 FROM messages WHERE conversation_id=?), 'user', ?, ?, 1, ?, ?)"));
  const QString t = now();
  q.addBindValue(conversationId);
  q.addBindValue(conversationId);
  q.addBindValue(shown);
  q.addBindValue(sent);
  q.addBindValue(t);
  q.addBindValue(t);
  if (!q.exec()) {
    error_ = q.lastError().text();
    db.rollback();
    return 0;
  }
  const qint64 id = q.lastInsertId().toLongLong();
  QSqlQuery u(db);
  u.prepare(QStringLiteral("UPDATE conversations SET updated_at=? WHERE id=?"));
  u.addBindValue(t);
  u.addBindValue(conversationId);
  u.exec();
  db.commit();
  return id;
}

qint64 HistoryStore::beginAssistantMessage(qint64 conversationId, const SamplingSettings& sampling) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral(
      "INSERT INTO messages (conversation_id, seq, role, content, complete, temperature, top_p, top_k, "
      "max_new_tokens, seed, created_at) VALUES (?, (SELECT COALESCE(MAX(seq),0)+1 FROM messages WHERE "
      "conversation_id=?), 'assistant', '', 0, ?, ?, ?, ?, ?, ?)"));
  q.addBindValue(conversationId);
  q.addBindValue(conversationId);
  q.addBindValue(sampling.temperature);
  q.addBindValue(sampling.topP);
  q.addBindValue(sampling.topK);
  q.addBindValue(sampling.maxNewTokens);
  q.addBindValue(sampling.seed ? QVariant(QString::number(*sampling.seed)) : QVariant());
  q.addBindValue(now());
  if (!q.exec()) {
    error_ = q.lastError().text();
    return 0;
  }
  return q.lastInsertId().toLongLong();
}

bool HistoryStore::appendToMessage(qint64 messageId, const QString& text) {
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  if (!db.transaction()) return false;
  QSqlQuery q(db);
  q.prepare(QStringLiteral("UPDATE messages SET content = COALESCE(content, '') || ? WHERE id = ?"));
  q.addBindValue(text);
  q.addBindValue(messageId);
  QSqlQuery u(db);
  u.prepare(QStringLiteral(
      "UPDATE conversations SET updated_at=? WHERE id=(SELECT conversation_id FROM messages WHERE id=?)"));
  u.addBindValue(now());
  u.addBindValue(messageId);
  if (!q.exec() || !u.exec()) {
    error_ = q.lastError().text();
    db.rollback();
    return false;
  }
  return db.commit();
}

QString timingsToJson(const Timings& t) {
  QJsonObject o;
  o[QStringLiteral("preprocess_s")] = t.preprocessSeconds;
  o[QStringLiteral("vision_s")] = t.visionSeconds;
  o[QStringLiteral("prefill_s")] = t.prefillSeconds;
  o[QStringLiteral("prefill_positions")] = t.prefillPositions;
  o[QStringLiteral("first_token_s")] = t.firstTokenSeconds;
  o[QStringLiteral("decode_s")] = t.decodeSeconds;
  o[QStringLiteral("decode_tokens")] = t.decodeTokens;
  o[QStringLiteral("decode_tokens_per_s")] = t.decodeTokensPerSecond();
  return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

bool HistoryStore::finishAssistantMessage(qint64 messageId, const AnswerResult& result) {
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  db.transaction();
  QSqlQuery q(db);
  // The final text is authoritative (the streamed chunks should add up to it; if a chunk write
  // failed, this repairs the row).
  q.prepare(QStringLiteral(
      "UPDATE messages SET content=?, complete=1, stop_reason=?, temperature=?, top_p=?, top_k=?, "
      "max_new_tokens=?, seed=?, timings_json=?, finished_at=? WHERE id=?"));
  q.addBindValue(result.text);
  q.addBindValue(result.stopReasonText());
  q.addBindValue(result.sampling.temperature);
  q.addBindValue(result.sampling.topP);
  q.addBindValue(result.sampling.topK);
  q.addBindValue(result.sampling.maxNewTokens);
  q.addBindValue(QString::number(result.seed));
  q.addBindValue(timingsToJson(result.timings));
  q.addBindValue(now());
  q.addBindValue(messageId);
  if (!q.exec()) {
    error_ = q.lastError().text();
    db.rollback();
    return false;
  }
  return db.commit();
}

bool HistoryStore::markSuperseded(qint64 messageId) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE messages SET superseded=1 WHERE id=?"));
  q.addBindValue(messageId);
  return q.exec();
}

static ConversationRecord readConversationRow(const QSqlQuery& q) {
  ConversationRecord r;
  r.id = q.value(0).toLongLong();
  r.title = q.value(1).toString();
  r.image = {q.value(2).toString(), q.value(3).toString(), q.value(4).toString()};
  r.model = {q.value(5).toString(), q.value(6).toString(), q.value(7).toString(), q.value(8).toString(),
             q.value(9).toString()};
  r.createdAt = parseTime(q.value(10));
  r.updatedAt = parseTime(q.value(11));
  r.deleted = !q.value(12).isNull();
  return r;
}

static const QString kConversationColumns = QStringLiteral(
    "c.id, c.title, c.image_path, c.image_sha256, c.image_window, c.model_folder, c.model_config_sha256, "
    "c.model_weight_index_sha256, c.model_device, c.model_dtype, c.created_at, c.updated_at, c.deleted_at");

QList<ConversationRecord> HistoryStore::search(const HistoryQuery& query) const {
  QString sql = QStringLiteral("SELECT ") + kConversationColumns + QStringLiteral(" FROM conversations c WHERE 1=1");
  QVariantList binds;
  if (!query.includeDeleted) sql += QStringLiteral(" AND c.deleted_at IS NULL");
  if (!query.text.trimmed().isEmpty()) {
    sql += QStringLiteral(
        " AND (c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id=c.id "
        "AND m.content LIKE ? ESCAPE '\\'))");
    binds << likePattern(query.text.trimmed()) << likePattern(query.text.trimmed());
  }
  if (!query.image.trimmed().isEmpty()) {
    sql += QStringLiteral(" AND (c.image_path LIKE ? ESCAPE '\\' OR c.image_sha256 = ?)");
    binds << likePattern(query.image.trimmed()) << query.image.trimmed().toLower();
  }
  if (query.from.isValid()) {
    sql += QStringLiteral(" AND c.created_at >= ?");
    binds << timestamp(QDateTime(query.from, QTime(0, 0), QTimeZone::utc()));
  }
  if (query.to.isValid()) {
    sql += QStringLiteral(" AND c.created_at < ?");
    binds << timestamp(QDateTime(query.to.addDays(1), QTime(0, 0), QTimeZone::utc()));
  }
  sql += QStringLiteral(" ORDER BY c.updated_at DESC, c.id DESC");
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(sql);
  for (const auto& b : binds) q.addBindValue(b);
  QList<ConversationRecord> out;
  if (!q.exec()) {
    error_ = q.lastError().text();
    return out;
  }
  while (q.next()) out.push_back(readConversationRow(q));
  return out;
}

std::optional<ConversationRecord> HistoryStore::conversation(qint64 id) const {
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  QSqlQuery q(db);
  q.prepare(QStringLiteral("SELECT ") + kConversationColumns + QStringLiteral(" FROM conversations c WHERE c.id=?"));
  q.addBindValue(id);
  if (!q.exec() || !q.next()) return std::nullopt;
  ConversationRecord r = readConversationRow(q);
  QSqlQuery m(db);
  m.prepare(QStringLiteral(
      "SELECT id, seq, role, content, sent_message, complete, stop_reason, temperature, top_p, top_k, "
      "max_new_tokens, seed, timings_json, created_at, finished_at FROM messages "
      "WHERE conversation_id=? AND superseded=0 ORDER BY seq"));
  m.addBindValue(id);
  if (!m.exec()) return r;
  while (m.next()) {
    MessageRecord msg;
    msg.id = m.value(0).toLongLong();
    msg.seq = m.value(1).toInt();
    msg.role = m.value(2).toString();
    msg.content = m.value(3).toString();
    msg.sentMessage = m.value(4).toString();
    msg.complete = m.value(5).toInt() != 0;
    msg.stopReason = m.value(6).toString();
    if (!m.value(7).isNull()) {
      SamplingSettings s;
      s.temperature = m.value(7).toDouble();
      s.topP = m.value(8).toDouble();
      s.topK = m.value(9).toInt();
      s.maxNewTokens = m.value(10).toInt();
      if (!m.value(11).isNull()) s.seed = m.value(11).toString().toULongLong();
      msg.sampling = s;
    }
    msg.timingsJson = m.value(12).toString();
    msg.createdAt = parseTime(m.value(13));
    msg.finishedAt = parseTime(m.value(14));
    r.messages.push_back(msg);
  }
  return r;
}

bool HistoryStore::softDelete(qint64 conversationId) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE conversations SET deleted_at=? WHERE id=? AND deleted_at IS NULL"));
  q.addBindValue(now());
  q.addBindValue(conversationId);
  return q.exec() && q.numRowsAffected() == 1;
}

bool HistoryStore::undoDelete(qint64 conversationId) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE conversations SET deleted_at=NULL WHERE id=? AND deleted_at IS NOT NULL"));
  q.addBindValue(conversationId);
  return q.exec() && q.numRowsAffected() == 1;
}

int HistoryStore::purgeDeletedBefore(const QDateTime& cutoff) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at < ?"));
  q.addBindValue(timestamp(cutoff));
  return q.exec() ? q.numRowsAffected() : 0;
}

// ---- StreamingRecorder ------------------------------------------------------------------------

StreamingRecorder::StreamingRecorder(HistoryStore& store, CommitPolicy policy)
    : store_(store), policy_(policy) {}

void StreamingRecorder::begin(qint64 conversationId, const SamplingSettings& sampling) {
  messageId_ = store_.beginAssistantMessage(conversationId, sampling);
  pending_.clear();
  pendingChunks_ = 0;
  commits_ = 0;
  sinceCommit_.start();
}

void StreamingRecorder::append(const QString& chunk) {
  if (!messageId_) return;
  pending_ += chunk;
  ++pendingChunks_;
  if (pendingChunks_ >= policy_.maxPendingChunks ||
      sinceCommit_.elapsed() >= policy_.maxDelay.count())
    flush();
}

bool StreamingRecorder::flush() {
  if (!messageId_ || pending_.isEmpty()) return true;
  const bool ok = store_.appendToMessage(messageId_, pending_);
  if (ok) {
    pending_.clear();
    pendingChunks_ = 0;
    ++commits_;
    sinceCommit_.restart();
  }
  return ok;
}

void StreamingRecorder::finish(const AnswerResult& result) {
  if (!messageId_) return;
  store_.finishAssistantMessage(messageId_, result);
  pending_.clear();
  pendingChunks_ = 0;
  messageId_ = 0;
}

}  // namespace cxr::assistant
