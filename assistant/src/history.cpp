#include "cxr/assistant/history.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTimeZone>
#include <QUuid>
#include <QUrl>
#include <QVariant>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

namespace {
// The compute dtype, with the decoder's weights when they are not as stored: "bf16 (int8 weights)".
// Kept in the one dtype column so that history and exports' provenance say it without a new column.
QString dtypeWithWeights(const ModelInfo& info) {
  const QString dtype = QString::fromStdString(info.dtype);
  if (info.weights.empty() || info.weights == "bf16") return dtype;
  return dtype + QStringLiteral(" (%1 weights)").arg(QString::fromStdString(info.weights));
}
}  // namespace

ModelIdentity ModelIdentity::from(const ModelInfo& info) {
  return {QString::fromStdString(info.folder), QString::fromStdString(info.configSha256),
          QString::fromStdString(info.weightIndexSha256), QString::fromStdString(info.device),
          dtypeWithWeights(info)};
}

QString HistoryStore::timestamp(const QDateTime& t) {
  return t.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzzZ"));
}

QString HistoryStore::defaultPath() {
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  return QDir(dir).filePath(QStringLiteral("history.sqlite"));
}

namespace {

QString native(const QString& path) { return QDir::toNativeSeparators(path); }

// SQLite's primary result codes that mean the file itself is bad (not busy, not locked).
bool isCorruption(const QSqlError& error) {
  bool ok = false;
  const int code = error.nativeErrorCode().toInt(&ok) & 0xff;
  return ok && (code == 11 /*SQLITE_CORRUPT*/ || code == 26 /*SQLITE_NOTADB*/);
}

// As the effective user (a test may run as root with a lowered euid): access() checks the real one.
bool writableByUs(const QString& path) {
  return ::faccessat(AT_FDCWD, QFile::encodeName(path).constData(), W_OK, AT_EACCESS) == 0;
}

// Group and other lose every bit; the owner's stay (a 0444 file becomes 0400, not writable).
void makeOwnerOnly(const QString& path, mode_t keep) {
  struct stat st {};
  const QByteArray name = QFile::encodeName(path);
  if (::lstat(name.constData(), &st) != 0 || S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0) return;
  const mode_t mode = st.st_mode & keep;
  if (::chmod(name.constData(), mode) == 0)
    qInfo("Tightened the permissions of %s from %04o to %04o: it holds reports, questions and image paths",
          qPrintable(native(path)), unsigned(st.st_mode & 07777), unsigned(mode & 07777));
  else
    qWarning("Cannot tighten the permissions of %s (%04o): %s", qPrintable(native(path)),
             unsigned(st.st_mode & 07777), std::strerror(errno));
}

// Creates the missing folders 0700, whatever the umask.
bool makePrivateFolder(const QString& folder, QString* error) {
  QStringList missing;
  for (QString dir = QDir::cleanPath(folder); !QFileInfo::exists(dir); dir = QFileInfo(dir).absolutePath()) {
    missing.prepend(dir);
    if (QFileInfo(dir).absolutePath() == dir) break;
  }
  for (const QString& dir : missing) {
    const QByteArray name = QFile::encodeName(dir);
    if (::mkdir(name.constData(), 0700) != 0 && errno != EEXIST) {
      *error = QStringLiteral("cannot create the folder %1: %2").arg(native(dir), QString::fromLocal8Bit(std::strerror(errno)));
      return false;
    }
    ::chmod(name.constData(), 0700);
  }
  if (!QFileInfo(folder).isDir()) {
    *error = QStringLiteral("%1 is not a folder").arg(native(folder));
    return false;
  }
  return true;
}

qint64 fileSize(const QString& path) {
  const QFileInfo info(path);
  return info.exists() ? info.size() : -1;
}

}  // namespace

HistoryStore::HistoryStore(const QString& databasePath, Access access, Repair repair)
    : connectionName_(QStringLiteral("cxr-history-") + QUuid::createUuid().toString(QUuid::WithoutBraces)),
      homePath_(QFileInfo(databasePath).absoluteFilePath()),
      repair_(repair) {
  open(homePath_, access);
}

HistoryStore::~HistoryStore() { close(); }

void HistoryStore::close() {
  {
    QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
    if (db.isOpen()) db.close();
  }
  if (QSqlDatabase::contains(connectionName_)) QSqlDatabase::removeDatabase(connectionName_);
  open_ = writable_ = false;
}

bool HistoryStore::connect(const QString& name, const QString& options) {
  close();
  QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connectionName_);
  db.setDatabaseName(name);
  db.setConnectOptions(options);
  if (db.open()) return true;
  error_ = db.lastError().text();
  return false;
}

