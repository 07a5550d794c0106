#include "cxr/assistant/dataset_session.h"

#include "cxr/assistant/csv.h"
#include "cxr/assistant/dataset_inputs.h"
#include "cxr/assistant/dataset_results.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QMutex>
#include <QMutexLocker>
#include <QTemporaryFile>

#include <atomic>

namespace cxr::assistant {

// ---- Rows -----------------------------------------------------------------------------------

DatasetResultRow datasetResultRow(const QJsonObject& o) {
  DatasetResultRow r;
  r.id = o.value(u"id").toString();
  r.image = o.value(u"image").toString();
  r.task = o.value(u"task").toString();
  r.prompt = o.value(u"prompt").toString();
  r.text = o.value(u"text").toString();
  r.findings = o.value(u"findings").toObject();
  const QJsonObject t = o.value(u"timings").toObject();
  for (const char* key : {"read_s", "preprocess_s", "vision_s", "prefill_s", "decode_s"})
    r.seconds += t.value(QLatin1String(key)).toDouble();
  r.imageSha256 = o.value(u"image_sha256").toString();
  r.window = o.value(u"window").toString();
  r.seed = o.value(u"seed").toString();
  r.sampling = o.value(u"sampling").toObject();
  return r;
}

QString describeDatasetFindings(const QJsonObject& findings) {
  QStringList present, absent;
  for (const QString& name : datasetFindingNames()) {
    const QJsonValue v = findings.value(name);
    if (v.isNull() || v.isUndefined()) continue;
    const int x = v.toInt();
    if (x == 1) present << name;
    else if (x == -1) present << name + u'?';
    else if (x == 0) absent << name;
  }
  QStringList parts;
  if (!present.isEmpty()) parts << present.join(QStringLiteral(", "));
  if (!absent.isEmpty()) parts << QStringLiteral("no: ") + absent.join(QStringLiteral(", "));
  return parts.isEmpty() ? QStringLiteral("(none mentioned)") : parts.join(QStringLiteral(" · "));
}

namespace {

QList<QByteArray> readLines(const QString& path, QString* error) {
  QFile f(path);
  if (!f.exists()) return {};
  if (!f.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("%1: cannot read (%2)").arg(QDir::toNativeSeparators(path), f.errorString());
    return {};
  }
  const QByteArray bytes = f.readAll();
  QList<QByteArray> lines = bytes.split('\n');
  if (!lines.isEmpty() && lines.last().isEmpty()) lines.removeLast();
  return lines;
}

}  // namespace

DatasetOutput readDatasetOutput(const QString& outDir) {
  DatasetOutput out;
  const QDir dir(outDir);
  const ShardSpec single;
  QFile run(dir.filePath(runFileName(single)));
  if (run.exists()) {
    if (!run.open(QIODevice::ReadOnly)) {
      out.error = QStringLiteral("%1: cannot read (%2)").arg(QDir::toNativeSeparators(run.fileName()), run.errorString());
      return out;
    }
    const QJsonObject o = QJsonDocument::fromJson(run.readAll()).object();
    if (o.isEmpty()) {
      out.error = QStringLiteral("%1: not a cxr-batch run file").arg(QDir::toNativeSeparators(run.fileName()));
      return out;
    }
    out.hasRun = true;
    out.settings = o.value(u"settings").toObject();
  }
  const QString resultsPath = dir.filePath(resultsFileName(single));
  const QList<QByteArray> lines = readLines(resultsPath, &out.error);
  if (!out.ok()) return out;
  // A run in progress may be writing its last line: parseResultLines ignores a partial one.
  const ResultLines parsed = parseResultLines(lines, resultsPath);
  if (!parsed.ok()) {
    out.error = parsed.error;
    return out;
  }
  for (const QJsonObject& o : parsed.objects) out.rows << datasetResultRow(o);
  const QString errorsPath = dir.filePath(errorsFileName(single));
  if (QFileInfo::exists(errorsPath)) {
    const CsvReadResult csv = readCsvFile(errorsPath);
    if (!csv.ok()) {
      out.error = csv.error;
      return out;
    }
    const int cImage = csv.table.column(QStringLiteral("image")), cReason = csv.table.column(QStringLiteral("reason")),
              cId = csv.table.column(QStringLiteral("id"));
    for (int r = 0; r < csv.table.rows.size(); ++r) {
      DatasetResultRow row;
      row.failed = true;
      row.image = csv.table.value(r, cImage);
      row.id = cId >= 0 ? csv.table.value(r, cId) : row.image;
      row.reason = csv.table.value(r, cReason);
      row.task = QStringLiteral("(could not be read)");
      out.rows << row;
    }
  }
  return out;
}

QString resolveDatasetImage(const QJsonObject& runSettings, const QString& image) {
  if (QFileInfo(image).isAbsolute()) return image;
  const QString input = runSettings.value(u"input").toString();
  const QString kind = input.section(u':', 0, 0), path = input.section(u':', 1);
  if (kind == QLatin1String("images")) return QDir(path).filePath(image);
  const QString root = runSettings.value(u"image_root").toString();
  return QDir(root.isEmpty() ? QFileInfo(path).absolutePath() : root).filePath(image);
}

// ---- The table ------------------------------------------------------------------------------

int DatasetResultsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }
int DatasetResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant DatasetResultsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const DatasetResultRow& r = rows_[index.row()];
  if (role == Qt::DisplayRole || role == Qt::UserRole) {
    switch (index.column()) {
      case ImageColumn: return r.image;
      case TaskColumn: return r.task;
      case FindingsColumn: return r.failed ? r.reason : describeDatasetFindings(r.findings);
      case TimeColumn:
        if (role == Qt::UserRole) return r.failed ? -1.0 : r.seconds;
        return r.failed ? QString() : QString::number(r.seconds, 'f', 1);
    }
  }
  if (role == Qt::ToolTipRole) return r.failed ? r.reason : r.text.left(2000);
  if (role == Qt::TextAlignmentRole && index.column() == TimeColumn) return int(Qt::AlignRight | Qt::AlignVCenter);
  return {};
}

