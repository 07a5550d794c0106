#include "cxr/assistant/dataset_inputs.h"

#include "cxr/assistant/csv.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QHash>

#include <algorithm>
#include <optional>

namespace cxr::assistant {

namespace {

bool hasImageExtension(const QString& name) {
  static const QStringList kExtensions = {QStringLiteral("png"), QStringLiteral("jpg"), QStringLiteral("jpeg"),
                                          QStringLiteral("tif"), QStringLiteral("tiff"), QStringLiteral("dcm"),
                                          QStringLiteral("dicom")};
  return kExtensions.contains(QFileInfo(name).suffix().toLower());
}

QString record(const QString& file, int number) { return QStringLiteral("%1: record %2").arg(QDir::toNativeSeparators(file)).arg(number); }

// CheXpert's convention: 1.0 positive, 0.0 negative, -1.0 uncertain, blank not mentioned. The
// integer spellings are the same values.
std::optional<QString> normalizeLabel(const QString& value) {
  const QString v = value.trimmed();
  if (v.isEmpty()) return QString();
  if (v == QLatin1String("1") || v == QLatin1String("1.0")) return QStringLiteral("1.0");
  if (v == QLatin1String("0") || v == QLatin1String("0.0")) return QStringLiteral("0.0");
  if (v == QLatin1String("-1") || v == QLatin1String("-1.0")) return QStringLiteral("-1.0");
  return std::nullopt;
}

}  // namespace

const QStringList& chexpertObservations() {
  static const QStringList kNames = {
      QStringLiteral("Atelectasis"), QStringLiteral("Cardiomegaly"), QStringLiteral("Consolidation"),
      QStringLiteral("Edema"), QStringLiteral("Pleural Effusion"), QStringLiteral("Pneumothorax"),
      QStringLiteral("No Finding"), QStringLiteral("Enlarged Cardiomediastinum"), QStringLiteral("Lung Opacity"),
      QStringLiteral("Lung Lesion"), QStringLiteral("Pneumonia"), QStringLiteral("Pleural Other"),
      QStringLiteral("Fracture"), QStringLiteral("Support Devices")};
  return kNames;
}

bool hasDicomMagic(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly) || f.size() < 132 || !f.seek(128)) return false;
  return f.read(4) == "DICM";
}

DatasetInputs listDatasetFolder(const QString& folder) {
  DatasetInputs out;
  out.format = QStringLiteral("folder");
  const QFileInfo info(folder);
  if (!info.exists()) {
    out.error = QStringLiteral("%1: no such folder").arg(QDir::toNativeSeparators(folder));
    return out;
  }
  if (!info.isDir()) {
    out.error = QStringLiteral("%1: not a folder (--images takes a folder; use --manifest for a CSV)")
                    .arg(QDir::toNativeSeparators(folder));
    return out;
  }
  const QDir root(info.absoluteFilePath());
  QStringList relative;
  int skipped = 0;
  QDirIterator it(root.absolutePath(), QDir::Files | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    const QString path = it.next();
    const QString rel = root.relativeFilePath(path);
    const QStringList parts = rel.split(u'/');
    if (std::any_of(parts.begin(), parts.end(), [](const QString& part) { return part.startsWith(u'.'); })) continue;
    if (hasImageExtension(path) || hasDicomMagic(path)) relative << rel;
    else ++skipped;
  }
  // Code-point order: the same on every machine and locale (a cluster's nodes must agree).
  std::sort(relative.begin(), relative.end(), [](const QString& a, const QString& b) { return a.compare(b) < 0; });
  for (const QString& rel : relative) {
    DatasetItem item;
    item.id = rel;
    item.image = rel;
    item.path = root.absoluteFilePath(rel);
    out.items << item;
  }
  if (skipped > 0)
    out.notes << QStringLiteral("%1: %2 file(s) skipped: neither DICOM (no DICM magic) nor PNG/JPEG/TIFF by extension")
                     .arg(QDir::toNativeSeparators(folder))
                     .arg(skipped);
  if (out.items.isEmpty())
    out.error = QStringLiteral("%1: no image files in this folder or below it (DICOM, PNG, JPEG, TIFF)")
                    .arg(QDir::toNativeSeparators(folder));
  return out;
}