bool HistoryStore::open(const QString& path, Access access) {
  path_ = path;
  readOnlyReason_.clear();
  condition_ = HistoryCondition::Unavailable;
  if (access == Access::ReadOnly) return openReadOnly(path, QStringLiteral("opened for reading only"));

  const QString folder = QFileInfo(path).absolutePath();
  QString folderError;
  if (!makePrivateFolder(folder, &folderError)) {
    error_ = QStringLiteral("Cannot create the history %1: %2").arg(native(path), folderError);
    return false;
  }
  // Our own data folder is private; a folder someone chose for the history is left as it is.
  if (QFileInfo(folder).absoluteFilePath() == QFileInfo(QFileInfo(defaultPath()).absolutePath()).absoluteFilePath())
    makeOwnerOnly(folder, 07700);

  const QString wal = path + QStringLiteral("-wal");
  const QString shm = path + QStringLiteral("-shm");
  const QFileInfo info(path);
  if (info.exists() && !info.isFile()) {
    error_ = QStringLiteral("The history %1 is not a regular file").arg(native(path));
    return false;
  }
  truncatedNote_.clear();
  if (info.exists() && info.size() == 0 && fileSize(wal) <= 0) {
    // SQLite reads an empty file as an empty database, but a history always holds its tables (they
    // are written as soon as it is created): this one was truncated. Keep it as evidence.
    if (repair_ == Repair::LeaveInPlace) {
      condition_ = HistoryCondition::Damaged;
      error_ = QStringLiteral("The history %1 is empty (0 bytes): it was truncated. It was left in place for the "
                              "window to keep aside.").arg(native(path));
      return false;
    }
    QString error;
    const QString aside = keepAside(path, &error);
    if (aside.isEmpty()) {
      error_ = QStringLiteral("The history %1 is empty (0 bytes): it was truncated. It could not be kept aside: %2")
                   .arg(native(path), error);
      return false;
    }
    keptAside_ = aside;
    truncatedNote_ = QStringLiteral(
                         "The history %1 was empty (0 bytes): it had been truncated and the conversations it "
                         "held are lost. The empty file was kept as %2 and a new history was started.")
                         .arg(native(path), native(aside));
  }

  if (!QFileInfo::exists(path)) {
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      error_ = QStringLiteral("Cannot create the history %1: %2").arg(native(path), QString::fromLocal8Bit(std::strerror(errno)));
      return false;
    }
    ::fchmod(fd, 0600);
    ::close(fd);
  } else {
    for (const QString& file : {path, wal, shm}) makeOwnerOnly(file, 0700);
  }

  if (!writableByUs(path))
    return openReadOnly(path, QStringLiteral("the file %1 is read-only").arg(native(path)));
  if (!writableByUs(folder))
    return openReadOnly(path, QStringLiteral("its folder %1 is not writable").arg(native(folder)));

  if (!connect(path, QStringLiteral("QSQLITE_BUSY_TIMEOUT=2000"))) {
    error_ = QStringLiteral("Cannot open the history %1: %2").arg(native(path), error_);
    return false;
  }
  // Corruption first. quick_check reads every page but skips integrity_check's index-against-table
  // cross-checks: 0.035 s for 2,000 conversations of three exchanges (25 MB), 1.6 s for 20,000
  // (252 MB; integrity_check 2.2-2.7 s) on the 2-core development machine under load.
  QStringList problems;
  bool damaged = false;
  {
    QSqlQuery check(QSqlDatabase::database(connectionName_, false));
    if (!check.exec(QStringLiteral("PRAGMA quick_check(20)"))) {
      damaged = isCorruption(check.lastError());
      problems << check.lastError().text();
    } else {
      while (check.next())
        if (check.value(0).toString() != QStringLiteral("ok")) problems << check.value(0).toString();
      damaged = !problems.isEmpty();
    }
  }
  if (!problems.isEmpty()) {
    close();
    // quick_check's rows hold lines like "Page 24: btreeInitPage() returns error code 11": the
    // first three say enough.
    QStringList lines;
    for (const QString& problem : problems)
      for (const QString& line : problem.split(u'\n', Qt::SkipEmptyParts))
        if (!line.startsWith(QStringLiteral("***"))) lines << line.trimmed();
    QString found = lines.mid(0, 3).join(QStringLiteral("; "));
    if (lines.size() > 3) found += QStringLiteral("; and more");
    if (!damaged) {  // busy, locked, I/O: not the file's fault, so nothing is moved
      error_ = QStringLiteral("Cannot read the history %1: %2").arg(native(path), found);
      return false;
    }
    condition_ = HistoryCondition::Damaged;
    if (repair_ == Repair::LeaveInPlace) {
      error_ = QStringLiteral("The history %1 is damaged (%2). It was left in place for the window to keep aside.")
                   .arg(native(path), found);
      return false;
    }
    QString error;
    const QString aside = keepAside(path, &error);
    if (aside.isEmpty()) {
      error_ = QStringLiteral("The history %1 is damaged (%2) and could not be kept aside: %3").arg(native(path), found, error);
      return false;
    }
    keptAside_ = aside;
    error_ = QStringLiteral("The history %1 is damaged (%2). It was kept as %3.").arg(native(path), found, native(aside));
    return false;
  }
  bool ok = exec(QStringLiteral("PRAGMA journal_mode=WAL")) && exec(QStringLiteral("PRAGMA synchronous=NORMAL")) &&
            exec(QStringLiteral("PRAGMA foreign_keys=ON"));
  for (const char* statement : kSchema) ok = ok && exec(QString::fromUtf8(statement));
  // A write lock proves that saving works (a read-only mount, a file SQLite opened read-only).
  ok = ok && exec(QStringLiteral("BEGIN IMMEDIATE")) && exec(QStringLiteral("ROLLBACK"));
  if (!ok) {
    const QString why = error_;
    close();
    return openReadOnly(path, QStringLiteral("writing to it failed: %1").arg(why));
  }
  for (const QString& file : {wal, shm}) makeOwnerOnly(file, 0700);
  open_ = writable_ = true;
  condition_ = truncatedNote_.isEmpty() ? HistoryCondition::Healthy : HistoryCondition::Truncated;
  return true;
}

