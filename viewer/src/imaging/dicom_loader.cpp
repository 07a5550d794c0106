// DICOM loading with DCMTK: Part 10 files and bare data sets, every transfer syntax DCMTK's free
// codecs decode, plus JPEG 2000 through OpenJPEG (j2k_decoder.cpp), into a RadiographImage.
//
// Rule for bad input: every size the header promises is checked against the bytes actually present
// BEFORE anything is allocated, and every failure becomes one sentence naming the file.
#include "j2k_decoder.h"
#include "jpeg_structure.h"
#include "loaders.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrui.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

namespace cxr::viewer::detail {
namespace {

// Decoded stored values are kept as qint32; refuse images whose pixels alone would exceed this.
constexpr quint64 kMaxDecodedBytes = quint64(3) << 30;

void registerCodecsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Our own messages name the file and the problem; DCMTK's console warnings would only be noise
    // on the terminal of a GUI program.
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();     // JPEG baseline, extended, lossless
    DJLSDecoderRegistration::registerCodecs();   // JPEG-LS
    DcmRLEDecoderRegistration::registerCodecs(); // RLE
    // Unregister at exit as DCMTK asks (its codec list would otherwise outlive main: a leak report
    // in every sanitized run that opened a DICOM file).
    std::atexit([] {
      DcmRLEDecoderRegistration::cleanup();
      DJLSDecoderRegistration::cleanup();
      DJDecoderRegistration::cleanup();
    });
  });
}

QString text(const OFCondition& condition) { return QString::fromUtf8(condition.text()); }

QString stringOf(DcmItem& item, const DcmTagKey& key, unsigned long pos = 0) {
  OFString value;
  if (item.findAndGetOFString(key, value, pos).bad()) return {};
  return QString::fromUtf8(value.c_str()).trimmed();
}

// Values of a tag at the top level, else inside the Shared Functional Groups (enhanced multi-frame
// objects keep rescale, windows and spacing there), else the first frame's Per-frame group.
DcmItem* itemHolding(DcmItem& dataset, const DcmTagKey& key, const DcmTagKey& functionalGroup) {
  if (dataset.tagExists(key)) return &dataset;
  for (const DcmTagKey& groups : {DCM_SharedFunctionalGroupsSequence, DCM_PerFrameFunctionalGroupsSequence}) {
    DcmItem* groupItem = nullptr;
    if (dataset.findAndGetSequenceItem(groups, groupItem, 0).bad() || !groupItem) continue;
    DcmItem* macro = nullptr;
    if (groupItem->findAndGetSequenceItem(functionalGroup, macro, 0).good() && macro && macro->tagExists(key))
      return macro;
  }
  return nullptr;
}

QString tagText(const DcmTag& tag) {
  return QStringLiteral("(%1,%2)")
      .arg(tag.getGTag(), 4, 16, QLatin1Char('0'))
      .arg(tag.getETag(), 4, 16, QLatin1Char('0'))
      .toUpper();
}

// ---- Tag tree ---------------------------------------------------------------------------------

void collectTags(DcmItem& item, std::vector<TagNode>& out, int depth);

TagNode nodeFor(DcmElement& element, int depth) {
  TagNode node;
  DcmTag tag = element.getTag();
  node.tag = tagText(tag);
  node.vr = QString::fromLatin1(DcmVR(element.getVR()).getVRName());
  node.name = QString::fromLatin1(tag.getTagName());
  const DcmEVR vr = element.getVR();
  if (vr == EVR_SQ) {
    auto& sequence = static_cast<DcmSequenceOfItems&>(element);
    node.value = QStringLiteral("%1 item(s)").arg(sequence.card());
    for (unsigned long i = 0; i < sequence.card() && depth < 16; ++i) {
      TagNode itemNode;
      itemNode.tag = QStringLiteral("Item %1").arg(i + 1);
      itemNode.name = QStringLiteral("Item");
      if (DcmItem* child = sequence.getItem(i)) collectTags(*child, itemNode.children, depth + 1);
      node.children.push_back(std::move(itemNode));
    }
    return node;
  }
  if (tag == DCM_PixelData || vr == EVR_OB || vr == EVR_OW || vr == EVR_OF || vr == EVR_OD || vr == EVR_OL ||
      vr == EVR_UN || vr == EVR_pixelSQ || vr == EVR_ox || vr == EVR_px) {
    node.value = element.getLength() == DCM_UndefinedLength ? QStringLiteral("<encapsulated>")
                                                            : QStringLiteral("<%1 bytes>").arg(element.getLength());
    return node;
  }
  OFString value;
  if (element.getOFStringArray(value).good()) {
    node.value = QString::fromUtf8(value.c_str(), int(std::min<size_t>(value.size(), 512)));
    if (value.size() > 512) node.value += QStringLiteral("…");
  }
  return node;
}

void collectTags(DcmItem& item, std::vector<TagNode>& out, int depth) {
  for (unsigned long i = 0; i < item.card(); ++i)
    if (DcmElement* element = item.getElement(i)) out.push_back(nodeFor(*element, depth));
}

// ---- Lookup tables -----------------------------------------------------------------------------

