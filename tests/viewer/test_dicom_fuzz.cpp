// Bad input never crashes, hangs or aborts: truncated prefixes of real files, randomly corrupted
// bytes, pure garbage and hand-made hostile headers must each either load or give an error that
// names the file. Bounded (a few thousand small loads, seeded RNG) so it runs in seconds.
#include "support/dicom_synthetic.h"

#include "cxr/viewer/radiograph.h"

#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::viewer;

namespace {

QString fixture(const QString& relative) { return QStringLiteral(CXR_TEST_DATA_DIR "/") + relative; }

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Little-endian explicit VR element with a 16-bit length.
QByteArray element(quint16 group, quint16 elem, const char vr[2], const QByteArray& value) {
  QByteArray out;
  const auto u16 = [&](quint16 v) { out.append(char(v & 0xFF)).append(char(v >> 8)); };
  u16(group);
  u16(elem);
  out.append(vr, 2);
  u16(quint16(value.size()));
  return out + value;
}
QByteArray us(quint16 v) { return QByteArray(1, char(v & 0xFF)) + QByteArray(1, char(v >> 8)); }

}  // namespace

class TestDicomFuzz : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  int counter_ = 0;
  int loads_ = 0;

  // Writes `bytes`, loads them, and checks the contract. Returns false (with a test failure) when
  // the error does not name the file.
  bool survives(const QByteArray& bytes, const QString& suffix, const QString& what) {
    const QString path = tmp_.filePath(QStringLiteral("case_%1.%2").arg(++counter_).arg(suffix));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return false;
    f.write(bytes);
    f.close();
    ++loads_;
    const LoadResult r = loadRadiograph(path);
    if (r.ok()) {
      // Whatever loaded must be internally consistent, and renderable.
      const RadiographImage& im = *r.image;
      const size_t values = size_t(im.width) * size_t(im.height) * size_t(im.samplesPerPixel);
      if (int(im.framesData.size()) != im.frames || im.framesData.empty() || im.framesData[0].size() != values) {
        qWarning("%s: inconsistent image", qPrintable(what));
        return false;
      }
      (void)renderForModel(im, 0);
      return true;
    }
    if (!r.error.contains(QFileInfo(path).fileName())) {
      qWarning("%s: error does not name the file: %s", qPrintable(what), qPrintable(r.error));
      return false;
    }
    return true;
  }

 private Q_SLOTS:
  void truncatedPrefixes_data() {
    QTest::addColumn<QString>("file");
    for (const char* name : {"dicom/MR_small_implicit.dcm", "dicom/CT_small.dcm", "dicom/no_meta.dcm", "dicom/MR_small_jp2klossless.dcm",
                             "dicom/MR_small_RLE.dcm", "dicom/693_J2KI.dcm", "dicom/SC_ybr_full_uncompressed.dcm", "images/gray8_gradient.png"})
      QTest::newRow(name) << QString::fromLatin1(name);
  }
  void truncatedPrefixes() {
    QFETCH(QString, file);
    const QByteArray whole = readAll(fixture(file));
    QVERIFY(!whole.isEmpty());
    const QString suffix = QFileInfo(file).suffix();
    // Every length in the header region, then 64 lengths spread over the rest.
    QList<qsizetype> lengths;
    for (qsizetype n = 0; n < std::min<qsizetype>(whole.size(), 400); n += 3) lengths << n;
    for (int k = 0; k < 64; ++k) lengths << 400 + (whole.size() - 400) * k / 64;
    lengths << whole.size() - 1 << whole.size() - 2;
    for (qsizetype n : lengths) {
      if (n < 0 || n > whole.size()) continue;
      QVERIFY2(survives(whole.left(n), suffix, QStringLiteral("%1 cut at %2").arg(file).arg(n)), qPrintable(file));
    }
  }

  void corruptedBytes_data() { truncatedPrefixes_data(); }
  void corruptedBytes() {
    QFETCH(QString, file);
    const QByteArray whole = readAll(fixture(file));
    QVERIFY(!whole.isEmpty());
    QRandomGenerator rng(0xC0FFEE);
    for (int variant = 0; variant < 120; ++variant) {
      QByteArray bytes = whole;
      const int flips = 1 + int(rng.bounded(8));
      for (int i = 0; i < flips; ++i) {
        // Mostly in the first 2 KiB, where the lengths and the image attributes live.
        const qsizetype at = rng.bounded(4) ? qsizetype(rng.bounded(quint32(std::min<qsizetype>(bytes.size(), 2048))))
                                            : qsizetype(rng.bounded(quint32(bytes.size())));
        bytes[at] = char(rng.bounded(4) ? rng.bounded(256) : 0xFF);
      }
      QVERIFY2(survives(bytes, QFileInfo(file).suffix(), QStringLiteral("%1 variant %2").arg(file).arg(variant)), qPrintable(file));
    }
  }

  void randomGarbage() {
    QRandomGenerator rng(42);
    for (int length : {1, 2, 3, 4, 7, 8, 16, 127, 128, 131, 132, 133, 140, 200, 1000, 4096, 65536}) {
      for (int variant = 0; variant < 6; ++variant) {
        QByteArray bytes(length, Qt::Uninitialized);
        for (char& c : bytes) c = char(rng.bounded(256));
        if (variant == 1 && length >= 132) bytes.replace(128, 4, "DICM");         // Part 10 magic, then noise
        if (variant == 2 && length >= 2) bytes.replace(0, 2, QByteArray("\x02\x00", 2));  // "starts with File Meta"
        if (variant == 3 && length >= 8) bytes.replace(0, 8, QByteArray("\x89PNG\r\n\x1a\n", 8));
        const char* suffix = variant == 4 ? "png" : variant == 5 ? "jpg" : "dcm";
        QVERIFY(survives(bytes, QString::fromLatin1(suffix), QStringLiteral("garbage %1/%2").arg(length).arg(variant)));
      }
    }
  }

  // Headers that promise far more than the file holds must be refused before any allocation.
  void hostileHeaders_data() {
    QTest::addColumn<QByteArray>("bytes");
    const QByteArray image = element(0x0028, 0x0002, "US", us(1)) + element(0x0028, 0x0004, "CS", "MONOCHROME2 ") +
                             element(0x0028, 0x0008, "IS", "2147483647") + element(0x0028, 0x0010, "US", us(65535)) +
                             element(0x0028, 0x0011, "US", us(65535)) + element(0x0028, 0x0100, "US", us(16)) +
                             element(0x0028, 0x0101, "US", us(16)) + element(0x0028, 0x0102, "US", us(15)) +
                             element(0x0028, 0x0103, "US", us(0));
    // Pixel Data (OW) declaring 4 GiB - 2 bytes, followed by only 16 bytes.
    const QByteArray hugePixels = QByteArray("\xe0\x7f\x10\x00OW\x00\x00\xfe\xff\xff\xff", 12) + QByteArray(16, '\x01');
    QTest::newRow("65535x65535x2^31 frames, 16 bytes of pixels") << image + hugePixels;
    QTest::newRow("same with Part 10 magic") << QByteArray(128, '\0') + "DICM" + image + hugePixels;
    // A short value length larger than the file.
    QTest::newRow("string longer than the file") << QByteArray("\x08\x00\x20\x00" "DA" "\xff\x7f" "2020", 12);
    // Undefined-length sequence that never ends.
    QTest::newRow("unterminated sequence") << QByteArray("\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff", 20);
    // Encapsulated pixel data with a huge fragment.
    QTest::newRow("encapsulated fragment past the end")
        << image + QByteArray("\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\x00\x00\x00\x00\xfe\xff\x00\xe0\xf0\xff\xff\x7f", 28);
  }
  void hostileHeaders() {
    QFETCH(QByteArray, bytes);
    QVERIFY(survives(bytes, QStringLiteral("dcm"), QString::fromUtf8(QTest::currentDataTag())));
  }

  void cleanupTestCase() { qInfo("%d files loaded", loads_); }
};

QTEST_GUILESS_MAIN(TestDicomFuzz)
#include "test_dicom_fuzz.moc"
