// The real EngineBackend over cxr::Model and cxr::Conversation (the libtorch engine).
#pragma once

#include "cxr/assistant/engine_backend.h"

#include <memory>

namespace cxr::assistant {

std::unique_ptr<EngineBackend> createModelBackend();

}  // namespace cxr::assistant