// Reads one LUT item (Modality or VOI LUT Sequence). Returns nullopt when it is unusable.
std::optional<LookupTable> readLut(DcmItem& item, bool signedInput, const DcmTagKey& explanationKey) {
  Uint16 descriptor[3] = {0, 0, 0};
  for (unsigned long i = 0; i < 3; ++i) {
    if (item.findAndGetUint16(DCM_LUTDescriptor, descriptor[i], i).bad()) {
      Sint16 s = 0;
      if (item.findAndGetSint16(DCM_LUTDescriptor, s, i).bad()) return std::nullopt;
      descriptor[i] = Uint16(s);
    }
  }
  LookupTable lut;
  const size_t entries = descriptor[0] == 0 ? 65536 : descriptor[0];
  lut.firstMapped = signedInput ? int(Sint16(descriptor[1])) : int(descriptor[1]);
  lut.bitsPerEntry = std::clamp(int(descriptor[2]), 8, 16);
  const Uint16* words = nullptr;
  unsigned long count = 0;
  if (item.findAndGetUint16Array(DCM_LUTData, words, &count).bad() || !words || count == 0) return std::nullopt;
  if (descriptor[2] == 8 && count * 2 >= entries && count < entries) {
    // 8-bit entries packed two per 16-bit word (allowed by PS3.3 C.11.1.1.1).
    lut.data.resize(entries);
    for (size_t i = 0; i < entries; ++i) lut.data[i] = Uint16((words[i / 2] >> ((i % 2) * 8)) & 0xFF);
  } else {
    lut.data.assign(words, words + std::min<size_t>(count, entries));
  }
  lut.explanation = stringOf(item, explanationKey);
  return lut;
}

// ---- Pixel data -------------------------------------------------------------------------------

struct PixelFormat {
  int rows = 0, columns = 0, frames = 1, samples = 1;
  int bitsAllocated = 0, bitsStored = 0, highBit = 0;
  bool isSigned = false;
  int planar = 0;
  QString photometric;
  size_t pixelsPerFrame() const { return size_t(rows) * size_t(columns); }
  bool isYbr422() const { return samples == 3 && photometric == QLatin1String("YBR_FULL_422"); }
};

// Stored value of one raw sample: the BitsStored bits ending at HighBit, sign-extended if signed.
struct SampleUnpacker {
  int shift = 0;
  quint32 mask = 0;
  quint32 signBit = 0;
  bool isSigned = false;
  explicit SampleUnpacker(const PixelFormat& f)
      : shift(f.highBit + 1 - f.bitsStored),
        mask(f.bitsStored >= 32 ? 0xFFFFFFFFu : ((1u << f.bitsStored) - 1)),
        signBit(1u << (f.bitsStored - 1)),
        isSigned(f.isSigned) {}
  qint32 operator()(quint32 raw) const {
    const quint32 v = (raw >> shift) & mask;
    if (isSigned && (v & signBit)) return qint32(qint64(v) - (qint64(mask) + 1));
    return qint32(std::min<quint32>(v, 0x7FFFFFFFu));
  }
};

quint8 clampByte(double v) { return quint8(std::clamp(std::lround(v), 0L, 255L)); }

// YBR_FULL (PS3.3 C.7.6.3.1.2, JFIF full range) to RGB.
void ybrFullToRgb(qint32& a, qint32& b, qint32& c) {
  const double y = a, cb = b - 128.0, cr = c - 128.0;
  a = clampByte(y + 1.402 * cr);
  b = clampByte(y - 0.344136 * cb - 0.714136 * cr);
  c = clampByte(y + 1.772 * cb);
}

// Native (uncompressed) pixel data of all frames into stored values. The format has passed
// formatProblem(): Bits Allocated 8, 16 or 32, one or three samples, even Columns for YBR_FULL_422.
bool unpackNative(const PixelFormat& f, const uint8_t* bytes, const uint16_t* words, size_t byteLength,
                  RadiographImage& image, QString* error) {
  const bool ybr422 = f.isYbr422();
  const size_t pixels = f.pixelsPerFrame();
  const size_t bytesPerSample = size_t(f.bitsAllocated / 8);
  // YBR_FULL_422 keeps two samples per pixel (Y0 Y1 Cb Cr for each pair), whatever Bits Allocated is.
  const size_t samplesPerFrame = ybr422 ? pixels * 2 : pixels * size_t(f.samples);
  const size_t frameBytes = samplesPerFrame * bytesPerSample;
  const size_t needed = frameBytes * size_t(f.frames);
  if (byteLength < needed) {
    *error = QStringLiteral("the Pixel Data holds %1 bytes but %2 frame(s) of %3x%4 with %5 sample(s) of %6 bits need %7 "
                            "(the file is truncated or its header is wrong).")
                 .arg(byteLength).arg(f.frames).arg(f.columns).arg(f.rows).arg(f.samples).arg(f.bitsAllocated).arg(needed);
    return false;
  }
  // The pointer that holds the data depends on Bits Allocated: words for 16, bytes otherwise.
  if ((f.bitsAllocated == 16 && !words) || (f.bitsAllocated != 16 && !bytes)) {
    *error = QStringLiteral("its Pixel Data cannot be read as %1-bit samples.").arg(f.bitsAllocated);
    return false;
  }
  const SampleUnpacker unpack(f);
  const auto raw = [&](size_t index) -> quint32 {  // index of a sample in the whole pixel data
    switch (f.bitsAllocated) {
      case 8: return bytes[index];
      case 16: return words[index];
      default: {
        const uint8_t* p = bytes + index * 4;  // 32-bit data, little endian
        return quint32(p[0]) | quint32(p[1]) << 8 | quint32(p[2]) << 16 | quint32(p[3]) << 24;
      }
    }
  };
  // Colour deeper than 8 bits is reduced to 8 bits per channel for display (and for the YBR maths,
  // which is defined on 0..255).
  const int down = std::max(0, f.bitsStored - 8);
  const auto channel = [&](size_t index) {
    return qint32(std::min<quint32>(((raw(index) >> unpack.shift) & unpack.mask) >> down, 255));
  };
  image.framesData.resize(size_t(f.frames));
  for (int frame = 0; frame < f.frames; ++frame) {
    std::vector<qint32>& out = image.framesData[size_t(frame)];
    const size_t base = size_t(frame) * samplesPerFrame;
    if (f.samples == 1) {
      out.resize(pixels);
      for (size_t i = 0; i < pixels; ++i) out[i] = unpack(raw(base + i));
      continue;
    }
    out.resize(pixels * 3);
    if (ybr422) {
      // Y0 Y1 Cb Cr for each horizontal pair of pixels (PS3.3 C.7.6.3.1.2); Columns is even.
      for (size_t i = 0; i + 1 < pixels; i += 2) {
        const size_t quad = base + i * 2;
        const qint32 cb = channel(quad + 2), cr = channel(quad + 3);
        for (size_t k = 0; k < 2; ++k) {
          out[(i + k) * 3] = channel(quad + k);
          out[(i + k) * 3 + 1] = cb;
          out[(i + k) * 3 + 2] = cr;
        }
      }
    } else {
      for (size_t i = 0; i < pixels; ++i)
        for (size_t c = 0; c < 3; ++c)
          out[i * 3 + c] = channel(f.planar == 1 ? base + c * pixels + i : base + i * 3 + c);
    }
  }
  return true;
}