QVariant DatasetResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case ImageColumn: return tr("Image");
    case TaskColumn: return tr("Task");
    case FindingsColumn: return tr("Findings");
    case TimeColumn: return tr("Time (s)");
  }
  return {};
}

void DatasetResultsModel::setRows(QList<DatasetResultRow> rows) {
  beginResetModel();
  rows_ = std::move(rows);
  endResetModel();
}

void DatasetResultsModel::addRow(const DatasetResultRow& row) {
  beginInsertRows({}, int(rows_.size()), int(rows_.size()));
  rows_ << row;
  endInsertRows();
}

// ---- The run --------------------------------------------------------------------------------

// Between the job on the engine's thread and the session on the GUI thread. The job posts through
// it only while the session is alive (the lock keeps the session from going away mid-post).
struct DatasetRunSession::Channel {
  std::atomic<bool> cancel{false};
  QMutex mutex;
  DatasetRunSession* target = nullptr;
  template <typename Fn>
  void post(Fn&& fn) {
    QMutexLocker lock(&mutex);
    if (!target) return;
    QMetaObject::invokeMethod(target, [t = target, fn = std::forward<Fn>(fn)] { fn(*t); }, Qt::QueuedConnection);
  }
};

DatasetRunSession::DatasetRunSession(AssistantEngine& engine, DatasetImageReader reader, QObject* parent)
    : QObject(parent), engine_(engine), reader_(std::move(reader)) {
  qRegisterMetaType<cxr::assistant::DatasetProgressEvent>();
  qRegisterMetaType<cxr::assistant::DatasetResultRow>();
  qRegisterMetaType<cxr::assistant::DatasetRunSummary>();
}

DatasetRunSession::~DatasetRunSession() {
  if (!channel_) return;
  channel_->cancel = true;
  QMutexLocker lock(&channel_->mutex);
  channel_->target = nullptr;
}

void DatasetRunSession::stop() {
  if (channel_) channel_->cancel = true;
}

QString DatasetRunSession::progressText(const DatasetProgressEvent& e) {
  const double perMinute = e.elapsedSeconds > 0 ? e.freshItems * 60.0 / e.elapsedSeconds : 0;
  const double eta = perMinute > 0 ? (e.totalItems - e.doneItems) * 60.0 / perMinute : -1;
  return tr("%1/%2 items · %3 items/min · ETA %4")
      .arg(e.doneItems)
      .arg(e.totalItems)
      .arg(perMinute > 0 ? QString::number(perMinute, 'f', perMinute < 10 ? 2 : 1) : QStringLiteral("--"),
           formatRunDuration(eta));
}

