#include "cxr/assistant/dataset_results.h"

#include "cxr/assistant/csv.h"
#include "cxr/assistant/findings.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMap>
#include <QRegularExpression>
#include <QSaveFile>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cxr::assistant {

QString ShardSpec::fileSuffix() const {
  return explicitShard ? QStringLiteral(".shard-%1-of-%2").arg(index).arg(count) : QString();
}

std::optional<ShardSpec> parseShardSpec(const QString& text, QString* error) {
  static const QRegularExpression re(QStringLiteral("^(\\d{1,6})/(\\d{1,6})$"));
  const auto m = re.match(text.trimmed());
  ShardSpec s;
  if (m.hasMatch()) {
    s.index = m.captured(1).toInt();
    s.count = m.captured(2).toInt();
    s.explicitShard = true;
    if (s.count >= 1 && s.index >= 1 && s.index <= s.count) return s;
  }
  if (error)
    *error = QStringLiteral("--shard expects K/N with 1 <= K <= N (e.g. 2/8: the second of eight shards), got \"%1\"").arg(text);
  return std::nullopt;
}

QString resultsFileName(const ShardSpec& shard) { return QStringLiteral("results") + shard.fileSuffix() + QStringLiteral(".jsonl"); }
QString errorsFileName(const ShardSpec& shard) { return QStringLiteral("errors") + shard.fileSuffix() + QStringLiteral(".csv"); }
QString runFileName(const ShardSpec& shard) { return QStringLiteral("run") + shard.fileSuffix() + QStringLiteral(".json"); }

uint64_t datasetItemSeed(uint64_t runSeed, const QString& imageSha256, const QString& task) {
  const QByteArray material = QByteArray::number(qulonglong(runSeed)) + '|' + imageSha256.toUtf8() + '|' + task.toUtf8();
  const QByteArray digest = QCryptographicHash::hash(material, QCryptographicHash::Sha256);
  uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed = (seed << 8) | uint8_t(digest[i]);
  return seed;
}

QStringList datasetFindingNames() {
  return {QStringLiteral("Atelectasis"), QStringLiteral("Cardiomegaly"), QStringLiteral("Consolidation"),
          QStringLiteral("Edema"), QStringLiteral("Pleural Effusion"), QStringLiteral("Pneumothorax")};
}

QJsonObject datasetFindingsJson(const QString& report) {
  // classifyFindings() returns the six in allFindings() order, which is the order of the names.
  const QStringList names = datasetFindingNames();
  const QList<Finding> order = allFindings();
  QJsonObject out;
  for (const FindingResult& r : classifyFindings(report)) {
    const QString& name = names.at(order.indexOf(r.finding));
    switch (r.status) {
      case FindingStatus::Present: out.insert(name, 1); break;
      case FindingStatus::Absent: out.insert(name, 0); break;
      case FindingStatus::Uncertain: out.insert(name, -1); break;
      case FindingStatus::NotMentioned: out.insert(name, QJsonValue::Null); break;
    }
  }
  return out;
}

// ---- AppendOnlyLines ----------------------------------------------------------------------------

AppendOnlyLines::~AppendOnlyLines() {
  if (fd_ >= 0) ::close(fd_);
}

