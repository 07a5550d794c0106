// The images of a dataset run (cxr-batch run), in a stable order: every image file below a folder,
// or the rows of a manifest CSV. Manifests are our own CSV (a `path` column, optional `id`,
// `reference_report` and label columns), the CheXpert / MIMIC-CXR-JPG label CSVs (`Path`) and NIH
// ChestX-ray14's Data_Entry_2017.csv (`Image Index`, `Finding Labels` separated by '|').
//
// Nothing here decodes an image: a file that cannot be read is found when the run reads it, goes to
// errors.csv and the run goes on. A manifest that cannot be trusted (a missing column, an empty path,
// a label outside the convention, a repeated id) is refused with the file, record and column.
#pragma once

#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace cxr::assistant {

struct DatasetItem {
  QString id;               // unique in the run: the manifest's id, else the path as written / found
  QString image;            // the path as written in the manifest, or relative to the images folder
  QString path;             // absolute path of the file
  QString referenceReport;  // manifest column reference_report (may be empty)
  QMap<QString, QString> labels;  // CheXpert observation -> "1.0", "0.0", "-1.0" or "" (blank)
  int record = 0;           // manifest record number (header = 1); 0 for folder listings
};

struct DatasetInputs {
  QList<DatasetItem> items;
  QString format;   // "folder", "manifest", "chexpert", "nih"
  QStringList notes;  // things a user should know (files skipped as not images, ...)
  QString error;    // empty on success
  bool ok() const { return error.isEmpty(); }
};

// DICOM Part 10: "DICM" at byte 128 (whatever the file is called).
bool hasDicomMagic(const QString& path);

// Every image file below `folder` (recursively, hidden entries and symbolic links to folders
// skipped): DICOM by its magic (with or without an extension), PNG, JPEG and TIFF by extension.
// Sorted by relative path (code-point order, the same on every machine); ids are those paths.
DatasetInputs listDatasetFolder(const QString& folder);

// A manifest CSV. Relative paths resolve against `imageRoot` when given, else the CSV's folder.
// NIH's Image Index is a bare file name: it is looked up below `imageRoot` (or the CSV's folder),
// which may hold the dataset's images_001 ... images_012 folders.
DatasetInputs readDatasetManifest(const QString& csvPath, const QString& imageRoot = {});

// The fourteen CheXpert observations (label column names), the six the findings rules cover first.
const QStringList& chexpertObservations();

}  // namespace cxr::assistant
