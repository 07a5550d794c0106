// cxr-batch run / merge, the whole executable over the tiny golden checkpoint: the results lines
// and their fields, unreadable images in errors.csv, the control images, shard + merge equal to one
// run, seeds independent of order, resume after kill -9 (nothing lost, nothing twice, the same
// results as an uninterrupted run), the refusal to resume with other settings, and usage errors.
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace Qt::StringLiterals;

namespace {

const QString kExe = QStringLiteral(CXR_BATCH_EXE);
const QString kCheckpoint = QStringLiteral(CXR_GOLDEN_CHECKPOINT);
const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);
const QString kData = QStringLiteral(CXR_TEST_DATA_DIR);

struct Run {
  int exitCode = -1;
  QString err;
};

Run cxrBatch(const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.start(kExe, args);
  Run r;
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    r.err = u"timed out"_s;
    return r;
  }
  r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QByteArray readFile(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QList<QJsonObject> results(const QString& path) {
  QList<QJsonObject> out;
  for (const QByteArray& l : readFile(path).split('\n'))
    if (!l.isEmpty()) out << QJsonDocument::fromJson(l).object();
  return out;
}

// (id, task) -> text, in file order.
QStringList keyedTexts(const QList<QJsonObject>& lines) {
  QStringList out;
  for (const QJsonObject& o : lines)
    out << o.value(u"id"_s).toString() + u" | "_s + o.value(u"task"_s).toString() + u" | "_s +
               o.value(u"seed"_s).toString() + u" | "_s + o.value(u"text"_s).toString();
  return out;
}

// A dataset folder: the sample radiograph, the gradient PNG, a DICOM without an extension, and a
// file that claims to be a PNG but is not.
void makeDataset(const QString& dir, bool withBadImage = true) {
  QDir().mkpath(dir + u"/sub"_s);
  QFile::copy(kSample, dir + u"/a_chest.png"_s);
  QFile::copy(kData + u"/images/gray8_gradient.png"_s, dir + u"/sub/b_gradient.png"_s);
  QFile::copy(kData + u"/dicom/CT_small.dcm"_s, dir + u"/sub/c_scan"_s);
  if (withBadImage) {
    QFile bad(dir + u"/d_broken.png"_s);
    bad.open(QIODevice::WriteOnly);
    bad.write("\x89PNG\r\n\x1a\n this is not really a PNG");
  }
}

const QStringList kFast = {u"--max-new-tokens"_s, u"10"_s, u"--threads"_s, u"1"_s, u"--seed"_s, u"11"_s};

}  // namespace

