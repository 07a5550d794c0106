#include "core/model_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cxr::detail {

namespace {

const char* whatItIs(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

bool acceptable(const struct stat& st, const std::string& shownName, uint64_t maxBytes, ModelFileError& error) {
  if (!S_ISREG(st.st_mode)) {
    error = {ModelFileError::Kind::NotRegular,
             shownName + " is " + whatItIs(st.st_mode) + ", not a regular file (links are followed): "
             "a model folder must hold the model's files themselves; put the real file in its place"};
    return false;
  }
  if (maxBytes > 0 && uint64_t(st.st_size) > maxBytes) {
    error = {ModelFileError::Kind::TooLarge,
             shownName + " is " + byteSize(uint64_t(st.st_size)) + "; a file of this kind is at most " +
                 byteSize(maxBytes) + ", so this is not the model's " + shownName +
                 " (a wrong or damaged file?)"};
    return false;
  }
  return true;
}

}  // namespace

std::string byteSize(uint64_t bytes) {
  char text[64];
  if (bytes >= (uint64_t(1) << 20))
    std::snprintf(text, sizeof text, "%.1f MiB (%llu bytes)", double(bytes) / double(1 << 20),
                  static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  return text;
}

int openModelFile(const std::string& path, const std::string& shownName, uint64_t maxBytes,
                  uint64_t& size, ModelFileError& error) {
  // stat first: opening a device can have effects of its own (a tape rewinds), so only what looks
  // like a regular file is opened at all.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    error = {e == ENOENT ? ModelFileError::Kind::Missing : ModelFileError::Kind::Unreadable,
             shownName + (e == ENOENT ? " is missing" : std::string(" cannot be read (") + std::strerror(e) + ")")};
    return -1;
  }
  if (!acceptable(st, shownName, maxBytes, error)) return -1;
  // O_NONBLOCK: should the name have become a FIFO since the stat, open returns at once instead of
  // waiting for a writer; fstat below then refuses it. It changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    error = {ModelFileError::Kind::Unreadable,
             shownName + " cannot be opened (" + std::strerror(errno) + ")"};
    return -1;
  }
  if (::fstat(fd, &st) != 0) {
    error = {ModelFileError::Kind::Unreadable, shownName + " cannot be read (" + std::strerror(errno) + ")"};
    ::close(fd);
    return -1;
  }
  if (!acceptable(st, shownName, maxBytes, error)) {
    ::close(fd);
    return -1;
  }
  size = uint64_t(st.st_size);
  return fd;
}

std::optional<std::string> readModelFile(const std::string& path, const std::string& shownName,
                                         uint64_t maxBytes, ModelFileError& error) {
  uint64_t size = 0;
  const int fd = openModelFile(path, shownName, maxBytes, size, error);
  if (fd < 0) return std::nullopt;
  std::string bytes;
  bytes.resize(size_t(size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = {ModelFileError::Kind::Unreadable, shownName + " cannot be read (" + std::strerror(errno) + ")"};
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;  // shrank while being read: take what is there
    done += size_t(n);
  }
  ::close(fd);
  bytes.resize(done);  // a file that grows meanwhile is read up to its size at open (the limit holds)
  return bytes;
}

bool checkModelFile(const std::string& path, const std::string& shownName, uint64_t maxBytes,
                    ModelFileError& error) {
  uint64_t size = 0;
  const int fd = openModelFile(path, shownName, maxBytes, size, error);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace cxr::detail