bool HistoryStore::openReadOnly(const QString& path, const QString& reason) {
  path_ = path;
  if (!QFileInfo(path).isFile()) {
    error_ = QStringLiteral("Cannot read the history %1: no such file").arg(native(path));
    condition_ = HistoryCondition::Unavailable;
    return false;
  }
  // A WAL database needs its -shm index, which a read-only folder cannot hold; "immutable" reads
  // the main file alone (the last changes still in a -wal file are then not shown).
  const QString uri = QUrl::fromLocalFile(path).toString(QUrl::FullyEncoded);
  const QString options = QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_OPEN_URI");
  QString readReason = reason;
  bool ok = false;
  for (const QString& suffix : {QStringLiteral("?mode=ro"), QStringLiteral("?mode=ro&immutable=1")}) {
    if (!connect(uri + suffix, options)) continue;
    {
      QSqlQuery probe(QSqlDatabase::database(connectionName_, false));
      ok = probe.exec(QStringLiteral("SELECT count(*) FROM conversations")) && probe.next();
      if (!ok) error_ = probe.lastError().text();
    }
    if (ok) {
      if (suffix.contains(u"immutable") && fileSize(path + QStringLiteral("-wal")) > 0)
        readReason += QStringLiteral("; the latest changes in %1-wal cannot be shown").arg(native(path));
      break;
    }
    close();
  }
  if (!ok) {
    error_ = QStringLiteral("Cannot read the history %1 (%2): %3").arg(native(path), reason, error_);
    condition_ = HistoryCondition::Unavailable;
    return false;
  }
  open_ = true;
  writable_ = false;
  readOnlyReason_ = readReason;
  condition_ = HistoryCondition::ReadOnly;
  error_.clear();
  return true;
}

QString HistoryStore::keepAside(const QString& path, QString* error) {
  const QString stem = path + QStringLiteral(".damaged-") +
                       QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  QString target = stem;
  for (int n = 2; QFileInfo::exists(target) || QFileInfo::exists(target + QStringLiteral("-wal")) ||
                  QFileInfo::exists(target + QStringLiteral("-shm"));
       ++n)
    target = stem + QStringLiteral("-%1").arg(n);
  // rename(2) replaces an existing target; link + unlink would not, but the loop above already
  // found a free name and only this program names files so.
  if (::rename(QFile::encodeName(path).constData(), QFile::encodeName(target).constData()) != 0) {
    *error = QStringLiteral("cannot rename %1 to %2: %3")
                 .arg(native(path), native(target), QString::fromLocal8Bit(std::strerror(errno)));
    return {};
  }
  for (const QString& suffix : {QStringLiteral("-wal"), QStringLiteral("-shm")})
    if (QFileInfo::exists(path + suffix))
      ::rename(QFile::encodeName(path + suffix).constData(), QFile::encodeName(target + suffix).constData());
  return target;
}

