// cxr-batch run: the model over a dataset. The model is loaded once by the caller; each image is
// read and encoded once and every task gets a fresh Conversation on that same EncodedImage. Each
// (image, task) becomes one line of results.jsonl (see dataset_results.h for the files and how a
// killed run resumes). Images are read by a function the caller provides (the app renders them
// through the viewer's imaging library, exactly as the GUI feeds the model).
#pragma once

#include "cxr/assistant/dataset_inputs.h"
#include "cxr/assistant/dataset_results.h"
#include "cxr/model/engine.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace cxr::assistant {

struct DatasetTask {
  QString name;    // "report", "differential", "ask:QUESTION" (results.jsonl's task)
  QString prompt;  // the user message sent, "<image>\n..." (the reference's stock prompts)
};
// "report,differential,ask:Is there a pneumothorax?" (a question may not hold a comma; give
// --tasks once per question instead: the values of repeated --tasks are concatenated).
std::optional<QList<DatasetTask>> parseDatasetTasks(const QStringList& specs, QString* error);

struct DatasetRunSettings {
  QString modelFolder;       // absolute
  QString inputKind;         // "images" or "manifest"
  QString input;             // absolute folder or CSV
  QString imageRoot;         // absolute or empty
  QList<DatasetTask> tasks;
  uint64_t seed = 0;
  cxr::SamplingParams sampling;  // seed unused: each item has its own
  QString window = QStringLiteral("default");  // "default" (the file's window, as the GUI) or "full"
  QString weights = QStringLiteral("bf16");
  bool control = false;
  ShardSpec shard;
  QString outDir;
  // What changes results (run.json "settings"): everything above but the output folder and shard.
  QJsonObject resultSettings() const;
};

// One image as the model sees it, or why it could not be read.
struct DatasetImage {
  cxr::ImageInput pixels;
  QString sha256;  // of the file, when the reader took it while reading (the app's reader does)
  QString error;   // empty when read
};
using DatasetImageReader = std::function<DatasetImage(const QString& absolutePath, const QString& window)>;

// The two control images, once per run: a uniform mid-gray and a noise image seeded by --seed.
cxr::ImageInput datasetControlImage(const QString& kind, uint64_t runSeed);

struct DatasetProgressEvent {
  int doneItems = 0, totalItems = 0;    // (image, task) pairs of this shard, skipped ones included
  int doneImages = 0, totalImages = 0;  // images of this shard
  int freshImages = 0;                  // images finished by this process (for the rate)
  int freshItems = 0;                   // items finished (written or failed) by this process
  double elapsedSeconds = 0;            // since the first fresh item started
  QString id, task;                     // the item just finished
  double itemSeconds = 0;
  bool failed = false;                  // went to errors.csv
  QString image;                        // the item's image (manifest path as written / relative path)
  QString reason;                       // failed: why (the errors.csv reason)
  QJsonObject result;                   // written: the results.jsonl line
};

// "1:05", "2:03:04"; "--:--" for a negative or infinite time (no rate yet).
QString formatRunDuration(double seconds);

// Formats progress for stderr: a bar redrawn in place on a terminal, one plain line per item
// otherwise (logs of cluster jobs).
class DatasetProgressFormatter {
 public:
  explicit DatasetProgressFormatter(bool terminal) : terminal_(terminal) {}
  QString format(const DatasetProgressEvent& e) const;
  QString finish() const { return terminal_ ? QStringLiteral("\n") : QString(); }

 private:
  bool terminal_;
};

struct DatasetRunSummary {
  int written = 0, skipped = 0, failed = 0;
  bool stopped = false;  // `cancelled` said so: the item in progress was dropped, not written
  QString error;  // a problem that stopped the run (files, settings); image problems are not errors
  bool ok() const { return error.isEmpty(); }
};

class DatasetRunner {
 public:
  DatasetRunner(DatasetRunSettings settings, QList<DatasetItem> items, DatasetImageReader reader);

  // Opens (or resumes) the output files: refuses when run.json records other settings, naming
  // them. Call before loading the model, so that a wrong restart fails at once.
  bool prepare(QString* error);
  int pendingItems() const;  // (image, task) pairs this shard still has to do
  int shardImages() const;

  // Runs every pending item of the shard. The model's identity is checked against run.json (first
  // run: recorded). `progress` is called after each item. `cancelled` is polled between items and
  // inside the engine (within one layer or token): when it turns true the item in progress is
  // dropped (nothing half-done is written) and run() returns with `stopped`; running again with the
  // same settings continues from there, as after a kill.
  DatasetRunSummary run(cxr::Model& model, const std::function<void(const DatasetProgressEvent&)>& progress = {},
                        const std::function<bool()>& cancelled = {});

 private:
  struct Entry {
    int index = 0;
    DatasetItem item;
    QString control;  // "gray", "noise" or empty
  };
  QJsonObject resultLine(const Entry& e, const QString& imageSha, const DatasetTask& task, uint64_t seed,
                         const cxr::GenerationResult& r, bool firstTask, double readSeconds,
                         const cxr::ModelInfo& info) const;

  DatasetRunSettings settings_;
  QList<Entry> entries_;  // this shard's, in the stable order
  DatasetImageReader reader_;
  AppendOnlyLines results_, errors_;
  QSet<QString> done_;     // item keys already in results
  QSet<QString> failed_;   // ids already in errors
  QJsonObject runFile_;
  QString runPath_;
};

}  // namespace cxr::assistant
