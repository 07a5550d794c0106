// Crafted images of issue 12, each generated here: decompression bombs (a small file whose header
// declares gigapixels) refused from the header before decoding, compressed frames that disagree
// with their DICOM header refused naming both, and truncated JPEG data refused (or, on request,
// loaded with the "incomplete image" mark) instead of shown with gray rows.
#include "support/dicom_synthetic.h"

#include "cxr/viewer/radiograph.h"
#include "j2k_test_encoder.h"

#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <QBuffer>
#include <QFileInfo>
#include <QImageWriter>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <QtEndian>

using namespace cxr::viewer;

namespace {

// An 8-bit gray (or colour) JPEG of a smooth pattern, written by Qt.
QByteArray jpegOf(int width, int height, bool colour = false) {
  QImage image(width, height, colour ? QImage::Format_RGB888 : QImage::Format_Grayscale8);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.setPixelColor(x, y, colour ? QColor((x * 3) % 256, (y * 5) % 256, (x + y) % 256) : QColor::fromRgb(((x ^ y) * 7) % 256, ((x ^ y) * 7) % 256, ((x ^ y) * 7) % 256));
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  QImageWriter writer(&buffer, "jpeg");
  writer.setQuality(90);
  writer.write(image);
  return bytes;
}

// Rewrites the size in a JPEG's frame header (SOF0): the header of a bomb, the data of a small image.
QByteArray withJpegSize(QByteArray jpeg, int width, int height) {
  const qsizetype sof = jpeg.indexOf(QByteArray("\xFF\xC0", 2));
  if (sof < 0) return {};
  qToBigEndian<quint16>(quint16(height), jpeg.data() + sof + 5);
  qToBigEndian<quint16>(quint16(width), jpeg.data() + sof + 7);
  return jpeg;
}

// Rewrites the image and tile size in a J2K codestream's SIZ marker segment.
std::vector<uint8_t> withJ2kSize(std::vector<uint8_t> codestream, quint32 width, quint32 height) {
  for (const auto& [offset, value] : {std::pair{8, width}, std::pair{12, height}, std::pair{24, width}, std::pair{28, height}})
    qToBigEndian<quint32>(value, codestream.data() + offset);
  return codestream;
}

std::vector<uint8_t> j2kOf(int width, int height, int precision) {
  std::vector<int> values(size_t(width) * size_t(height));
  for (size_t i = 0; i < values.size(); ++i) values[i] = int(i * 13 % (size_t(1) << precision));
  cxr::viewer::testsupport::J2kEncodeSettings settings;
  settings.precision = precision;
  settings.resolutions = 1;
  return cxr::viewer::testsupport::encodeJ2kGray(values, width, height, settings);
}

// A PNG written by hand: a 16-bit gray IHDR of any size and one tiny IDAT (the bytes of a bomb's
// header; the rows that would follow do not matter, since nothing past the header may be decoded).
QByteArray pngHeaderOnly(quint32 width, quint32 height) {
  const auto crc32 = [](const QByteArray& bytes) {
    quint32 crc = 0xFFFFFFFFu;
    for (char c : bytes) {
      crc ^= quint8(c);
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
  };
  const auto chunk = [&](const char* type, const QByteArray& data) -> QByteArray {
    QByteArray out(4, '\0');
    qToBigEndian<quint32>(quint32(data.size()), out.data());
    const QByteArray body = QByteArray(type, 4) + data;
    QByteArray crc(4, '\0');
    qToBigEndian<quint32>(crc32(body), crc.data());
    return out + body + crc;
  };
  QByteArray ihdr(13, '\0');
  qToBigEndian<quint32>(width, ihdr.data());
  qToBigEndian<quint32>(height, ihdr.data() + 4);
  ihdr[8] = 16;  // bit depth
  ihdr[9] = 0;   // gray
  const QByteArray idat = qCompress(QByteArray(4096, '\0')).mid(4);  // qCompress prefixes the length
  return QByteArray("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", {});
}

// One encapsulated frame in a DICOM file of the given header geometry and transfer syntax.
bool writeEncapsulatedDicom(const QString& path, E_TransferSyntax xfer, int columns, int rows, int samples, int bits,
                            const QByteArray& frame, const char* photometric = nullptr) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  char uid[100];
  ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds.putAndInsertUint16(DCM_Rows, Uint16(rows));
  ds.putAndInsertUint16(DCM_Columns, Uint16(columns));
  ds.putAndInsertUint16(DCM_SamplesPerPixel, Uint16(samples));
  ds.putAndInsertString(DCM_PhotometricInterpretation, photometric ? photometric : samples == 3 ? "YBR_FULL_422" : "MONOCHROME2");
  if (samples == 3) ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  ds.putAndInsertUint16(DCM_BitsAllocated, Uint16(bits > 8 ? 16 : 8));
  ds.putAndInsertUint16(DCM_BitsStored, Uint16(bits));
  ds.putAndInsertUint16(DCM_HighBit, Uint16(bits - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  auto* sequence = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
  sequence->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty Basic Offset Table
  QByteArray even = frame;
  if (even.size() % 2) even.append('\0');
  auto* item = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
  item->putUint8Array(reinterpret_cast<const Uint8*>(even.constData()), Uint32(even.size()));
  sequence->insert(item);
  auto* pixelData = new DcmPixelData(DCM_PixelData);
  pixelData->putOriginalRepresentation(xfer, nullptr, sequence);
  ds.insert(pixelData, true);
  return file.saveFile(QFile::encodeName(path).constData(), xfer).good();
}

// An RLE frame (PS3.5 G): one segment of literal and repeated runs, far fewer bytes than its image.
QByteArray rleFrame() {
  QByteArray header(64, '\0');
  qToLittleEndian<quint32>(1, header.data());   // one segment
  qToLittleEndian<quint32>(64, header.data() + 4);
  QByteArray segment;
  for (int i = 0; i < 64; ++i) segment.append(char(-127)).append(char(i));  // 128 copies of i
  return header + segment;
}

}  // namespace

class TestImagingHostile : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  QString write(const QString& name, const QByteArray& bytes) {
    const QString path = tmp_.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size()) return {};
    return path;
  }

