// cxr-assistant --run ... --quit-when-done: one assistant request on one image without a window.
// Opens the image with the viewer's loader, hands its default-window rendering to the assistant's
// BatchRun, streams the answer to stdout and writes the exports. Needs a QGuiApplication (the PDF
// is laid out with Qt's text engine); works with QT_QPA_PLATFORM=offscreen.
#pragma once

#include "command_line.h"

#include "cxr/assistant/batch_run.h"
#include "cxr/assistant/engine_backend.h"

#include <memory>

namespace cxr::app {

// Qt's own warnings go to stderr only when it is a terminal. Call before the application object.
void installBatchMessageHandler();

// Builds BatchRun's options from the command line (the request was checked by CommandLine).
cxr::assistant::BatchOptions batchOptions(const AssistantRun& run);

// Runs the event loop until the request is done; returns the exit code. On failure one line
// "cxr-assistant: REASON" goes to stderr. Progress lines go to stderr only when it is a terminal.
// `backend`: null for the real engine.
int runBatch(const AssistantRun& run, std::unique_ptr<cxr::assistant::EngineBackend> backend = nullptr);

}  // namespace cxr::app
