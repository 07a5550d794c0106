// JPEG 2000 in DICOM: how encapsulated fragments become frames (PS3.5 A.4) and how the codestream's
// precision and signedness meet BitsStored / PixelRepresentation. The files are made here: frames
// encoded with OpenJPEG, split into fragments, with or without a Basic Offset Table.
#include "support/dicom_synthetic.h"

#include "cxr/viewer/radiograph.h"
#include "j2k_test_encoder.h"

#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <QTemporaryDir>
#include <QTest>


using namespace cxr::viewer;

namespace {

// Lossless J2K codestream of one gray frame, padded to the even length fragments need.
std::vector<uint8_t> encodeLossless(const std::vector<int>& values, int width, int height, int precision, bool isSigned) {
  testsupport::J2kEncodeSettings settings;
  settings.precision = precision;
  settings.isSigned = isSigned;
  std::vector<uint8_t> bytes = testsupport::encodeJ2kGray(values, width, height, settings);
  if (bytes.size() % 2) bytes.push_back(0);
  return bytes;
}

struct J2kFile {
  int width = 16, height = 12, frames = 1, declaredFrames = -1;
  int fragmentsPerFrame = 1;
  bool offsetTable = false;
  int bitsStored = 12;
  bool pixelSigned = false;
  int j2kPrecision = 12;
  bool j2kSigned = false;
};

std::vector<int> frameValues(const J2kFile& spec, int frame) {
  std::vector<int> v(size_t(spec.width) * size_t(spec.height));
  const int range = 1 << spec.j2kPrecision;
  for (size_t i = 0; i < v.size(); ++i) {
    int value = int((i * 37 + size_t(frame) * 1001) % size_t(range));
    if (spec.j2kSigned) value -= range / 2;
    v[i] = value;
  }
  return v;
}

bool writeJ2kDicom(const J2kFile& spec, const QString& path) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  char uid[100];
  ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds.putAndInsertUint16(DCM_Rows, Uint16(spec.height));
  ds.putAndInsertUint16(DCM_Columns, Uint16(spec.width));
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds.putAndInsertUint16(DCM_BitsAllocated, 16);
  ds.putAndInsertUint16(DCM_BitsStored, Uint16(spec.bitsStored));
  ds.putAndInsertUint16(DCM_HighBit, Uint16(spec.bitsStored - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, spec.pixelSigned ? 1 : 0);
  const int declared = spec.declaredFrames > 0 ? spec.declaredFrames : spec.frames;
  ds.putAndInsertString(DCM_NumberOfFrames, QByteArray::number(declared).constData());

  auto* sequence = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
  std::vector<std::vector<uint8_t>> fragments;
  std::vector<Uint32> offsets;
  Uint32 position = 0;
  for (int f = 0; f < spec.frames; ++f) {
    const std::vector<uint8_t> codestream = encodeLossless(frameValues(spec, f), spec.width, spec.height, spec.j2kPrecision, spec.j2kSigned);
    if (codestream.empty()) return false;
    offsets.push_back(position);
    // Split into fragmentsPerFrame pieces of even length.
    const size_t piece = ((codestream.size() / size_t(spec.fragmentsPerFrame)) / 2) * 2;
    for (int k = 0; k < spec.fragmentsPerFrame; ++k) {
      const size_t begin = size_t(k) * piece;
      const size_t end = k + 1 == spec.fragmentsPerFrame ? codestream.size() : begin + piece;
      fragments.emplace_back(codestream.begin() + qsizetype(begin), codestream.begin() + qsizetype(end));
      position += Uint32(8 + (end - begin));
    }
  }
  auto* table = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
  if (spec.offsetTable) {
    std::vector<Uint8> bytes;
    for (Uint32 o : offsets)
      for (int b = 0; b < 4; ++b) bytes.push_back(Uint8(o >> (8 * b)));
    table->putUint8Array(bytes.data(), Uint32(bytes.size()));
  }
  sequence->insert(table);
  for (const auto& bytes : fragments) {
    auto* item = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
    item->putUint8Array(bytes.data(), Uint32(bytes.size()));
    sequence->insert(item);
  }
  auto* pixelData = new DcmPixelData(DCM_PixelData);
  pixelData->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, sequence);
  ds.insert(pixelData, true);
  return file.saveFile(QFile::encodeName(path).constData(), EXS_JPEG2000LosslessOnly).good();
}

}  // namespace