class TestBatchCli : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(QFileInfo(kExe).isExecutable(), qPrintable(kExe));
    if (!QFileInfo::exists(kCheckpoint + u"/config.json"_s)) QSKIP(qPrintable(u"no tiny golden checkpoint at "_s + kCheckpoint));
  }

  void usageErrorsExit2WithAMessage() {
    QTemporaryDir dir;
    const QStringList base = {u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, kData + u"/images"_s, u"--out"_s, dir.path()};
    const QList<QPair<QStringList, QString>> cases = {
        {{u"run"_s, u"--images"_s, kData, u"--out"_s, dir.path()}, u"--model DIR is required"_s},
        {{u"run"_s, u"--model"_s, kCheckpoint, u"--out"_s, dir.path()}, u"exactly one of --images DIR and --manifest CSV"_s},
        {{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, kData}, u"--out DIR is required"_s},
        {{u"run"_s, u"--model"_s, dir.filePath(u"nope"_s), u"--images"_s, kData, u"--out"_s, dir.path()}, u"--model "_s},
        {base + QStringList{u"--shard"_s, u"0/3"_s}, u"--shard expects K/N"_s},
        {base + QStringList{u"--temperature"_s, u"-1"_s}, u"--temperature expects a number in [0, 5]"_s},
        {base + QStringList{u"--top-p"_s, u"0"_s}, u"--top-p expects a number in (0, 1]"_s},
        {base + QStringList{u"--top-k"_s, u"x"_s}, u"--top-k expects a whole number"_s},
        {base + QStringList{u"--max-new-tokens"_s, u"-5"_s}, u"--max-new-tokens expects a whole number"_s},
        {base + QStringList{u"--threads"_s, u"0"_s}, u"--threads expects a whole number from 1"_s},
        {base + QStringList{u"--window"_s, u"lung"_s}, u"--window expects default or full"_s},
        {base + QStringList{u"--weights"_s, u"int3"_s}, u"--weights expects bf16, int8, int4 or auto"_s},
        {base + QStringList{u"--tasks"_s, u"report,summary"_s}, u"\"summary\" is not a task"_s},
        {base + QStringList{u"--seed"_s, u"-1"_s}, u"--seed expects a whole number"_s},
        {base + QStringList{u"--image-root"_s, kData}, u"--image-root goes with --manifest"_s},
        {base + QStringList{u"--frobnicate"_s}, u"unknown option \"--frobnicate\""_s},
        {base + QStringList{u"--seed"_s}, u"--seed needs a value"_s},
        {{u"merge"_s}, u"--out DIR is required"_s},
    };
    for (const auto& [args, message] : cases) {
      const Run r = cxrBatch(args);
      QVERIFY2(r.exitCode == 2 && r.err.contains(message), qPrintable(args.join(u' ') + u"\n -> "_s + r.err));
    }
    QVERIFY(!QFile::exists(dir.filePath(u"results.jsonl"_s)));
  }

  void aBadManifestRowIsNamedAndNothingRuns() {
    QTemporaryDir dir;
    QFile csv(dir.filePath(u"m.csv"_s));
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("path,Cardiomegaly\na.png,1.0\nb.png,2\n");
    csv.close();
    const Run r = cxrBatch({u"run"_s, u"--model"_s, kCheckpoint, u"--manifest"_s, csv.fileName(), u"--out"_s, dir.filePath(u"out"_s)});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains(u"m.csv: record 3, column 'Cardiomegaly': '2' is not a label"_s), qPrintable(r.err));
  }

  void aRunWritesOneLinePerImageAndTaskAndUnreadableImagesToErrors() {
    QTemporaryDir dir;
    makeDataset(dir.filePath(u"images"_s));
    const QString out = dir.filePath(u"out"_s);
    const Run r = cxrBatch(QStringList{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, dir.filePath(u"images"_s), u"--out"_s, out,
                                       u"--tasks"_s, u"report,ask:Is there a pneumothorax?"_s, u"--control"_s} + kFast);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains(u"1 image(s) could not be read"_s), qPrintable(r.err));
    const QList<QJsonObject> lines = results(out + u"/results.jsonl"_s);
    // 3 readable images + 2 controls, 2 tasks each, in the stable order.
    QCOMPARE(lines.size(), 10);
    QStringList order;
    for (const QJsonObject& o : lines) order << o.value(u"id"_s).toString() + u'/' + o.value(u"task"_s).toString();
    QCOMPARE(order, (QStringList{u"a_chest.png/report"_s, u"a_chest.png/ask:Is there a pneumothorax?"_s,
                                 u"sub/b_gradient.png/report"_s, u"sub/b_gradient.png/ask:Is there a pneumothorax?"_s,
                                 u"sub/c_scan/report"_s, u"sub/c_scan/ask:Is there a pneumothorax?"_s,
                                 u"control:gray/report"_s, u"control:gray/ask:Is there a pneumothorax?"_s,
                                 u"control:noise/report"_s, u"control:noise/ask:Is there a pneumothorax?"_s}));
    const QJsonObject first = lines[0];
    for (const QString& key : {u"id"_s, u"image"_s, u"image_sha256"_s, u"task"_s, u"prompt"_s, u"text"_s, u"seed"_s,
                               u"stop_reason"_s, u"prefill_positions"_s, u"timings"_s, u"window"_s, u"findings"_s, u"model"_s})
      QVERIFY2(first.contains(key), qPrintable(key));
    QCOMPARE(first.value(u"image_sha256"_s).toString(),
             QString::fromLatin1(QCryptographicHash::hash(readFile(kSample), QCryptographicHash::Sha256).toHex()));
    QVERIFY(first.value(u"prompt"_s).toString().startsWith(u"<image>\nWrite a radiologic report"_s));
    QCOMPARE(first.value(u"window"_s).toString(), u"default"_s);
    QCOMPARE(first.value(u"stop_reason"_s).toString().isEmpty(), false);
    QVERIFY(first.value(u"prefill_positions"_s).toInt() > 0);
    QVERIFY(first.value(u"timings"_s).toObject().contains(u"decode_s"_s));
    // Encoded once: the second task of the image reuses it and says so.
    QVERIFY(first.value(u"timings"_s).toObject().value(u"vision_s"_s).toDouble() > 0);
    QCOMPARE(lines[1].value(u"timings"_s).toObject().value(u"vision_s"_s).toDouble(), 0.0);
    QCOMPARE(lines[1].value(u"timings"_s).toObject().value(u"image_reused"_s).toBool(), true);
    QCOMPARE(first.value(u"timings"_s).toObject().value(u"image_reused"_s).toBool(), false);
    // And so is the prompt's shared prefix (system prompt + image rows): the second task prefills
    // only its question (issue 9).
    QCOMPARE(first.value(u"timings"_s).toObject().value(u"reused_prefix_positions"_s).toInt(), 0);
    QVERIFY2(lines[1].value(u"timings"_s).toObject().value(u"reused_prefix_positions"_s).toInt() > 16,
             QJsonDocument(lines[1]).toJson().constData());
    QVERIFY2(lines[1].value(u"prefill_positions"_s).toInt() < 30, QJsonDocument(lines[1]).toJson().constData());
    const QJsonObject findings = first.value(u"findings"_s).toObject();
    QCOMPARE(findings.keys(), (QStringList{u"Atelectasis"_s, u"Cardiomegaly"_s, u"Consolidation"_s, u"Edema"_s,
                                           u"Pleural Effusion"_s, u"Pneumothorax"_s}));
    const QJsonObject model = first.value(u"model"_s).toObject();
    QCOMPARE(model.value(u"weights"_s).toString(), u"bf16"_s);
    QCOMPARE(model.value(u"config_sha256"_s).toString(),
             QString::fromLatin1(QCryptographicHash::hash(readFile(kCheckpoint + u"/config.json"_s), QCryptographicHash::Sha256).toHex()));
    QCOMPARE(model.value(u"index_sha256"_s).toString().size(), 64);
    // Each item's seed is its own; the controls are marked.
    QSet<QString> seeds;
    for (const QJsonObject& o : lines) seeds.insert(o.value(u"seed"_s).toString());
    QCOMPARE(seeds.size(), 10);
    QCOMPARE(lines[6].value(u"control"_s).toString(), u"gray"_s);
    QCOMPARE(lines[8].value(u"control"_s).toString(), u"noise"_s);
    QVERIFY(!lines[0].contains(u"control"_s));
    const QByteArray errors = readFile(out + u"/errors.csv"_s);
    QVERIFY2(errors.startsWith("image,reason,id,index\n") && errors.contains("d_broken.png,"), errors.constData());
    QCOMPARE(errors.count('\n'), 2);

    // Started again with the same arguments: nothing to do, nothing written twice.
    const Run again = cxrBatch(QStringList{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, dir.filePath(u"images"_s), u"--out"_s, out,
                                           u"--tasks"_s, u"report,ask:Is there a pneumothorax?"_s, u"--control"_s} + kFast);
    QVERIFY2(again.exitCode == 0 && again.err.contains(u"0 item(s) to do"_s), qPrintable(again.err));
    QCOMPARE(results(out + u"/results.jsonl"_s).size(), 10);
    QCOMPARE(readFile(out + u"/errors.csv"_s), errors);

    // With other settings it refuses and says which differ.
    const Run other = cxrBatch(QStringList{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, dir.filePath(u"images"_s), u"--out"_s, out,
                                           u"--tasks"_s, u"report"_s, u"--control"_s, u"--max-new-tokens"_s, u"10"_s, u"--seed"_s, u"12"_s});
    QCOMPARE(other.exitCode, 1);
    QVERIFY2(other.err.contains(u"seed: 11 -> 12"_s) && other.err.contains(u"tasks:"_s), qPrintable(other.err));
  }

  void shardsMergedEqualASingleRunAndSeedsDoNotDependOnOrder() {
    QTemporaryDir dir;
    const QString images = dir.filePath(u"images"_s);
    makeDataset(images);
    const QStringList common = QStringList{u"--model"_s, kCheckpoint, u"--tasks"_s, u"report,differential"_s, u"--temperature"_s, u"0.9"_s} + kFast;
    Run r = cxrBatch(QStringList{u"run"_s, u"--images"_s, images, u"--out"_s, dir.filePath(u"single"_s), u"--control"_s} + common);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QString sharded = dir.filePath(u"sharded"_s);
    // Shard 2 first: the order the shards run in does not matter.
    for (const QString& shard : {u"2/3"_s, u"3/3"_s}) {
      r = cxrBatch(QStringList{u"run"_s, u"--images"_s, images, u"--out"_s, sharded, u"--control"_s, u"--shard"_s, shard} + common);
      QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    }
    QVERIFY(QFile::exists(sharded + u"/results.shard-2-of-3.jsonl"_s));
    r = cxrBatch({u"merge"_s, u"--out"_s, sharded});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains(u"shard 1 of 3: not started"_s), qPrintable(r.err));
    QVERIFY(!QFile::exists(sharded + u"/results.jsonl"_s));
    r = cxrBatch(QStringList{u"run"_s, u"--images"_s, images, u"--out"_s, sharded, u"--control"_s, u"--shard"_s, u"1/3"_s} + common);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    r = cxrBatch({u"merge"_s, u"--out"_s, sharded});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QStringList single = keyedTexts(results(dir.filePath(u"single/results.jsonl"_s)));
    QCOMPARE(single.size(), 10);
    QCOMPARE(keyedTexts(results(sharded + u"/results.jsonl"_s)), single);
    QCOMPARE(readFile(sharded + u"/errors.csv"_s), readFile(dir.filePath(u"single/errors.csv"_s)));

    // The same images through a manifest in reverse order: each (image, task) keeps its seed and text.
    QFile csv(dir.filePath(u"reversed.csv"_s));
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("path,id\nimages/sub/c_scan,sub/c_scan\nimages/sub/b_gradient.png,sub/b_gradient.png\nimages/a_chest.png,a_chest.png\n");
    csv.close();
    r = cxrBatch(QStringList{u"run"_s, u"--manifest"_s, csv.fileName(), u"--out"_s, dir.filePath(u"reversed"_s)} + common);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QStringList reversed = keyedTexts(results(dir.filePath(u"reversed/results.jsonl"_s)));
    QCOMPARE(reversed.size(), 6);
    QStringList expected = single.mid(0, 6);
    std::sort(reversed.begin(), reversed.end());
    std::sort(expected.begin(), expected.end());
    QCOMPARE(reversed, expected);
  }

  void killedWithSigkillAndRestartedLosesNothingAndRepeatsNothing() {
    QTemporaryDir dir;
    const QString images = dir.filePath(u"images"_s);
    QDir().mkpath(images);
    // Enough images that the run is still going when the first line appears.
    for (int i = 0; i < 12; ++i) QFile::copy(kSample, images + QStringLiteral("/img%1.png").arg(i, 3, 10, QLatin1Char('0')));
    const QStringList args = QStringList{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, images, u"--tasks"_s, u"report,differential"_s,
                                         u"--temperature"_s, u"0.7"_s, u"--max-new-tokens"_s, u"16"_s, u"--threads"_s, u"1"_s};
    const QString killed = dir.filePath(u"killed"_s);
    QProcess p;
    p.start(kExe, args + QStringList{u"--out"_s, killed});
    QVERIFY(p.waitForStarted());
    QElapsedTimer t;
    t.start();
    while (!readFile(killed + u"/results.jsonl"_s).contains('\n') && t.elapsed() < 60000) QTest::qWait(2);
    QVERIFY2(readFile(killed + u"/results.jsonl"_s).contains('\n'), "no result within 60 s");
    ::kill(pid_t(p.processId()), SIGKILL);
    p.waitForFinished();
    QCOMPARE(p.exitStatus(), QProcess::CrashExit);
    const int before = int(results(killed + u"/results.jsonl"_s).size());
    QVERIFY2(before < 24, "the run finished before the kill: nothing was interrupted");

    const Run resumed = cxrBatch(args + QStringList{u"--out"_s, killed});
    QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
    // Only what was not finished ran again.
    QVERIFY2(resumed.err.contains(QStringLiteral("%1 result(s) written, %2 already done").arg(24 - before).arg(before)), qPrintable(resumed.err));
    const QStringList resumedTexts = keyedTexts(results(killed + u"/results.jsonl"_s));
    QCOMPARE(resumedTexts.size(), 24);
    QCOMPARE(QSet<QString>(resumedTexts.begin(), resumedTexts.end()).size(), 24);  // no duplicate line
    const QByteArray raw = readFile(killed + u"/results.jsonl"_s);
    QVERIFY(raw.endsWith('\n'));
    for (const QByteArray& l : raw.split('\n'))
      QVERIFY(l.isEmpty() || !QJsonDocument::fromJson(l).isNull());  // no half line left behind

    const Run straight = cxrBatch(args + QStringList{u"--out"_s, dir.filePath(u"straight"_s)});
    QVERIFY2(straight.exitCode == 0, qPrintable(straight.err));
    QCOMPARE(resumedTexts, keyedTexts(results(dir.filePath(u"straight/results.jsonl"_s))));
  }

  void progressIsOneLinePerItemWhenNotATerminal() {
    QTemporaryDir dir;
    const Run r = cxrBatch(QStringList{u"run"_s, u"--model"_s, kCheckpoint, u"--images"_s, kData + u"/images"_s, u"--out"_s, dir.path(),
                                       u"--tasks"_s, u"report,differential"_s} + kFast);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains(u"cxr-batch: 1/2 done gray8_gradient.png report"_s), qPrintable(r.err));
    QVERIFY2(r.err.contains(u"cxr-batch: 2/2 done gray8_gradient.png differential"_s), qPrintable(r.err));
    QVERIFY(r.err.contains(u"images/min"_s) && !r.err.contains(u'\r'));
  }
};

QTEST_GUILESS_MAIN(TestBatchCli)
#include "test_batch_cli.moc"
