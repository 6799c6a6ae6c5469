// Storage: the bytes behind tensors. Either 64-byte aligned heap memory owned by the Storage, a
// region of a memory-mapped file kept alive by every Storage (and so every Tensor) viewing it, or
// memory another library owns (a NumPy array, a DLPack tensor) kept alive by an owner object.
// Thread safety: a Storage is immutable in its extent; writing its bytes is the caller's business.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

class StoragePool;  // src/core/storage_pool.h: where a file's deferred copies are made

// A read-only file mapped privately: pages are shared with the page cache until written, and a
// write copies the page (MAP_PRIVATE), so tensors viewing a file are mutable without touching it.
class MappedFile {
 public:
  // Throws IoError naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  // The whole file read with plain read() into private anonymous memory instead of mapped (for
  // network filesystems, where a mapped page that cannot be fetched later is a SIGBUS). The
  // memory is page-aligned like a mapping, so readers see the same alignment; a large file gets
  // 2 MiB-aligned memory in transparent huge pages (where the system allows them) and is read by
  // two threads. IoError as open().
  static std::shared_ptr<MappedFile> read(const std::filesystem::path& path);
  // Bytes derived from the file at `path` (e.g. its decrypted plaintext), owned from now on;
  // `path` only names them in messages.
  // For read() and adopt() memory as for a mapping, a deferred copy (below) drops the source
  // pages it has copied (MADV_DONTNEED): here they would read back as zeros, but no reader reads
  // a tensor's source bytes again once its copy is made.
  static std::shared_ptr<MappedFile> adopt(std::filesystem::path path,
                                           std::vector<std::byte> bytes);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // True for read() and adopt(): the bytes are the process's own copy, not a view of the file,
  // so a reader may move bytes it has parsed (to align a tensor in place) without the page
  // cache or the file ever seeing it.
  bool is_private_copy() const { return private_copy_; }

 private:
  MappedFile(std::filesystem::path path, std::byte* data, size_t size, size_t map_len,
             bool private_copy)
      : path_(std::move(path)),
        data_(data),
        size_(size),
        map_len_(map_len),
        private_copy_(private_copy) {}
  std::filesystem::path path_;
  std::byte* data_;
  size_t size_;
  size_t map_len_;  // bytes to munmap (0: the bytes live in owned_)
  bool private_copy_;
  std::vector<std::byte> owned_;  // adopt()
  // Memory for the deferred copies of this file's tensors (Storage::deferred_copy), shared by
  // them: made with the file, its blocks live on with the copies.
  std::shared_ptr<StoragePool> copies_;
  friend class Storage;
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

  // `nbytes` at `data` in memory cellar did not allocate (a NumPy array, a DLPack tensor), viewed
  // in place; `owner` keeps it alive (its deleter gives it back) while any Storage views it. The
  // caller checks what tensors over it need: an address aligned for their dtype (as for a mapped
  // file: kernels assume the dtype's alignment, not kAlignment), C-order contiguous bytes in the
  // machine's byte order, Bool bytes 0 or 1, and writable memory (Storage has no read-only mode:
  // its bytes are handed out writable, e.g. to NumPy by the Python package).
  static std::shared_ptr<Storage> external(std::byte* data, size_t nbytes,
                                           std::shared_ptr<void> owner);

  // Bytes of a mapped file that cannot be viewed in place (`pieces`, (offset, size) pairs in
  // order, `nbytes` in all: a tensor at an address misaligned for its dtype, or split over several
  // records), gathered into aligned heap memory on the first call to data() rather than now. A
  // load stays O(header) however the file lays its tensors out, and a tensor nobody reads is never
  // copied. As the copy passes them, the source pages wholly inside the pieces are dropped from the
  // process's resident set (MADV_DONTNEED on the private, unwritten mapping, 4 MiB at a time), so
  // reading every tensor of a file costs about the file's size in memory, not twice it, nor the
  // file plus its largest tensor. Bounds are checked like view().
  static std::shared_ptr<Storage> deferred_copy(std::shared_ptr<MappedFile> file,
                                                std::vector<std::pair<size_t, size_t>> pieces,
                                                size_t nbytes);

  // The bytes. For a deferred copy the first call (from any thread) copies, the others wait for
  // it; afterwards the cost is one atomic load.
  std::byte* data() const { return pending_ ? materialize() : data_; }
  size_t nbytes() const { return nbytes_; }
  // True when data() points into the mapped file (a deferred copy does not).
  bool is_mapped() const { return file_ != nullptr && !pending_; }
  // True for a deferred copy not yet made (for tests and benchmarks).
  bool is_pending() const;

 private:
  struct Pending {
    std::vector<std::pair<size_t, size_t>> pieces;
    std::shared_ptr<MappedFile> file;
    std::shared_ptr<StoragePool> pool;  // the file's, where the copy is made
    std::once_flag once;
    std::atomic<bool> done{false};
  };
  Storage(std::byte* data, size_t nbytes, std::shared_ptr<void> owner,
          std::shared_ptr<MappedFile> file)
      : data_(data), nbytes_(nbytes), owner_(std::move(owner)), file_(std::move(file)) {}
  std::byte* materialize() const;
  friend class StoragePool;

  mutable std::byte* data_;
  size_t nbytes_;
  mutable std::shared_ptr<void> owner_;  // heap block (freed with the Storage), or external()'s
  std::shared_ptr<MappedFile> file_;     // or the mapping this Storage views
  std::unique_ptr<Pending> pending_;     // set only for a deferred copy
};

}  // namespace cellar

CELLAR_API_END
