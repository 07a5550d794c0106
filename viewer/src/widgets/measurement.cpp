#include "cxr/viewer/measurement.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cxr::viewer {

namespace {

bool isCalibrated(const Calibration& c) {
  return c.source != Calibration::Source::None && c.rowSpacingMm > 0 && c.columnSpacingMm > 0;
}

// Image displacement -> physical displacement (mm) or unchanged pixels when uncalibrated.
QPointF physical(QPointF v, const Calibration& c) {
  if (!isCalibrated(c))
    return v;
  return {v.x() * c.columnSpacingMm, v.y() * c.rowSpacingMm};
}

double distanceToSegment(QPointF p, QPointF a, QPointF b) {
  const QPointF ab = b - a;
  const double len2 = QPointF::dotProduct(ab, ab);
  const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - a, ab) / len2, 0.0, 1.0) : 0.0;
  const QPointF closest = a + ab * t;
  return std::hypot(p.x() - closest.x(), p.y() - closest.y());
}

QString number(double v) {
  // Whole numbers (stored integers through an integer rescale) print without decimals; HU-sized
  // values get one decimal; small values (optical density, fractional rescale) 4 significant digits.
  if (v == std::round(v) && std::abs(v) < 1e9)
    return QString::number(static_cast<qint64>(v));
  return std::abs(v) >= 100 ? QString::number(v, 'f', 1) : QString::number(v, 'g', 4);
}

}  // namespace

QRectF Measurement::roiRect() const {
  if (points.size() < 2)
    return {};
  return QRectF(points[0], points[1]).normalized();
}

QString LengthValue::text() const {
  const QString v = QString::number(value, 'f', unit == u"mm" ? 1 : 1) + u' ' + unit;
  return unit == u"mm" ? v + u" (" + source + u')' : v;
}

LengthValue measureLength(QPointF a, QPointF b, const Calibration& calibration) {
  const QPointF d = physical(b - a, calibration);
  LengthValue out;
  out.value = std::hypot(d.x(), d.y());
  out.unit = isCalibrated(calibration) ? QStringLiteral("mm") : QStringLiteral("px");
  out.source = calibration.label();
  return out;
}

double measureAngleDegrees(QPointF armEnd1, QPointF vertex, QPointF armEnd2,
                           const Calibration& calibration) {
  const QPointF u = physical(armEnd1 - vertex, calibration);
  const QPointF v = physical(armEnd2 - vertex, calibration);
  const double cross = u.x() * v.y() - u.y() * v.x();
  const double dot = QPointF::dotProduct(u, v);
  if (cross == 0 && dot == 0)
    return 0;  // a degenerate arm: no angle to report
  return std::abs(std::atan2(cross, dot)) * 180.0 / std::numbers::pi;
}

