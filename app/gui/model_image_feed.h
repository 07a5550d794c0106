// What the assistant is handed for the image on screen: the viewer's model renderings (default
// window, and the on-screen window), the file's hash (taken by the loader), the window values as text and the display
// fields split into non-identifying (description) and identifying (exported only on opt-in).
// Plain functions so that the window and the batch mode build the same thing.
#pragma once

#include "cxr/assistant/dataset_run.h"
#include "cxr/assistant/image_source.h"
#include "cxr/viewer/radiograph.h"

#include <QString>
#include <optional>

namespace cxr::app {

// "center 40, width 400", "VOI LUT 1", with "(file default)" / "(full range)" / "(on screen)".
QString describeVoi(const cxr::viewer::RadiographImage& image, const cxr::viewer::VoiSelection& voi,
                    const QString& origin);

// Non-identifying description from the file's own tags: "CR · PA · CHEST", else the format name.
QString describeImage(const cxr::viewer::RadiographImage& image);

// `onScreen`: the viewer's current VOI (nullopt: no on-screen rendering, e.g. the batch mode).
// The file's SHA-256 is the one the loader took (RadiographImage::sha256): the file is not read again.
cxr::assistant::ModelImageSource makeModelImageSource(
    const cxr::viewer::RadiographImage& image, int frame,
    const std::optional<cxr::viewer::VoiSelection>& onScreen);

// A dataset image as the GUI hands it to the model (cxr-batch run and File > Batch... read with
// this): the viewer's decoding, the file's default window ("default") or the full range ("full"),
// normal polarity, 8-bit gray. The loader's message (naming the file) when it cannot be read.
cxr::assistant::DatasetImage readDatasetImage(const QString& path, const QString& window,
                                              const cxr::viewer::LoadOptions& budget = {});

}  // namespace cxr::app
