// Measurements on a radiograph: length, angle, rectangle and ellipse ROIs. The geometry and the
// statistics are plain functions over image coordinates and the file's Calibration, so each
// spacing case (PixelSpacing, ImagerPixelSpacing, none, anisotropic) is unit-tested without a widget
// (tests/viewer/test_measurement.cpp). The widget only collects clicks and draws the results.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QList>
#include <QPointF>
#include <QRectF>
#include <QString>

namespace cxr::viewer {

enum class MeasurementKind { Length, Angle, RectangleRoi, EllipseRoi };

// One measurement in image coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)).
struct Measurement {
  MeasurementKind kind = MeasurementKind::Length;
  QList<QPointF> points;  // Length: 2 ends; Angle: arm end, vertex, arm end; ROI: 2 opposite corners

  // How many clicks complete this kind (ROIs are dragged: press + release = 2).
  static int pointsNeeded(MeasurementKind kind) { return kind == MeasurementKind::Angle ? 3 : 2; }
  bool isComplete() const { return points.size() >= pointsNeeded(kind); }
  QRectF roiRect() const;  // normalised rectangle spanned by the two corners
};

// A distance in physical units when the file is calibrated, in pixels otherwise.
struct LengthValue {
  double value = 0;
  QString unit;            // "mm" or "px"
  QString source;          // Calibration::label(): "pixel spacing", "at detector", "uncalibrated (px)"
  QString text() const;    // "42.1 mm (pixel spacing)" or "120.0 px"
};

// Column spacing scales x, row spacing scales y (DICOM PixelSpacing is "row\column", i.e. the
// distance between rows first).
LengthValue measureLength(QPointF a, QPointF b, const Calibration& calibration);

// The angle at `vertex` between the two arms, in degrees [0, 180]. Computed in physical space, so
// anisotropic spacing gives the angle a ruler on the film would show.
double measureAngleDegrees(QPointF armEnd1, QPointF vertex, QPointF armEnd2,
                           const Calibration& calibration);

struct RoiStatistics {
  qint64 pixelCount = 0;   // pixels whose centre lies inside the shape
  double mean = 0, standardDeviation = 0, minimum = 0, maximum = 0;  // modality units
  QString unit;            // RescaleType ("HU", "US", ...) or empty
  double area = 0;         // area of the drawn shape
  QString areaUnit;        // "mm²" or "px²"
  bool valid() const { return pixelCount > 0; }
};

// Statistics of modality values (RadiographImage::modalityValue of the stored values of `frame`)
// over the pixels whose centre lies inside the rectangle or its inscribed ellipse. SD is the
// population standard deviation. Colour images use Pillow's integer luma of the RGB values.
RoiStatistics measureRoi(const RadiographImage& image, int frame, MeasurementKind shape,
                         const QRectF& imageRect);

// The text shown beside a finished measurement (three lines for ROIs, whose statistics are taken
// on `frame`, the frame on screen: scrolling through frames updates them).
QString measurementLabel(const Measurement& m, const RadiographImage& image, int frame);

// Distance in image units from `p` to the drawn outline of `m` (segments, arms or ROI border);
// the widget converts its click tolerance into image units and picks the nearest.
double distanceToMeasurement(const Measurement& m, QPointF p);

}  // namespace cxr::viewer
