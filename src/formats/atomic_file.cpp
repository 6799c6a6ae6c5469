#include "formats/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cellar/error.h"

namespace cellar::formats {

namespace {

constexpr size_t kBufferBytes = 1 << 20;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::filesystem::path folder = target_.parent_path();
  if (folder.empty()) folder = ".";
  if (target_.filename().empty()) throw IoError("not a file name", {target_.string()});
  // A hidden sibling, so that rename() stays inside one file system and is atomic.
  std::string pattern = (folder / ("." + target_.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0)
    throw IoError(errno_text(("cannot create a temporary file in " + folder.string()).c_str()),
                  {target_.string()});
  tmp_ = name.data();
  // mkostemp makes the file 0600; give the new file the mode the target has, or 0644.
  struct stat st {};
  const mode_t mode = ::stat(target_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  ::fchmod(fd_, mode);
  buf_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) throw IoError("write after commit", {target_.string()});
  if (n == 0) return;
  if (buf_.size() + n <= kBufferBytes) {
    buf_.append(static_cast<const char*>(data), n);
  } else {
    flush();
    if (n < kBufferBytes) {
      buf_.append(static_cast<const char*>(data), n);
    } else {  // large tensors go straight from their storage to the file
      const char* p = static_cast<const char*>(data);
      size_t left = n;
      while (left > 0) {
        const ssize_t w = ::write(fd_, p, std::min<size_t>(left, 1u << 30));
        if (w < 0) {
          if (errno == EINTR) continue;
          throw IoError(errno_text("cannot write"), {target_.string()});
        }
        p += w;
        left -= static_cast<size_t>(w);
      }
    }
  }
  written_ += n;
}

void AtomicFile::flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    const ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError(errno_text("cannot write"), {target_.string()});
    }
    done += static_cast<size_t>(w);
  }
  buf_.clear();
}

void AtomicFile::commit() {
  if (committed_ || fd_ < 0)
    throw IoError("commit of a file already committed", {target_.string()});
  flush();
  if (::fsync(fd_) != 0) throw IoError(errno_text("cannot fsync"), {target_.string()});
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw IoError(errno_text("cannot close"), {target_.string()});
  if (::rename(tmp_.c_str(), target_.c_str()) != 0)
    throw IoError(errno_text("cannot rename the temporary file over the target"),
                  {target_.string()});
  committed_ = true;
  // Make the rename itself durable.
  std::filesystem::path folder = target_.parent_path();
  if (folder.empty()) folder = ".";
  const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw IoError(errno_text("cannot open the folder to fsync it"), {target_.string()});
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) {
    errno = err;
    throw IoError(errno_text("cannot fsync the folder"), {target_.string()});
  }
}

}  // namespace cellar::formats