bool HistoryStore::startNewHistory() {
  close();
  if (QFileInfo::exists(homePath_)) {
    QString error;
    const QString aside = keepAside(homePath_, &error);
    if (aside.isEmpty()) {
      error_ = QStringLiteral("Cannot start a new history at %1: %2").arg(native(homePath_), error);
      condition_ = HistoryCondition::Unavailable;
      return false;
    }
    keptAside_ = aside;
  }
  return open(homePath_, Access::ReadWrite);
}

bool HistoryStore::openKeptAsideReadOnly() {
  if (keptAside_.isEmpty()) return false;
  close();
  return openReadOnly(keptAside_, QStringLiteral("this is the damaged history kept as %1").arg(native(keptAside_)));
}

bool HistoryStore::retry() {
  close();
  return open(homePath_, Access::ReadWrite);
}

QString HistoryStore::conditionText() const {
  switch (condition_) {
    case HistoryCondition::Healthy: return {};
    case HistoryCondition::Truncated: return truncatedNote_;
    case HistoryCondition::Damaged:
      return error_ + QStringLiteral(" New conversations are not saved until you start a new history.");
    case HistoryCondition::ReadOnly:
      return QStringLiteral("The history %1 is open for reading only (%2): new conversations are not saved.")
          .arg(native(path_), readOnlyReason_);
    case HistoryCondition::WriteFailed:
      return error_ + QStringLiteral(" The conversation on screen may not be fully saved: export it to keep it.");
    case HistoryCondition::Unavailable:
      return error_ + QStringLiteral(" Conversations are not saved.");
  }
  return {};
}

bool HistoryStore::exec(const QString& sql) {
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  if (q.exec(sql)) return true;
  error_ = QStringLiteral("History database %1: %2 (%3)")
               .arg(QDir::toNativeSeparators(path_), q.lastError().text(), sql.left(60));
  return false;
}

bool HistoryStore::canWrite() const {
  // Not writable: the window already says why (condition()); each write does not repeat it.
  return open_ && writable_;
}

bool HistoryStore::writeFailed(const QSqlError& error, const char* what) {
  const bool corrupt = isCorruption(error);
  error_ = QStringLiteral("Could not save %1 to the history %2: %3%4")
               .arg(QString::fromLatin1(what), native(path_), error.text(),
                    corrupt ? QStringLiteral(" (the file is damaged)") : QString());
  condition_ = corrupt ? HistoryCondition::Damaged : HistoryCondition::WriteFailed;
  if (corrupt) {
    // Keep it open for reading what is left until the user chooses; startNewHistory() keeps it aside.
    writable_ = false;
    keptAside_.clear();  // an older copy kept aside is not this damage
    readOnlyReason_ = QStringLiteral("it is damaged");
  }
  if (onWriteFailure_) onWriteFailure_(error_);
  return false;
}

