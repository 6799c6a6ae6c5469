#include "formats/atomic_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include "cellar/error.h"

namespace cellar::formats {

namespace {

// Writes are cut at multiples of this in the file (the size of a PMD page: see write()), and
// zero runs punched out come in these units.
constexpr size_t kChunkBytes = 2 << 20;
constexpr size_t kMaxRunBytes = 256 << 20;  // punched at the latest after this many
// The offset within a page the writer's buffer keeps equal to the file's (4 KiB pages; larger
// pages are multiples of it).
constexpr size_t kPageBytes = 4096;
// The alignment (relative to the file offset) a write(2) from user memory needs to be fast.
constexpr size_t kCopyAlign = 64;

bool all_zero(const char* p, size_t n) {
  // p[0] is zero and every byte equals the one before it (glibc's memcmp is vectorised and stops
  // at the first difference, so dense data is rejected within its first bytes).
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// mkostemp's six random characters.
bool is_temp_suffix(std::string_view s) {
  return s.size() == 6 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

// Removes the temporary files of earlier saves to the same target whose writer is gone. A writer
// holds flock(LOCK_EX) on its temporary file until it commits or dies (the kernel drops the lock
// with the process, SIGKILL included), so a temporary file this process can lock has no writer.
// Best effort: a file that cannot be opened or locked is left alone.
void remove_stale_temps(const std::filesystem::path& folder, const std::string& prefix,
                        const std::filesystem::path& own) {
  std::error_code ec;
  std::filesystem::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0 ||
        !is_temp_suffix(std::string_view(name).substr(prefix.size())) || it->path() == own)
      continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
      ::unlink(it->path().c_str());
    ::close(fd);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  std::filesystem::path folder = target_.parent_path();
  if (folder.empty()) folder = ".";
  if (target_.filename().empty()) throw IoError("not a file name", {target_.string()});
  // A hidden sibling, so that rename() stays inside one file system and is atomic.
  const std::string prefix = "." + target_.filename().string() + ".tmp-";
  const std::string pattern = (folder / (prefix + "XXXXXX")).string();
  for (int attempt = 0;; ++attempt) {
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0)
      throw IoError(errno_text(("cannot create a temporary file in " + folder.string()).c_str()),
                    {target_.string()});
    // Locked for as long as this save runs: the mark of a live writer (remove_stale_temps).
    // Another save may have taken the file for stale between mkostemp and flock and unlinked
    // it; then the path no longer names this file, and a new one is made.
    struct stat mine {
    }, there{};
    const bool locked = ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
    if (locked && ::fstat(fd_, &mine) == 0 && ::stat(name.data(), &there) == 0 &&
        mine.st_ino == there.st_ino && mine.st_dev == there.st_dev) {
      tmp_ = name.data();
      break;
    }
    ::close(fd_);
    fd_ = -1;
    if (!locked) ::unlink(name.data());  // else it was unlinked under us: nothing to clean up
    if (attempt >= 8) throw IoError("cannot lock a temporary file", {target_.string()});
  }
  remove_stale_temps(folder, prefix, tmp_);
  // mkostemp makes the file 0600; give the new file the mode the target has, or 0644.
  struct stat st {};
  const mode_t mode = ::stat(target_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  ::fchmod(fd_, mode);
  buf_.reset(static_cast<std::byte*>(std::aligned_alloc(kPageBytes, kChunkBytes)));
  if (!buf_) throw std::bad_alloc();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) throw IoError("write after commit", {target_.string()});
  written_ += n;
  const char* p = static_cast<const char*>(data);
  // Every write(2) but the last ends at a multiple of kChunkBytes in the file: the page cache
  // then holds the file in large folios, which a later mmap maps 2 MiB per page fault (513 faults
  // to read 1 GiB instead of ~5,000 when writes end at arbitrary offsets; a zero-copy load +
  // touch of such a file takes a third of the time). See docs/benchmarks.md.
  while (n > 0) {
    if (len_ == 0 && fd_pos_ % kChunkBytes == 0 && n >= kChunkBytes &&
        reinterpret_cast<uintptr_t>(p) % kCopyAlign == 0) {
      // Large tensors aligned like the file go straight from their storage to the file, whole
      // chunks at a time; others through the buffer (see the header).
      const size_t k = n / kChunkBytes * kChunkBytes;
      write_direct(p, k);
      p += k;
      n -= k;
      continue;
    }
    if (len_ == 0) lead_ = static_cast<size_t>(fd_pos_ % kPageBytes);
    // lead_ + len_ + room never exceeds kChunkBytes: the buffer starts at most lead_ bytes past a
    // chunk boundary.
    const size_t room = kChunkBytes - static_cast<size_t>((fd_pos_ + len_) % kChunkBytes);
    const size_t k = std::min(n, room);
    std::memcpy(buf_.get() + lead_ + len_, p, k);
    len_ += k;
    p += k;
    n -= k;
    if (k == room) flush();  // the buffer ends on a chunk boundary
  }
  punch();
}

bool AtomicFile::kernel_copy_aligned(uint64_t offset) const {
  return offset % kPageBytes == written_ % kPageBytes;
}

bool AtomicFile::copy_from(int fd, uint64_t offset, uint64_t n) {
  if (committed_ || fd_ < 0) throw IoError("write after commit", {target_.string()});
  if (n == 0) return true;
  flush();
  auto in = static_cast<off_t>(offset);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t c = ::copy_file_range(
        fd, &in, fd_, nullptr, static_cast<size_t>(std::min<uint64_t>(n - done, 1u << 30)), 0);
    if (c < 0) {
      if (errno == EINTR) continue;
      // Nothing copied yet: the kernel or the file systems cannot (EXDEV before Linux 5.3,
      // ENOSYS, EOPNOTSUPP, EINVAL for special files); the caller writes the bytes instead.
      if (done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                        errno == EINVAL || errno == EBADF))
        return false;
      throw IoError(errno_text("cannot copy into the file"), {target_.string()});
    }
    if (c == 0)
      throw IoError(
          "the source file ended " + std::to_string(n - done) + " bytes early while it was copied",
          {target_.string()});
    done += static_cast<uint64_t>(c);
    fd_pos_ += static_cast<uint64_t>(c);
    written_ += static_cast<uint64_t>(c);
  }
  return true;
}