// Splits an encapsulated pixel sequence into one byte buffer per frame (PS3.5 A.4): item 0 is the
// Basic Offset Table; a frame is one fragment, or several, found through the offset table or,
// without one, by the JPEG 2000 start-of-codestream (or JPEG start-of-image) marker that begins every frame.
bool framesFromFragments(DcmPixelSequence& sequence, int frames, std::vector<QByteArray>& out, QString* error) {
  const unsigned long count = sequence.card();
  if (count < 2) {
    *error = QStringLiteral("the encapsulated Pixel Data has no fragments.");
    return false;
  }
  struct Fragment { const uint8_t* data; size_t size; size_t offset; };
  std::vector<Fragment> fragments;
  std::vector<quint32> offsetTable;
  size_t position = 0;
  for (unsigned long i = 0; i < count; ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (sequence.getItem(item, i).bad() || !item) continue;
    const Uint32 length = item->getLength();
    if (length > 0 && (item->getUint8Array(data).bad() || !data)) {
      *error = QStringLiteral("fragment %1 of the encapsulated Pixel Data cannot be read.").arg(i);
      return false;
    }
    if (i == 0) {
      for (Uint32 k = 0; k + 4 <= length; k += 4)
        offsetTable.push_back(quint32(data[k]) | quint32(data[k + 1]) << 8 | quint32(data[k + 2]) << 16 | quint32(data[k + 3]) << 24);
      continue;
    }
    fragments.push_back({data, length, position});
    position += 8 + size_t(length);  // item tag + length, then the value
  }
  out.clear();
  if (int(fragments.size()) == frames) {
    for (const Fragment& f : fragments) out.emplace_back(reinterpret_cast<const char*>(f.data), qsizetype(f.size));
    return true;
  }
  if (frames == 1) {
    QByteArray all;
    for (const Fragment& f : fragments) all.append(reinterpret_cast<const char*>(f.data), qsizetype(f.size));
    out.push_back(all);
    return true;
  }
  std::vector<size_t> starts;  // index of the first fragment of each frame
  if (int(offsetTable.size()) == frames) {
    for (quint32 offset : offsetTable) {
      const auto it = std::find_if(fragments.begin(), fragments.end(), [&](const Fragment& f) { return f.offset == offset; });
      if (it == fragments.end()) {
        starts.clear();
        break;
      }
      starts.push_back(size_t(it - fragments.begin()));
    }
  }
  if (starts.empty()) {
    for (size_t i = 0; i < fragments.size(); ++i) {
      const Fragment& f = fragments[i];
      const bool codestream = f.size >= 4 && f.data[0] == 0xFF && f.data[1] == 0x4F && f.data[2] == 0xFF && f.data[3] == 0x51;
      const bool jp2 = f.size >= 8 && f.data[4] == 0x6A && f.data[5] == 0x50 && f.data[6] == 0x20 && f.data[7] == 0x20;
      const bool jpeg = f.size >= 2 && f.data[0] == 0xFF && f.data[1] == 0xD8;  // SOI: cannot occur inside a JPEG stream
      if (codestream || jp2 || jpeg) starts.push_back(i);
    }
  }
  if (int(starts.size()) != frames || starts.front() != 0) {
    *error = QStringLiteral("the encapsulated Pixel Data has %1 fragment(s) that cannot be matched to the %2 frame(s) the "
                            "header declares.").arg(fragments.size()).arg(frames);
    return false;
  }
  starts.push_back(fragments.size());
  for (int frame = 0; frame < frames; ++frame) {
    QByteArray bytes;
    for (size_t i = starts[size_t(frame)]; i < starts[size_t(frame) + 1]; ++i)
      bytes.append(reinterpret_cast<const char*>(fragments[i].data), qsizetype(fragments[i].size));
    out.push_back(bytes);
  }
  return true;
}

