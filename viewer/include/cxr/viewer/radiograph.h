// A decoded radiograph (DICOM or ordinary image file) and the DICOM grayscale display pipeline.
//
// The split: RadiographImage holds what the file says (stored pixel values, the transforms the file
// defines, the tags); DisplayPipeline turns one frame into 8-bit display values under a chosen
// window. Neither knows about widgets, so both are tested headless and reused by the command line
// (`--render`, the model input) and by the GUI.
#pragma once

#include <QImage>
#include <QList>
#include <QRect>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QtGlobal>

#include <memory>
#include <optional>
#include <vector>

namespace cxr::viewer {

// ---- What the file defines ------------------------------------------------------------------

enum class Photometric { Monochrome1, Monochrome2, Rgb, Other };

// A VOI window as DICOM defines it (C.11.2.1.2): center/width plus the function.
struct VoiWindow {
  double center = 0;
  double width = 1;
  QString explanation;   // WindowCenterWidthExplanation, or a name we gave it ("Full range", "Lung"...)
  enum class Function { Linear, LinearExact, Sigmoid } function = Function::Linear;
  friend bool operator==(const VoiWindow&, const VoiWindow&) = default;
};

// A lookup table (Modality LUT or VOI LUT sequence item).
struct LookupTable {
  int firstMapped = 0;         // first input value mapped (signed per the descriptor rules)
  int bitsPerEntry = 16;
  std::vector<quint16> data;   // entries
  QString explanation;
  quint16 lookup(double input) const;  // clamps outside the table
};

// One node of the tag browser: tag, VR, name, value text; sequences have children (items, then
// their elements).
struct TagNode {
  QString tag;    // "(0010,0010)"
  QString vr;     // "PN"
  QString name;   // "PatientName"
  QString value;  // rendered value (shortened for long binary data)
  std::vector<TagNode> children;
};

// Pixel spacing with where it came from, for measurements.
struct Calibration {
  enum class Source { None, PixelSpacing, ImagerPixelSpacing } source = Source::None;
  double rowSpacingMm = 0;     // distance between rows (first value of the tag)
  double columnSpacingMm = 0;  // distance between columns
  QString label() const;       // "pixel spacing", "at detector", "uncalibrated (px)"
};

// Fields for corner overlays. Identifying fields are kept apart so anonymised mode can never
// show them by accident. Filled only from the file's own tags (DICOM); never from the file name,
// which can identify a patient and is available, identifying, as RadiographImage::path.
struct DisplayFields {
  // Identifying
  QString patientName, patientId, patientBirthDate, studyDate, seriesDate, acquisitionDate,
      institution, accessionNumber, referringPhysician;
  // Not identifying
  QString modality, viewPosition, bodyPart, studyDescription, seriesDescription, manufacturer,
      laterality;
};

// A decoded image, all frames. Immutable after loading; cheap to share.
class RadiographImage {
 public:
  QString path;
  // Lowercase hex SHA-256 of the file's bytes, taken by loadRadiograph while it loads the file (the
  // image's identity for the assistant and the history: no one reads the file a second time).
  QString sha256;
  QString formatName;        // "DICOM (JPEG 2000 Lossless)", "PNG 16-bit", ...
  int width = 0;
  int height = 0;
  int frames = 1;
  int samplesPerPixel = 1;   // 1 gray, 3 colour (stored as RGB after YBR conversion)
  Photometric photometric = Photometric::Monochrome2;
  int bitsAllocated = 8;
  int bitsStored = 8;
  bool isSigned = false;

  // Stored values, one vector per frame. Gray: width*height values (already sign-extended and
  // masked to BitsStored). Colour: width*height*3 interleaved RGB 8-bit values.
  std::vector<std::vector<qint32>> framesData;
  qint32 minStored = 0, maxStored = 0;  // over all frames

