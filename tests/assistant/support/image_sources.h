// Test helper: the images the assistant tests hand to the engine and the panel, built in memory.
#pragma once

#include "cxr/assistant/image_source.h"

#include <QImage>
#include <QString>

#include <cstdint>

namespace cxr::test {

// What the app would hand over for `path`: two flat 80x64 renderings (default window `gray`, the
// on-screen one 70 brighter) with their window texts, and a made-up SHA-256 that differs between
// a .dcm and any other path.
inline cxr::assistant::ModelImageSource fakeImageSource(const QString& path = QStringLiteral("/data/cxr/chest.dcm"),
                                                        int gray = 90) {
  cxr::assistant::ModelImageSource src;
  src.defaultWindow = QImage(80, 64, QImage::Format_Grayscale8);
  src.defaultWindow.fill(gray);
  src.currentWindow = QImage(80, 64, QImage::Format_Grayscale8);
  src.currentWindow.fill(gray + 70);
  src.defaultWindowText = QStringLiteral("center 2048, width 4096 (file default)");
  src.currentWindowText = QStringLiteral("center 1000, width 500 (on screen)");
  src.filePath = path;
  src.sha256 = QString(64, path.endsWith(QStringLiteral(".dcm")) ? u'a' : u'b');
  return src;
}

// A w x h one-channel engine input whose bytes run base, base+1, ... (mod 200): other bases give
// other pixels.
inline cxr::ImageInput grayImageInput(int w = 80, int h = 64, uint8_t base = 10) {
  cxr::ImageInput img;
  img.width = w;
  img.height = h;
  img.channels = 1;
  img.pixels.resize(size_t(w) * size_t(h));
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(base + i % 200);
  return img;
}

}  // namespace cxr::test