bool decodeJpeg2000(DcmDataset& dataset, E_TransferSyntax xfer, const PixelFormat& f, RadiographImage& image,
                    QString* error) {
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element).bad() || !element) {
    *error = QStringLiteral("it has no Pixel Data.");
    return false;
  }
  auto* pixelData = static_cast<DcmPixelData*>(element);
  DcmPixelSequence* sequence = nullptr;
  if (pixelData->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() || !sequence) {
    *error = QStringLiteral("its JPEG 2000 Pixel Data is not encapsulated as the transfer syntax requires.");
    return false;
  }
  std::vector<QByteArray> frameBytes;
  if (!framesFromFragments(*sequence, f.frames, frameBytes, error)) return false;

  image.framesData.resize(size_t(f.frames));
  for (int frame = 0; frame < f.frames; ++frame) {
    const QByteArray& bytes = frameBytes[size_t(frame)];
    J2kFrame decoded;
    QString why;
    if (!decodeJ2kFrame(reinterpret_cast<const uint8_t*>(bytes.constData()), size_t(bytes.size()),
                        {f.columns, f.rows, f.samples, f.bitsAllocated}, decoded, &why)) {
      *error = QStringLiteral("frame %1 of %2 cannot be decoded: %3.").arg(frame + 1).arg(f.frames).arg(why);
      return false;
    }
    std::vector<qint32>& out = image.framesData[size_t(frame)];
    out.assign(decoded.samples.begin(), decoded.samples.end());
    if (f.samples == 1) {
      // The codestream's precision and signedness may disagree with BitsStored / PixelRepresentation
      // (pydicom issue 693: BitsStored 14, J2K precision 16). The codestream describes the values it
      // holds, so an unsigned codestream in a signed image is sign-extended at ITS precision.
      if (f.isSigned && !decoded.isSigned && decoded.precision < 32) {
        const qint64 half = qint64(1) << (decoded.precision - 1);
        for (qint32& v : out)
          if (v >= half) v = qint32(qint64(v) - 2 * half);
      }
    } else {
      const int down = std::max(0, decoded.precision - 8);
      for (qint32& v : out) v = std::clamp(v >> down, 0, 255);
    }
  }
  return true;
}

// PALETTE COLOR (PS3.3 C.7.6.3.1.5): each stored index looks up R, G and B in three tables.
// Segmented palettes (0028,122x) are not supported.
bool applyPalette(DcmDataset& ds, RadiographImage& image, QString* error) {
  const DcmTagKey descriptors[3] = {DCM_RedPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableDescriptor,
                                    DCM_BluePaletteColorLookupTableDescriptor};
  const DcmTagKey data[3] = {DCM_RedPaletteColorLookupTableData, DCM_GreenPaletteColorLookupTableData,
                             DCM_BluePaletteColorLookupTableData};
  std::vector<quint8> tables[3];
  int firstMapped = 0;
  for (int c = 0; c < 3; ++c) {
    Uint16 d[3] = {0, 0, 0};
    for (unsigned long i = 0; i < 3; ++i)
      if (ds.findAndGetUint16(descriptors[c], d[i], i).bad()) {
        Sint16 v = 0;
        if (ds.findAndGetSint16(descriptors[c], v, i).bad()) {
          *error = QStringLiteral("it is PALETTE COLOR but its palette descriptors are missing (segmented palettes are not supported).");
          return false;
        }
        d[i] = Uint16(v);
      }
    const size_t entries = d[0] == 0 ? 65536 : d[0];
    firstMapped = image.isSigned ? int(Sint16(d[1])) : int(d[1]);
    const Uint16* words = nullptr;
    unsigned long count = 0;
    if (ds.findAndGetUint16Array(data[c], words, &count).bad() || !words || count == 0) {
      *error = QStringLiteral("it is PALETTE COLOR but its palette data are missing.");
      return false;
    }
    tables[c].resize(entries);
    for (size_t i = 0; i < entries; ++i) {
      if (d[2] == 8 && count < entries)  // 8-bit entries packed two per word
        tables[c][i] = quint8(i / 2 < count ? (words[i / 2] >> ((i % 2) * 8)) & 0xFF : 0);
      else
        tables[c][i] = quint8(i < count ? (d[2] == 8 ? words[i] & 0xFF : words[i] >> 8) : 0);
    }
  }
  for (auto& frame : image.framesData) {
    std::vector<qint32> rgb(frame.size() * 3);
    for (size_t i = 0; i < frame.size(); ++i)
      for (int c = 0; c < 3; ++c) {
        const qint64 index = std::clamp<qint64>(qint64(frame[i]) - firstMapped, 0, qint64(tables[c].size()) - 1);
        rgb[i * 3 + size_t(c)] = tables[c][size_t(index)];
      }
    frame = std::move(rgb);
  }
  return true;
}

// ---- Reading the file ---------------------------------------------------------------------------

struct Parsed {
  std::unique_ptr<DcmFileFormat> file;
  QString error;
};

bool hasImage(DcmDataset& dataset) {
  return dataset.tagExists(DCM_PixelData) && dataset.tagExists(DCM_Rows) && dataset.tagExists(DCM_Columns);
}

