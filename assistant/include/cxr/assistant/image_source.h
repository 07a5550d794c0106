// The image the app hands to the assistant, as plain data (assistant/ does not depend on viewer/).
#pragma once

#include "cxr/assistant/report_export.h"

#include <QImage>
#include <QString>

namespace cxr::assistant {

enum class ModelImageChoice { DefaultWindow, CurrentWindow };

struct ModelImageSource {
  QImage defaultWindow;       // 8-bit gray (high = bright) under the file's default window
  QImage currentWindow;       // 8-bit gray under the on-screen window (may be null)
  QString defaultWindowText;  // e.g. "center 2048, width 4096 (file default)"
  QString currentWindowText;  // e.g. "center 1800, width 3000 (on screen)"
  QString filePath;
  QString sha256;             // of the file
  QString description;        // non-identifying, e.g. "CR · PA"
  PatientFields patient;      // identifying; exported only when the user opts in
  bool isNull() const { return defaultWindow.isNull() && currentWindow.isNull(); }
};

// Gray bytes, tightly packed (QImage rows are 4-byte aligned). RGB images are passed as RGB and
// converted by the engine with Pillow's integer luma.
ImageInput toImageInput(const QImage& image);

// Where the model's square crop lies in the source image's pixel coordinates.
QRectF cropRectInSource(const PreprocessInfo& info, int sourceWidth, int sourceHeight);

}  // namespace cxr::assistant
