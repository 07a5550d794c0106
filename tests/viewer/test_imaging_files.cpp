// Ordinary image files (PNG 8/16-bit, JPEG, BMP, TIFF), non-images, and the model rendering rules:
// an 8-bit gray PNG renders to exactly its own bytes; colour goes to gray with Pillow's luma.
#include "cxr/viewer/headless.h"
#include "cxr/viewer/radiograph.h"

#include <QImage>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::viewer;

class TestImagingFiles : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  QString sharedCxr(const QString& name) const {
    return QStringLiteral(CXR_SHARED_DATA_DIR "/cxr/") + name;
  }
  QString fixture(const QString& name) const { return QStringLiteral(CXR_TEST_DATA_DIR "/images/") + name; }

 private Q_SLOTS:
  void grayPngRendersToItsOwnBytes_data() {
    QTest::addColumn<QString>("path");
    QTest::newRow("fixture 64x48 gradient") << fixture(QStringLiteral("gray8_gradient.png"));
    QTest::newRow("shared NIH 00000001") << sharedCxr(QStringLiteral("nih_cxr14_00000001_000.png"));
    QTest::newRow("shared NIH 00027426") << sharedCxr(QStringLiteral("nih_cxr14_00027426_000.png"));
    QTest::newRow("shared derived crop") << sharedCxr(QStringLiteral("derived_nih_00000001_crop512x430.png"));
  }
  void grayPngRendersToItsOwnBytes() {
    QFETCH(QString, path);
    if (!QFile::exists(path)) QSKIP("fixture not present (shared data missing?)");
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const QImage expected = QImage(path).convertToFormat(QImage::Format_Grayscale8);
    const QImage model = renderForModel(*loaded.image, 0);
    QCOMPARE(model.format(), QImage::Format_Grayscale8);
    QCOMPARE(model.size(), expected.size());
    for (int y = 0; y < model.height(); ++y)
      QVERIFY2(memcmp(model.constScanLine(y), expected.constScanLine(y), size_t(model.width())) == 0,
               qPrintable(QStringLiteral("row %1 differs").arg(y)));
    const QImage screen = renderFrame(*loaded.image, 0, defaultVoi(*loaded.image));
    QCOMPARE(screen, model);
  }

  void sixteenBitPngKeepsItsValues() {
    QImage source(40, 30, QImage::Format_Grayscale16);
    for (int y = 0; y < source.height(); ++y) {
      auto* row = reinterpret_cast<quint16*>(source.scanLine(y));
      for (int x = 0; x < source.width(); ++x) row[x] = quint16(1000 + 37 * (y * source.width() + x));
    }
    const QString path = tmp_.filePath(QStringLiteral("gray16.png"));
    QVERIFY(source.save(path));
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const RadiographImage& image = *loaded.image;
    QCOMPARE(image.bitsStored, 16);
    QCOMPARE(image.samplesPerPixel, 1);
    QCOMPARE(image.framesData[0][0], 1000);
    QCOMPARE(image.framesData[0][41], 1000 + 37 * 41);
    QCOMPARE(image.minStored, 1000);
    QCOMPARE(image.maxStored, 1000 + 37 * (40 * 30 - 1));
    // Full range of a 16-bit file: its own min..max, so the darkest pixel is black, brightest white.
    const QImage shown = renderForModel(image, 0);
    QCOMPARE(qGray(shown.pixel(0, 0)), 0);
    QCOMPARE(qGray(shown.pixel(39, 29)), 255);
  }

  void colourGoesToGrayWithPillowLuma_data() {
    QTest::addColumn<QString>("format");
    QTest::newRow("png") << QStringLiteral("png");
    QTest::newRow("bmp") << QStringLiteral("bmp");
    QTest::newRow("tiff") << QStringLiteral("tiff");
  }
  void colourGoesToGrayWithPillowLuma() {
    QFETCH(QString, format);
    QImage source(16, 16, QImage::Format_RGB32);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) source.setPixel(x, y, qRgb(x * 16, y * 16, (x * y) % 256));
    const QString path = tmp_.filePath(QStringLiteral("colour.") + format);
    QVERIFY(source.save(path, format.toLatin1().constData()));
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    QCOMPARE(loaded.image->samplesPerPixel, 3);
    const QImage gray = renderForModel(*loaded.image, 0);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) {
        const int r = x * 16, g = y * 16, b = (x * y) % 256;
        QCOMPARE(int(gray.constScanLine(y)[x]), (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
      }
    // On screen a colour image stays colour.
    QCOMPARE(renderFrame(*loaded.image, 0, defaultVoi(*loaded.image)).pixel(5, 7), source.pixel(5, 7));
  }

  void jpegLoads() {
    const QString path = sharedCxr(QStringLiteral("derived_nih_00027426_rgb700x900.jpg"));
    if (!QFile::exists(path)) QSKIP("shared data missing");
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    QCOMPARE(loaded.image->width, 700);
    QCOMPARE(loaded.image->height, 900);
  }

  // The file name can identify a patient ("Doe_John_chest.png"); DisplayFields' non-identifying
  // fields are shown in anonymised mode and exported, so none of them may carry it.
  void fileNameStaysOutOfNonIdentifyingFields_data() {
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("suffix");
    QTest::newRow("8-bit gray PNG") << fixture(QStringLiteral("gray8_gradient.png")) << QStringLiteral("png");
    QTest::newRow("JPEG") << QString() << QStringLiteral("jpg");
    QTest::newRow("DICOM CT") << QStringLiteral(CXR_TEST_DATA_DIR "/dicom/CT_small.dcm") << QStringLiteral("dcm");
    QTest::newRow("DICOM without meta header") << QStringLiteral(CXR_TEST_DATA_DIR "/dicom/no_meta.dcm") << QStringLiteral("dcm");
    QTest::newRow("DICOM JPEG 2000") << QStringLiteral(CXR_TEST_DATA_DIR "/dicom/MR_small_jp2klossless.dcm") << QStringLiteral("dcm");
  }
  void fileNameStaysOutOfNonIdentifyingFields() {
    QFETCH(QString, source);
    QFETCH(QString, suffix);
    const QString marker = QStringLiteral("Doe_John_4711");
    const QString path = tmp_.filePath(marker + u"_chest." + suffix);
    QFile::remove(path);
    if (source.isEmpty()) {
      QImage jpeg(32, 24, QImage::Format_Grayscale8);
      jpeg.fill(90);
      QVERIFY(jpeg.save(path, "JPEG"));
    } else {
      QVERIFY2(QFile::copy(source, path), qPrintable(source));
    }
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const DisplayFields& f = loaded.image->fields;
    const std::pair<const char*, QString> nonIdentifying[] = {
        {"modality", f.modality},         {"viewPosition", f.viewPosition},
        {"bodyPart", f.bodyPart},         {"studyDescription", f.studyDescription},
        {"seriesDescription", f.seriesDescription}, {"manufacturer", f.manufacturer},
        {"laterality", f.laterality}};
    for (const auto& [name, value] : nonIdentifying)
      QVERIFY2(!value.contains(QStringLiteral("Doe_John")),
               qPrintable(QString::fromLatin1(name) + u" = \"" + value + u'"'));
    QCOMPARE(loaded.image->path, path);  // the name stays available, as the identifying path
  }

  void nonImagesAreRejectedByName_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::newRow("text") << QByteArray("hello, this is not an image\n");
    QTest::newRow("png signature then junk") << QByteArray("\x89PNG\r\n\x1a\n garbage garbage garbage", 30);
    QTest::newRow("jpeg SOI then junk") << QByteArray("\xff\xd8\xff\xe0 junk junk junk junk", 24);
    QTest::newRow("single byte") << QByteArray("x");
  }
  void nonImagesAreRejectedByName() {
    QFETCH(QByteArray, content);
    const QString path = tmp_.filePath(QStringLiteral("not_an_image_%1.png").arg(QString::fromUtf8(QTest::currentDataTag())).replace(QLatin1Char(' '), QLatin1Char('_')));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(content);
    file.close();
    const LoadResult loaded = loadRadiograph(path);
    QVERIFY(!loaded.ok());
    QVERIFY2(loaded.error.contains(QFileInfo(path).fileName()), qPrintable(loaded.error));
  }

  void missingAndEmptyFiles() {
    QVERIFY(loadRadiograph(tmp_.filePath(QStringLiteral("nope.png"))).error.contains(QStringLiteral("does not exist")));
    QFile empty(tmp_.filePath(QStringLiteral("empty.dcm")));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    QVERIFY(loadRadiograph(empty.fileName()).error.contains(QStringLiteral("empty")));
  }

  void folderListingIsNaturalAndFindsExtensionlessDicom() {
    QTemporaryDir folder;
    const auto touch = [&](const QString& name, const QByteArray& content) {
      QFile f(folder.filePath(name));
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(content);
    };
    const QByteArray dicomHead = QByteArray(128, '\0') + "DICM";
    touch(QStringLiteral("img10.png"), "x");
    touch(QStringLiteral("img2.png"), "x");
    touch(QStringLiteral("IMG1.DCM"), dicomHead);
    touch(QStringLiteral("IM000001"), dicomHead);   // DICOMDIR-style name, no extension
    touch(QStringLiteral("notes"), "plain text");   // no extension, no magic: not an image
    touch(QStringLiteral("report.pdf"), "%PDF");
    QStringList names;
    for (const QString& path : listImagesInFolder(folder.path())) names << QFileInfo(path).fileName();
    QCOMPARE(names, (QStringList{QStringLiteral("IM000001"), QStringLiteral("IMG1.DCM"), QStringLiteral("img2.png"),
                                 QStringLiteral("img10.png")}));
  }

  void headlessRenderWritesPng() {
    const QString in = fixture(QStringLiteral("gray8_gradient.png"));
    const QString out = tmp_.filePath(QStringLiteral("out.png"));
    QString error;
    QVERIFY2(renderFileToPng(in, out, 0, std::nullopt, &error), qPrintable(error));
    QCOMPARE(QImage(out).convertToFormat(QImage::Format_Grayscale8), QImage(in).convertToFormat(QImage::Format_Grayscale8));
    QVERIFY(!renderFileToPng(in, out, 3, std::nullopt, &error));
    QVERIFY2(error.contains(QStringLiteral("frame 3")), qPrintable(error));
    // A DICOM through the same path, with a window from the command line.
    const QString dicom = QStringLiteral(CXR_TEST_DATA_DIR "/dicom/MR_small_implicit.dcm");
    QVERIFY2(renderFileToPng(dicom, out, 0, cxr::viewer::parseWindowSpec(QStringLiteral("600,1")), &error), qPrintable(error));
    const QImage thresholded(out);
    QCOMPARE(thresholded.size(), QSize(64, 64));
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) QVERIFY(qGray(thresholded.pixel(x, y)) == 0 || qGray(thresholded.pixel(x, y)) == 255);
    QVERIFY(!renderFileToPng(QStringLiteral(CXR_TEST_DATA_DIR "/dicom/MR_truncated.dcm"), out, 0, std::nullopt, &error));
    QVERIFY2(error.contains(QStringLiteral("MR_truncated.dcm")), qPrintable(error));
  }

  // The one parser of "CENTER,WIDTH" (numeric entry box and --window).
  void parseWindowSpec_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<double>("center");
    QTest::addColumn<double>("width");
    QTest::newRow("integers") << QStringLiteral("40,400") << true << 40.0 << 400.0;
    QTest::newRow("command line example") << QStringLiteral("-600,1500") << true << -600.0 << 1500.0;
    QTest::newRow("space after the comma") << QStringLiteral("40, 400") << true << 40.0 << 400.0;
    QTest::newRow("negative centre, spaces") << QStringLiteral(" -600 , 1500 ") << true << -600.0 << 1500.0;
    QTest::newRow("fractional") << QStringLiteral("2047.5,4096") << true << 2047.5 << 4096.0;
    QTest::newRow("one number") << QStringLiteral("40") << false << 0.0 << 0.0;
    QTest::newRow("three numbers") << QStringLiteral("1,2,3") << false << 0.0 << 0.0;
    QTest::newRow("zero width") << QStringLiteral("40,0") << false << 0.0 << 0.0;
    QTest::newRow("negative width") << QStringLiteral("40,-5") << false << 0.0 << 0.0;
    QTest::newRow("words") << QStringLiteral("lung,wide") << false << 0.0 << 0.0;
    QTest::newRow("not finite") << QStringLiteral("inf,400") << false << 0.0 << 0.0;
  }
  void parseWindowSpec() {
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(double, center);
    QFETCH(double, width);
    QString error;
    const auto w = cxr::viewer::parseWindowSpec(text, &error);
    QCOMPARE(w.has_value(), ok);
    if (ok) {
      QCOMPARE(w->center, center);
      QCOMPARE(w->width, width);
    } else {
      QVERIFY(!error.isEmpty());
    }
  }
};

QTEST_GUILESS_MAIN(TestImagingFiles)
#include "test_imaging_files.moc"
