// Headless rendering: the engine of `cxr-assistant --render`.
#include "cxr/viewer/headless.h"

#include <QDir>
#include <QStringList>
#include <QImageWriter>

#include <cmath>

namespace cxr::viewer {

bool renderFileToPng(const QString& in, const QString& out, int frame, std::optional<VoiWindow> window,
                     QString* error, const LoadOptions& options) {
  const auto fail = [&](const QString& message) {
    if (error) *error = message;
    return false;
  };
  const LoadResult loaded = loadRadiograph(in, options);
  if (!loaded.ok()) return fail(loaded.error);
  const RadiographImage& image = *loaded.image;
  if (frame < 0 || frame >= image.frames)
    return fail(QStringLiteral("Cannot render %1: frame %2 does not exist (the file has %3 frame(s), numbered from 0).")
                    .arg(QDir::toNativeSeparators(in)).arg(frame).arg(image.frames));
  std::optional<VoiSelection> voi;
  if (window) {
    voi = VoiSelection{};
    voi->window = *window;
  }
  const QImage rendered = renderForModel(image, frame, voi);
  if (rendered.isNull())
    return fail(QStringLiteral("Cannot render %1: the frame has no pixel data.").arg(QDir::toNativeSeparators(in)));
  QImageWriter writer(out, "png");
  if (!writer.write(rendered))
    return fail(QStringLiteral("Cannot write %1: %2").arg(QDir::toNativeSeparators(out), writer.errorString()));
  return true;
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

}  // namespace cxr::viewer
