// Placeholder until the engine lands (issue 3): keeps the library target building.
#include "cxr/model/engine.h"
