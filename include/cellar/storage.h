// Storage: the bytes behind tensors. Either 64-byte aligned heap memory owned by the Storage, or a
// region of a memory-mapped file kept alive by every Storage (and so every Tensor) viewing it.
// Thread safety: a Storage is immutable in its extent; writing its bytes is the caller's business.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

namespace cellar {

// A read-only file mapped privately: pages are shared with the page cache until written, and a
// write copies the page (MAP_PRIVATE), so tensors viewing a file are mutable without touching it.
class MappedFile {
 public:
  // Throws IoError naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile(std::filesystem::path path, std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::filesystem::path path_;
  std::byte* data_;
  size_t size_;
};

class Storage {
 public:
  static constexpr size_t kAlignment = 64;

  // Heap memory of `nbytes`, 64-byte aligned, zero-filled when `zero`.
  static std::shared_ptr<Storage> allocate(size_t nbytes, bool zero = true);
  // `nbytes` at `offset` inside a mapped file; the view keeps the file mapped. Bounds are checked
  // (an out-of-range region is an internal error: readers validate offsets first).
  static std::shared_ptr<Storage> view(std::shared_ptr<MappedFile> file, size_t offset,
                                       size_t nbytes);

  std::byte* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool is_mapped() const { return file_ != nullptr; }

 private:
  Storage(std::byte* data, size_t nbytes, std::shared_ptr<void> owner,
          std::shared_ptr<MappedFile> file)
      : data_(data), nbytes_(nbytes), owner_(std::move(owner)), file_(std::move(file)) {}
  std::byte* data_;
  size_t nbytes_;
  std::shared_ptr<void> owner_;       // heap block (freed with the Storage)
  std::shared_ptr<MappedFile> file_;  // or the mapping this Storage views
};

}  // namespace cellar
