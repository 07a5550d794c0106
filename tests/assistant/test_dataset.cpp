// The library side of cxr-batch run / merge: which images a folder or manifest yields (our CSV,
// CheXpert, NIH) and in which order, the per-item seed, the append-only results file that a kill
// cannot corrupt, the resume check, the findings object, progress lines and the merge of shards.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <algorithm>
#include <set>

#include "cxr/assistant/dataset_inputs.h"
#include "cxr/assistant/dataset_results.h"
#include "cxr/assistant/dataset_run.h"

using namespace Qt::StringLiterals;
using namespace cxr::assistant;

namespace {

const QString kData = qEnvironmentVariable("CXR_TEST_DATA_DIR");

void writeFile(const QString& path, const QByteArray& bytes) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile f(path);
  QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
  f.write(bytes);
}

QByteArray readFile(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void copy(const QString& from, const QString& to) {
  QDir().mkpath(QFileInfo(to).absolutePath());
  QVERIFY2(QFile::copy(from, to), qPrintable(from + u" -> "_s + to));
}

QStringList ids(const DatasetInputs& in) {
  QStringList out;
  for (const auto& item : in.items) out << item.id;
  return out;
}

// One results line as cxr-batch run writes it (the fields merge reads).
QByteArray resultLine(int index, const QString& id, const QString& task, const QString& text) {
  return QJsonDocument(QJsonObject{{u"index"_s, index}, {u"id"_s, id}, {u"task"_s, task}, {u"text"_s, text}})
      .toJson(QJsonDocument::Compact);
}

QByteArray runFile(const QList<QPair<int, QString>>& items, const QStringList& tasks, int seed = 0) {
  QJsonArray a, t;
  for (const auto& [index, id] : items) a.append(QJsonObject{{u"index"_s, index}, {u"id"_s, id}});
  for (const QString& name : tasks) t.append(name);
  return QJsonDocument(QJsonObject{{u"settings"_s, QJsonObject{{u"seed"_s, QString::number(seed)}}}, {u"items"_s, a}, {u"tasks"_s, t}})
      .toJson();
}

}  // namespace

