// cxr-batch run: options in, DatasetRunner (assistant/dataset_run.h) does the work. Images are read
// with the viewer's imaging library and rendered as the GUI feeds the model.
#include <QDir>
#include <QFileInfo>
#include <QTextStream>

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "batch_commands.h"
#include "cxr/assistant/dataset_inputs.h"
#include "cxr/assistant/dataset_run.h"
#include "cxr/assistant/image_source.h"
#include "model_image_feed.h"

namespace cxr::batch {

namespace {

const char* const kRunUsage =
    "Usage: cxr-batch run --model DIR (--images DIR | --manifest CSV) --out DIR [options]\n"
    "\n"
    "  --model DIR            the CXR-LLaVA checkpoint folder\n"
    "  --images DIR           every image below DIR (DICOM with or without extension, PNG, JPEG, TIFF)\n"
    "  --manifest CSV         a CSV with a path column (optional id, reference_report, labels), a\n"
    "                         CheXpert/MIMIC-CXR-JPG label CSV (Path) or NIH's Data_Entry_2017.csv\n"
    "  --image-root DIR       where relative manifest paths (and NIH's file names) are found\n"
    "                         (default: the manifest's folder)\n"
    "  --out DIR              results.jsonl, errors.csv and run.json go here; rerun to resume\n"
    "  --tasks LIST           report,differential,ask:QUESTION (default: report); repeat --tasks for\n"
    "                         questions that hold a comma\n"
    "  --shard K/N            only the K-th of N shards (1-based); cxr-batch merge combines them\n"
    "  --seed N               run seed; each (image, task) draws its own from it and the image hash (0)\n"
    "  --temperature T        0 (greedy) to 5 (default 0.2)\n"
    "  --top-p P              in (0, 1] (default 0.8)\n"
    "  --top-k K              0 (off) or more (default 50)\n"
    "  --max-new-tokens N     0 (the reference rule, up to 512) or more (default 0)\n"
    "  --window default|full  the file's default window, as the GUI feeds the model, or full range\n"
    "  --weights W            the decoder's weights: bf16 (default, as published), int8, int4, or\n"
    "                         auto (bf16 unless the memory cannot hold it); int8/int4 are made once\n"
    "                         into ~/.cache/cxr-assistant (see cxr-llava quantize)\n"
    "  --control              also run each task on a mid-gray and a seeded noise image, once\n"
    "  --threads N            compute threads (default: physical cores)\n"
    "  --max-image-megapixels N  images larger than N megapixels per frame are refused from their\n"
    "                         header, before decoding (default 50; listed in errors.csv)\n"
    "  --max-file-megapixels N   the same for all frames of a multi-frame DICOM (default 500)\n";

struct Parsed {
  cxr::assistant::DatasetRunSettings settings;
  QString images, manifest;
  int threads = 0;
  cxr::viewer::LoadOptions imageBudget;
};

int usageError(const QString& message) {
  QTextStream(stderr) << "cxr-batch run: " << message << "\n(cxr-batch run --help lists the options)\n";
  return 2;
}

std::optional<double> number(const QString& option, const QString& text, double lo, double hi, bool loOpen, QString* error) {
  bool ok = false;
  const double v = text.toDouble(&ok);
  if (!ok || !(loOpen ? v > lo : v >= lo) || v > hi) {
    *error = QStringLiteral("%1 expects a number in %2%3, %4], got \"%5\"").arg(option, loOpen ? QStringLiteral("(") : QStringLiteral("["))
                 .arg(lo).arg(hi).arg(text);
    return std::nullopt;
  }
  return v;
}

std::optional<long long> integer(const QString& option, const QString& text, long long lo, long long hi, QString* error) {
  bool ok = false;
  const long long v = text.toLongLong(&ok);
  if (!ok || v < lo || v > hi) {
    *error = QStringLiteral("%1 expects a whole number from %2 to %3, got \"%4\"").arg(option).arg(lo).arg(hi).arg(text);
    return std::nullopt;
  }
  return v;
}

// Returns 0 when parsed, else the exit status (2 usage, 0 after --help).
int parse(const QStringList& args, Parsed* p) {
  auto& s = p->settings;
  QStringList taskSpecs;
  QString shard, modelFolder, imageRoot, out;
  QString error;
  double maxImageMegapixels = double(cxr::viewer::LoadOptions::kDefaultMaxFramePixels) / 1e6;
  double maxFileMegapixels = double(cxr::viewer::LoadOptions::kDefaultMaxTotalPixels) / 1e6;
  bool fileMegapixelsGiven = false;  // if not, it grows with --max-image-megapixels
  for (int i = 0; i < args.size(); ++i) {
    const QString a = args[i];
    if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
      QTextStream(stdout) << kRunUsage;
      return -1;
    }
    if (a == QLatin1String("--control")) {
      s.control = true;
      continue;
    }
    static const QStringList kValued = {QStringLiteral("--model"), QStringLiteral("--images"), QStringLiteral("--manifest"), QStringLiteral("--out"), QStringLiteral("--tasks"), QStringLiteral("--shard"), QStringLiteral("--seed"),
                                        QStringLiteral("--temperature"), QStringLiteral("--top-p"), QStringLiteral("--top-k"), QStringLiteral("--max-new-tokens"), QStringLiteral("--window"),
                                        QStringLiteral("--weights"), QStringLiteral("--image-root"), QStringLiteral("--threads"),
                                        QStringLiteral("--max-image-megapixels"), QStringLiteral("--max-file-megapixels")};
    if (!kValued.contains(a)) return usageError(QStringLiteral("unknown option \"%1\"").arg(a));
    if (i + 1 >= args.size()) return usageError(QStringLiteral("%1 needs a value").arg(a));
    const QString v = args[++i];
    if (a == QLatin1String("--model")) modelFolder = v;
    else if (a == QLatin1String("--images")) p->images = v;
    else if (a == QLatin1String("--manifest")) p->manifest = v;
    else if (a == QLatin1String("--out")) out = v;
    else if (a == QLatin1String("--tasks")) taskSpecs << v;
    else if (a == QLatin1String("--shard")) shard = v;
    else if (a == QLatin1String("--image-root")) imageRoot = v;
    else if (a == QLatin1String("--seed")) {
      bool ok = false;
      s.seed = v.toULongLong(&ok);
      if (!ok) return usageError(QStringLiteral("--seed expects a whole number from 0 to 18446744073709551615, got \"%1\"").arg(v));
    } else if (a == QLatin1String("--temperature")) {
      const auto x = number(a, v, 0, 5, false, &error);
      if (!x) return usageError(error);
      s.sampling.temperature = float(*x);
    } else if (a == QLatin1String("--top-p")) {
      const auto x = number(a, v, 0, 1, true, &error);
      if (!x) return usageError(error);
      s.sampling.topP = float(*x);
    } else if (a == QLatin1String("--top-k")) {
      const auto x = integer(a, v, 0, 1000000, &error);
      if (!x) return usageError(error);
      s.sampling.topK = int(*x);
    } else if (a == QLatin1String("--max-new-tokens")) {
      const auto x = integer(a, v, 0, 1000000, &error);
      if (!x) return usageError(error);
      s.sampling.maxNewTokens = int(*x);
    } else if (a == QLatin1String("--threads")) {
      const auto x = integer(a, v, 1, 4096, &error);
      if (!x) return usageError(error);
      p->threads = int(*x);
    } else if (a == QLatin1String("--max-image-megapixels") || a == QLatin1String("--max-file-megapixels")) {
      const auto x = number(a, v, 0, cxr::viewer::kMaxFileMegapixelsLimit, true, &error);
      if (!x) return usageError(error);
      (a == QLatin1String("--max-image-megapixels") ? maxImageMegapixels : maxFileMegapixels) = *x;
      fileMegapixelsGiven = fileMegapixelsGiven || a == QLatin1String("--max-file-megapixels");
    } else if (a == QLatin1String("--window")) {
      if (v != QLatin1String("default") && v != QLatin1String("full")) return usageError(QStringLiteral("--window expects default or full, got \"%1\"").arg(v));
      s.window = v;
    } else if (a == QLatin1String("--weights")) {
      if (!cxr::checkWeightsChoice(v.toStdString()).empty() || v.isEmpty())
        return usageError(QStringLiteral("--weights expects bf16, int8, int4 or auto, got \"%1\"").arg(v));
      s.weights = v;
    }
  }
  if (!fileMegapixelsGiven) maxFileMegapixels = std::max(maxFileMegapixels, maxImageMegapixels);
  if (const QString problem = cxr::viewer::setPixelBudget(p->imageBudget, maxImageMegapixels, maxFileMegapixels);
      !problem.isEmpty())
    return usageError(QStringLiteral("--max-image-megapixels / --max-file-megapixels: ") + problem);
  if (modelFolder.isEmpty()) return usageError(QStringLiteral("--model DIR is required"));
  if (!QFileInfo(modelFolder).isDir()) return usageError(QStringLiteral("--model %1: no such folder").arg(QDir::toNativeSeparators(modelFolder)));
  if (p->images.isEmpty() == p->manifest.isEmpty())
    return usageError(QStringLiteral("give exactly one of --images DIR and --manifest CSV"));
  if (!imageRoot.isEmpty() && p->manifest.isEmpty()) return usageError(QStringLiteral("--image-root goes with --manifest"));
  if (out.isEmpty()) return usageError(QStringLiteral("--out DIR is required"));
  if (QFileInfo::exists(out) && !QFileInfo(out).isDir()) return usageError(QStringLiteral("--out %1: exists and is not a folder").arg(QDir::toNativeSeparators(out)));
  if (taskSpecs.isEmpty()) taskSpecs << QStringLiteral("report");
  const auto tasks = cxr::assistant::parseDatasetTasks(taskSpecs, &error);
  if (!tasks) return usageError(error);
  s.tasks = *tasks;
  if (!shard.isEmpty()) {
    const auto spec = cxr::assistant::parseShardSpec(shard, &error);
    if (!spec) return usageError(error);
    s.shard = *spec;
  }
  s.modelFolder = QFileInfo(modelFolder).absoluteFilePath();
  s.inputKind = p->images.isEmpty() ? QStringLiteral("manifest") : QStringLiteral("images");
  s.input = QFileInfo(p->images.isEmpty() ? p->manifest : p->images).absoluteFilePath();
  s.imageRoot = imageRoot.isEmpty() ? QString() : QFileInfo(imageRoot).absoluteFilePath();
  s.outDir = QFileInfo(out).absoluteFilePath();
  return 0;
}

}  // namespace

