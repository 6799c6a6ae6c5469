#include "formats/atomic_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
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
constexpr size_t kHoleBytes = 1 << 20;      // zero runs punched out come in these units
constexpr size_t kMaxRunBytes = 256 << 20;  // punched at the latest after this many

bool all_zero(const char* p, size_t n) {
  // p[0] is zero and every byte equals the one before it (glibc's memcmp is vectorised and stops
  // at the first difference, so dense data is rejected within its first bytes).
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

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
      write_direct(static_cast<const char*>(data), n);
    }
  }
  written_ += n;
}

void AtomicFile::write_direct(const char* p, size_t n) {
  // Zero chunks are punched out run by run (one fallocate per run, at most kMaxRunBytes of dirty
  // zeros waiting): a punch is a journal transaction, too slow to make per MiB. Best effort:
  // where the filesystem cannot punch holes the zeros simply stay written.
  uint64_t run_start = 0, run_len = 0;
  auto punch = [&] {
    if (run_len)
      (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        static_cast<off_t>(run_start), static_cast<off_t>(run_len));
    run_len = 0;
  };
  while (n > 0) {
    const size_t k = std::min(n, kHoleBytes);
    const uint64_t at = fd_pos_;
    write_all(p, k);
    if (k == kHoleBytes && all_zero(p, k)) {
      if (run_len == 0) run_start = at;
      run_len += k;
      if (run_len >= kMaxRunBytes) punch();
    } else {
      punch();
    }
    p += k;
    n -= k;
  }
  punch();
}

void AtomicFile::write_all(const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, 1u << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError(errno_text("cannot write"), {target_.string()});
    }
    p += w;
    n -= static_cast<size_t>(w);
    fd_pos_ += static_cast<uint64_t>(w);
  }
}

void AtomicFile::flush() {
  write_all(buf_.data(), buf_.size());
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