class TestDataset : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void folderListsImagesRecursivelyInCodePointOrderAndFindsDicomByItsMagic() {
    QTemporaryDir dir;
    const QString png = kData + u"/images/gray8_gradient.png"_s;
    copy(png, dir.filePath(u"b/z.png"_s));
    copy(png, dir.filePath(u"B.PNG"_s));
    copy(png, dir.filePath(u"a.jpeg.png"_s));
    copy(kData + u"/dicom/CT_small.dcm"_s, dir.filePath(u"b/scan_without_extension"_s));  // DICM at 128
    writeFile(dir.filePath(u"README.txt"_s), "not an image");
    copy(png, dir.filePath(u".hidden/x.png"_s));
    copy(png, dir.filePath(u"b/.cache/y.png"_s));
    const DatasetInputs in = listDatasetFolder(dir.path());
    QVERIFY2(in.ok(), qPrintable(in.error));
    QCOMPARE(ids(in), (QStringList{u"B.PNG"_s, u"a.jpeg.png"_s, u"b/scan_without_extension"_s, u"b/z.png"_s}));
    QCOMPARE(in.items[2].path, QDir(dir.path()).absoluteFilePath(u"b/scan_without_extension"_s));
    QCOMPARE(in.notes.size(), 1);
    QVERIFY2(in.notes[0].contains(u"1 file(s) skipped"_s), qPrintable(in.notes[0]));
  }

  void dicomMagicIsByteForByte() {
    QVERIFY(hasDicomMagic(kData + u"/dicom/CT_small.dcm"_s));
    QVERIFY(!hasDicomMagic(kData + u"/dicom/no_meta.dcm"_s));  // a bare data set has no preamble
    QVERIFY(!hasDicomMagic(kData + u"/images/gray8_gradient.png"_s));
  }

  void anEmptyOrMissingFolderIsAnError() {
    QTemporaryDir dir;
    QVERIFY(listDatasetFolder(dir.path()).error.contains(u"no image files"_s));
    QVERIFY(listDatasetFolder(dir.filePath(u"nope"_s)).error.contains(u"no such folder"_s));
  }

  void ourManifestResolvesPathsAndKeepsIdsReportsAndLabels() {
    QTemporaryDir dir;
    const QString csv = dir.filePath(u"sub/manifest.csv"_s);
    writeFile(csv,
              "id,path,reference_report,Edema,Cardiomegaly\r\n"
              "p1,images/a.png,\"Heart is enlarged, no edema.\nNo effusion.\",0,1.0\r\n"
              "p2," + dir.filePath(u"abs.png"_s).toUtf8() + ",,-1,\r\n");
    const DatasetInputs in = readDatasetManifest(csv);
    QVERIFY2(in.ok(), qPrintable(in.error));
    QCOMPARE(in.format, u"manifest"_s);
    QCOMPARE(ids(in), (QStringList{u"p1"_s, u"p2"_s}));
    QCOMPARE(in.items[0].path, dir.filePath(u"sub/images/a.png"_s));
    QCOMPARE(in.items[0].image, u"images/a.png"_s);
    QCOMPARE(in.items[1].path, dir.filePath(u"abs.png"_s));
    QCOMPARE(in.items[0].referenceReport, u"Heart is enlarged, no edema.\nNo effusion."_s);
    QCOMPARE(in.items[0].labels.value(u"Edema"_s), u"0.0"_s);
    QCOMPARE(in.items[0].labels.value(u"Cardiomegaly"_s), u"1.0"_s);
    QCOMPARE(in.items[1].labels.value(u"Edema"_s), u"-1.0"_s);
    QCOMPARE(in.items[1].labels.value(u"Cardiomegaly"_s), QString());
    QCOMPARE(in.items[0].record, 2);
  }

  void badManifestRowsNameFileRecordAndColumn() {
    QTemporaryDir dir;
    const QString csv = dir.filePath(u"m.csv"_s);
    writeFile(csv, "image,id\na.png,1\n");
    QVERIFY2(readDatasetManifest(csv).error.contains(u"no 'path' column"_s), qPrintable(readDatasetManifest(csv).error));
    writeFile(csv, "path,id\na.png,1\n ,2\n");
    QString e = readDatasetManifest(csv).error;
    QVERIFY2(e.contains(u"m.csv: record 3, column 'path': empty path"_s), qPrintable(e));
    writeFile(csv, "path,Edema\na.png,1.0\nb.png,yes\n");
    e = readDatasetManifest(csv).error;
    QVERIFY2(e.contains(u"record 3, column 'Edema': 'yes' is not a label"_s), qPrintable(e));
    writeFile(csv, "path,id\na.png,x\nb.png,y\nc.png,x\n");
    e = readDatasetManifest(csv).error;
    QVERIFY2(e.contains(u"record 4, column 'id': id 'x' repeats record 2"_s), qPrintable(e));
    writeFile(csv, "path,id\n\"a.png,1\n");
    QVERIFY(readDatasetManifest(csv).error.contains(u"m.csv"_s));  // the CSV reader's own message names the file
    QVERIFY(readDatasetManifest(dir.filePath(u"none.csv"_s)).error.contains(u"no such file"_s));
  }

  void chexpertLabelFileIsAManifestWithImageRoot() {
    QTemporaryDir dir;
    const QString csv = dir.filePath(u"CheXpert-v1.0-small/valid.csv"_s);
    writeFile(csv,
              "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Edema,Pleural Effusion\n"
              "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,,1.0,,-1.0\n"
              "CheXpert-v1.0-small/valid/patient64542/study1/view1_frontal.jpg,Male,70,Frontal,PA,1.0,0.0,0.0,\n");
    const DatasetInputs in = readDatasetManifest(csv, dir.path());
    QVERIFY2(in.ok(), qPrintable(in.error));
    QCOMPARE(in.format, u"chexpert"_s);
    QCOMPARE(in.items[0].id, u"CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg"_s);
    QCOMPARE(in.items[0].path, dir.filePath(u"CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg"_s));
    QCOMPARE(in.items[0].labels.value(u"Pleural Effusion"_s), u"-1.0"_s);
    QCOMPARE(in.items[1].labels.value(u"No Finding"_s), u"1.0"_s);
    QCOMPARE(in.items[1].labels.value(u"Edema"_s), u"0.0"_s);

    // Without --image-root, CheXpert's own layout (the CSV inside the folder its paths start with).
    copy(kData + u"/images/gray8_gradient.png"_s, dir.filePath(u"CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg"_s));
    const DatasetInputs own = readDatasetManifest(csv);
    QVERIFY2(own.ok(), qPrintable(own.error));
    QCOMPARE(own.items[0].path, in.items[0].path);
    QCOMPARE(own.notes.size(), 1);
  }

  void nihDataEntryFindsFilesBelowTheImageRootAndSplitsLabels() {
    QTemporaryDir dir;
    const QString png = kData + u"/images/gray8_gradient.png"_s;
    copy(png, dir.filePath(u"nih/images_001/images/00000001_000.png"_s));
    copy(png, dir.filePath(u"nih/images_002/images/00000002_000.png"_s));
    const QString csv = dir.filePath(u"Data_Entry_2017.csv"_s);
    writeFile(csv,
              "Image Index,Finding Labels,Follow-up #,Patient ID\n"
              "00000001_000.png,Cardiomegaly|Effusion,0,1\n"
              "00000002_000.png,No Finding,0,2\n");
    const DatasetInputs in = readDatasetManifest(csv, dir.filePath(u"nih"_s));
    QVERIFY2(in.ok(), qPrintable(in.error));
    QCOMPARE(in.format, u"nih"_s);
    QCOMPARE(ids(in), (QStringList{u"00000001_000.png"_s, u"00000002_000.png"_s}));
    QCOMPARE(in.items[1].path, dir.filePath(u"nih/images_002/images/00000002_000.png"_s));
    QCOMPARE(in.items[0].labels.value(u"Cardiomegaly"_s), u"1.0"_s);
    QCOMPARE(in.items[0].labels.value(u"Pleural Effusion"_s), u"1.0"_s);
    QCOMPARE(in.items[0].labels.value(u"Edema"_s), u"0.0"_s);
    QCOMPARE(in.items[1].labels.value(u"Cardiomegaly"_s), u"0.0"_s);

    writeFile(csv, "Image Index,Finding Labels\n00000001_000.png,Cardiomegaly|Efusion\n");
    const QString e = readDatasetManifest(csv, dir.filePath(u"nih"_s)).error;
    QVERIFY2(e.contains(u"record 2, column 'Finding Labels': unknown label 'Efusion'"_s), qPrintable(e));
    QVERIFY(readDatasetManifest(csv, dir.filePath(u"missing"_s)).error.contains(u"--image-root"_s));
  }

  void itemSeedsDependOnlyOnRunSeedImageAndTask() {
    const QString sha = u"ab"_s.repeated(32);
    const uint64_t s = datasetItemSeed(7, sha, u"report"_s);
    QCOMPARE(datasetItemSeed(7, sha, u"report"_s), s);
    QVERIFY(datasetItemSeed(8, sha, u"report"_s) != s);
    QVERIFY(datasetItemSeed(7, sha, u"differential"_s) != s);
    QVERIFY(datasetItemSeed(7, u"cd"_s.repeated(32), u"report"_s) != s);
    // sha256("7|<sha>|report"), first 8 bytes, big-endian: an independent computation.
    const QByteArray d = QCryptographicHash::hash(QByteArray("7|" + sha.toLatin1() + "|report"), QCryptographicHash::Sha256);
    QCOMPARE(s, qFromBigEndian<quint64>(d.constData()));
  }

  void shardSpecsAndFileNames() {
    QString e;
    const auto s = parseShardSpec(u"2/3"_s, &e);
    QVERIFY(s);
    QVERIFY(!s->contains(0) && s->contains(1) && !s->contains(2) && s->contains(4));
    QCOMPARE(resultsFileName(*s), u"results.shard-2-of-3.jsonl"_s);
    QCOMPARE(errorsFileName(*s), u"errors.shard-2-of-3.csv"_s);
    QCOMPARE(resultsFileName(ShardSpec{}), u"results.jsonl"_s);
    for (const QString& bad : {u"0/3"_s, u"4/3"_s, u"1/0"_s, u"2"_s, u"a/b"_s, u"-1/2"_s}) {
      QVERIFY2(!parseShardSpec(bad, &e), qPrintable(bad));
      QVERIFY(e.contains(u"--shard expects K/N"_s));
    }
  }

  void tasksParseAndRejectUnknownOrRepeated() {
    QString e;
    const auto t = parseDatasetTasks({u"report,differential"_s, u"ask:Is there a pneumothorax, or not?"_s}, &e);
    QVERIFY2(t, qPrintable(e));
    QCOMPARE(t->size(), 3);
    QCOMPARE(t->at(2).name, u"ask:Is there a pneumothorax, or not?"_s);
    QVERIFY(t->at(2).prompt.startsWith(u"<image>\nIs there a pneumothorax, or not?"_s));
    QVERIFY(t->at(0).prompt.startsWith(u"<image>\n"_s));
    QVERIFY(!parseDatasetTasks({u"report,summary"_s}, &e) && e.contains(u"\"summary\" is not a task"_s));
    QVERIFY(!parseDatasetTasks({u"report,report"_s}, &e) && e.contains(u"given twice"_s));
    QVERIFY(!parseDatasetTasks({u"ask:"_s}, &e));
  }

  void findingsUseTheCheXpertNamesAndConvention() {
    const QJsonObject f = datasetFindingsJson(u"The heart is enlarged, consistent with cardiomegaly. No pleural effusion. "
                                              u"Possible atelectasis at the left base."_s);
    QCOMPARE(f.keys().size(), 6);
    QCOMPARE(f.value(u"Cardiomegaly"_s).toInt(-9), 1);
    QCOMPARE(f.value(u"Pleural Effusion"_s).toInt(-9), 0);
    QCOMPARE(f.value(u"Atelectasis"_s).toInt(-9), -1);
    QVERIFY(f.value(u"Pneumothorax"_s).isNull());
    QVERIFY(f.value(u"Edema"_s).isNull());
    QVERIFY(f.value(u"Consolidation"_s).isNull());
  }

  void appendOnlyLinesDropAPartialLastLineAndKeepTheRest() {
    QTemporaryDir dir;
    const QString path = dir.filePath(u"results.jsonl"_s);
    writeFile(path, "{\"a\":1}\n{\"b\":2}\n{\"c\":");  // killed in the middle of the third line
    AppendOnlyLines lines;
    QList<QByteArray> existing;
    QString e;
    QVERIFY2(lines.open(path, &existing, &e), qPrintable(e));
    QCOMPARE(existing, (QList<QByteArray>{"{\"a\":1}", "{\"b\":2}"}));
    QCOMPARE(lines.droppedPartialBytes(), 5);
    QVERIFY(lines.append("{\"c\":3}", &e));
    QCOMPARE(readFile(path), QByteArray("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"));
  }

  void aSecondWriterOfTheSameFileIsRefused() {
    QTemporaryDir dir;
    const QString path = dir.filePath(u"results.jsonl"_s);
    QString e;
    AppendOnlyLines first, second;
    QVERIFY(first.open(path, nullptr, &e));
    QVERIFY(!second.open(path, nullptr, &e));
    QVERIFY2(e.contains(u"another cxr-batch run is writing this file"_s), qPrintable(e));
  }

  void appendOnlyLinesWriteTheHeaderOnceOnly() {
    QTemporaryDir dir;
    const QString path = dir.filePath(u"errors.csv"_s);
    QString e;
    {
      AppendOnlyLines lines;
      QVERIFY(lines.open(path, nullptr, &e, "image,reason"));
      QVERIFY(lines.append("a.png,broken", &e));
    }
    AppendOnlyLines again;
    QList<QByteArray> existing;
    QVERIFY(again.open(path, &existing, &e, "image,reason"));
    QCOMPARE(existing.size(), 2);
    QCOMPARE(readFile(path), QByteArray("image,reason\na.png,broken\n"));
  }

  void aBadResultsLineNamesFileAndLine() {
    const ResultLines r = parseResultLines({resultLine(0, u"a"_s, u"report"_s, u"x"_s), "{not json"}, u"out/results.jsonl"_s);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(u"out/results.jsonl: line 2"_s), qPrintable(r.error));
  }

  void differingSettingsSayWhatChanged() {
    const QJsonObject a{{u"seed"_s, u"1"_s}, {u"temperature"_s, 0.2}, {u"window"_s, u"default"_s}};
    QJsonObject b = a;
    b.insert(u"seed"_s, u"2"_s);
    b.insert(u"window"_s, u"full"_s);
    QCOMPARE(differingSettings(a, b), (QStringList{u"seed: 1 -> 2"_s, u"window: default -> full"_s}));
    QVERIFY(differingSettings(a, a).isEmpty());
  }

  void settingsThatChangeResultsAreRecorded() {
    DatasetRunSettings s;
    s.seed = 5;
    s.sampling.temperature = 0;
    s.window = u"full"_s;
    s.control = true;
    DatasetRunSettings other = s;
    other.outDir = u"/elsewhere"_s;  // where results go does not change them
    other.shard = ShardSpec{2, 3, true};
    QCOMPARE(s.resultSettings(), other.resultSettings());
    other.sampling.topK = 10;
    QCOMPARE(differingSettings(s.resultSettings(), other.resultSettings()), (QStringList{u"top_k: 50 -> 10"_s}));
  }

  void progressIsABarOnATerminalAndALinePerItemInALog() {
    DatasetProgressEvent e;
    e.doneItems = 10;
    e.totalItems = 40;
    e.doneImages = 5;
    e.totalImages = 20;
    e.freshImages = 5;
    e.elapsedSeconds = 60;
    e.id = u"p7"_s;
    e.task = u"report"_s;
    e.itemSeconds = 1.5;
    const QString line = DatasetProgressFormatter(false).format(e);
    QVERIFY2(line.startsWith(u"cxr-batch: 10/40 done p7 report (1.5 s)"_s) && line.endsWith(u'\n'), qPrintable(line));
    QVERIFY2(line.contains(u"5.00 images/min"_s) && line.contains(u"ETA 3:00"_s), qPrintable(line));  // 15 images at 5/min
    const QString bar = DatasetProgressFormatter(true).format(e);
    QVERIFY2(bar.startsWith(u"\r[#######......................."_s), qPrintable(bar));
    QVERIFY2(bar.contains(u"10/40 items"_s) && bar.contains(u"ETA 3:00"_s) && !bar.contains(u'\n'), qPrintable(bar));
  }

  void controlImagesAreMidGrayAndSeededNoise() {
    const cxr::ImageInput gray = datasetControlImage(u"gray"_s, 1);
    QCOMPARE(gray.pixels.size(), size_t(gray.width) * gray.height);
    QVERIFY(std::all_of(gray.pixels.begin(), gray.pixels.end(), [](uint8_t v) { return v == 128; }));
    const cxr::ImageInput n1 = datasetControlImage(u"noise"_s, 1), n1again = datasetControlImage(u"noise"_s, 1),
                          n2 = datasetControlImage(u"noise"_s, 2);
    QCOMPARE(n1.pixels, n1again.pixels);
    QVERIFY(n1.pixels != n2.pixels);
    QVERIFY(std::set<uint8_t>(n1.pixels.begin(), n1.pixels.end()).size() > 200);
  }

  void mergeOrdersByImageThenTaskAndCountsErrorsAsDone() {
    QTemporaryDir dir;
    const QStringList tasks{u"report"_s, u"differential"_s};
    // Images 0..4 over two shards: shard 1 has 0, 2, 4; shard 2 has 1, 3 (3 unreadable).
    writeFile(dir.filePath(u"run.shard-1-of-2.json"_s), runFile({{0, u"a"_s}, {2, u"c"_s}, {4, u"e"_s}}, tasks));
    writeFile(dir.filePath(u"run.shard-2-of-2.json"_s), runFile({{1, u"b"_s}, {3, u"d"_s}}, tasks));
    QByteArray s1, s2;
    for (const auto& [i, id] : QList<QPair<int, QString>>{{4, u"e"_s}, {0, u"a"_s}, {2, u"c"_s}})
      for (const QString& t : {u"differential"_s, u"report"_s}) s1 += resultLine(i, id, t, id + t) + '\n';
    for (const QString& t : tasks) s2 += resultLine(1, u"b"_s, t, u"b"_s + t) + '\n';
    s2 += resultLine(1, u"b"_s, u"report"_s, u"duplicate"_s) + '\n';  // never twice in the merge
    writeFile(dir.filePath(u"results.shard-1-of-2.jsonl"_s), s1);
    writeFile(dir.filePath(u"results.shard-2-of-2.jsonl"_s), s2 + "{\"partial");
    writeFile(dir.filePath(u"errors.shard-2-of-2.csv"_s), "image,reason,id,index\nd.png,cannot open,d,3\n");
    const MergeReport r = mergeDatasetShards(dir.path(), false);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QVERIFY2(r.missing.isEmpty(), qPrintable(r.missing.join(u'\n')));
    QVERIFY(r.written);
    QCOMPARE(r.results, 8);
    QCOMPARE(r.errors, 1);
    QStringList order;
    for (const QByteArray& l : readFile(dir.filePath(u"results.jsonl"_s)).split('\n'))
      if (!l.isEmpty()) order << QJsonDocument::fromJson(l).object().value(u"text"_s).toString();
    QCOMPARE(order, (QStringList{u"areport"_s, u"adifferential"_s, u"breport"_s, u"bdifferential"_s, u"creport"_s,
                                 u"cdifferential"_s, u"ereport"_s, u"edifferential"_s}));
    QVERIFY(readFile(dir.filePath(u"errors.csv"_s)).contains("d.png,cannot open,d,3"));
  }

  void mergeNamesMissingShardsAndItemsAndWritesNothingUnlessAllowed() {
    QTemporaryDir dir;
    const QStringList tasks{u"report"_s};
    writeFile(dir.filePath(u"run.shard-1-of-3.json"_s), runFile({{0, u"a"_s}, {3, u"d"_s}}, tasks));
    writeFile(dir.filePath(u"results.shard-1-of-3.jsonl"_s), resultLine(0, u"a"_s, u"report"_s, u"x"_s) + '\n');
    writeFile(dir.filePath(u"run.shard-2-of-3.json"_s), runFile({{1, u"b"_s}}, tasks));
    writeFile(dir.filePath(u"results.shard-2-of-3.jsonl"_s), resultLine(1, u"b"_s, u"report"_s, u"y"_s) + '\n');
    MergeReport r = mergeDatasetShards(dir.path(), false);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.missing.size(), 2);
    QVERIFY2(r.missing[0].contains(u"shard 1 of 3: 1 item(s) not done, e.g. d report"_s), qPrintable(r.missing[0]));
    QVERIFY2(r.missing[1].contains(u"shard 3 of 3: not started"_s), qPrintable(r.missing[1]));
    QVERIFY(!r.written);
    QVERIFY(!QFile::exists(dir.filePath(u"results.jsonl"_s)));
    r = mergeDatasetShards(dir.path(), true);
    QVERIFY(r.written);
    QCOMPARE(r.results, 2);
  }

  void mergeRefusesShardsOfDifferentRuns() {
    QTemporaryDir dir;
    writeFile(dir.filePath(u"run.shard-1-of-2.json"_s), runFile({{0, u"a"_s}}, {u"report"_s}, 1));
    writeFile(dir.filePath(u"run.shard-2-of-2.json"_s), runFile({{1, u"b"_s}}, {u"report"_s}, 2));
    MergeReport r = mergeDatasetShards(dir.path(), true);
    QVERIFY2(r.error.contains(u"different settings (seed: 1 -> 2)"_s), qPrintable(r.error));
    writeFile(dir.filePath(u"run.shard-1-of-3.json"_s), runFile({{0, u"a"_s}}, {u"report"_s}, 1));
    r = mergeDatasetShards(dir.path(), true);
    QVERIFY2(r.error.contains(u"split 2 and 3 ways"_s), qPrintable(r.error));
    QTemporaryDir empty;
    QVERIFY(mergeDatasetShards(empty.path(), true).error.contains(u"no shard files"_s));
  }
};

QTEST_GUILESS_MAIN(TestDataset)
#include "test_dataset.moc"