Parsed parseFile(const QString& path, bool partTen) {
  const OFFilename name(QFile::encodeName(path).constData());
  Parsed result;
  if (partTen) {
    result.file = std::make_unique<DcmFileFormat>();
    const OFCondition status = result.file->loadFile(name, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
    if (status.bad()) {
      if (status == EC_StreamNotifyClient || status == EC_SequEnd || status == EC_ItemEnd)
        result.error = QStringLiteral("the file ends before its data do, so it is truncated (DCMTK: %1). Copy or export it "
                                      "again from the source.").arg(text(status));
      else if (status == EC_SequDelimitationItemMissing)
        result.error = QStringLiteral("a sequence or the encapsulated Pixel Data is never closed, so the file is probably "
                                      "truncated or a fragment is damaged (DCMTK: %1). Copy or export it again from the source.")
                           .arg(text(status));
      else
        result.error = QStringLiteral("DCMTK cannot parse it: %1.").arg(text(status));
      result.file.reset();
    }
    return result;
  }
  // No preamble. A file that starts with File Meta elements (group 0002, JLSN_RGB_ILV0.dcm) is
  // Part 10 without the preamble, which DCMTK's auto-detection reads correctly. Anything else is a
  // bare data set: DCMTK's own guess picks implicit VR for explicit data (no_meta.dcm), so try
  // explicit first, then implicit, and keep the first that yields an image.
  QString firstError;
  QFile raw(path);
  const bool startsWithMeta = raw.open(QIODevice::ReadOnly) && raw.read(2) == QByteArray("\x02\x00", 2);
  raw.close();
  for (E_TransferSyntax xfer : {EXS_Unknown, EXS_LittleEndianExplicit, EXS_LittleEndianImplicit}) {
    if (xfer == EXS_Unknown && !startsWithMeta) continue;
    auto file = std::make_unique<DcmFileFormat>();
    const OFCondition status = file->loadFile(name, xfer, EGL_noChange, DCM_MaxReadLength,
                                              xfer == EXS_Unknown ? ERM_autoDetect : ERM_dataset);
    if (status.good() && hasImage(*file->getDataset())) {
      result.file = std::move(file);
      return result;
    }
    if (firstError.isEmpty())
      firstError = status.bad() ? text(status) : QStringLiteral("no image attributes found");
  }
  result.error = QStringLiteral("it is neither an image file nor DICOM (no \"DICM\" header, and it does not parse as a "
                                "bare DICOM data set: %1).").arg(firstError);
  return result;
}

Photometric photometricOf(const QString& name, int samples) {
  if (samples == 3) return Photometric::Rgb;
  if (name == QLatin1String("MONOCHROME1")) return Photometric::Monochrome1;
  if (name == QLatin1String("MONOCHROME2") || name.isEmpty()) return Photometric::Monochrome2;
  return Photometric::Other;
}

void readDisplayAttributes(DcmDataset& ds, RadiographImage& image) {
  DisplayFields& d = image.fields;
  d.patientName = stringOf(ds, DCM_PatientName);
  d.patientId = stringOf(ds, DCM_PatientID);
  d.patientBirthDate = stringOf(ds, DCM_PatientBirthDate);
  d.studyDate = stringOf(ds, DCM_StudyDate);
  d.seriesDate = stringOf(ds, DCM_SeriesDate);
  d.acquisitionDate = stringOf(ds, DCM_AcquisitionDate);
  d.institution = stringOf(ds, DCM_InstitutionName);
  d.accessionNumber = stringOf(ds, DCM_AccessionNumber);
  d.referringPhysician = stringOf(ds, DCM_ReferringPhysicianName);
  d.modality = stringOf(ds, DCM_Modality);
  d.viewPosition = stringOf(ds, DCM_ViewPosition);
  d.bodyPart = stringOf(ds, DCM_BodyPartExamined);
  d.studyDescription = stringOf(ds, DCM_StudyDescription);
  d.seriesDescription = stringOf(ds, DCM_SeriesDescription);
  d.manufacturer = stringOf(ds, DCM_Manufacturer);
  d.laterality = stringOf(ds, DCM_ImageLaterality);
  if (d.laterality.isEmpty()) d.laterality = stringOf(ds, DCM_Laterality);

  // Calibration: PixelSpacing (calibrated to the patient) wins over ImagerPixelSpacing (at the
  // detector plane, i.e. magnified by the beam geometry).
  const auto spacing = [&](const DcmTagKey& key, Calibration::Source source) {
    DcmItem* holder = itemHolding(ds, key, DCM_PixelMeasuresSequence);
    Float64 row = 0, column = 0;
    if (holder && holder->findAndGetFloat64(key, row, 0).good() && holder->findAndGetFloat64(key, column, 1).good() &&
        row > 0 && column > 0 && std::isfinite(row) && std::isfinite(column)) {
      image.calibration = {source, row, column};
      return true;
    }
    return false;
  };
  if (!spacing(DCM_PixelSpacing, Calibration::Source::PixelSpacing))
    spacing(DCM_ImagerPixelSpacing, Calibration::Source::ImagerPixelSpacing);

  // Modality LUT: a LUT sequence replaces rescale slope/intercept.
  if (DcmItem* holder = itemHolding(ds, DCM_RescaleSlope, DCM_PixelValueTransformationSequence)) {
    Float64 slope = 1;
    if (holder->findAndGetFloat64(DCM_RescaleSlope, slope).good() && std::isfinite(slope) && slope != 0)
      image.rescaleSlope = slope;
  }
  if (DcmItem* holder = itemHolding(ds, DCM_RescaleIntercept, DCM_PixelValueTransformationSequence)) {
    Float64 intercept = 0;
    if (holder->findAndGetFloat64(DCM_RescaleIntercept, intercept).good() && std::isfinite(intercept))
      image.rescaleIntercept = intercept;
  }
  if (DcmItem* holder = itemHolding(ds, DCM_RescaleType, DCM_PixelValueTransformationSequence))
    image.rescaleType = stringOf(*holder, DCM_RescaleType);
  DcmItem* lutItem = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ModalityLUTSequence, lutItem, 0).good() && lutItem) {
    image.modalityLut = readLut(*lutItem, image.isSigned, DCM_LUTExplanation);
    if (image.modalityLut) {
      const QString type = stringOf(*lutItem, DCM_ModalityLUTType);
      if (!type.isEmpty()) image.rescaleType = type;
    }
  }

  // VOI: every window the file offers, then every VOI LUT.
  if (DcmItem* holder = itemHolding(ds, DCM_WindowCenter, DCM_FrameVOILUTSequence)) {
    const QString function = stringOf(*holder, DCM_VOILUTFunction).toUpper();
    Float64 center = 0, width = 0;
    for (unsigned long i = 0; holder->findAndGetFloat64(DCM_WindowCenter, center, i).good(); ++i) {
      // Fewer widths than centers happens in the wild: reuse the last width given.
      if (holder->findAndGetFloat64(DCM_WindowWidth, width, i).bad() && holder->findAndGetFloat64(DCM_WindowWidth, width, i ? i - 1 : 0).bad())
        break;
      if (!std::isfinite(center) || !std::isfinite(width) || width <= 0) continue;
      VoiWindow window;
      window.center = center;
      window.width = width;
      window.function = function == QLatin1String("LINEAR_EXACT") ? VoiWindow::Function::LinearExact
                        : function == QLatin1String("SIGMOID")    ? VoiWindow::Function::Sigmoid
                                                                   : VoiWindow::Function::Linear;
      window.explanation = stringOf(*holder, DCM_WindowCenterWidthExplanation, i);
      if (window.explanation.isEmpty()) window.explanation = QStringLiteral("File window %1").arg(i + 1);
      image.fileWindows << window;
    }
  }
  DcmSequenceOfItems* voiLuts = nullptr;
  if (ds.findAndGetSequence(DCM_VOILUTSequence, voiLuts).good() && voiLuts) {
    // VOI LUT input is the Modality LUT output; signed when that output can be negative.
    const bool signedInput = image.isSigned || image.rescaleIntercept < 0;
    for (unsigned long i = 0; i < voiLuts->card(); ++i)
      if (DcmItem* item = voiLuts->getItem(i))
        if (auto lut = readLut(*item, signedInput, DCM_LUTExplanation)) {
          if (lut->explanation.isEmpty()) lut->explanation = QStringLiteral("File VOI LUT %1").arg(i + 1);
          image.voiLuts.push_back(std::move(*lut));
        }
  }
  image.presentationInverse = stringOf(ds, DCM_PresentationLUTShape).toUpper() == QLatin1String("INVERSE");
}

