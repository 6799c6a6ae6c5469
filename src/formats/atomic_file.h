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
// Bytes reach write(2) in chunks that end at multiples of 2 MiB in the file. Each whole chunk of
// zero bytes (tensor contents) becomes part of a hole: the zeros are written (every byte goes
// through write(2), as progress meters counting the process's written bytes expect) and the range
// is then punched out (FALLOC_FL_PUNCH_HOLE, best effort), which drops the dirty pages before they
// reach the disk. So a mostly-zero file (optimizer states at step 0, masks, tests of files over 4
// GiB) costs neither disk space nor disk bandwidth. Readers see the same bytes; a non-zero block is
// detected in its first bytes, so dense data costs nothing extra.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <filesystem>
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
  explicit AtomicFile(std::filesystem::path target);  // IoError when the folder is not writable
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) override;  // buffered; IoError on failure
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  uint64_t bytes_written() const { return written_; }
  // Appends bytes [offset, offset + n) of the open file `fd` with copy_file_range(2): the kernel
  // copies page cache to page cache, and nothing passes through this process's memory (cp's
  // way). False, with nothing written, where the kernel or the file systems cannot (the caller
  // then writes the bytes itself); IoError when the copy fails midway or `fd` ends early.
  bool copy_from(int fd, uint64_t offset, uint64_t n);
  // Appends the `count` pieces in order with writev(2): the kernel copies them straight from
  // where they lie (a mapped file's pages) into the file, without the buffer; for many short
  // pieces (a gather of a slice's rows). IoError on failure.
  void write_pieces(const struct iovec* pieces, int count);
  void commit();

 private:
  void flush();
  void write_direct(const char* p, size_t n);
  void write_all(const char* p, size_t n);
  std::filesystem::path target_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  uint64_t fd_pos_ = 0;  // bytes handed to write(2) so far: the file offset
  std::string buf_;
};

}  // namespace cellar::formats
