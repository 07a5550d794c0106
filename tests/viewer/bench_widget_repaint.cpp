// bench-widget-repaint: what a window/level drag and a pan cost in the viewer widget on a
// 3000x3000 16-bit frame shown in a 1200x900 view (render of the visible region or the reduced
// proxy, plus the full paint with overlays). Prints figures; not a test (the machine decides).
//
//   build/tests/viewer/bench-widget-repaint          (runs offscreen by itself)
#include "cxr/viewer/viewer_widget.h"

#include <QApplication>
#include <QElapsedTimer>

#include <cstdio>
#include <functional>

using namespace cxr::viewer;

namespace {

constexpr int kSteps = 50;

double msPerStep(const std::function<void(int)>& step) {
  QElapsedTimer timer;
  timer.start();
  for (int i = 0; i < kSteps; ++i)
    step(i);
  return static_cast<double>(timer.nsecsElapsed()) / 1e6 / kSteps;
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);

  // A 12-bit pattern with structure at every scale (so no render step can be skipped).
  auto image = std::make_shared<RadiographImage>();
  image->width = image->height = 3000;
  image->bitsAllocated = 16;
  image->bitsStored = 12;
  std::vector<qint32> data(static_cast<size_t>(3000) * 3000);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<qint32>((i * 7 + i / 3000 * 13) % 4096);
  image->framesData.push_back(std::move(data));
  image->maxStored = 4095;

  ViewerWidget viewer;
  viewer.resize(1200, 900);
  viewer.setImage(image);
  (void)viewer.renderView();

  auto windowStep = [&](int i) {
    VoiWindow w;
    w.center = 2000 + 3 * i;  // a drag moves the window a little every step
    w.width = 1000 + 5 * i;
    viewer.setWindow(w);
    (void)viewer.renderView();
  };
  auto panStep = [&](int i) {
    viewer.viewForTests().panBy(QPointF(i % 2 ? 3 : -3, 2));
    (void)viewer.renderView();
  };

  std::printf("viewer widget, 3000x3000 16-bit frame in a 1200x900 view, mean of %d steps\n", kSteps);
  viewer.fitToWindow();
  std::printf("  fit (zoom %3.0f%%, proxy factor %d): W/L step + repaint %6.2f ms, pan step %6.2f ms\n",
              viewer.view().zoom() * 100, viewer.displayFactor(), msPerStep(windowStep), msPerStep(panStep));
  viewer.actualPixels();
  std::printf("  1:1 (zoom %3.0f%%, region %dx%d):    W/L step + repaint %6.2f ms, pan step %6.2f ms\n",
              viewer.view().zoom() * 100, viewer.displayRegion().width(), viewer.displayRegion().height(),
              msPerStep(windowStep), msPerStep(panStep));
  std::printf("  (target for a live drag: under 16 ms per step)\n");
  return 0;
}