  // Modality LUT: rescale or a LUT sequence (the LUT wins when both are present).
  double rescaleSlope = 1.0;
  double rescaleIntercept = 0.0;
  QString rescaleType;                  // "HU", "US", ...
  std::optional<LookupTable> modalityLut;

  // VOI: windows from the file (all of them), VOI LUTs from the file.
  QList<VoiWindow> fileWindows;
  std::vector<LookupTable> voiLuts;

  bool presentationInverse = false;     // Presentation LUT Shape INVERSE

  Calibration calibration;
  DisplayFields fields;
  std::vector<TagNode> tags;            // empty for non-DICOM files
  bool isDicom = false;

  // Non-empty when the pixel data are incomplete (a truncated JPEG stream: libjpeg fills the
  // missing rows with gray): why, as a phrase. Only with LoadOptions::acceptIncomplete; by default
  // such a file is refused. Whoever shows or analyses the image must show this mark.
  QString incomplete;
  bool isIncomplete() const { return !incomplete.isEmpty(); }

  double modalityValue(qint32 stored) const;  // applies the Modality LUT / rescale
  double minModality() const;
  double maxModality() const;
  // Whether the displayed image should be inverted relative to the VOI output: MONOCHROME1, or
  // Presentation LUT Shape INVERSE. Not an XOR: DX objects (PS3.3 C.8.11.6) must state INVERSE
  // *together with* MONOCHROME1, and both describe the same single inversion.
  bool displayInverted() const;
};

// ---- Loading --------------------------------------------------------------------------------

struct LoadResult {
  std::shared_ptr<const RadiographImage> image;  // null on failure
  QString error;  // "Cannot open <file>: <what is wrong>" — a complete sentence naming the file
  bool ok() const { return image != nullptr; }
};

// How much a load may decode, and what it accepts. The pixel budget stops decompression bombs (a
// 6 kB JPEG 2000 DICOM whose header says 16000x16000 decodes into 2 GB): it is checked against the
// file's header (DICOM Rows/Columns/Number of Frames; the PNG/JPEG/TIFF header) BEFORE decoding.
struct LoadOptions {
  static constexpr qint64 kDefaultMaxFramePixels = 50'000'000;   // 50 megapixels: 7000x7000
  static constexpr qint64 kDefaultMaxTotalPixels = 500'000'000;  // all frames of a multi-frame file
  qint64 maxFramePixels = kDefaultMaxFramePixels;  // width x height of one frame
  qint64 maxTotalPixels = kDefaultMaxTotalPixels;  // width x height x frames
  // false (default): a truncated JPEG stream (file or DICOM frame) is refused. true: it is loaded
  // with RadiographImage::incomplete set, for a viewer that marks it visibly.
  bool acceptIncomplete = false;
};

// The budget in the units users set it in (the tools' --max-image-megapixels and --max-file-megapixels,
// the window's Image > Image Size Limits): megapixels per frame and per file. Fills `options` and
// returns an empty string, or returns why the numbers are refused (a sentence) and leaves it alone.
inline constexpr double kMaxFrameMegapixelsLimit = 1000;  // 31623 x 31623; 4 GB of samples at 32 bits
inline constexpr double kMaxFileMegapixelsLimit = 4000;
QString setPixelBudget(LoadOptions& options, double frameMegapixels, double fileMegapixels);

// Reads DICOM (Part 10 or bare data set), PNG (8/16-bit), JPEG, TIFF, BMP. Never throws, never
// crashes on corrupt or truncated input; refuses images beyond the options' pixel budget.
LoadResult loadRadiograph(const QString& path, const LoadOptions& options = {});

// Image files in a folder that loadRadiograph can probably read, sorted naturally.
QStringList listImagesInFolder(const QString& folder);

// ---- Display --------------------------------------------------------------------------------

// The VOI choice for display: a window, or one of the file's VOI LUTs (by index).
struct VoiSelection {
  std::optional<VoiWindow> window;
  std::optional<int> voiLutIndex;
  bool userInvert = false;  // the viewer's Invert toggle, applied on top of the file's inversion
};

// The default VOI: the file's first VOI window, else its first VOI LUT, else fullRangeWindow()
// (colour images always get fullRangeWindow(), the identity).
VoiSelection defaultVoi(const RadiographImage& image);

// Window presets made for radiographs, defined on the image's own values: the file's windows,
// full range, then three LINEAR_EXACT windows from the frame's histogram, with percentiles taken in
// display order (dark to bright as shown, so MONOCHROME1 is mirrored):
//   "Soft tissue (percentiles 2-98)", "Lung (percentiles 2-65)", "Bone (percentiles 35-99.5)".
// Colour images get only "Full range".
QList<VoiWindow> radiographPresets(const RadiographImage& image, int frame = 0);

// Renders one frame to 8-bit (Format_Grayscale8 for gray, Format_RGB32 for colour):
// stored -> modality LUT -> VOI -> inversion (MONOCHROME1 / INVERSE / user), in DICOM's order.
// One lookup table over [minStored, maxStored] per call, then one lookup per pixel (about 12 ms for
// 3000x3000 on the team machine; see bench-viewer). Returns a null QImage for a frame out of range.
// For colour, a window acts on each channel's 0..255 value (DICOM defines no colour VOI).
QImage renderFrame(const RadiographImage& image, int frame, const VoiSelection& voi);

// Stored values of `region` of one frame (image pixels; empty = the whole frame), reduced by
// `factor`: each value is the rounded mean of a factor x factor block (partial blocks at the
// region's right and bottom edges average what they have; colour per channel). Values only: they
// are displayed through the RadiographImage they came from (renderFrame below), so nothing about
// how to display them is copied. The viewer keeps one for display at low zoom.
struct ReducedFrame {
  QRect region;              // the part of the frame it covers, clipped to the image
  int factor = 1;
  int width = 0;             // ceil(region.width() / factor)
  int height = 0;            // ceil(region.height() / factor)
  int samplesPerPixel = 1;   // 1 gray, 3 colour (interleaved, as in framesData)
  std::vector<qint32> values;
  bool isNull() const { return values.empty(); }  // no such frame, or an empty region
};
ReducedFrame reduceFrame(const RadiographImage& image, int frame, QRect region = {}, int factor = 1);

// `region` of a frame (image pixels, clipped; empty = whole frame), reduced by `factor` as
// reduceFrame() does, through the same table as renderFrame(image, frame, voi). With factor 1 the
// frame's rows are mapped in place (no copy). Null QImage for a frame out of range.
QImage renderFrame(const RadiographImage& image, int frame, const VoiSelection& voi, QRect region,
                   int factor = 1);
// Values from reduceFrame(image, ...) displayed as `image` displays its own stored values.
QImage renderFrame(const RadiographImage& image, const ReducedFrame& pixels, const VoiSelection& voi);

// The window used for "Full range": LINEAR_EXACT over [min, max] of the modality values. For
// ordinary 8-bit image files it spans the whole 0..255 range, so the default rendering of an
// 8-bit PNG/JPEG is the identity (the same bytes as the file).
VoiWindow fullRangeWindow(const RadiographImage& image);

// The VOI window function of PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT, SIGMOID) for one input value x,
// with output range [yMin, yMax]. Exposed so that the maths is tested row by row.
double applyWindow(const VoiWindow& window, double x, double yMin, double yMax);

// The image the model should see: 8-bit grayscale, high = bright, under `voi` (default:
// defaultVoi()). voi->userInvert is ignored (the model always gets normal polarity; MONOCHROME1 and
// INVERSE are still honoured). Colour images are converted with Pillow's integer luma. For an 8-bit
// gray PNG/JPEG the default result is byte-identical to the file.
QImage renderForModel(const RadiographImage& image, int frame,
                      const std::optional<VoiSelection>& voi = std::nullopt);

}  // namespace cxr::viewer
