#include "formats/atomic_file.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// Cache::kBypass: the size of each buffer (a multiple of every logical block size O_DIRECT may
// ask alignment to, and of kChunkBytes, so that zero chunks are whole buffers), how many there
// are (one filled by the caller, the others written or waiting), the alignment of a write's end
// (the last one is padded with zeros to it, and the file cut back at commit), and how far ahead
// of the writes the file's size is set (see Bypass::submit).
constexpr size_t kBypassBytes = 4 << 20;
constexpr size_t kBypassBuffers = 4;
constexpr size_t kDirectAlign = 4096;
constexpr uint64_t kSizeAhead = uint64_t{64} << 20;
constexpr size_t kHugePage = 2 << 20;  // x86-64's PMD page; the buffers' alignment

long io_setup(unsigned n, aio_context_t* ctx) { return ::syscall(SYS_io_setup, n, ctx); }
long io_destroy(aio_context_t ctx) { return ::syscall(SYS_io_destroy, ctx); }
long io_submit(aio_context_t ctx, long n, iocb** cbs) {
  return ::syscall(SYS_io_submit, ctx, n, cbs);
}
long io_getevents(aio_context_t ctx, long min, long max, io_event* ev, timespec* timeout) {
  return ::syscall(SYS_io_getevents, ctx, min, max, ev, timeout);
}

}  // namespace

// The buffers the caller fills and the kernel writes: each whole buffer is handed to the kernel
// as an asynchronous O_DIRECT write (Linux AIO: io_submit, nothing to schedule in this process
// while the disk works, so a loaded machine does not leave the disk idle), up to kBypassBuffers
// in flight; the caller waits for one to finish only when it needs a buffer and none is free.
// Where AIO is unavailable (io_setup refused) or refuses a write, writes are synchronous
// pwrite(2)s; where the file system refuses an O_DIRECT write, through the page cache.
struct AtomicFile::Bypass {
  int fd;
  aio_context_t ctx = 0;  // 0: synchronous writes
  bool direct = true;     // O_DIRECT still set on fd
  int error = 0;          // errno of the first failed write; nothing more is written after it
  std::vector<std::unique_ptr<std::byte, Free>> owned;
  std::vector<std::byte*> free;
  std::vector<iocb> cbs;  // one per buffer
  size_t in_flight = 0;
  uint64_t size_ahead = 0;   // the file's size as last set
  std::byte* cur = nullptr;  // the caller's: bytes [at, at + len) of the file
  uint64_t at = 0;
  size_t len = 0;

  explicit Bypass(int f) : fd(f) {
    if (io_setup(kBypassBuffers, &ctx) != 0) ctx = 0;
  }
  ~Bypass() {
    // The kernel may still be reading the buffers: wait for every write before they go.
    if (ctx) {
      while (in_flight > 0 && reap(1)) {
      }
      io_destroy(ctx);
    }
  }
  Bypass(const Bypass&) = delete;
  Bypass& operator=(const Bypass&) = delete;

  // A buffer for the caller to fill; IoError (naming `target`) once a write failed.
  std::byte* take(const std::filesystem::path& target) {
    if (free.empty() && owned.size() < kBypassBuffers) {
      // In transparent huge pages where the system allows them (THP "madvise" or "always"): the
      // kernel pins a buffer's pages for each O_DIRECT write, two folios rather than 1024 pages.
      owned.emplace_back(static_cast<std::byte*>(std::aligned_alloc(kHugePage, kBypassBytes)));
      if (!owned.back()) throw std::bad_alloc();
      ::madvise(owned.back().get(), kBypassBytes, MADV_HUGEPAGE);
      cbs.emplace_back();
      free.push_back(owned.back().get());
    }
    while (free.empty() && reap(1)) {
    }
    check(target);
    std::byte* b = free.back();
    free.pop_back();
    return b;
  }

