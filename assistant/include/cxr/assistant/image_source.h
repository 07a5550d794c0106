// The image the app hands to the assistant, as plain data (assistant/ does not depend on viewer/).
#pragma once

#include "cxr/assistant/image_input.h"  // toImageInput(): the hand-off to the engine
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
  QString sha256;             // of the file (taken while it was loaded)
  int frame = 0;              // of a multi-frame file
  QString description;        // non-identifying, e.g. "CR · PA"
  PatientFields patient;      // identifying; exported only when the user opts in
  bool isNull() const { return defaultWindow.isNull() && currentWindow.isNull(); }
  // What the model is shown, as an identity: the file's SHA-256, the frame and the window text.
  // Equal identities mean equal pixels, so the engine encodes an image once however often it is
  // handed over (a new conversation, the same file reopened). Empty without a hash.
  QString identity(ModelImageChoice choice) const;
  // The window text the choice uses (the default window when there is no on-screen rendering).
  QString windowText(ModelImageChoice choice) const;
};

// Where the model's square crop lies in the source image's pixel coordinates.
QRectF cropRectInSource(const PreprocessInfo& info, int sourceWidth, int sourceHeight);

}  // namespace cxr::assistant
