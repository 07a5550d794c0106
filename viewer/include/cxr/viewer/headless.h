// Headless rendering for scripts and tests.
//
// For app/gui/main.cpp (widgets developer): `cxr-assistant --render IN OUT.png [--frame N]
// [--window CENTER,WIDTH]` should call cxr::viewer::renderFileToPng() and exit 0 when it returns
// true, else print *error to stderr and exit non-zero. parseWindowSpec() parses "CENTER,WIDTH".
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QString>

#include <optional>

namespace cxr::viewer {

// Loads `in`, renders frame `frame` (0-based) as the model would see it (renderForModel: 8-bit gray,
// high = bright) under `window` (default: defaultVoi), and writes it as PNG to `out`.
// On failure returns false and sets *error (if given) to a sentence naming the file and the problem.
// `options` carries the pixel budget the file must fit.
bool renderFileToPng(const QString& in, const QString& out, int frame = 0,
                     std::optional<VoiWindow> window = std::nullopt, QString* error = nullptr,
                     const LoadOptions& options = {});

// "CENTER,WIDTH" as typed in the numeric entry box or given to `--window` ("40,400", "-600, 1500",
// "2047.5,4096"). Returns nothing when the text is not two finite numbers or the width is not
// positive; `error` then says what is wrong. (The one parser for this text: the widgets and the
// command line both use it.)
std::optional<VoiWindow> parseWindowSpec(const QString& text, QString* error = nullptr);

}  // namespace cxr::viewer
