// Where the assistant tests find the shared reference data (../shared/data, or $CXR_SHARED_DATA_DIR):
// the tiny golden CXR-LLaVA checkpoint and the NIH radiograph its golden answers were made from.
#pragma once

#include <QString>
#include <QtGlobal>

namespace golden {

inline QString sharedData() {
  const QString env = qEnvironmentVariable("CXR_SHARED_DATA_DIR");
  return env.isEmpty() ? QStringLiteral(CXR_SHARED_DATA_DIR_DEFAULT) : env;
}
inline QString checkpoint() { return sharedData() + QStringLiteral("/golden-cxrllava/tiny64/checkpoint"); }
inline QString imagePath() { return sharedData() + QStringLiteral("/cxr/nih_cxr14_00000001_000.png"); }

}  // namespace golden
