// The one place where a Qt image becomes the engine's input (cxr::ImageInput): the window's chat,
// the dataset runs, cxr-llava and the tests all hand images over through toImageInput().
#pragma once

#include "cxr/model/types.h"

class QImage;

namespace cxr::assistant {

// Tightly packed bytes (QImage rows are 4-byte aligned). A gray image (8-bit gray, 1-bit, or a
// palette of grays) is passed as 1 channel; anything else as 3 channels of RGB, which the engine
// turns into gray with Pillow's integer luma (the reference's convert("L")). That conversion
// happens only in the engine: Qt's qGray() is a different formula. Alpha is dropped. A null image
// gives an empty input (width 0).
cxr::ImageInput toImageInput(const QImage& image);

// Whether toImageInput() passes `image` as one gray channel.
bool isGrayImage(const QImage& image);

}  // namespace cxr::assistant
