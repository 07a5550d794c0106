// The image's identity as the assistant gets it: the file's SHA-256, taken by the loader while it
// loads the file (never a second read), with the frame and the window the model is shown.
#include "model_image_feed.h"

#include "cxr/assistant/image_source.h"
#include "cxr/viewer/radiograph.h"

#include <QCryptographicHash>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using cxr::assistant::ModelImageChoice;

namespace {

const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);

QByteArray bytesOf(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

cxr::viewer::VoiSelection window(double center, double width) {
  cxr::viewer::VoiSelection voi;
  voi.window = cxr::viewer::VoiWindow{center, width, {}, cxr::viewer::VoiWindow::Function::Linear};
  return voi;
}

}  // namespace

class TestImageIdentity : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // The hash comes with the loaded image: the file can be gone by the time the assistant is fed.
  void theHashIsTakenWhileLoadingSoTheFileIsNotReadAgain() {
    QTemporaryDir dir;
    const QString copy = dir.filePath(QStringLiteral("gone.png"));
    QVERIFY(QFile::copy(kSample, copy));
    const QByteArray expected = QCryptographicHash::hash(bytesOf(copy), QCryptographicHash::Sha256).toHex();
    const auto loaded = cxr::viewer::loadRadiograph(copy);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    QVERIFY(QFile::remove(copy));
    QCOMPARE(loaded.image->sha256, QString::fromLatin1(expected));
    const auto source = cxr::app::makeModelImageSource(*loaded.image, 0, window(100, 200));
    QCOMPARE(source.sha256, QString::fromLatin1(expected));
    QVERIFY(source.identity(ModelImageChoice::DefaultWindow).contains(source.sha256));
  }

  void theDatasetReaderCarriesTheHashToo() {
    const auto image = cxr::app::readDatasetImage(kSample, QStringLiteral("default"));
    QVERIFY2(image.error.isEmpty(), qPrintable(image.error));
    QCOMPARE(image.sha256, QString::fromLatin1(QCryptographicHash::hash(bytesOf(kSample), QCryptographicHash::Sha256).toHex()));
  }

  void identityIsStableAndFollowsTheWindowAndFrame() {
    const auto loaded = cxr::viewer::loadRadiograph(kSample);
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));
    const auto a = cxr::app::makeModelImageSource(*loaded.image, 0, window(100, 200));
    const auto again = cxr::app::makeModelImageSource(*loaded.image, 0, window(100, 200));
    const auto otherWindow = cxr::app::makeModelImageSource(*loaded.image, 0, window(120, 200));
    const auto reloaded = cxr::app::makeModelImageSource(*cxr::viewer::loadRadiograph(kSample).image, 0, window(100, 200));
    for (auto choice : {ModelImageChoice::DefaultWindow, ModelImageChoice::CurrentWindow}) {
      QVERIFY(!a.identity(choice).isEmpty());
      QCOMPARE(again.identity(choice), a.identity(choice));
      QCOMPARE(reloaded.identity(choice), a.identity(choice));  // the same file loaded again
    }
    // The on-screen window is part of what the model sees; the file's default is not changed by it.
    QVERIFY(otherWindow.identity(ModelImageChoice::CurrentWindow) != a.identity(ModelImageChoice::CurrentWindow));
    QCOMPARE(otherWindow.identity(ModelImageChoice::DefaultWindow), a.identity(ModelImageChoice::DefaultWindow));
    QVERIFY(a.identity(ModelImageChoice::CurrentWindow) != a.identity(ModelImageChoice::DefaultWindow));
    // Another frame of the same file is another image.
    auto frame1 = a;
    frame1.frame = 1;
    QVERIFY(frame1.identity(ModelImageChoice::DefaultWindow) != a.identity(ModelImageChoice::DefaultWindow));
  }

  void noHashNoIdentity() {
    cxr::assistant::ModelImageSource s;
    s.defaultWindowText = QStringLiteral("center 1, width 2");
    QVERIFY(s.identity(ModelImageChoice::DefaultWindow).isEmpty());
  }
};

QTEST_MAIN(TestImageIdentity)
#include "test_image_identity.moc"
