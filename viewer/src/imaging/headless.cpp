// Headless rendering: the engine of `cxr-assistant --render`.
#include "cxr/viewer/headless.h"

#include <QDir>
#include <QImageWriter>

namespace cxr::viewer {

bool renderFileToPng(const QString& in, const QString& out, int frame, std::optional<VoiWindow> window,
                     QString* error) {
  const auto fail = [&](const QString& message) {
    if (error) *error = message;
    return false;
  };
  const LoadResult loaded = loadRadiograph(in);
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

std::optional<VoiWindow> parseWindowArgument(const QString& text) {
  const QStringList parts = text.split(QLatin1Char(','));
  if (parts.size() != 2) return std::nullopt;
  bool okCenter = false, okWidth = false;
  VoiWindow window;
  window.center = parts[0].trimmed().toDouble(&okCenter);
  window.width = parts[1].trimmed().toDouble(&okWidth);
  if (!okCenter || !okWidth || window.width <= 0) return std::nullopt;
  window.explanation = QStringLiteral("Command line");
  return window;
}

}  // namespace cxr::viewer
