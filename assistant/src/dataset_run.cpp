#include "cxr/assistant/dataset_run.h"

#include "cxr/assistant/csv.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <cmath>
#include <optional>
#include <random>

namespace cxr::assistant {

namespace {

constexpr int kControlSide = 512;

QString hexSha256(const QByteArray& bytes) {
  return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

QString fileSha256(const QString& path, QString* error) {
  QFile f(path);
  if (!f.exists()) {
    *error = QStringLiteral("%1: no such file").arg(QDir::toNativeSeparators(path));
    return {};
  }
  if (!f.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("%1: cannot open (%2)").arg(QDir::toNativeSeparators(path), f.errorString());
    return {};
  }
  QCryptographicHash h(QCryptographicHash::Sha256);
  if (!h.addData(&f)) {
    *error = QStringLiteral("%1: cannot read (%2)").arg(QDir::toNativeSeparators(path), f.errorString());
    return {};
  }
  return QString::fromLatin1(h.result().toHex());
}

QString oneLine(QString s) {
  s.replace(u'\r', u' ').replace(u'\n', u' ');
  return s;
}

}  // namespace

QString formatRunDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("--:--");
  const qint64 s = qint64(seconds + 0.5);
  return s >= 3600 ? QStringLiteral("%1:%2:%3").arg(s / 3600).arg(s / 60 % 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'))
                   : QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

std::optional<QList<DatasetTask>> parseDatasetTasks(const QStringList& specs, QString* error) {
  QList<DatasetTask> tasks;
  for (const QString& spec : specs) {
    const QStringList parts = spec.startsWith(u"ask:") ? QStringList{spec} : spec.split(u',');
    for (const QString& raw : parts) {
      const QString p = raw.trimmed();
      DatasetTask t;
      if (p == QLatin1String("report")) t = {p, QString::fromUtf8(cxr::prompts::kReport)};
      else if (p == QLatin1String("differential")) t = {p, QString::fromUtf8(cxr::prompts::kDifferential)};
      else if (p.startsWith(u"ask:") && !p.mid(4).trimmed().isEmpty())
        t = {QStringLiteral("ask:") + p.mid(4).trimmed(), QString::fromStdString(cxr::prompts::ask(p.mid(4).trimmed().toStdString()))};
      else {
        *error = QStringLiteral("--tasks: \"%1\" is not a task (report, differential or ask:QUESTION)").arg(p);
        return std::nullopt;
      }
      for (const DatasetTask& other : tasks)
        if (other.name == t.name) {
          *error = QStringLiteral("--tasks: \"%1\" is given twice").arg(t.name);
          return std::nullopt;
        }
      tasks << t;
    }
  }
  if (tasks.isEmpty()) *error = QStringLiteral("--tasks: no task given");
  if (tasks.isEmpty()) return std::nullopt;
  return tasks;
}

QJsonObject DatasetRunSettings::resultSettings() const {
  QJsonArray taskNames;
  for (const DatasetTask& t : tasks) taskNames.append(t.name);
  QJsonObject o;
  o.insert(QStringLiteral("input"), QString(inputKind + QLatin1Char(':') + input));
  o.insert(QStringLiteral("image_root"), imageRoot);
  o.insert(QStringLiteral("tasks"), taskNames);
  o.insert(QStringLiteral("seed"), QString::number(qulonglong(seed)));
  o.insert(QStringLiteral("temperature"), double(sampling.temperature));
  o.insert(QStringLiteral("top_p"), double(sampling.topP));
  o.insert(QStringLiteral("top_k"), sampling.topK);
  o.insert(QStringLiteral("max_new_tokens"), sampling.maxNewTokens);
  o.insert(QStringLiteral("window"), window);
  o.insert(QStringLiteral("weights"), weights);
  o.insert(QStringLiteral("control"), control);
  return o;
}

cxr::ImageInput datasetControlImage(const QString& kind, uint64_t runSeed) {
  cxr::ImageInput img;
  img.width = img.height = kControlSide;
  img.channels = 1;
  img.pixels.assign(size_t(kControlSide) * kControlSide, 128);
  if (kind == QLatin1String("noise")) {
    std::mt19937_64 rng(runSeed ^ 0x6e6f697365ULL);  // "noise"
    for (auto& p : img.pixels) p = uint8_t(rng() >> 56);
  }
  return img;
}

QString DatasetProgressFormatter::format(const DatasetProgressEvent& e) const {
  const double perMinute = e.elapsedSeconds > 0 ? e.freshImages * 60.0 / e.elapsedSeconds : 0;
  const int imagesLeft = e.totalImages - e.doneImages;
  const double eta = perMinute > 0 ? imagesLeft * 60.0 / perMinute : -1;
  const QString rate = perMinute > 0 ? QString::number(perMinute, 'f', perMinute < 10 ? 2 : 1) : QStringLiteral("--");
  if (!terminal_) {
    return QStringLiteral("cxr-batch: %1/%2 %3 %4 %5 (%6 s) · %7 images/min · ETA %8\n")
        .arg(e.doneItems).arg(e.totalItems)
        .arg(e.failed ? QStringLiteral("error") : QStringLiteral("done"), e.id, e.task)
        .arg(e.itemSeconds, 0, 'f', 1)
        .arg(rate, formatRunDuration(eta));
  }
  constexpr int kWidth = 30;
  const int filled = e.totalItems > 0 ? int(double(kWidth) * e.doneItems / e.totalItems) : kWidth;
  return QStringLiteral("\r[%1%2] %3/%4 items · %5/%6 images · %7 images/min · ETA %8   ")
      .arg(QString(filled, u'#'), QString(kWidth - filled, u'.'))
      .arg(e.doneItems).arg(e.totalItems).arg(e.doneImages).arg(e.totalImages)
      .arg(rate, formatRunDuration(eta));
}

DatasetRunner::DatasetRunner(DatasetRunSettings settings, QList<DatasetItem> items, DatasetImageReader reader)
    : settings_(std::move(settings)), reader_(std::move(reader)) {
  int index = 0;
  for (DatasetItem& item : items) {
    if (settings_.shard.contains(index)) entries_.append({index, std::move(item), {}});
    ++index;
  }
  // The controls follow the images in the stable order, so sharding spreads them like any image.
  if (settings_.control) {
    for (const QString& kind : {QStringLiteral("gray"), QStringLiteral("noise")}) {
      if (settings_.shard.contains(index)) {
        DatasetItem item;
        item.id = item.image = QStringLiteral("control:") + kind;
        entries_.append({index, item, kind});
      }
      ++index;
    }
  }
}

int DatasetRunner::shardImages() const { return int(entries_.size()); }

int DatasetRunner::pendingItems() const {
  int n = 0;
  for (const Entry& e : entries_) {
    if (failed_.contains(e.item.id)) continue;
    for (const DatasetTask& t : settings_.tasks) n += done_.contains(datasetItemKey(e.item.id, t.name)) ? 0 : 1;
  }
  return n;
}

bool DatasetRunner::prepare(QString* error) {
  const QDir out(settings_.outDir);
  if (!out.exists() && !QDir().mkpath(settings_.outDir)) {
    *error = QStringLiteral("--out %1: cannot create the folder").arg(QDir::toNativeSeparators(settings_.outDir));
    return false;
  }
  runPath_ = out.filePath(runFileName(settings_.shard));
  const QString resultsPath = out.filePath(resultsFileName(settings_.shard));
  const QJsonObject settingsNow = settings_.resultSettings();
  QFile existing(runPath_);
  if (existing.exists()) {
    if (!existing.open(QIODevice::ReadOnly)) {
      *error = QStringLiteral("%1: cannot read (%2)").arg(QDir::toNativeSeparators(runPath_), existing.errorString());
      return false;
    }
    runFile_ = QJsonDocument::fromJson(existing.readAll()).object();
    if (runFile_.isEmpty()) {
      *error = QStringLiteral("%1: not a cxr-batch run file; remove it (and the results beside it) to start afresh").arg(QDir::toNativeSeparators(runPath_));
      return false;
    }
    const QStringList differ = differingSettings(runFile_.value(u"settings").toObject(), settingsNow);
    if (!differ.isEmpty()) {
      *error = QStringLiteral("%1 holds a run with other settings; resuming would mix results. Differences (recorded -> now): %2. "
                              "Use the recorded settings, or another --out.")
                   .arg(QDir::toNativeSeparators(settings_.outDir), differ.join(QStringLiteral("; ")));
      return false;
    }
  } else if (QFileInfo::exists(resultsPath) && QFileInfo(resultsPath).size() > 0) {
    *error = QStringLiteral("%1 exists without %2: cannot tell which settings made it; use another --out")
                 .arg(QDir::toNativeSeparators(resultsPath), runFileName(settings_.shard));
    return false;
  } else {
    runFile_ = QJsonObject();
    runFile_.insert(QStringLiteral("settings"), settingsNow);
  }
  // The shard's items and tasks, so that merge can say what is missing.
  QJsonArray items, tasks;
  for (const Entry& e : entries_) items.append(QJsonObject{{QStringLiteral("index"), e.index}, {QStringLiteral("id"), e.item.id}});
  for (const DatasetTask& t : settings_.tasks) tasks.append(t.name);
  runFile_.insert(QStringLiteral("items"), items);
  runFile_.insert(QStringLiteral("tasks"), tasks);
  runFile_.insert(QStringLiteral("shard"), QJsonObject{{QStringLiteral("index"), settings_.shard.index}, {QStringLiteral("count"), settings_.shard.count}});
  QSaveFile save(runPath_);
  if (!save.open(QIODevice::WriteOnly) || save.write(QJsonDocument(runFile_).toJson()) < 0 || !save.commit()) {
    *error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(runPath_), save.errorString());
    return false;
  }

  QList<QByteArray> lines;
  if (!results_.open(resultsPath, &lines, error)) return false;
  const ResultLines parsed = parseResultLines(lines, resultsPath);
  if (!parsed.ok()) {
    *error = parsed.error;
    return false;
  }
  done_.clear();
  for (const QJsonObject& o : parsed.objects) done_.insert(datasetItemKey(o.value(u"id").toString(), o.value(u"task").toString()));

  const QString errorsPath = out.filePath(errorsFileName(settings_.shard));
  QByteArray header = csvRecord({QStringLiteral("image"), QStringLiteral("reason"), QStringLiteral("id"), QStringLiteral("index")}).toUtf8();
  header.chop(2);  // AppendOnlyLines ends each line itself
  if (!errors_.open(errorsPath, &lines, error, header)) return false;
  if (lines.size() > 1) {
    const CsvReadResult csv = parseCsv(QByteArray(lines.join('\n') + '\n'), errorsPath);
    if (!csv.ok()) {
      *error = csv.error;
      return false;
    }
    const int cId = csv.table.column(QStringLiteral("id"));
    for (int r = 0; r < csv.table.rows.size(); ++r) failed_.insert(csv.table.value(r, cId));
  }
  return true;
}

QJsonObject DatasetRunner::resultLine(const Entry& e, const QString& imageSha, const DatasetTask& task, uint64_t seed,
                                      const cxr::GenerationResult& r, bool firstTask, double readSeconds,
                                      const cxr::ModelInfo& info) const {
  const QString text = QString::fromStdString(r.text);
  const cxr::Timings& t = r.timings;
  // The image is encoded once for all its tasks: its read, preprocessing and vision time belong to
  // the first task; the later ones say they reused it.
  QJsonObject timings{{QStringLiteral("read_s"), firstTask ? readSeconds : 0.0},
                      {QStringLiteral("preprocess_s"), firstTask ? t.preprocessSeconds : 0.0},
                      {QStringLiteral("vision_s"), firstTask ? t.visionSeconds : 0.0},
                      {QStringLiteral("image_reused"), !firstTask},
                      {QStringLiteral("prefill_s"), t.prefillSeconds},
                      // positions of the image's shared prefix (system prompt + image) taken from
                      // the image's earlier task instead of prefilled again (prefill_positions)
                      {QStringLiteral("reused_prefix_positions"), t.reusedPrefixPositions},
                      {QStringLiteral("first_token_s"), t.firstTokenSeconds},
                      {QStringLiteral("decode_s"), t.decodeSeconds},
                      {QStringLiteral("decode_tokens"), t.decodeTokens}};
  QJsonObject model{{QStringLiteral("folder"), QString::fromStdString(info.folder)},
                    {QStringLiteral("config_sha256"), QString::fromStdString(info.configSha256)},
                    {QStringLiteral("index_sha256"), QString::fromStdString(info.weightIndexSha256)},
                    {QStringLiteral("weights"), QString::fromStdString(info.weights)}};  // as resolved (auto)
  QJsonObject o{{QStringLiteral("index"), e.index},
                {QStringLiteral("id"), e.item.id},
                {QStringLiteral("image"), e.item.image},
                {QStringLiteral("image_sha256"), imageSha},
                {QStringLiteral("task"), task.name},
                {QStringLiteral("prompt"), task.prompt},
                {QStringLiteral("text"), text},
                // A string: JSON numbers lose 64-bit integers in most readers.
                {QStringLiteral("seed"), QString::number(qulonglong(seed))},
                {QStringLiteral("sampling"), QJsonObject{{QStringLiteral("temperature"), double(r.sampling.temperature)},
                                                         {QStringLiteral("top_p"), double(r.sampling.topP)},
                                                         {QStringLiteral("top_k"), r.sampling.topK},
                                                         {QStringLiteral("max_new_tokens"), r.sampling.maxNewTokens}}},
                {QStringLiteral("stop_reason"), QString::fromStdString(cxr::toString(r.stopReason))},
                {QStringLiteral("prefill_positions"), t.prefillPositions},
                {QStringLiteral("timings"), timings},
                {QStringLiteral("window"), e.control.isEmpty() ? settings_.window : QStringLiteral("none")},
                {QStringLiteral("findings"), datasetFindingsJson(text)},
                {QStringLiteral("model"), model}};
  if (!e.control.isEmpty()) o.insert(QStringLiteral("control"), e.control);
  if (!e.item.referenceReport.isEmpty()) o.insert(QStringLiteral("reference_report"), e.item.referenceReport);
  return o;
}

DatasetRunSummary DatasetRunner::run(cxr::Model& model, const std::function<void(const DatasetProgressEvent&)>& progress,
                                     const std::function<bool()>& cancelled) {
  DatasetRunSummary summary;
  const auto stopNow = [&] { return cancelled && cancelled(); };
  // The engine's callbacks: returning false cancels within one layer (image, prefill) or token.
  const cxr::PhaseProgress phaseProgress = [&](cxr::Phase, int, int) { return !stopNow(); };
  const cxr::TokenCallback tokenProgress = [&](const cxr::TokenEvent&) { return !stopNow(); };
  const cxr::ModelInfo& info = model.info();
  const QJsonObject modelNow{{QStringLiteral("config_sha256"), QString::fromStdString(info.configSha256)},
                             {QStringLiteral("index_sha256"), QString::fromStdString(info.weightIndexSha256)}};
  if (runFile_.contains(u"model")) {
    const QStringList differ = differingSettings(runFile_.value(u"model").toObject(), modelNow);
    if (!differ.isEmpty()) {
      summary.error = QStringLiteral("%1 was started with another model (%2); use that model or another --out")
                          .arg(QDir::toNativeSeparators(settings_.outDir), differ.join(QStringLiteral("; ")));
      return summary;
    }
  } else {
    runFile_.insert(QStringLiteral("model"), modelNow);
    QSaveFile save(runPath_);
    if (!save.open(QIODevice::WriteOnly) || save.write(QJsonDocument(runFile_).toJson()) < 0 || !save.commit()) {
      summary.error = QStringLiteral("%1: cannot write (%2)").arg(QDir::toNativeSeparators(runPath_), save.errorString());
      return summary;
    }
  }

  DatasetProgressEvent ev;
  ev.totalImages = int(entries_.size());
  ev.totalItems = ev.totalImages * int(settings_.tasks.size());
  QElapsedTimer clock;
  auto report = [&](const Entry& e, const QString& task, double seconds) {
    ev.id = e.item.id;
    ev.image = e.item.image;
    ev.task = task;
    ev.itemSeconds = seconds;
    ev.elapsedSeconds = clock.isValid() ? clock.nsecsElapsed() / 1e9 : 0;
    if (progress) progress(ev);
  };
  auto fail = [&](const Entry& e, int pendingTasks, const QString& reason) -> bool {
    QByteArray row = csvRecord({e.item.image, oneLine(reason), e.item.id, QString::number(e.index)}).toUtf8();
    row.chop(2);
    if (!errors_.append(row, &summary.error)) return false;
    failed_.insert(e.item.id);
    ++summary.failed;
    ev.doneItems += pendingTasks;
    ev.freshItems += pendingTasks;
    ev.doneImages += 1;
    ev.freshImages += 1;
    ev.failed = true;
    ev.reason = oneLine(reason);
    ev.result = QJsonObject();
    report(e, QStringLiteral("(all tasks)"), 0);
    return true;
  };

  for (const Entry& e : entries_) {
    if (stopNow()) {
      summary.stopped = true;
      return summary;
    }
    QList<const DatasetTask*> pending;
    for (const DatasetTask& t : settings_.tasks)
      if (!done_.contains(datasetItemKey(e.item.id, t.name))) pending << &t;
    if (failed_.contains(e.item.id) || pending.isEmpty()) {
      const int already = int(settings_.tasks.size());
      summary.skipped += failed_.contains(e.item.id) ? 0 : already;
      // Counted, not reported: a resumed run of 100,000 images would print 100,000 lines first.
      ev.doneItems += already;
      ev.doneImages += 1;
      continue;
    }
    ev.doneItems += int(settings_.tasks.size() - pending.size());
    summary.skipped += int(settings_.tasks.size() - pending.size());
    if (!clock.isValid()) clock.start();

    QElapsedTimer readClock;
    readClock.start();
    QString imageSha, readError;
    cxr::ImageInput pixels;
    if (e.control.isEmpty()) {
      imageSha = fileSha256(e.item.path, &readError);
      if (readError.isEmpty()) {
        DatasetImage img = reader_(e.item.path, settings_.window);
        readError = img.error;
        pixels = std::move(img.pixels);
      }
    } else {
      pixels = datasetControlImage(e.control, settings_.seed);
      imageSha = hexSha256(QByteArray(reinterpret_cast<const char*>(pixels.pixels.data()), qsizetype(pixels.pixels.size())));
    }
    if (!readError.isEmpty()) {
      if (!fail(e, int(pending.size()), readError)) return summary;
      continue;
    }
    const double readSeconds = readClock.nsecsElapsed() / 1e9;
    std::shared_ptr<const cxr::EncodedImage> encoded;
    try {
      encoded = model.encodeImage(pixels, phaseProgress);
    } catch (const cxr::Cancelled&) {
      summary.stopped = true;
      return summary;
    } catch (const std::exception& ex) {
      if (!fail(e, int(pending.size()), QStringLiteral("%1: the model could not encode it: %2").arg(e.item.image, QString::fromUtf8(ex.what())))) return summary;
      continue;
    }
    for (qsizetype position = 0; position < pending.size(); ++position) {
      const DatasetTask* task = pending[position];
      QElapsedTimer itemClock;
      itemClock.start();
      const uint64_t seed = datasetItemSeed(settings_.seed, imageSha, task->name);
      cxr::SamplingParams sampling = settings_.sampling;
      sampling.seed = seed;
      cxr::GenerationResult r;
      try {
        cxr::Conversation conversation(model);
        conversation.setImage(encoded);
        r = conversation.send(task->prompt.toStdString(), sampling, tokenProgress, phaseProgress);
      } catch (const std::exception& ex) {
        if (!fail(e, int(pending.size() - position), QStringLiteral("%1: %2: %3").arg(e.item.image, task->name, QString::fromUtf8(ex.what())))) return summary;
        break;
      }
      if (r.stopReason == cxr::StopReason::Cancelled) {  // a partial answer is no result: redone on resume
        summary.stopped = true;
        return summary;
      }
      const QJsonObject line = resultLine(e, imageSha, *task, seed, r, position == 0, readSeconds, info);
      if (!results_.append(QJsonDocument(line).toJson(QJsonDocument::Compact), &summary.error)) return summary;
      done_.insert(datasetItemKey(e.item.id, task->name));
      ++summary.written;
      ev.doneItems += 1;
      ev.freshItems += 1;
      if (task == pending.last()) {
        ev.doneImages += 1;
        ev.freshImages += 1;
      }
      ev.failed = false;
      ev.reason.clear();
      ev.result = line;
      report(e, task->name, itemClock.nsecsElapsed() / 1e9);
    }
  }
  return summary;
}

}  // namespace cxr::assistant
