// AtomicFile: writes a file so that the target path only ever holds the old file or the complete
// new one. Bytes go to a temporary file in the target's folder; commit() fsyncs it, renames it
// over the target and fsyncs the folder. Destroying an uncommitted AtomicFile removes the
// temporary file (an exception during a save leaves the target untouched).
#pragma once

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
  void commit();

 private:
  void flush();
  std::filesystem::path target_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::string buf_;
};

}  // namespace cellar::formats
