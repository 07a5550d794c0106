#include "private_settings.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cxr::app {

namespace {

// Group and other lose every bit; the owner's stay.
void makeOwnerOnly(const QString& path) {
  struct stat st {};
  const QByteArray name = QFile::encodeName(path);
  if (::lstat(name.constData(), &st) != 0 || S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0)
    return;
  const mode_t mode = st.st_mode & 07700;
  if (::chmod(name.constData(), mode) == 0)
    qInfo("Tightened the permissions of %s from %04o to %04o: it holds file paths", qPrintable(QDir::toNativeSeparators(path)),
          unsigned(st.st_mode & 07777), unsigned(mode & 07777));
  else
    qWarning("Cannot tighten the permissions of %s: %s", qPrintable(QDir::toNativeSeparators(path)), std::strerror(errno));
}

}  // namespace

QString makeSettingsPrivate() {
  const QString file = QSettings().fileName();
  const QString folder = QFileInfo(file).absolutePath();
  // The missing folders are made 0700 one by one (QDir::mkpath would follow the umask).
  QStringList missing;
  for (QString dir = folder; !QFileInfo::exists(dir) && QFileInfo(dir).absolutePath() != dir;
       dir = QFileInfo(dir).absolutePath())
    missing.prepend(dir);
  for (const QString& dir : missing)
    if (::mkdir(QFile::encodeName(dir).constData(), 0700) == 0)
      ::chmod(QFile::encodeName(dir).constData(), 0700);
  makeOwnerOnly(folder);  // ".../CXR Assistant": the organisation's own folder
  if (!QFileInfo::exists(file)) {
    const int fd = ::open(QFile::encodeName(file).constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    }
  }
  makeOwnerOnly(file);
  return file;
}

}  // namespace cxr::app