// ---- Validation: what the header promises, checked before anything is decoded ---------------------

PixelFormat readPixelFormat(DcmDataset& ds) {
  PixelFormat f;
  const auto us = [&](const DcmTagKey& key, int fallback) {
    Uint16 u = 0;
    return ds.findAndGetUint16(key, u).good() ? int(u) : fallback;
  };
  f.rows = us(DCM_Rows, 0);
  f.columns = us(DCM_Columns, 0);
  f.samples = us(DCM_SamplesPerPixel, 1);
  f.bitsAllocated = us(DCM_BitsAllocated, 0);
  f.bitsStored = us(DCM_BitsStored, f.bitsAllocated);
  f.highBit = us(DCM_HighBit, f.bitsStored - 1);
  f.isSigned = us(DCM_PixelRepresentation, 0) == 1;
  f.planar = us(DCM_PlanarConfiguration, 0);
  Sint32 frames = 1;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  f.frames = frames;
  f.photometric = stringOf(ds, DCM_PhotometricInterpretation).toUpper();
  return f;
}

// The transfer syntax the pixel data are in: the pixel data's own original representation is what the
// codecs start from; prefer it to the data set's (they agree unless a reader guessed).
E_TransferSyntax pixelDataXfer(DcmDataset& ds) {
  E_TransferSyntax xfer = ds.getOriginalXfer();
  if (DcmElement* pixelElement = nullptr; ds.findAndGetElement(DCM_PixelData, pixelElement).good() && pixelElement) {
    const DcmRepresentationParameter* parameter = nullptr;
    E_TransferSyntax pixelXfer = EXS_Unknown;
    static_cast<DcmPixelData*>(pixelElement)->getOriginalRepresentationKey(pixelXfer, parameter);
    if (pixelXfer != EXS_Unknown) xfer = pixelXfer;
  }
  return xfer;
}

bool isJpeg2000(E_TransferSyntax xfer) {
  return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 || xfer == EXS_JPEG2000MulticomponentLosslessOnly ||
         xfer == EXS_JPEG2000Multicomponent;
}

// The transfer syntaxes DCMTK's JPEG and JPEG-LS codecs decode: their frames are JPEG marker streams.
bool isJpegFamily(E_TransferSyntax xfer) {
  switch (xfer) {
    case EXS_JPEGProcess1: case EXS_JPEGProcess2_4: case EXS_JPEGProcess3_5: case EXS_JPEGProcess6_8:
    case EXS_JPEGProcess7_9: case EXS_JPEGProcess10_12: case EXS_JPEGProcess11_13: case EXS_JPEGProcess14:
    case EXS_JPEGProcess15: case EXS_JPEGProcess16_18: case EXS_JPEGProcess17_19: case EXS_JPEGProcess20_22:
    case EXS_JPEGProcess21_23: case EXS_JPEGProcess24_26: case EXS_JPEGProcess25_27: case EXS_JPEGProcess28:
    case EXS_JPEGProcess29: case EXS_JPEGProcess14SV1: case EXS_JPEGLSLossless: case EXS_JPEGLSLossy:
      return true;
    default:
      return false;
  }
}

