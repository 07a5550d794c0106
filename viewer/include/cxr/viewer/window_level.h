// Window/level interaction maths. Window/level by mouse drag: horizontal movement changes the width, vertical the centre, as in
// most radiology viewers (right = wider / less contrast, down = higher centre / darker image).
// A plain class so the amount per pixel is a unit test, not a feel.
#pragma once

#include "cxr/viewer/headless.h"  // parseWindowSpec(), declared beside --window where it is parsed too
#include "cxr/viewer/radiograph.h"

#include <QPoint>

#include <optional>

namespace cxr::viewer {

class WindowDrag {
 public:
  // Modality units per pixel of mouse movement: the value range spread over `pixelsForRange`
  // pixels of drag, so a drag across a typical screen sweeps the whole range whatever the bit depth.
  static constexpr double kPixelsForRange = 512.0;
  static double unitsPerPixel(double minModality, double maxModality);

  void begin(const VoiWindow& start, QPoint mousePos, double minModality, double maxModality);
  VoiWindow update(QPoint mousePos) const;
  bool active() const { return active_; }
  void end() { active_ = false; }

 private:
  VoiWindow start_;
  QPoint origin_;
  double step_ = 1.0;
  bool active_ = false;
};

// A window covering [minModality, maxModality] (used when dragging starts from a VOI LUT).
VoiWindow windowForRange(double minModality, double maxModality);

}  // namespace cxr::viewer