qint64 HistoryStore::createConversation(const QString& title, const ImageProvenance& image,
                                        const ModelIdentity& model) {
  if (!canWrite()) return 0;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral(
      "INSERT INTO conversations (title, image_path, image_sha256, image_window, model_folder, "
      "model_config_sha256, model_weight_index_sha256, model_device, model_dtype, created_at, updated_at) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  const QString t = now();
  for (const QString& v : {title, image.path, image.sha256, image.windowText, model.folder, model.configSha256,
                           model.weightIndexSha256, model.device, model.dtype, t, t})
    q.addBindValue(v);
  if (!q.exec()) return writeFailed(q.lastError(), "a new conversation");
  return q.lastInsertId().toLongLong();
}

qint64 HistoryStore::addUserMessage(qint64 conversationId, const QString& shown, const QString& sent) {
  if (!canWrite()) return 0;
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  if (!db.transaction()) return writeFailed(db.lastError(), "a question");
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
  QSqlQuery u(db);
  u.prepare(QStringLiteral("UPDATE conversations SET updated_at=? WHERE id=?"));
  u.addBindValue(t);
  u.addBindValue(conversationId);
  const bool inserted = q.exec();
  if (!inserted || !u.exec()) {
    const QSqlError error = inserted ? u.lastError() : q.lastError();
    db.rollback();
    return writeFailed(error, "a question");
  }
  const qint64 id = q.lastInsertId().toLongLong();
  if (!db.commit()) return writeFailed(db.lastError(), "a question");
  return id;
}

qint64 HistoryStore::beginAssistantMessage(qint64 conversationId, const SamplingSettings& sampling) {
  if (!canWrite()) return 0;
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
  if (!q.exec()) return writeFailed(q.lastError(), "an answer");
  return q.lastInsertId().toLongLong();
}

bool HistoryStore::appendToMessage(qint64 messageId, const QString& text) {
  if (!canWrite()) return false;
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  if (!db.transaction()) return writeFailed(db.lastError(), "the answer's text");
  QSqlQuery q(db);
  q.prepare(QStringLiteral("UPDATE messages SET content = COALESCE(content, '') || ? WHERE id = ?"));
  q.addBindValue(text);
  q.addBindValue(messageId);
  QSqlQuery u(db);
  u.prepare(QStringLiteral(
      "UPDATE conversations SET updated_at=? WHERE id=(SELECT conversation_id FROM messages WHERE id=?)"));
  u.addBindValue(now());
  u.addBindValue(messageId);
  const bool appended = q.exec();
  if (!appended || !u.exec()) {
    const QSqlError error = appended ? u.lastError() : q.lastError();
    db.rollback();
    return writeFailed(error, "the answer's text");
  }
  if (!db.commit()) return writeFailed(db.lastError(), "the answer's text");
  return true;
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
  if (!canWrite()) return false;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  // The final text is authoritative (the streamed chunks should add up to it; if a chunk write
  // failed, this repairs the row). One statement: its own transaction.
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
  if (!q.exec()) return writeFailed(q.lastError(), "the finished answer");
  return true;
}

bool HistoryStore::markSuperseded(qint64 messageId) {
  if (!canWrite()) return false;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE messages SET superseded=1 WHERE id=?"));
  q.addBindValue(messageId);
  if (!q.exec()) return writeFailed(q.lastError(), "a regenerated answer");
  return true;
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
  readError_.clear();
  if (!q.exec()) {
    readError_ = QStringLiteral("Cannot read the history %1: %2").arg(native(path_), q.lastError().text());
    return out;
  }
  while (q.next()) out.push_back(readConversationRow(q));
  if (q.lastError().isValid())  // a damaged page part-way: what came before it is shown
    readError_ = QStringLiteral("Only part of the history %1 could be read: %2").arg(native(path_), q.lastError().text());
  return out;
}

std::optional<ConversationRecord> HistoryStore::conversation(qint64 id) const {
  QSqlDatabase db = QSqlDatabase::database(connectionName_, false);
  QSqlQuery q(db);
  q.prepare(QStringLiteral("SELECT ") + kConversationColumns + QStringLiteral(" FROM conversations c WHERE c.id=?"));
  q.addBindValue(id);
  readError_.clear();
  if (!q.exec() || !q.next()) {
    if (q.lastError().isValid())
      readError_ = QStringLiteral("Cannot read the history %1: %2").arg(native(path_), q.lastError().text());
    return std::nullopt;
  }
  ConversationRecord r = readConversationRow(q);
  QSqlQuery m(db);
  m.prepare(QStringLiteral(
      "SELECT id, seq, role, content, sent_message, complete, stop_reason, temperature, top_p, top_k, "
      "max_new_tokens, seed, timings_json, created_at, finished_at FROM messages "
      "WHERE conversation_id=? AND superseded=0 ORDER BY seq"));
  m.addBindValue(id);
  if (!m.exec()) {
    readError_ = QStringLiteral("Cannot read the messages of this conversation from %1: %2").arg(native(path_), m.lastError().text());
    return r;
  }
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
  if (m.lastError().isValid())
    readError_ = QStringLiteral("Only part of this conversation could be read from %1: %2").arg(native(path_), m.lastError().text());
  return r;
}

bool HistoryStore::softDelete(qint64 conversationId) {
  if (!canWrite()) return false;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE conversations SET deleted_at=? WHERE id=? AND deleted_at IS NULL"));
  q.addBindValue(now());
  q.addBindValue(conversationId);
  if (!q.exec()) return writeFailed(q.lastError(), "a deletion");
  return q.numRowsAffected() == 1;
}

bool HistoryStore::undoDelete(qint64 conversationId) {
  if (!canWrite()) return false;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("UPDATE conversations SET deleted_at=NULL WHERE id=? AND deleted_at IS NOT NULL"));
  q.addBindValue(conversationId);
  if (!q.exec()) return writeFailed(q.lastError(), "an undone deletion");
  return q.numRowsAffected() == 1;
}

int HistoryStore::purgeDeletedBefore(const QDateTime& cutoff) {
  if (!canWrite()) return 0;
  QSqlQuery q(QSqlDatabase::database(connectionName_, false));
  q.prepare(QStringLiteral("DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at < ?"));
  q.addBindValue(timestamp(cutoff));
  if (!q.exec()) return writeFailed(q.lastError(), "a purge of deleted conversations");
  return q.numRowsAffected();
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
