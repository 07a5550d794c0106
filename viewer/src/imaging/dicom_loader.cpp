// DICOM loading (DCMTK). Placeholder until the DCMTK loader lands later today (issue 2).
#include "loaders.h"

namespace cxr::viewer::detail {

LoadResult loadDicomFile(const QString& path) {
  return {nullptr, loadError(path, QStringLiteral("DICOM reading is not built yet in this revision."))};
}

}  // namespace cxr::viewer::detail