  // Writes the caller's buffer: a whole buffer of zeros is skipped (a hole; the file's size is
  // set at commit), the last, partial one is padded to kDirectAlign with zeros (cut off at
  // commit).
  void submit() {
    if (!cur) return;
    std::byte* b = cur;
    const uint64_t off = at;
    const size_t n = (len + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    const bool zeros = len == kBypassBytes && all_zero(reinterpret_cast<const char*>(b), len);
    std::memset(b + len, 0, n - len);
    at += len;
    cur = nullptr;
    len = 0;
    if (error != 0 || zeros) {
      free.push_back(b);
      return;
    }
    // The file is made longer than the write ahead of time: an O_DIRECT write that extends a
    // file runs synchronously (ext4, xfs), one within its size does not.
    if (ctx && off + n > size_ahead) {
      size_ahead = off + n + kSizeAhead;
      if (::ftruncate(fd, static_cast<off_t>(size_ahead)) != 0) return finish_sync(b, off, n);
    }
    if (!ctx || !direct) return finish_sync(b, off, n);
    const auto slot = static_cast<size_t>(
        std::find_if(owned.begin(), owned.end(), [&](const auto& o) { return o.get() == b; }) -
        owned.begin());
    iocb& cb = cbs[slot];
    cb = iocb{};
    cb.aio_data = slot;
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_fildes = static_cast<uint32_t>(fd);
    cb.aio_buf = reinterpret_cast<uintptr_t>(b);
    cb.aio_nbytes = n;
    cb.aio_offset = static_cast<int64_t>(off);
    iocb* list[1] = {&cb};
    long r;
    do {
      r = io_submit(ctx, 1, list);
    } while (r < 0 && (errno == EINTR || errno == EAGAIN));
    if (r != 1) return finish_sync(b, off, n);
    ++in_flight;
    // Buffers already written go back to the free list without waiting.
    while (in_flight > 0 && reap(0) > 0) {
    }
  }

  // Waits until every buffer handed over is written; IoError if one could not be.
  void drain(const std::filesystem::path& target) {
    submit();
    while (in_flight > 0 && reap(1)) {
    }
    check(target);
  }

  void check(const std::filesystem::path& target) const {
    if (error != 0)
      throw IoError(std::string("cannot write: ") + std::strerror(error), {target.string()});
  }

 private:
  // Collects finished writes (waiting for at least `min`); returns how many, 0 on failure of
  // io_getevents itself (recorded as the error).
  long reap(long min) {
    io_event ev[kBypassBuffers];
    timespec zero{};
    long r;
    do {
      r = io_getevents(ctx, min, static_cast<long>(kBypassBuffers), ev, min ? nullptr : &zero);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (error == 0) error = errno;
      in_flight = 0;  // nothing more can be learnt of them; the file will not be committed
      return 0;
    }
    for (long i = 0; i < r; ++i) {
      const size_t slot = ev[i].data;
      const iocb& cb = cbs[slot];
      --in_flight;
      std::byte* b = owned[slot].get();
      const int64_t res = ev[i].res;
      if (res < 0) {
        // Refused as a direct write (a larger logical block than kDirectAlign): again below.
        if (error == 0 && res != -EINVAL) error = static_cast<int>(-res);
      }
      const uint64_t done = res < 0 ? 0 : static_cast<uint64_t>(res);
      if (error == 0 && done < cb.aio_nbytes) {
        finish_sync(b + done, static_cast<uint64_t>(cb.aio_offset) + done,
                    static_cast<size_t>(cb.aio_nbytes - done), b);
      } else {
        free.push_back(b);
      }
    }
    return r;
  }

  // Writes [p, p + n) at `off` with pwrite(2), then frees `buffer` (default: p).
  void finish_sync(std::byte* p, uint64_t off, size_t n, std::byte* buffer = nullptr) {
    const char* q = reinterpret_cast<const char*>(p);
    for (size_t done = 0; done < n && error == 0;) {
      const ssize_t w = ::pwrite(fd, q + done, n - done, static_cast<off_t>(off + done));
      if (w > 0) {
        done += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      // The file system takes O_DIRECT but not this write (a larger logical block, a short
      // write leaving an unaligned rest): the rest through the page cache.
      if (w < 0 && errno == EINVAL && direct &&
          ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) == 0) {
        direct = false;
        continue;
      }
      error = w < 0 ? errno : EIO;
    }
    free.push_back(buffer ? buffer : p);
  }
};

AtomicFile::AtomicFile(std::filesystem::path target, Cache cache) : target_(std::move(target)) {
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
  // Around the page cache if asked and the file system allows O_DIRECT (else as kKeep).
  const int flags = ::fcntl(fd_, F_GETFL);
  if (cache == Cache::kBypass && flags >= 0 && ::fcntl(fd_, F_SETFL, flags | O_DIRECT) == 0) {
    bypass_ = std::make_unique<Bypass>(fd_);
    return;
  }
  buf_.reset(static_cast<std::byte*>(std::aligned_alloc(kPageBytes, kChunkBytes)));
  if (!buf_) throw std::bad_alloc();
}

AtomicFile::~AtomicFile() {
  bypass_.reset();  // waits for writes in flight before the file is closed
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) throw IoError("write after commit", {target_.string()});
  written_ += n;
  const char* p = static_cast<const char*>(data);
  if (bypass_) return write_bypass(p, n);
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

void AtomicFile::write_bypass(const char* p, size_t n) {
  Bypass& b = *bypass_;
  while (n > 0) {
    if (!b.cur) b.cur = b.take(target_);
    const size_t k = std::min(n, kBypassBytes - b.len);
    std::memcpy(b.cur + b.len, p, k);
    b.len += k;
    p += k;
    n -= k;
    if (b.len == kBypassBytes) b.submit();
  }
}

bool AtomicFile::kernel_copy_aligned(uint64_t offset) const {
  return !bypass_ && offset % kPageBytes == written_ % kPageBytes;
}

bool AtomicFile::copy_from(int fd, uint64_t offset, uint64_t n) {
  if (committed_ || fd_ < 0) throw IoError("write after commit", {target_.string()});
  if (n == 0) return true;
  if (bypass_) return false;
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
  if (bypass_) return bypass_->drain(target_);
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
  if (bypass_) {
    // The holes at the end and the last write's padding: the file's size is what was written.
    if (::ftruncate(fd_, static_cast<off_t>(written_)) != 0)
      throw IoError(errno_text("cannot set the file's size"), {target_.string()});
    bypass_.reset();
  }
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