// Empty when this loader can decode the format the header declares; else why not. `native`: the
// pixel data are uncompressed, so their layout is ours to read (after a codec, DCMTK's).
QString formatProblem(const PixelFormat& f, bool native) {
  if (f.rows <= 0 || f.columns <= 0)
    return QStringLiteral("its Rows/Columns (%1x%2) describe no image.").arg(f.columns).arg(f.rows);
  if (f.bitsAllocated != 8 && f.bitsAllocated != 16 && f.bitsAllocated != 32)
    return QStringLiteral("Bits Allocated %1 is not supported (8, 16 or 32 are).").arg(f.bitsAllocated);
  if (f.bitsStored < 1 || f.bitsStored > f.bitsAllocated || f.highBit < f.bitsStored - 1 || f.highBit >= f.bitsAllocated)
    return QStringLiteral("its bit layout is inconsistent (Bits Allocated %1, Bits Stored %2, High Bit %3).")
        .arg(f.bitsAllocated).arg(f.bitsStored).arg(f.highBit);
  if (f.samples != 1 && f.samples != 3)
    return QStringLiteral("Samples per Pixel %1 is not supported (1 or 3 are).").arg(f.samples);
  if (f.samples == 1 && f.photometric != QLatin1String("MONOCHROME1") && f.photometric != QLatin1String("MONOCHROME2") &&
      !f.photometric.isEmpty() && f.photometric != QLatin1String("PALETTE COLOR"))
    return QStringLiteral("Photometric Interpretation %1 is not supported for one-sample images.").arg(f.photometric);
  if (f.samples == 3 && f.planar != 0 && f.planar != 1)
    return QStringLiteral("Planar Configuration %1 is not defined (0, interleaved, or 1, by plane).").arg(f.planar);
  // Compressed colour may be YBR_ICT, YBR_RCT, YBR_PARTIAL_420...: the codec says what it produced,
  // checked after decoding. Native colour is only what unpackNative() reads.
  if (native && f.samples == 3 && f.photometric != QLatin1String("RGB") && f.photometric != QLatin1String("YBR_FULL") &&
      f.photometric != QLatin1String("YBR_FULL_422"))
    return QStringLiteral("colour Photometric Interpretation %1 is not supported (RGB, YBR_FULL and YBR_FULL_422 are).")
        .arg(f.photometric.isEmpty() ? QStringLiteral("(none)") : f.photometric);
  // YBR_FULL_422 stores horizontal pairs of pixels (PS3.3 C.7.6.3.1.2): an odd width has no layout.
  if (native && f.isYbr422() && f.columns % 2 != 0)
    return QStringLiteral("it is YBR_FULL_422, which stores pixels in horizontal pairs, but its Columns (%1) is odd.")
        .arg(f.columns);
  if (quint64(f.frames) * f.pixelsPerFrame() * quint64(f.samples) * sizeof(qint32) > kMaxDecodedBytes)
    return QStringLiteral("%1 frame(s) of %2x%3 are too large to display.").arg(f.frames).arg(f.columns).arg(f.rows);
  return {};
}

// JPEG and JPEG-LS frames against the header, before DCMTK decodes them: DCMTK fills a buffer of the
// header's size with whatever the stream holds, so a 1024x256 stream in a 512x512 header displayed
// as garbage, and a truncated stream as gray rows. Returns the reason to refuse; a truncated frame
// that is otherwise sound sets *incomplete instead.
QString jpegFrameProblem(DcmDataset& ds, E_TransferSyntax xfer, const PixelFormat& f, QString* incomplete) {
  DcmElement* element = nullptr;
  DcmPixelSequence* sequence = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, element).bad() || !element ||
      static_cast<DcmPixelData*>(element)->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() || !sequence)
    return QStringLiteral("its JPEG Pixel Data is not encapsulated as the transfer syntax requires.");
  std::vector<QByteArray> frames;
  QString error;
  if (!framesFromFragments(*sequence, f.frames, frames, &error)) return error;
  for (size_t i = 0; i < frames.size(); ++i) {
    const JpegStructure jpeg = readJpegStructure(reinterpret_cast<const uint8_t*>(frames[i].constData()), size_t(frames[i].size()));
    const QString frame = f.frames > 1 ? QStringLiteral("frame %1 of %2: ").arg(i + 1).arg(f.frames) : QString();
    if (!jpeg.hasFrameHeader)
      return frame + (jpeg.problem.isEmpty() ? QStringLiteral("the JPEG data have no frame header (SOF marker)")
                                             : jpeg.problem) + QLatin1Char('.');
    if (jpeg.width != f.columns || (jpeg.height != 0 && jpeg.height != f.rows) || jpeg.components != f.samples)
      return frame + QStringLiteral("the JPEG stream is %1x%2 with %3 component(s), but the DICOM header says %4x%5 with %6 "
                                    "sample(s) per pixel (Rows/Columns do not describe the compressed image).")
                         .arg(jpeg.width).arg(jpeg.height).arg(jpeg.components).arg(f.columns).arg(f.rows).arg(f.samples);
    if (jpeg.precision > f.bitsAllocated)
      return frame + QStringLiteral("the JPEG stream has %1-bit samples, more than the %2 bits the DICOM header allocates.")
                         .arg(jpeg.precision).arg(f.bitsAllocated);
    if (!jpeg.complete && !jpeg.truncated) return frame + jpeg.problem + QLatin1Char('.');
    if (jpeg.truncated && incomplete->isEmpty()) *incomplete = frame + jpeg.problem;
  }
  return {};
}

// ---- Decoding and conversion -----------------------------------------------------------------------