bool DatasetRunSession::start(const DatasetRunSettings& settingsIn, QString* error) {
  DatasetRunSettings settings = settingsIn;
  if (running_) {
    *error = tr("A run is still in progress (or stopping); wait for it to end.");
    return false;
  }
  const QFileInfo input(settings.input);
  if (settings.input.isEmpty()) {
    *error = settings.inputKind == QLatin1String("images") ? tr("Choose a folder of images.") : tr("Choose a manifest CSV.");
    return false;
  }
  if (settings.inputKind == QLatin1String("images")) {
    if (!input.isDir()) {
      *error = tr("%1: no such folder.").arg(QDir::toNativeSeparators(settings.input));
      return false;
    }
    if (!input.isReadable() || !input.isExecutable()) {
      *error = tr("%1: the folder cannot be read (permission denied).").arg(QDir::toNativeSeparators(settings.input));
      return false;
    }
  } else {
    if (!input.isFile()) {
      *error = tr("%1: no such file.").arg(QDir::toNativeSeparators(settings.input));
      return false;
    }
    QFile probe(settings.input);
    if (!probe.open(QIODevice::ReadOnly)) {
      *error = tr("%1: the manifest cannot be read (%2).").arg(QDir::toNativeSeparators(settings.input), probe.errorString());
      return false;
    }
    if (!settings.imageRoot.isEmpty() && !QFileInfo(settings.imageRoot).isDir()) {
      *error = tr("Image root %1: no such folder.").arg(QDir::toNativeSeparators(settings.imageRoot));
      return false;
    }
  }
  if (settings.tasks.isEmpty()) {
    *error = tr("Choose at least one task.");
    return false;
  }
  if (settings.outDir.isEmpty()) {
    *error = tr("Choose an output folder.");
    return false;
  }
  const QFileInfo out(settings.outDir);
  if (out.exists() && !out.isDir()) {
    *error = tr("Output %1 exists and is not a folder.").arg(QDir::toNativeSeparators(settings.outDir));
    return false;
  }
  if (!out.exists() && !QDir().mkpath(settings.outDir)) {
    *error = tr("Output folder %1 cannot be created.").arg(QDir::toNativeSeparators(settings.outDir));
    return false;
  }
  {
    QTemporaryFile probe(QDir(settings.outDir).filePath(QStringLiteral(".cxr-write-test-XXXXXX")));
    if (!probe.open()) {
      *error = tr("Output folder %1 is not writable (%2).").arg(QDir::toNativeSeparators(settings.outDir), probe.errorString());
      return false;
    }
  }
  if (engine_.isBusy()) {
    *error = tr("The assistant is busy (loading the model or answering in the chat). Wait until it is done, "
                "or press Stop in the assistant panel, then start again.");
    return false;
  }
  if (!engine_.isModelLoaded()) {
    *error = tr("No model is loaded in the window. Choose the CXR-LLaVA model folder (Assistant menu) "
                "and wait for it to load, then start again.");
    return false;
  }
  settings.modelFolder = QString::fromStdString(engine_.model().info.folder);

  if (channel_) {
    QMutexLocker lock(&channel_->mutex);
    channel_->target = nullptr;
  }
  channel_ = std::make_shared<Channel>();
  channel_->target = this;
  running_ = true;
  engine_.runModelJob([settings, reader = reader_, channel = channel_](cxr::Model* model,
                                                                      const std::function<bool()>& engineCancelled) {
    const std::function<bool()> cancelled = [&] { return channel->cancel.load() || engineCancelled(); };
    DatasetRunSummary summary;
    try {
      if (!model) throw std::runtime_error("No model is loaded in the window.");
      const DatasetInputs inputs = settings.inputKind == QLatin1String("images")
                                       ? listDatasetFolder(settings.input)
                                       : readDatasetManifest(settings.input, settings.imageRoot);
      for (const QString& note : inputs.notes) channel->post([note](DatasetRunSession& s) { Q_EMIT s.notice(note); });
      if (!inputs.ok()) throw std::runtime_error(inputs.error.toStdString());
      QHash<QString, QString> paths;
      for (const DatasetItem& item : inputs.items) paths.insert(item.id, item.path);
      DatasetRunner runner(settings, inputs.items, reader);
      QString prepareError;
      if (!runner.prepare(&prepareError)) throw std::runtime_error(prepareError.toStdString());
      const int pending = runner.pendingItems(), total = runner.shardImages() * int(settings.tasks.size());
      const QString count = tr("%1 image(s) (%2), %3 item(s) to do").arg(inputs.items.size()).arg(inputs.format).arg(pending);
      channel->post([paths, pending, total, count](DatasetRunSession& s) {
        s.paths_ = paths;
        Q_EMIT s.notice(count);
        Q_EMIT s.started(pending, total);
      });
      summary = runner.run(
          *model,
          [&](const DatasetProgressEvent& e) {
            DatasetResultRow row;
            if (e.failed) {
              row.failed = true;
              row.id = e.id;
              row.image = e.image;
              row.task = QStringLiteral("(could not be read)");
              row.reason = e.reason;
            } else {
              row = datasetResultRow(e.result);
            }
            channel->post([e, row](DatasetRunSession& s) {
              Q_EMIT s.resultArrived(row);
              Q_EMIT s.progress(e);
            });
          },
          cancelled);
    } catch (const std::exception& ex) {
      summary.error = QString::fromUtf8(ex.what());
    } catch (...) {
      summary.error = tr("The run failed with an unknown error.");
    }
    channel->post([summary](DatasetRunSession& s) {
      s.running_ = false;
      Q_EMIT s.finished(summary);
    });
  });
  return true;
}

}  // namespace cxr::assistant
