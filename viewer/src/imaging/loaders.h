// Internal to cxr_imaging: the per-format loaders behind loadRadiograph(), and helpers they share.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QString>

#include <QFileInfo>

namespace cxr::viewer::detail {

// Ordinary image files through QImageReader (PNG 8/16-bit, JPEG, TIFF, BMP).
LoadResult loadImageFile(const QString& path, const LoadOptions& options);

// DICOM Part 10 or a bare data set (explicit, then implicit little endian).
LoadResult loadDicomFile(const QString& path, const LoadOptions& options);

// True when the file carries the Part 10 preamble + "DICM" magic.
bool hasDicomMagic(const QString& path);
// Lowercase hex SHA-256 of the file's bytes (one memory mapping); empty when it cannot be read.
QString fileSha256(const QString& path);
// Picks the loader by content (loadRadiograph after its checks and the hash).
LoadResult decodeFile(const QString& path, const QFileInfo& info, const LoadOptions& options);

// "Cannot open <name>: <reason>" (one sentence naming the file, as every loader error does).
QString loadError(const QString& path, const QString& reason);

// Empty when frames x width x height fits the options' pixel budget; else the reason, with the sizes.
QString pixelBudgetProblem(qint64 width, qint64 height, qint64 frames, const LoadOptions& options);

// Sets minStored/maxStored from framesData (gray images) or 0..255 (colour).
void computeStoredRange(RadiographImage& image);

}  // namespace cxr::viewer::detail
