// The text in the four corners of the viewer. Built from DisplayFields plus the view state by a
// plain function, so the anonymised mode's promise (no identifying field, ever) is a unit test
// rather than a hope (`anonymisedOverlay*` in tests/viewer/test_widget_viewer.cpp).
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QStringList>

namespace cxr::viewer {

struct OverlayState {
  bool anonymised = false;
  QString fileName;        // the file's name: shown when there is no patient data, never when
                           // anonymised (nor any description that contains it)
  QString formatName;
  int width = 0, height = 0;
  double windowCenter = 0, windowWidth = 0;
  bool windowFromLut = false;  // a VOI LUT is applied instead of a window
  bool inverted = false;
  double zoom = 1.0;       // device pixels per image pixel
  int rotationDegrees = 0;
  bool mirrored = false;
  int frame = 0, frames = 1;
  QString calibrationLabel;
};

struct OverlayText {
  QStringList topLeft, topRight, bottomLeft, bottomRight;
  QString joined() const;  // every line, for tests and for copying
};

OverlayText buildOverlay(const DisplayFields& fields, const OverlayState& state);

}  // namespace cxr::viewer