bool AppendOnlyLines::open(const QString& path, QList<QByteArray>* existingLines, QString* error, const QByteArray& header) {
  path_ = path;
  const QByteArray native = QFile::encodeName(path);
  fd_ = ::open(native.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    *error = QStringLiteral("%1: cannot open for writing (%2)").arg(QDir::toNativeSeparators(path), QString::fromLocal8Bit(std::strerror(errno)));
    return false;
  }
  // One writer per file: a second process on the same shard (a requeued job still running, a
  // command typed twice) would write its items again.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    *error = QStringLiteral("%1: another cxr-batch run is writing this file (same --out and shard); wait for it or stop it")
                 .arg(QDir::toNativeSeparators(path));
    return false;
  }
  QFile in;
  if (!in.open(fd_, QIODevice::ReadOnly, QFileDevice::DontCloseHandle)) {
    *error = QStringLiteral("%1: cannot read").arg(QDir::toNativeSeparators(path));
    return false;
  }
  const QByteArray all = in.readAll();
  in.close();
  const qsizetype lastNewline = all.lastIndexOf('\n');
  const qsizetype keep = lastNewline + 1;
  if (keep < all.size()) {
    // The item in progress when the process died: its line is incomplete, drop it.
    dropped_ = int(all.size() - keep);
    if (::ftruncate(fd_, keep) != 0 || ::fsync(fd_) != 0) {
      *error = QStringLiteral("%1: cannot drop the partial last line (%2)").arg(QDir::toNativeSeparators(path), QString::fromLocal8Bit(std::strerror(errno)));
      return false;
    }
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) {
    *error = QStringLiteral("%1: cannot seek (%2)").arg(QDir::toNativeSeparators(path), QString::fromLocal8Bit(std::strerror(errno)));
    return false;
  }
  if (existingLines) {
    existingLines->clear();
    for (const QByteArray& line : all.left(keep).split('\n'))
      if (!line.isEmpty()) existingLines->append(line);
  }
  if (keep == 0 && !header.isEmpty()) return append(header, error);
  return true;
}

bool AppendOnlyLines::append(const QByteArray& line, QString* error) {
  QByteArray bytes = line;
  bytes.append('\n');
  // One write() per line: a kill leaves either the whole line or a prefix that open() drops.
  const char* p = bytes.constData();
  qsizetype left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, size_t(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(path_), QString::fromLocal8Bit(std::strerror(errno)));
      return false;
    }
    p += n;
    left -= n;
  }
  if (::fsync(fd_) != 0) {
    *error = QStringLiteral("%1: cannot sync to disk (%2)").arg(QDir::toNativeSeparators(path_), QString::fromLocal8Bit(std::strerror(errno)));
    return false;
  }
  return true;
}

ResultLines parseResultLines(const QList<QByteArray>& lines, const QString& path) {
  ResultLines out;
  for (int i = 0; i < lines.size(); ++i) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(lines[i], &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
      out.error = QStringLiteral("%1: line %2: not a JSON object (%3)").arg(QDir::toNativeSeparators(path)).arg(i + 1).arg(pe.errorString());
      return out;
    }
    const QJsonObject o = doc.object();
    if (!o.value(u"id").isString() || !o.value(u"task").isString() || !o.value(u"index").isDouble()) {
      out.error = QStringLiteral("%1: line %2: no id, task or index (not a cxr-batch results file?)").arg(QDir::toNativeSeparators(path)).arg(i + 1);
      return out;
    }
    out.objects << o;
  }
  return out;
}

QString datasetItemKey(const QString& id, const QString& task) { return id + u'\x1f' + task; }

QStringList differingSettings(const QJsonObject& recorded, const QJsonObject& now) {
  QStringList keys = recorded.keys() + now.keys();
  keys.removeDuplicates();
  std::sort(keys.begin(), keys.end());
  QStringList out;
  auto show = [](const QJsonValue& v) {
    if (v.isUndefined()) return QStringLiteral("(absent)");
    if (v.isString()) return v.toString();
    QJsonArray a;
    a.append(v);
    const QByteArray s = QJsonDocument(a).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(s.mid(1, s.size() - 2));
  };
  for (const QString& k : keys)
    if (recorded.value(k) != now.value(k)) out << QStringLiteral("%1: %2 -> %3").arg(k, show(recorded.value(k)), show(now.value(k)));
  return out;
}

// ---- merge --------------------------------------------------------------------------------------