// Decodes every frame into image.framesData as stored values. DCMTK's codecs may change the
// Photometric Interpretation (JPEG's YBR becomes RGB), which `f` then follows.
bool decodePixels(DcmDataset& ds, E_TransferSyntax xfer, PixelFormat& f, RadiographImage& image, QString* error) {
  const DcmXfer xferInfo(xfer);
  if (isJpeg2000(xfer)) {
    if (!decodeJpeg2000(ds, xfer, f, image, error)) return false;
    // OpenJPEG undoes the JPEG 2000 colour transform (YBR_ICT / YBR_RCT), so colour comes out RGB.
    if (f.photometric.startsWith(QLatin1String("YBR_ICT")) || f.photometric.startsWith(QLatin1String("YBR_RCT")))
      f.photometric = QStringLiteral("RGB");
    return true;
  }
  if (xferInfo.isEncapsulated()) {
    const OFCondition status = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (status.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
      *error = QStringLiteral("its %1 pixel data cannot be decompressed: %2.")
                   .arg(QString::fromLatin1(xferInfo.getXferName()), text(status));
      return false;
    }
    // The JPEG decoder converts YBR to RGB and says so in the data set.
    const PixelFormat decoded = readPixelFormat(ds);
    f.photometric = decoded.photometric;
    f.planar = decoded.planar;
  }
  DcmElement* element = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, element).bad() || !element) {
    *error = QStringLiteral("its Pixel Data cannot be read.");
    return false;
  }
  Uint8* bytes = nullptr;
  Uint16* words = nullptr;
  const OFCondition got = f.bitsAllocated == 16 ? element->getUint16Array(words) : element->getUint8Array(bytes);
  const size_t length = element->getLength();
  if (got.bad() || (!bytes && !words) || length == DCM_UndefinedLength) {
    *error = QStringLiteral("its Pixel Data cannot be read (%1).").arg(text(got));
    return false;
  }
  return unpackNative(f, bytes, words, length, image, error);
}

// Palette lookup and YBR to RGB, so that colour leaves the loader as RGB.
bool convertToRgb(DcmDataset& ds, PixelFormat& f, RadiographImage& image, QString* error) {
  if (f.samples == 1 && f.photometric == QLatin1String("PALETTE COLOR")) {
    if (!applyPalette(ds, image, error)) return false;
    f.samples = 3;
    f.photometric = QStringLiteral("RGB");
  }
  if (f.samples != 3 || f.photometric == QLatin1String("RGB")) return true;
  if (f.photometric == QLatin1String("YBR_FULL") || f.photometric == QLatin1String("YBR_FULL_422")) {
    for (auto& frame : image.framesData)
      for (size_t i = 0; i + 2 < frame.size(); i += 3) ybrFullToRgb(frame[i], frame[i + 1], frame[i + 2]);
    return true;
  }
  *error = QStringLiteral("colour Photometric Interpretation %1 is not supported.").arg(f.photometric);
  return false;
}

}  // namespace

LoadResult loadDicomFile(const QString& path, const LoadOptions& options) {
  registerCodecsOnce();
  Parsed parsed = parseFile(path, hasDicomMagic(path));
  if (!parsed.file) return {nullptr, loadError(path, parsed.error)};
  DcmFileFormat& file = *parsed.file;
  if (file.loadAllDataIntoMemory().bad())
    return {nullptr, loadError(path, QStringLiteral("its data could not be read into memory (file changed or truncated?)."))};
  DcmDataset& ds = *file.getDataset();
  // A Part 10 file whose File Meta lacks the Transfer Syntax UID was read with a guessed encoding;
  // say so with whatever else goes wrong, since it is the likely root cause.
  OFString metaTs;
  const bool guessedEncoding = hasDicomMagic(path) && file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, metaTs).bad();
  const auto fail = [&](const QString& reason) -> LoadResult {
    return {nullptr, loadError(path, guessedEncoding ? reason + QStringLiteral(" Its File Meta Information also lacks the "
                                                                               "Transfer Syntax UID (0002,0010), so its "
                                                                               "encoding had to be guessed.")
                                                     : reason)};
  };

  if (!ds.tagExists(DCM_PixelData)) return fail(QStringLiteral("it is a DICOM file without an image (no Pixel Data element)."));

  // Everything the header promises is checked before decoding: the format, the compressed frames'
  // own headers, then the pixel budget (a small file can declare gigapixels).
  PixelFormat f = readPixelFormat(ds);
  const E_TransferSyntax xfer = pixelDataXfer(ds);
  const DcmXfer xferInfo(xfer);
  if (const QString why = formatProblem(f, !xferInfo.isEncapsulated()); !why.isEmpty()) return fail(why);
  QString incomplete;
  if (isJpegFamily(xfer))
    if (const QString why = jpegFrameProblem(ds, xfer, f, &incomplete); !why.isEmpty()) return fail(why);
  if (const QString why = pixelBudgetProblem(f.columns, f.rows, f.frames, options); !why.isEmpty()) return fail(why);
  if (!incomplete.isEmpty() && !options.acceptIncomplete)
    return fail(incomplete + QStringLiteral("; an incomplete image is not shown or analysed."));

  auto image = std::make_shared<RadiographImage>();
  image->path = path;
  image->isDicom = true;
  image->formatName = QStringLiteral("DICOM (%1)").arg(QString::fromLatin1(xferInfo.getXferName()));
  image->isSigned = f.isSigned;
  image->incomplete = incomplete;
  QString error;
  if (!decodePixels(ds, xfer, f, *image, &error) || !convertToRgb(ds, f, *image, &error)) return fail(error);

  image->width = f.columns;
  image->height = f.rows;
  image->frames = f.frames;
  image->samplesPerPixel = f.samples;
  image->bitsAllocated = f.bitsAllocated;
  image->bitsStored = f.bitsStored;
  image->photometric = photometricOf(f.photometric, f.samples);
  computeStoredRange(*image);
  readDisplayAttributes(ds, *image);
  collectTags(*file.getMetaInfo(), image->tags, 0);
  collectTags(ds, image->tags, 0);
  return {image, {}};
}

}  // namespace cxr::viewer::detail