int runCommand(const QStringList& args) {
  Parsed p;
  if (const int rc = parse(args, &p); rc != 0) return rc < 0 ? 0 : rc;
  QTextStream err(stderr);
  const auto inputs = p.images.isEmpty() ? cxr::assistant::readDatasetManifest(p.manifest, p.settings.imageRoot)
                                         : cxr::assistant::listDatasetFolder(p.images);
  for (const QString& note : inputs.notes) err << "cxr-batch run: " << note << "\n";
  if (!inputs.ok()) {
    err << "cxr-batch run: " << inputs.error << "\n";
    return 1;
  }
  cxr::assistant::DatasetRunner runner(p.settings, inputs.items, [&p](const QString& path, const QString& window) {
    return cxr::app::readDatasetImage(path, window, p.imageBudget);
  });
  QString error;
  if (!runner.prepare(&error)) {
    err << "cxr-batch run: " << error << "\n";
    return 1;
  }
  const int pending = runner.pendingItems();
  err << "cxr-batch run: " << inputs.items.size() << " image(s) (" << inputs.format << "), " << runner.shardImages()
      << " in this shard, " << pending << " item(s) to do\n";
  err.flush();
  if (pending == 0) return 0;

  err << "cxr-batch run: loading " << QDir::toNativeSeparators(p.settings.modelFolder) << "\n";
  err.flush();
  std::unique_ptr<cxr::Model> model;
  try {
    cxr::LoadOptions load;
    load.threads = p.threads;
    load.weights = p.settings.weights.toStdString();
    model = cxr::Model::load(p.settings.modelFolder.toStdString(), load);
  } catch (const std::exception& ex) {
    err << "cxr-batch run: " << QString::fromUtf8(ex.what()) << "\n";
    return 1;
  }
  const cxr::assistant::DatasetProgressFormatter formatter(::isatty(STDERR_FILENO) == 1);
  const auto summary = runner.run(*model, [&](const cxr::assistant::DatasetProgressEvent& e) {
    err << formatter.format(e);
    err.flush();
  });
  err << formatter.finish();
  if (!summary.ok()) {
    err << "cxr-batch run: " << summary.error << "\n";
    return 1;
  }
  err << "cxr-batch run: " << summary.written << " result(s) written, " << summary.skipped << " already done, "
      << summary.failed << " image(s) could not be read (see " << cxr::assistant::errorsFileName(p.settings.shard) << ")\n";
  return 0;
}

}  // namespace cxr::batch