  // The load is refused, naming the file and every fragment given.
  static bool refusedSaying(const LoadResult& r, const QString& path, const QStringList& fragments) {
    if (r.ok()) {
      qWarning("%s loaded (%dx%d) instead of being refused", qPrintable(QFileInfo(path).fileName()), r.image->width,
               r.image->height);
      return false;
    }
    qInfo("%s", qPrintable(r.error));
    for (const QString& expected : QStringList{QFileInfo(path).fileName()} + fragments)
      if (!r.error.contains(expected)) {
        qWarning("the message lacks \"%s\": %s", qPrintable(expected), qPrintable(r.error));
        return false;
      }
    return true;
  }

 private Q_SLOTS:
  // ---- Decompression bombs: refused from the header, with the sizes and the budget ---------------

  void jpeg2000DicomBombIsRefusedBeforeDecoding() {
    // An 8x8 codestream whose SIZ says 16000x16000 (one tile): OpenJPEG would allocate 1 GB for it.
    const std::vector<uint8_t> stream = withJ2kSize(j2kOf(8, 8, 8), 16000, 16000);
    const QString path = tmp_.filePath(QStringLiteral("j2k_bomb.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEG2000LosslessOnly, 16000, 16000, 1, 8,
                                   QByteArray(reinterpret_cast<const char*>(stream.data()), qsizetype(stream.size()))));
    QVERIFY(QFileInfo(path).size() < 4096);
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("16000x16000"), QStringLiteral("256 megapixels"),
                                                       QStringLiteral("budget of 50 megapixels")}));
  }

  void jpegDicomBombIsRefusedBeforeDecoding() {
    const QByteArray stream = withJpegSize(jpegOf(64, 64), 20000, 20000);
    const QString path = tmp_.filePath(QStringLiteral("jpeg_bomb.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEGProcess1, 20000, 20000, 1, 8, stream));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("20000x20000"), QStringLiteral("400 megapixels")}));
  }

  void rleDicomBombIsRefusedBeforeDecoding() {
    const QString path = tmp_.filePath(QStringLiteral("rle_bomb.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_RLELossless, 16000, 16000, 1, 8, rleFrame()));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("16000x16000"), QStringLiteral("budget")}));
  }

  void pngBombIsRefusedBeforeDecoding() {
    const QString path = write(QStringLiteral("png_bomb.png"), pngHeaderOnly(16000, 16000));
    QVERIFY(!path.isEmpty());
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("16000x16000"), QStringLiteral("256 megapixels")}));
  }

  void jpegFileBombIsRefusedBeforeDecoding() {
    const QString path = write(QStringLiteral("jpeg_bomb.jpg"), withJpegSize(jpegOf(64, 64), 20000, 20000));
    QVERIFY(!path.isEmpty());
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("20000x20000"), QStringLiteral("400 megapixels")}));
  }

  // Both budgets are settings: per frame, and for all frames of a multi-frame file.
  void pixelBudgetIsAnOption() {
    QImage picture(100, 80, QImage::Format_Grayscale8);
    picture.fill(7);
    const QString png = tmp_.filePath(QStringLiteral("small.png"));
    QVERIFY(picture.save(png));
    LoadOptions tight;
    tight.maxFramePixels = 7999;
    QVERIFY(refusedSaying(loadRadiograph(png, tight), png, {QStringLiteral("100x80")}));
    tight.maxFramePixels = 8000;
    QVERIFY(loadRadiograph(png, tight).ok());

    cxr::test::SyntheticDicom s;
    s.frames = 10;
    s.words.assign(size_t(s.rows * s.columns * s.frames), 100);
    const QString dicom = tmp_.filePath(QStringLiteral("ten_frames.dcm"));
    QVERIFY(cxr::test::writeSyntheticDicom(s, dicom));
    QVERIFY(loadRadiograph(dicom).ok());
    LoadOptions total;
    total.maxTotalPixels = 639;  // ten frames of 8x8 are 640 pixels
    QVERIFY(refusedSaying(loadRadiograph(dicom, total), dicom, {QStringLiteral("10 frames of 8x8")}));
  }

  // The budget as users type it (megapixels): ranges checked, NaN refused, nothing changed on a refusal.
  void pixelBudgetInMegapixels() {
    LoadOptions options;
    QVERIFY(setPixelBudget(options, 80, 800).isEmpty());
    QCOMPARE(options.maxFramePixels, 80'000'000);
    QCOMPARE(options.maxTotalPixels, 800'000'000);
    for (const auto& [frame, file] : {std::pair{0.0, 500.0}, std::pair{std::nan(""), 500.0}, std::pair{2000.0, 4000.0},
                                      std::pair{60.0, 50.0}, std::pair{50.0, 5000.0}, std::pair{50.0, std::nan("")}}) {
      const QString problem = setPixelBudget(options, frame, file);
      QVERIFY2(!problem.isEmpty(), qPrintable(QStringLiteral("%1 / %2 accepted").arg(frame).arg(file)));
      QVERIFY(problem.contains(u"megapixels"));
    }
    QCOMPARE(options.maxFramePixels, 80'000'000);
  }

  // ---- Compressed frames that disagree with the header: refused naming both ------------------------

  void jpegStreamOfAnotherSizeIsRefused_data() {
    QTest::addColumn<int>("columns");
    QTest::addColumn<int>("rows");
    QTest::newRow("1024x256 stream in a 512x512 header (same pixel count)") << 512 << 512;
    QTest::newRow("1024x256 stream in a 20000x20000 header") << 20000 << 20000;
  }
  void jpegStreamOfAnotherSizeIsRefused() {
    QFETCH(int, columns);
    QFETCH(int, rows);
    const QString path = tmp_.filePath(QStringLiteral("jpeg_%1x%2.dcm").arg(columns).arg(rows));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEGProcess1, columns, rows, 1, 8, jpegOf(1024, 256)));
    QVERIFY(refusedSaying(loadRadiograph(path), path,
                          {QStringLiteral("1024x256"), QStringLiteral("%1x%2").arg(columns).arg(rows)}));
  }

  void jpegStreamWithOtherComponentsIsRefused() {
    const QString path = tmp_.filePath(QStringLiteral("jpeg_colour_in_gray.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEGProcess1, 64, 48, 1, 8, jpegOf(64, 48, true)));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("3 component(s)"), QStringLiteral("1 sample(s)")}));
  }

  void j2kStreamOfAnotherSizeIsRefused() {
    const std::vector<uint8_t> stream = j2kOf(64, 16, 8);
    const QString path = tmp_.filePath(QStringLiteral("j2k_64x16_in_32x32.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEG2000LosslessOnly, 32, 32, 1, 8,
                                   QByteArray(reinterpret_cast<const char*>(stream.data()), qsizetype(stream.size()))));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("64x16"), QStringLiteral("32x32")}));
  }

  void j2kStreamDeeperThanBitsAllocatedIsRefused() {
    const std::vector<uint8_t> stream = j2kOf(32, 32, 12);
    const QString path = tmp_.filePath(QStringLiteral("j2k_12bit_in_8bit.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEG2000LosslessOnly, 32, 32, 1, 8,
                                   QByteArray(reinterpret_cast<const char*>(stream.data()), qsizetype(stream.size()))));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("12-bit"), QStringLiteral("8 bits")}));
  }

  // The streams that agree with their header still load (the controls of the two tests above).
  void agreeingStreamsLoad() {
    const QString jpeg = tmp_.filePath(QStringLiteral("jpeg_agrees.dcm"));
    QVERIFY(writeEncapsulatedDicom(jpeg, EXS_JPEGProcess1, 1024, 256, 1, 8, jpegOf(1024, 256)));
    LoadResult r = loadRadiograph(jpeg);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.image->width, 1024);
    QVERIFY(!r.image->isIncomplete());
    const std::vector<uint8_t> stream = j2kOf(64, 16, 8);
    const QString j2k = tmp_.filePath(QStringLiteral("j2k_agrees.dcm"));
    QVERIFY(writeEncapsulatedDicom(j2k, EXS_JPEG2000LosslessOnly, 64, 16, 1, 8,
                                   QByteArray(reinterpret_cast<const char*>(stream.data()), qsizetype(stream.size()))));
    r = loadRadiograph(j2k);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.image->framesData[0][1], 13);
  }

  // ---- Truncated JPEG: refused by default, or loaded with the mark when the caller asks ------------

  void truncatedJpegFileIsRefused() {
    const QByteArray whole = jpegOf(256, 256);
    const QString complete = write(QStringLiteral("complete.jpg"), whole);
    const LoadResult ok = loadRadiograph(complete);
    QVERIFY2(ok.ok() && !ok.image->isIncomplete(), qPrintable(ok.error));
    for (double kept : {0.3, 0.6, 0.95}) {
      const QString path = write(QStringLiteral("cut_%1.jpg").arg(int(kept * 100)), whole.left(qsizetype(whole.size() * kept)));
      QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("truncated"), QStringLiteral("incomplete")}));
    }
  }

  // Every image file format cut in half is refused, never shown with the missing part blank: Qt's
  // PNG and TIFF readers fail, its JPEG and BMP readers return an image from what they have.
  void truncatedImageFileIsRefused_data() {
    QTest::addColumn<QByteArray>("format");
    for (const char* format : {"png", "tiff", "bmp", "jpeg"}) QTest::newRow(format) << QByteArray(format);
  }
  void truncatedImageFileIsRefused() {
    QFETCH(QByteArray, format);
    QImage picture(128, 96, QImage::Format_Grayscale8);
    for (int y = 0; y < picture.height(); ++y)
      for (int x = 0; x < picture.width(); ++x) picture.scanLine(y)[x] = uchar(x * y);
    QByteArray whole;
    QBuffer buffer(&whole);
    buffer.open(QIODevice::WriteOnly);
    QVERIFY(QImageWriter(&buffer, format).write(picture));
    const QString complete = write(QStringLiteral("whole.%1").arg(QString::fromLatin1(format)), whole);
    const LoadResult ok = loadRadiograph(complete);
    QVERIFY2(ok.ok() && !ok.image->isIncomplete(), qPrintable(ok.error));
    const QString path = write(QStringLiteral("half.%1").arg(QString::fromLatin1(format)), whole.left(whole.size() / 2));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {}));
  }

  void truncatedJpegFileLoadsMarkedIncompleteOnRequest() {
    const QByteArray whole = jpegOf(256, 256);
    const QString path = write(QStringLiteral("cut_marked.jpg"), whole.left(whole.size() / 2));
    LoadOptions options;
    options.acceptIncomplete = true;
    const LoadResult r = loadRadiograph(path, options);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QVERIFY(r.image->isIncomplete());
    QVERIFY2(r.image->incomplete.contains(QStringLiteral("truncated")), qPrintable(r.image->incomplete));
  }

  void truncatedJpegInDicomIsRefused() {
    const QByteArray whole = jpegOf(256, 256);
    const QString path = tmp_.filePath(QStringLiteral("jpeg_cut.dcm"));
    QVERIFY(writeEncapsulatedDicom(path, EXS_JPEGProcess1, 256, 256, 1, 8, whole.left(whole.size() / 2)));
    QVERIFY(refusedSaying(loadRadiograph(path), path, {QStringLiteral("truncated")}));
  }
};

QTEST_GUILESS_MAIN(TestImagingHostile)
#include "test_imaging_hostile.moc"
