// The files of a dataset run and how they survive a kill: results.jsonl (one JSON object per
// (image, task)), errors.csv (images that could not be read) and run.json (the settings that change
// results, checked on resume). With --shard K/N each shard has its own three files
// (results.shard-K-of-N.jsonl, ...) and mergeDatasetShards() combines them.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

namespace cxr::assistant {

// --shard K/N: 1 <= K <= N. Image i (0-based, in the stable order) belongs to shard (i mod N) + 1.
struct ShardSpec {
  int index = 1;
  int count = 1;
  bool explicitShard = false;  // given on the command line: the files carry the shard in their names
  bool contains(int imageIndex) const { return imageIndex % count == index - 1; }
  QString fileSuffix() const;  // "" or ".shard-K-of-N"
};
std::optional<ShardSpec> parseShardSpec(const QString& text, QString* error);

QString resultsFileName(const ShardSpec& shard);  // results.jsonl / results.shard-K-of-N.jsonl
QString errorsFileName(const ShardSpec& shard);   // errors.csv / errors.shard-K-of-N.csv
QString runFileName(const ShardSpec& shard);      // run.json / run.shard-K-of-N.json

// The seed of one (image, task): the first 8 bytes (big-endian) of sha256("SEED|IMAGE_SHA256|TASK").
// Depends on nothing else, so order, sharding and restarts do not change it.
uint64_t datasetItemSeed(uint64_t runSeed, const QString& imageSha256, const QString& task);

// The six findings of a report as results.jsonl holds them: CheXpert names mapped to 1 (present),
// 0 (absent), -1 (uncertain) or null (not mentioned), from classifyFindings().
QJsonObject datasetFindingsJson(const QString& report);
QStringList datasetFindingNames();  // "Atelectasis", ..., "Pleural Effusion", "Pneumothorax"

// An append-only file of lines that a kill -9 cannot corrupt: each line goes out in one write()
// followed by fsync(); open() drops a trailing partial line (truncating the file to its last
// newline) and returns the complete lines already there. The file is locked (flock) while open:
// a second writer is refused.
class AppendOnlyLines {
 public:
  AppendOnlyLines() = default;
  ~AppendOnlyLines();
  AppendOnlyLines(const AppendOnlyLines&) = delete;
  AppendOnlyLines& operator=(const AppendOnlyLines&) = delete;

  // `header` (without its newline) is written first when the file is new or empty.
  bool open(const QString& path, QList<QByteArray>* existingLines, QString* error, const QByteArray& header = {});
  // `line` must not contain '\n'; the newline is added.
  bool append(const QByteArray& line, QString* error);
  const QString& path() const { return path_; }
  int droppedPartialBytes() const { return dropped_; }

 private:
  int fd_ = -1;
  QString path_;
  int dropped_ = 0;
};

// Reads a results file as lines of JSON objects (a trailing partial line is ignored, not an error;
// any other bad line is: "FILE: line N: ...").
struct ResultLines {
  QList<QJsonObject> objects;
  QString error;
  bool ok() const { return error.isEmpty(); }
};
ResultLines parseResultLines(const QList<QByteArray>& lines, const QString& path);

// The key of one finished item: id and task.
QString datasetItemKey(const QString& id, const QString& task);

// Settings that change results, compared key by key: the names of those that differ ("seed: 1 -> 2").
QStringList differingSettings(const QJsonObject& recorded, const QJsonObject& now);

// cxr-batch merge: combines results.shard-K-of-N.jsonl (and errors) of --out into results.jsonl and
// errors.csv in the stable order (image index, then task order). `missing` lists what is absent: a
// shard that never started, or items that neither a result nor an error accounts for.
struct MergeReport {
  int shards = 0;
  int results = 0, errors = 0;
  QStringList missing;   // one line each, e.g. "shard 2 of 3: not started (no run.shard-2-of-3.json)"
  int missingItems = 0;
  bool written = false;  // results.jsonl / errors.csv were (re)written
  QString error;         // a problem that stopped the merge (inconsistent shards, bad files)
  bool ok() const { return error.isEmpty(); }
};
MergeReport mergeDatasetShards(const QString& outDir, bool allowMissing);

}  // namespace cxr::assistant