namespace {

QByteArray readAllBytes(const QString& path, bool* ok) {
  QFile f(path);
  *ok = f.open(QIODevice::ReadOnly);
  return *ok ? f.readAll() : QByteArray();
}

QList<QByteArray> completeLines(const QByteArray& all) {
  QList<QByteArray> out;
  const qsizetype keep = all.lastIndexOf('\n') + 1;
  for (const QByteArray& l : all.left(keep).split('\n'))
    if (!l.isEmpty()) out << l;
  return out;
}

}  // namespace

MergeReport mergeDatasetShards(const QString& outDir, bool allowMissing) {
  MergeReport report;
  const QDir dir(outDir);
  if (!dir.exists()) {
    report.error = QStringLiteral("%1: no such folder").arg(QDir::toNativeSeparators(outDir));
    return report;
  }
  static const QRegularExpression runRe(QStringLiteral("^run\\.shard-(\\d+)-of-(\\d+)\\.json$"));
  static const QRegularExpression anyShardRe(QStringLiteral("^(?:run|results|errors)\\.shard-(\\d+)-of-(\\d+)\\.(?:json|jsonl|csv)$"));
  QSet<int> counts;
  for (const QString& name : dir.entryList(QDir::Files)) {
    const auto m = anyShardRe.match(name);
    if (m.hasMatch()) counts.insert(m.captured(2).toInt());
  }
  if (counts.isEmpty()) {
    report.error = QStringLiteral("%1: no shard files (results.shard-K-of-N.jsonl); was the run started with --shard?").arg(QDir::toNativeSeparators(outDir));
    return report;
  }
  if (counts.size() > 1) {
    QList<int> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());
    QStringList s;
    for (int n : sorted) s << QString::number(n);
    report.error = QStringLiteral("%1: shard files of runs split %2 ways side by side; keep one run per folder").arg(QDir::toNativeSeparators(outDir), s.join(QStringLiteral(" and ")));
    return report;
  }
  const int n = *counts.begin();
  report.shards = n;

  struct Row {
    int index = 0, taskOrder = 0;
    QByteArray line;
  };
  QList<Row> results;
  QList<QPair<int, QStringList>> errorRows;  // index, csv fields
  QJsonObject settings;
  int settingsFrom = 0;
  QStringList tasks;
  for (int k = 1; k <= n; ++k) {
    ShardSpec shard{k, n, true};
    const QString runPath = dir.filePath(runFileName(shard));
    bool ok = false;
    const QByteArray runBytes = readAllBytes(runPath, &ok);
    if (!ok) {
      report.missing << QStringLiteral("shard %1 of %2: not started (no %3)").arg(k).arg(n).arg(runFileName(shard));
      report.missingItems += 1;  // at least one; its size is unknown without its run file
      continue;
    }
    const QJsonObject run = QJsonDocument::fromJson(runBytes).object();
    if (run.isEmpty()) {
      report.error = QStringLiteral("%1: not a cxr-batch run file").arg(QDir::toNativeSeparators(runPath));
      return report;
    }
    const QJsonObject s = run.value(u"settings").toObject();
    if (settingsFrom == 0) {
      settings = s;
      settingsFrom = k;
      for (const QJsonValue& t : run.value(u"tasks").toArray()) tasks << t.toString();
    } else if (s != settings) {
      report.error = QStringLiteral("shard %1 and shard %2 of %3 were run with different settings (%4): they do not belong together")
                         .arg(settingsFrom).arg(k).arg(n).arg(differingSettings(settings, s).join(QStringLiteral("; ")));
      return report;
    }
    // What this shard must account for: each of its images, each task.
    QSet<QString> expected;
    QMap<QString, int> indexOf;
    for (const QJsonValue& v : run.value(u"items").toArray()) {
      const QJsonObject it = v.toObject();
      indexOf.insert(it.value(u"id").toString(), it.value(u"index").toInt());
      for (const QString& t : tasks) expected.insert(datasetItemKey(it.value(u"id").toString(), t));
    }
    const QString resultsPath = dir.filePath(resultsFileName(shard));
    const QByteArray resultBytes = readAllBytes(resultsPath, &ok);
    const ResultLines parsed = parseResultLines(completeLines(resultBytes), resultsPath);
    if (!parsed.ok()) {
      report.error = parsed.error;
      return report;
    }
    const QList<QByteArray> lines = completeLines(resultBytes);
    for (int i = 0; i < parsed.objects.size(); ++i) {
      const QJsonObject& o = parsed.objects[i];
      const QString key = datasetItemKey(o.value(u"id").toString(), o.value(u"task").toString());
      if (!expected.remove(key)) continue;  // a duplicate or a stranger: never twice in the merge
      results << Row{o.value(u"index").toInt(), int(tasks.indexOf(o.value(u"task").toString())), lines[i]};
    }
    const QString errorsPath = dir.filePath(errorsFileName(shard));
    if (QFileInfo::exists(errorsPath)) {
      const CsvReadResult csv = readCsvFile(errorsPath);
      if (!csv.ok()) {
        report.error = csv.error;
        return report;
      }
      const int cImage = csv.table.column(QStringLiteral("image")), cReason = csv.table.column(QStringLiteral("reason")),
                cId = csv.table.column(QStringLiteral("id")), cIndex = csv.table.column(QStringLiteral("index"));
      for (int r = 0; r < csv.table.rows.size(); ++r) {
        const QString id = csv.table.value(r, cId);
        bool any = false;
        for (const QString& t : tasks) any |= expected.remove(datasetItemKey(id, t));
        if (any) errorRows.append({csv.table.value(r, cIndex).toInt(), {csv.table.value(r, cImage), csv.table.value(r, cReason), id, csv.table.value(r, cIndex)}});
      }
    }
    if (!expected.isEmpty()) {
      QStringList sample(expected.begin(), expected.end());
      std::sort(sample.begin(), sample.end());
      report.missingItems += int(expected.size());
      QStringList shown;
      for (int i = 0; i < std::min<qsizetype>(sample.size(), 5); ++i) shown << QString(sample[i]).replace(u'\x1f', u' ');
      report.missing << QStringLiteral("shard %1 of %2: %3 item(s) not done, e.g. %4").arg(k).arg(n).arg(expected.size()).arg(shown.join(QStringLiteral(", ")));
    }
  }
  report.results = int(results.size());
  report.errors = int(errorRows.size());
  if (!report.missing.isEmpty() && !allowMissing) return report;

  std::stable_sort(results.begin(), results.end(), [](const Row& a, const Row& b) {
    return a.index != b.index ? a.index < b.index : a.taskOrder < b.taskOrder;
  });
  std::stable_sort(errorRows.begin(), errorRows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  QSaveFile out(dir.filePath(QStringLiteral("results.jsonl")));
  if (!out.open(QIODevice::WriteOnly)) {
    report.error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(out.fileName()), out.errorString());
    return report;
  }
  for (const Row& r : results) out.write(QByteArray(r.line + '\n'));
  if (!out.commit()) {
    report.error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(out.fileName()), out.errorString());
    return report;
  }
  QSaveFile errors(dir.filePath(QStringLiteral("errors.csv")));
  if (!errors.open(QIODevice::WriteOnly)) {
    report.error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(errors.fileName()), errors.errorString());
    return report;
  }
  // Lines end in '\n' as the run's own errors.csv does (AppendOnlyLines).
  auto line = [](const QStringList& fields) -> QByteArray {
    QByteArray b = csvRecord(fields).toUtf8();
    b.chop(2);
    return b + '\n';
  };
  errors.write(line({QStringLiteral("image"), QStringLiteral("reason"), QStringLiteral("id"), QStringLiteral("index")}));
  for (const auto& e : errorRows) errors.write(line(e.second));
  if (!errors.commit()) {
    report.error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(errors.fileName()), errors.errorString());
    return report;
  }
  report.written = true;
  return report;
}

}  // namespace cxr::assistant
