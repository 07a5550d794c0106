#include "cxr/viewer/window_level.h"

#include <algorithm>
#include <cmath>

#include <QStringList>

namespace cxr::viewer {

double WindowDrag::unitsPerPixel(double minModality, double maxModality) {
  const double range = std::abs(maxModality - minModality);
  // 8-bit images have a range of 255: half a unit per pixel still lets the user hit every value.
  return std::max(range, 1.0) / kPixelsForRange;
}

void WindowDrag::begin(const VoiWindow& start, QPoint mousePos, double minModality,
                       double maxModality) {
  m_start = start;
  m_origin = mousePos;
  m_step = unitsPerPixel(minModality, maxModality);
  m_active = true;
}

VoiWindow WindowDrag::update(QPoint mousePos) const {
  const QPoint d = mousePos - m_origin;
  VoiWindow w = m_start;
  w.width = std::max(1.0, m_start.width + d.x() * m_step);
  w.center = m_start.center + d.y() * m_step;
  w.function = VoiWindow::Function::Linear;
  w.explanation = QStringLiteral("Manual");
  return w;
}

std::optional<VoiWindow> parseWindowSpec(const QString& text, QString* error) {
  const QStringList parts = text.split(u',');
  auto fail = [&](const QString& why) -> std::optional<VoiWindow> {
    if (error)
      *error = why;
    return std::nullopt;
  };
  if (parts.size() != 2)
    return fail(u"window \"" + text + u"\" must be CENTER,WIDTH, e.g. 40,400");
  bool okCenter = false, okWidth = false;
  const double center = parts[0].trimmed().toDouble(&okCenter);
  const double width = parts[1].trimmed().toDouble(&okWidth);
  if (!okCenter || !okWidth || !std::isfinite(center) || !std::isfinite(width))
    return fail(u"window \"" + text + u"\" must be two numbers CENTER,WIDTH, e.g. 40,400");
  if (width <= 0)
    return fail(u"window width must be positive (got " + parts[1].trimmed() + u')');
  VoiWindow w;
  w.center = center;
  w.width = width;
  w.explanation = QStringLiteral("Manual");
  return w;
}

VoiWindow windowForRange(double minModality, double maxModality) {
  VoiWindow w;
  w.center = (minModality + maxModality) / 2.0;
  w.width = std::max(1.0, maxModality - minModality + 1.0);
  w.explanation = QStringLiteral("Full range");
  return w;
}

}  // namespace cxr::viewer
