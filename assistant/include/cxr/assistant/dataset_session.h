// The window's dataset run (File > Batch...): the same DatasetRunner as `cxr-batch run`, driven on
// the assistant's engine thread with the model already loaded there (no second copy), progress and
// results coming back to the GUI thread as signals. Stop drops the item in progress; Start again
// with the same settings resumes through results.jsonl, as after a kill. Widget-free: the dialog
// shows it, the tests drive it.
#pragma once

#include "cxr/assistant/dataset_run.h"
#include "cxr/assistant/engine_worker.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <memory>

namespace cxr::assistant {

// One row of the results table: a results.jsonl line, or an image that went to errors.csv.
struct DatasetResultRow {
  QString id, image, task;
  QString prompt, text;       // the user message sent and the answer
  QJsonObject findings;       // the six, 1 / 0 / -1 / null
  double seconds = 0;         // read + preprocess + vision + prefill + decode
  QString imageSha256, window;
  QString seed;
  QJsonObject sampling;       // temperature, top_p, top_k, max_new_tokens
  bool failed = false;
  QString reason;             // failed: why
};
DatasetResultRow datasetResultRow(const QJsonObject& resultLine);
// "Cardiomegaly, Edema? · no: Pneumothorax" (present, uncertain with "?", then those said absent);
// "(none mentioned)" when the report names none of the six.
QString describeDatasetFindings(const QJsonObject& findings);

// What an output folder holds: its run.json settings and the rows of results.jsonl and errors.csv.
struct DatasetOutput {
  bool hasRun = false;
  QJsonObject settings;  // run.json "settings" (see DatasetRunSettings::resultSettings())
  QList<DatasetResultRow> rows;
  QString error;         // a file that exists but cannot be read
  bool ok() const { return error.isEmpty(); }
};
DatasetOutput readDatasetOutput(const QString& outDir);
// Where a row's image is: the folder or the manifest's root (or folder) joined with the row's
// image, as the run resolved it (NIH bare names below subfolders are only known from a listing).
QString resolveDatasetImage(const QJsonObject& runSettings, const QString& image);

// The results table: Image, Task, Findings, Time. Qt::UserRole gives a value to sort by (seconds
// as a number).
class DatasetResultsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { ImageColumn, TaskColumn, FindingsColumn, TimeColumn, ColumnCount };
  using QAbstractTableModel::QAbstractTableModel;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
  void setRows(QList<DatasetResultRow> rows);
  void addRow(const DatasetResultRow& row);
  const DatasetResultRow& row(int index) const { return rows_[index]; }

 private:
  QList<DatasetResultRow> rows_;
};

class DatasetRunSession : public QObject {
  Q_OBJECT
 public:
  // Neither is owned; the engine must outlive the runs (the window's AssistantEngine does).
  DatasetRunSession(AssistantEngine& engine, DatasetImageReader reader, QObject* parent = nullptr);
  ~DatasetRunSession() override;  // stops a run in progress (it finishes on the engine's thread)

  // Checks the input, the output folder and the engine here and now, then queues the run on the
  // engine's thread. False, with a sentence a user can act on in *error, when it cannot start.
  bool start(const DatasetRunSettings& settings, QString* error);
  // The item in progress is dropped within one layer or token; finished() follows.
  void stop();
  bool isRunning() const { return running_; }
  // Absolute image paths by id, from the last listing of the input (empty before a run).
  const QHash<QString, QString>& imagePaths() const { return paths_; }

  // "12/40 items · 3.2 items/min · ETA 9:23" (rate over the items this run did).
  static QString progressText(const DatasetProgressEvent& e);

 Q_SIGNALS:
  void notice(const QString& text);  // things a user should know (files skipped, counts)
  void started(int pendingItems, int totalItems);
  void progress(const cxr::assistant::DatasetProgressEvent& event);
  void resultArrived(const cxr::assistant::DatasetResultRow& row);
  void finished(const cxr::assistant::DatasetRunSummary& summary);

 private:
  struct Channel;
  AssistantEngine& engine_;
  DatasetImageReader reader_;
  std::shared_ptr<Channel> channel_;
  QHash<QString, QString> paths_;
  bool running_ = false;
};

}  // namespace cxr::assistant

Q_DECLARE_METATYPE(cxr::assistant::DatasetProgressEvent)
Q_DECLARE_METATYPE(cxr::assistant::DatasetResultRow)
Q_DECLARE_METATYPE(cxr::assistant::DatasetRunSummary)
