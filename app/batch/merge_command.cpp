// cxr-batch merge: combines the shard files of a run (mergeDatasetShards in assistant/).
#include <QDir>
#include <QTextStream>

#include "batch_commands.h"
#include "cxr/assistant/dataset_results.h"

namespace cxr::batch {

namespace {

const char* const kMergeUsage =
    "Usage: cxr-batch merge --out DIR [--allow-missing]\n"
    "\n"
    "Combines results.shard-K-of-N.jsonl and errors.shard-K-of-N.csv in DIR into results.jsonl and\n"
    "errors.csv, in the run's order, and says which shards or items are missing. With items missing it\n"
    "writes nothing and exits 1, unless --allow-missing.\n";

}  // namespace

int mergeCommand(const QStringList& args) {
  QTextStream err(stderr);
  QString out;
  bool allowMissing = false;
  for (int i = 0; i < args.size(); ++i) {
    const QString& a = args[i];
    if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
      QTextStream(stdout) << kMergeUsage;
      return 0;
    }
    if (a == QLatin1String("--allow-missing")) {
      allowMissing = true;
    } else if (a == QLatin1String("--out")) {
      if (i + 1 >= args.size()) {
        err << "cxr-batch merge: --out needs a value\n" << kMergeUsage;
        return 2;
      }
      out = args[++i];
    } else {
      err << "cxr-batch merge: unknown option \"" << a << "\"\n" << kMergeUsage;
      return 2;
    }
  }
  if (out.isEmpty()) {
    err << "cxr-batch merge: --out DIR is required\n" << kMergeUsage;
    return 2;
  }
  const auto report = cxr::assistant::mergeDatasetShards(out, allowMissing);
  if (!report.ok()) {
    err << "cxr-batch merge: " << report.error << "\n";
    return 1;
  }
  for (const QString& line : report.missing) err << "cxr-batch merge: missing: " << line << "\n";
  const QString where = QDir::toNativeSeparators(out);
  if (!report.written) {
    err << "cxr-batch merge: nothing written: " << report.missingItems
        << " item(s) missing; rerun the missing shards (same arguments: they resume) or pass --allow-missing\n";
    return 1;
  }
  err << "cxr-batch merge: " << report.shards << " shard(s): " << report.results << " result(s) into "
      << where << "/results.jsonl, " << report.errors << " unreadable image(s) into errors.csv"
      << (report.missing.isEmpty() ? "" : " (incomplete: --allow-missing)") << "\n";
  return 0;
}

}  // namespace cxr::batch
