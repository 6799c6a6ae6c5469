// AtomicFile: writes a file so that the target path only ever holds the old file or the complete
// new one. Bytes go to a temporary file in the target's folder (a hidden sibling,
// `.<name>.tmp-XXXXXX`); commit() fsyncs it, renames it over the target and fsyncs the folder
// (so that the rename survives a power loss). Destroying an uncommitted AtomicFile removes the
// temporary file (an exception during a save leaves the target untouched); a process killed
// mid-save leaves the target as it was and its temporary file behind, never under the target's
// name; the next save to the same target removes such leftovers. A writer holds flock(LOCK_EX) on
// its temporary file while it runs, so only files whose writer is gone (the lock fell with the
// process) are removed, never those of a save still running in another process.
//
// Bytes reach write(2) in chunks that end at multiples of 2 MiB in the file, from memory whose
// address agrees with the file offset modulo 64 (a page, for the writer's own buffer): the
// kernel's copy from user memory (rep movsb) runs at half speed on this project's AMD machines
// when source and destination differ modulo 64, so a byte copied once more in user space (glibc's
// memcpy, indifferent to alignment, into the buffer, in cache) and then by an aligned kernel copy
// costs less than one misaligned kernel copy. copy_from (copy_file_range) is as slow whenever the
// two files' offsets differ within a page (docs/benchmarks.md, issue 15, Session 8). Each whole
// chunk of zero bytes (tensor contents) becomes part of a hole: the zeros are written (every byte
// goes through write(2), as progress meters counting the process's written bytes expect) and the
// range is then punched out (FALLOC_FL_PUNCH_HOLE, best effort), which drops the dirty pages before
// they reach the disk. So a mostly-zero file (optimizer states at step 0, masks, tests of files
// over 4 GiB) costs neither disk space nor disk bandwidth. Readers see the same bytes; a non-zero
// block is detected in its first bytes, so dense data costs nothing extra.
//
// Cache::kBypass (the streamed copies: convert, merge, reshard) writes around the page cache
// instead: the bytes are gathered into four page-aligned 4 MiB buffers, allocated once and
// reused, each handed to the kernel as an asynchronous O_DIRECT write (Linux AIO) while the
// caller fills the next (whole buffers of zeros are not written at all: holes). A copy of a file
// bigger than memory then neither evicts the page cache nor needs a fresh page-cache page per
// 4 KiB written, which on a VM whose balloon reports free pages to the host costs more than the
// copy itself (docs/benchmarks.md, issue 15, Session 9); the file is not left in the page cache
// (a later load reads it from the disk). Where AIO is unavailable the writes are synchronous;
// where the file system refuses O_DIRECT, they go through the page cache.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace cellar::formats {

// Where a writer sends its bytes, in order: an AtomicFile, or an Encryptor in front of one
// (src/formats/crypto.h), so that a format writer streams through encryption unchanged.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t n) = 0;
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
};

class AtomicFile final : public ByteSink {
 public:
  // How the bytes reach the disk (see above).
  enum class Cache { kKeep, kBypass };
  // IoError when the folder is not writable.
  explicit AtomicFile(std::filesystem::path target, Cache cache = Cache::kKeep);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) override;  // buffered; IoError on failure
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  uint64_t bytes_written() const { return written_; }
  // Appends bytes [offset, offset + n) of the open file `fd` with copy_file_range(2): the kernel
  // copies page cache to page cache, and nothing passes through this process's memory (cp's
  // way). False, with nothing written, where the kernel or the file systems cannot or the page
  // cache is bypassed (the caller then writes the bytes itself); IoError when the copy fails
  // midway or `fd` ends early.
  bool copy_from(int fd, uint64_t offset, uint64_t n);
  // Whether bytes at `offset` of a source file would land at the same offset within a page here
  // if appended now: only then is copy_from's kernel copy as cheap as cp's (see above); otherwise
  // write() of the source's bytes (mapped, or read into memory placed like the file) costs less.
  // Always false when the page cache is bypassed (copy_from would write through it).
  bool kernel_copy_aligned(uint64_t offset) const;
  void commit();

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  void flush();
  void write_direct(const char* p, size_t n);
  void wrote(uint64_t at, const char* p, size_t k);  // notes a zero chunk for punch()
  void punch();
  void write_all(const char* p, size_t n);
  struct Bypass;  // Cache::kBypass's buffers and writes in flight
  void write_bypass(const char* p, size_t n);
  std::filesystem::path target_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  uint64_t fd_pos_ = 0;  // bytes handed to write(2) so far: the file offset
  // kChunkBytes, page-aligned; the waiting bytes are buf_[lead_, lead_ + len_), where lead_ is
  // the file offset of the first one modulo the page size (lead_ + len_ <= kChunkBytes).
  std::unique_ptr<std::byte, Free> buf_;
  size_t lead_ = 0, len_ = 0;
  uint64_t hole_start_ = 0, hole_len_ = 0;  // zero chunks written, not yet punched out
  std::unique_ptr<Bypass> bypass_;          // null: write(2) from buf_
};

}  // namespace cellar::formats