class TestDicomJ2kFragments : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  int counter_ = 0;

  // Writes `spec` to a fresh file in the temporary folder and loads it back.
  LoadResult writeAndLoad(const J2kFile& spec) {
    const QString path = tmp_.filePath(QStringLiteral("j2k_%1.dcm").arg(++counter_));
    if (!writeJ2kDicom(spec, path)) return {nullptr, u"the test could not write " + path};
    return loadRadiograph(path);
  }

 private Q_SLOTS:
  void framesFromFragments_data() {
    QTest::addColumn<int>("frames");
    QTest::addColumn<int>("fragmentsPerFrame");
    QTest::addColumn<bool>("offsetTable");
    QTest::newRow("1 frame, 1 fragment") << 1 << 1 << false;
    QTest::newRow("1 frame, 3 fragments, no table") << 1 << 3 << false;
    QTest::newRow("3 frames, 1 fragment each") << 3 << 1 << false;
    QTest::newRow("3 frames, 2 fragments each, offset table") << 3 << 2 << true;
    QTest::newRow("3 frames, 2 fragments each, no table (SOC markers)") << 3 << 2 << false;
    QTest::newRow("4 frames, 3 fragments each, offset table") << 4 << 3 << true;
  }
  void framesFromFragments() {
    QFETCH(int, frames);
    QFETCH(int, fragmentsPerFrame);
    QFETCH(bool, offsetTable);
    J2kFile spec;
    spec.frames = frames;
    spec.fragmentsPerFrame = fragmentsPerFrame;
    spec.offsetTable = offsetTable;
    const LoadResult r = writeAndLoad(spec);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.image->frames, frames);
    for (int f = 0; f < frames; ++f) {
      const std::vector<int> expected = frameValues(spec, f);
      QCOMPARE(r.image->framesData[size_t(f)], std::vector<qint32>(expected.begin(), expected.end()));
    }
  }

  void moreFramesDeclaredThanEncodedIsAnError() {
    J2kFile spec;
    spec.frames = 3;
    spec.declaredFrames = 4;
    const QString path = tmp_.filePath(QStringLiteral("j2k_short.dcm"));
    QVERIFY(writeJ2kDicom(spec, path));
    const LoadResult r = loadRadiograph(path);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QStringLiteral("j2k_short.dcm")) && r.error.contains(QStringLiteral("4 frame")), qPrintable(r.error));
  }

  // Codestream and header disagreeing on precision/sign (pydicom issue 693 and the
  // "J2K_pixelrep_mismatch" case): the codestream's own values win, sign-extended at its precision.
  void precisionAndSignMismatch_data() {
    QTest::addColumn<int>("bitsStored");
    QTest::addColumn<bool>("pixelSigned");
    QTest::addColumn<int>("j2kPrecision");
    QTest::addColumn<bool>("j2kSigned");
    QTest::addColumn<int>("first");     // expected stored value of pixel 0 of frame 0
    QTest::addColumn<int>("minimum");
    QTest::addColumn<int>("maximum");
    QTest::newRow("agree: 12 unsigned") << 12 << false << 12 << false << 0 << 0 << 4095;
    QTest::newRow("agree: 16 signed") << 16 << true << 16 << true << -32768 << -32768 << 32767;
    QTest::newRow("BitsStored 14, J2K 16 signed (693)") << 14 << true << 16 << true << -32768 << -32768 << 32767;
    QTest::newRow("signed header, unsigned 12-bit J2K") << 12 << true << 12 << false << 0 << -2048 << 2047;
  }
  void precisionAndSignMismatch() {
    QFETCH(int, bitsStored);
    QFETCH(bool, pixelSigned);
    QFETCH(int, j2kPrecision);
    QFETCH(bool, j2kSigned);
    QFETCH(int, first);
    QFETCH(int, minimum);
    QFETCH(int, maximum);
    J2kFile spec;
    spec.width = 64;
    spec.height = 64;
    spec.bitsStored = bitsStored;
    spec.pixelSigned = pixelSigned;
    spec.j2kPrecision = j2kPrecision;
    spec.j2kSigned = j2kSigned;
    const LoadResult r = writeAndLoad(spec);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.image->framesData[0][0], first);
    QVERIFY2(r.image->minStored >= minimum && r.image->maxStored <= maximum,
             qPrintable(QStringLiteral("range %1..%2").arg(r.image->minStored).arg(r.image->maxStored)));
  }
};

QTEST_GUILESS_MAIN(TestDicomJ2kFragments)
#include "test_dicom_j2k_fragments.moc"