void AtomicFile::write_direct(const char* p, size_t n) {
  while (n > 0) {
    const size_t k = std::min(n, kChunkBytes);
    const uint64_t at = fd_pos_;
    write_all(p, k);
    wrote(at, p, k);
    p += k;
    n -= k;
  }
}

// Zero chunks are punched out run by run (one fallocate per run, at most kMaxRunBytes of dirty
// zeros waiting): a punch is a journal transaction, too slow to make per MiB. Best effort: where
// the filesystem cannot punch holes the zeros simply stay written.
void AtomicFile::wrote(uint64_t at, const char* p, size_t k) {
  if (k == kChunkBytes && at % kChunkBytes == 0 && all_zero(p, k)) {
    if (hole_len_ == 0) hole_start_ = at;
    hole_len_ += k;
    if (hole_len_ >= kMaxRunBytes) punch();
  } else {
    punch();
  }
}

void AtomicFile::punch() {
  if (hole_len_)
    (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(hole_start_), static_cast<off_t>(hole_len_));
  hole_len_ = 0;
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
  if (len_ == 0) return;
  const uint64_t at = fd_pos_;
  write_all(reinterpret_cast<const char*>(buf_.get()) + lead_, len_);
  wrote(at, reinterpret_cast<const char*>(buf_.get()) + lead_, len_);
  len_ = 0;
}

void AtomicFile::commit() {
  if (committed_ || fd_ < 0)
    throw IoError("commit of a file already committed", {target_.string()});
  flush();
  punch();
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