DatasetInputs readDatasetManifest(const QString& csvPath, const QString& imageRoot) {
  DatasetInputs out;
  const QString file = QDir::toNativeSeparators(csvPath);
  if (!QFileInfo(csvPath).isFile()) {
    out.error = QStringLiteral("%1: no such file").arg(file);
    return out;
  }
  if (!imageRoot.isEmpty() && !QFileInfo(imageRoot).isDir()) {
    out.error = QStringLiteral("--image-root %1: no such folder").arg(QDir::toNativeSeparators(imageRoot));
    return out;
  }
  const CsvReadResult read = readCsvFile(csvPath);
  if (!read.ok()) {
    out.error = read.error;
    return out;
  }
  const CsvTable& t = read.table;
  QDir base(imageRoot.isEmpty() ? QFileInfo(csvPath).absolutePath() : QFileInfo(imageRoot).absoluteFilePath());

  const int nihIndex = t.header.indexOf(QStringLiteral("Image Index"));
  const int nihLabels = t.header.indexOf(QStringLiteral("Finding Labels"));
  const bool nih = nihIndex >= 0;
  int pathColumn = -1;
  if (nih) {
    if (nihLabels < 0) {
      out.error = QStringLiteral("%1: has 'Image Index' but no 'Finding Labels' column (NIH ChestX-ray14's Data_Entry_2017.csv has both)").arg(file);
      return out;
    }
    out.format = QStringLiteral("nih");
  } else {
    pathColumn = t.column(QStringLiteral("path"));
    if (pathColumn < 0) {
      out.error = QStringLiteral("%1: no 'path' column (header: %2); a manifest needs path, CheXpert/MIMIC label files have Path, "
                                 "NIH's Data_Entry_2017.csv has Image Index")
                      .arg(file, t.header.join(QStringLiteral(", ")));
      return out;
    }
    out.format = t.header.at(pathColumn) == QLatin1String("Path") ? QStringLiteral("chexpert") : QStringLiteral("manifest");
    // CheXpert's paths start with the dataset folder that holds the CSV
    // ("CheXpert-v1.0-small/valid/..."): without --image-root they resolve against the CSV's parent
    // when that is where the first image is.
    if (out.format == u"chexpert" && imageRoot.isEmpty() && !t.rows.isEmpty()) {
      const QString first = t.value(0, pathColumn).trimmed();
      QDir parent = base;
      if (!first.isEmpty() && QDir::isRelativePath(first) && !base.exists(first) && parent.cdUp() && parent.exists(first)) {
        base = parent;
        out.notes << QStringLiteral("%1: paths resolved against %2 (CheXpert layout); give --image-root to choose")
                         .arg(file, QDir::toNativeSeparators(base.absolutePath()));
      }
    }
  }
  const int idColumn = t.header.indexOf(QStringLiteral("id"));
  const int reportColumn = t.header.indexOf(QStringLiteral("reference_report"));
  QList<QPair<QString, int>> labelColumns;
  for (const QString& name : chexpertObservations()) {
    const int c = t.header.indexOf(name);
    if (c >= 0) labelColumns.append({name, c});
  }

  // NIH names a file without its folder (images_001/images/...): index the tree once.
  QHash<QString, QString> byName;
  if (nih) {
    QDirIterator it(base.absolutePath(), QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
      const QString p = it.next();
      byName.insert(QFileInfo(p).fileName(), p);
    }
  }
  static const QHash<QString, QString> kNihToChexpert = {
      {QStringLiteral("Atelectasis"), QStringLiteral("Atelectasis")},
      {QStringLiteral("Cardiomegaly"), QStringLiteral("Cardiomegaly")},
      {QStringLiteral("Consolidation"), QStringLiteral("Consolidation")},
      {QStringLiteral("Edema"), QStringLiteral("Edema")},
      {QStringLiteral("Effusion"), QStringLiteral("Pleural Effusion")},
      {QStringLiteral("Pneumothorax"), QStringLiteral("Pneumothorax")},
      {QStringLiteral("Pneumonia"), QStringLiteral("Pneumonia")},
      {QStringLiteral("No Finding"), QStringLiteral("No Finding")}};
  static const QStringList kNihNames = {
      QStringLiteral("Atelectasis"), QStringLiteral("Cardiomegaly"), QStringLiteral("Consolidation"),
      QStringLiteral("Edema"), QStringLiteral("Effusion"), QStringLiteral("Emphysema"), QStringLiteral("Fibrosis"),
      QStringLiteral("Hernia"), QStringLiteral("Infiltration"), QStringLiteral("Mass"), QStringLiteral("Nodule"),
      QStringLiteral("Pleural_Thickening"), QStringLiteral("Pneumonia"), QStringLiteral("Pneumothorax"),
      QStringLiteral("No Finding")};

  QHash<QString, int> seenIds;
  for (int r = 0; r < t.rows.size(); ++r) {
    const int number = t.rowNumbers.value(r, r + 2);
    DatasetItem item;
    item.record = number;
    if (nih) {
      item.image = t.value(r, nihIndex).trimmed();
      if (item.image.isEmpty()) {
        out.error = QStringLiteral("%1, column 'Image Index': empty").arg(record(csvPath, number));
        return out;
      }
      item.path = byName.value(QFileInfo(item.image).fileName(), base.absoluteFilePath(item.image));
      const QStringList names = t.value(r, nihLabels).split(u'|', Qt::SkipEmptyParts);
      if (names.isEmpty()) {
        out.error = QStringLiteral("%1, column 'Finding Labels': empty (NIH writes 'No Finding' when there is none)")
                        .arg(record(csvPath, number));
        return out;
      }
      for (const QString& raw : names) {
        if (!kNihNames.contains(raw.trimmed())) {
          out.error = QStringLiteral("%1, column 'Finding Labels': unknown label '%2' (expected one of %3, separated by '|')")
                          .arg(record(csvPath, number), raw, kNihNames.join(QStringLiteral(", ")));
          return out;
        }
      }
      // NIH labels are all-or-nothing: a finding not listed is absent.
      for (auto i = kNihToChexpert.cbegin(); i != kNihToChexpert.cend(); ++i)
        item.labels.insert(i.value(), names.contains(i.key()) ? QStringLiteral("1.0") : QStringLiteral("0.0"));
    } else {
      item.image = t.value(r, pathColumn).trimmed();
      if (item.image.isEmpty()) {
        out.error = QStringLiteral("%1, column '%2': empty path").arg(record(csvPath, number), t.header.at(pathColumn));
        return out;
      }
      item.path = QDir::isAbsolutePath(item.image) ? QDir::cleanPath(item.image) : QDir::cleanPath(base.absoluteFilePath(item.image));
      for (const auto& [name, column] : labelColumns) {
        const auto v = normalizeLabel(t.value(r, column));
        if (!v) {
          out.error = QStringLiteral("%1, column '%2': '%3' is not a label (1.0 present, 0.0 absent, -1.0 uncertain, blank not mentioned)")
                          .arg(record(csvPath, number), name, t.value(r, column));
          return out;
        }
        item.labels.insert(name, *v);
      }
    }
    item.id = idColumn >= 0 ? t.value(r, idColumn).trimmed() : item.image;
    if (item.id.isEmpty()) {
      out.error = QStringLiteral("%1, column 'id': empty").arg(record(csvPath, number));
      return out;
    }
    if (reportColumn >= 0) item.referenceReport = t.value(r, reportColumn);
    if (seenIds.contains(item.id)) {
      out.error = QStringLiteral("%1, column '%2': id '%3' repeats record %4 (each image once: results are keyed by id)")
                      .arg(record(csvPath, number), idColumn >= 0 ? QStringLiteral("id") : (nih ? QStringLiteral("Image Index") : t.header.at(pathColumn)),
                           item.id)
                      .arg(seenIds.value(item.id));
      return out;
    }
    seenIds.insert(item.id, number);
    out.items << item;
  }
  if (out.items.isEmpty()) out.error = QStringLiteral("%1: no rows after the header").arg(file);
  return out;
}

}  // namespace cxr::assistant