RoiStatistics measureRoi(const RadiographImage& image, int frame, MeasurementKind shape,
                         const QRectF& imageRect) {
  RoiStatistics stats;
  stats.unit = image.rescaleType;
  const QRectF r = imageRect.normalized();
  const Calibration& cal = image.calibration;
  const double shapeArea = shape == MeasurementKind::EllipseRoi
                               ? std::numbers::pi * r.width() * r.height() / 4.0
                               : r.width() * r.height();
  if (isCalibrated(cal)) {
    stats.area = shapeArea * cal.rowSpacingMm * cal.columnSpacingMm;
    stats.areaUnit = QStringLiteral("mm²");
  } else {
    stats.area = shapeArea;
    stats.areaUnit = QStringLiteral("px²");
  }
  if (frame < 0 || frame >= static_cast<int>(image.framesData.size()) || r.isEmpty())
    return stats;
  const std::vector<qint32>& data = image.framesData[static_cast<size_t>(frame)];
  const bool colour = image.samplesPerPixel == 3;
  const size_t expected = static_cast<size_t>(image.width) * static_cast<size_t>(image.height) *
                          (colour ? 3u : 1u);
  if (data.size() < expected)
    return stats;

  // Pixels whose centre (i + 0.5, j + 0.5) lies inside the shape.
  const int x0 = std::max(0, static_cast<int>(std::floor(r.left() - 0.5)));
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(r.right() - 0.5)));
  const int y0 = std::max(0, static_cast<int>(std::floor(r.top() - 0.5)));
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(r.bottom() - 0.5)));
  const QPointF c = r.center();
  const double rx = r.width() / 2.0, ry = r.height() / 2.0;

  double sum = 0, sumSq = 0;
  double lo = 0, hi = 0;
  for (int y = y0; y <= y1; ++y) {
    const double py = y + 0.5;
    if (py < r.top() || py > r.bottom())
      continue;
    for (int x = x0; x <= x1; ++x) {
      const double px = x + 0.5;
      if (px < r.left() || px > r.right())
        continue;
      if (shape == MeasurementKind::EllipseRoi) {
        const double nx = (px - c.x()) / rx, ny = (py - c.y()) / ry;
        if (nx * nx + ny * ny > 1.0)
          continue;
      }
      const size_t i = static_cast<size_t>(y) * static_cast<size_t>(image.width) +
                       static_cast<size_t>(x);
      double v;
      if (colour) {
        const qint64 R = data[3 * i], G = data[3 * i + 1], B = data[3 * i + 2];
        v = static_cast<double>((R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16);
      } else {
        v = image.modalityValue(data[i]);
      }
      if (stats.pixelCount == 0) {
        lo = hi = v;
      } else {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      sum += v;
      sumSq += v * v;
      ++stats.pixelCount;
    }
  }
  if (stats.pixelCount > 0) {
    const double n = static_cast<double>(stats.pixelCount);
    stats.mean = sum / n;
    stats.standardDeviation = std::sqrt(std::max(0.0, sumSq / n - stats.mean * stats.mean));
    stats.minimum = lo;
    stats.maximum = hi;
  }
  return stats;
}

QString measurementLabel(const Measurement& m, const RadiographImage& image, int frame) {
  switch (m.kind) {
    case MeasurementKind::Length:
      if (m.points.size() < 2)
        return {};
      return measureLength(m.points[0], m.points[1], image.calibration).text();
    case MeasurementKind::Angle:
      if (m.points.size() < 3)
        return {};
      return QString::number(
                 measureAngleDegrees(m.points[0], m.points[1], m.points[2], image.calibration),
                 'f', 1) +
             u'°';
    case MeasurementKind::RectangleRoi:
    case MeasurementKind::EllipseRoi: {
      if (m.points.size() < 2)
        return {};
      const RoiStatistics s = measureRoi(image, frame, m.kind, m.roiRect());
      const QString unit = s.unit.isEmpty() ? QString() : u' ' + s.unit;
      QString area = QStringLiteral("Area %1 %2").arg(number(s.area), s.areaUnit);
      if (!s.valid())
        return area + u"\nno pixel centres inside";
      return u"Mean " + number(s.mean) + unit + u"  SD " + number(s.standardDeviation) +
             u"\nMin " + number(s.minimum) + u"  Max " + number(s.maximum) + u"\n" + area;
    }
  }
  return {};
}

double distanceToMeasurement(const Measurement& m, QPointF p) {
  const auto& pts = m.points;
  switch (m.kind) {
    case MeasurementKind::Length:
      return pts.size() >= 2 ? distanceToSegment(p, pts[0], pts[1]) : 1e300;
    case MeasurementKind::Angle:
      return pts.size() >= 3 ? std::min(distanceToSegment(p, pts[0], pts[1]),
                                        distanceToSegment(p, pts[1], pts[2]))
                             : 1e300;
    case MeasurementKind::RectangleRoi: {
      if (pts.size() < 2)
        return 1e300;
      const QRectF r = m.roiRect();
      return std::min({distanceToSegment(p, r.topLeft(), r.topRight()),
                       distanceToSegment(p, r.topRight(), r.bottomRight()),
                       distanceToSegment(p, r.bottomRight(), r.bottomLeft()),
                       distanceToSegment(p, r.bottomLeft(), r.topLeft())});
    }
    case MeasurementKind::EllipseRoi: {
      if (pts.size() < 2)
        return 1e300;
      const QRectF r = m.roiRect();
      const double rx = std::max(1e-9, r.width() / 2), ry = std::max(1e-9, r.height() / 2);
      const QPointF d = p - r.center();
      // Radial approximation of the distance to the ellipse outline: good enough for picking.
      const double k = std::hypot(d.x() / rx, d.y() / ry);
      if (k == 0)
        return std::min(rx, ry);
      const QPointF onOutline = d / k;
      return std::hypot(d.x() - onOutline.x(), d.y() - onOutline.y());
    }
  }
  return 1e300;
}

}  // namespace cxr::viewer
