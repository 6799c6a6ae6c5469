#include "cellar/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "cellar/error.h"
#include "core/storage_pool.h"

namespace cellar {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kParallelReadBytes = size_t{64} << 20;  // smaller files: one thread
constexpr size_t kHugeAllocBytes = size_t{2} << 20;      // Storage::allocate: huge pages from here
constexpr size_t kDropChunkBytes = size_t{4} << 20;      // see Storage::materialize
constexpr size_t kGiveBackBytes = size_t{64} << 10;      // see StoragePool::allocate

// Reads `n` bytes at file offset `at` into `dst`; an error text, or empty on success.
std::string pread_all(int fd, std::byte* dst, size_t n, size_t at) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::pread(fd, dst + done, std::min<size_t>(n - done, size_t{1} << 30),
                              static_cast<off_t>(at + done));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return std::string("cannot read: ") + std::strerror(errno);
    if (k == 0)
      return "the file shrank while it was read (it ends before byte " + std::to_string(at + n) +
             ")";
    done += static_cast<size_t>(k);
  }
  return {};
}

// Private anonymous memory for `size` bytes, page-aligned like a mapping and not zero-filled up
// front (read() is the first touch of each page). A large block starts on a 2 MiB boundary and
// asks for transparent huge pages (MADV_HUGEPAGE, where the system allows them: "madvise" or
// "always"): one page fault per 2 MiB instead of 512, which makes a read() load 1.6x faster
// (docs/benchmarks.md). Sets `map_len` to the bytes to munmap; nullptr when out of memory.
std::byte* allocate_for_read(size_t size, size_t& map_len, bool huge = true) {
  map_len = size;
  if (size < kHugePage) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }
  // Over-allocate by one huge page, then unmap the slack before and after the aligned block.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  map_len = (size + page - 1) / page * page;
  const size_t total = map_len + kHugePage;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > base) ::munmap(p, aligned - base);
  const uintptr_t end = base + total;
  if (end > aligned + map_len)
    ::munmap(reinterpret_cast<void*>(aligned + map_len), end - (aligned + map_len));
  // Best effort; `huge` false asks for 4 KiB pages even where the system makes huge ones unasked.
  (void)::madvise(reinterpret_cast<void*>(aligned), map_len,
                  huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  return reinterpret_cast<std::byte*>(aligned);
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(std::string("cannot open: ") + std::strerror(errno), {path.string()});
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw IoError(std::string("cannot stat: ") + std::strerror(e), {path.string()});
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("not a regular file", {path.string()});
  }
  const size_t size = static_cast<size_t>(st.st_size);
  std::byte* data = nullptr;
  if (size > 0) {
    // MAP_PRIVATE: writes through a view copy the page and never reach the file.
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw IoError(std::string("cannot map: ") + std::strerror(e), {path.string()});
    }
    data = static_cast<std::byte*>(p);
  }
  ::close(fd);  // the mapping outlives the descriptor
  std::shared_ptr<MappedFile> f(new MappedFile(path, data, size, size, false));
  f->copies_ = std::make_shared<StoragePool>(size);
  return f;
}

std::shared_ptr<MappedFile> MappedFile::read(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(std::string("cannot open: ") + std::strerror(errno), {path.string()});
  auto fail = [&](const char* what) {
    const int e = errno;
    ::close(fd);
    throw IoError(std::string(what) + std::strerror(e), {path.string()});
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("cannot stat: ");
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("not a regular file", {path.string()});
  }
  const size_t size = static_cast<size_t>(st.st_size);
  std::byte* data = nullptr;
  size_t map_len = size;
  if (size > 0) {
    data = allocate_for_read(size, map_len);
    if (data == nullptr) fail("cannot allocate memory for the file: ");
    std::string error;
    if (size >= kParallelReadBytes && std::thread::hardware_concurrency() >= 2) {
      // Two threads, each pread()ing half: the copy out of the page cache and the first touch
      // of the destination pages (the kernel zeroes each one) are CPU work, and a second core
      // nearly halves them (docs/benchmarks.md). The halves meet at a huge-page boundary.
      const size_t half = size / 2 / kHugePage * kHugePage;
      std::string error2;
      std::optional<std::thread> second;
      try {
        second.emplace([&] { error2 = pread_all(fd, data + half, size - half, half); });
      } catch (const std::system_error&) {  // no thread to be had: read that half here
        error2 = pread_all(fd, data + half, size - half, half);
      }
      error = pread_all(fd, data, half, 0);
      if (second) second->join();
      if (error.empty()) error = std::move(error2);
    } else {
      error = pread_all(fd, data, size, 0);
    }
    if (!error.empty()) {
      ::munmap(data, map_len);
      ::close(fd);
      throw IoError(error, {path.string()});
    }
  }
  ::close(fd);
  std::shared_ptr<MappedFile> f(new MappedFile(path, data, size, map_len, true));
  f->copies_ = std::make_shared<StoragePool>(size);
  return f;
}

std::shared_ptr<MappedFile> MappedFile::adopt(std::filesystem::path path,
                                              std::vector<std::byte> bytes) {
  std::shared_ptr<MappedFile> f(new MappedFile(std::move(path), nullptr, 0, 0, true));
  f->owned_ = std::move(bytes);
  f->data_ = f->owned_.empty() ? nullptr : f->owned_.data();
  f->size_ = f->owned_.size();
  f->copies_ = std::make_shared<StoragePool>(f->size_);
  return f;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr && map_len_ != 0) ::munmap(data_, map_len_);
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, bool zero) {
  // Round up so aligned_alloc's size is a multiple of the alignment (and never 0).
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  // A block of a huge page or more starts on a 2 MiB boundary and asks for transparent huge pages
  // (best effort, as in MappedFile::read): one page fault per 2 MiB on first touch instead of
  // 512. The 2 MiB units the block covers in full are huge; its tail keeps 4 KiB pages, so no
  // memory beyond the block becomes resident. From 2 MiB rather than 4: a ResNet-18's 2.4 MiB
  // weights then fault in 1 + 88 pages instead of 600 (cold start 39-42 -> 35-36 ms CPU, page
  // faults 4,950 -> 3,400; docs/benchmarks.md, Session 8).
  const bool huge = rounded >= kHugeAllocBytes;
  void* p = nullptr;
  if (huge) {
    // posix_memalign: aligned_alloc wants the size to be a multiple of the alignment.
    if (::posix_memalign(&p, kHugePage, rounded) != 0) p = nullptr;
  } else {
    p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  }
  if (p == nullptr) throw std::bad_alloc();
  if (huge) (void)::madvise(p, rounded / kHugePage * kHugePage, MADV_HUGEPAGE);
  if (zero) std::memset(p, 0, rounded == 0 ? kAlignment : rounded);
  std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
  return std::shared_ptr<Storage>(
      new Storage(static_cast<std::byte*>(p), nbytes, std::move(owner), nullptr));
}

std::shared_ptr<Storage> Storage::view(std::shared_ptr<MappedFile> file, size_t offset,
                                       size_t nbytes) {
  assert(file != nullptr);
  assert(offset <= file->size() && nbytes <= file->size() - offset);
  std::byte* base = file->mutable_data() == nullptr ? nullptr : file->mutable_data() + offset;
  return std::shared_ptr<Storage>(new Storage(base, nbytes, nullptr, std::move(file)));
}

std::shared_ptr<Storage> Storage::external(std::byte* data, size_t nbytes,
                                           std::shared_ptr<void> owner) {
  assert(data != nullptr || nbytes == 0);
  return std::shared_ptr<Storage>(new Storage(data, nbytes, std::move(owner), nullptr));
}

std::shared_ptr<Storage> Storage::deferred_copy(std::shared_ptr<MappedFile> file,
                                                std::vector<std::pair<size_t, size_t>> pieces,
                                                size_t nbytes) {
  assert(file != nullptr);
  [[maybe_unused]] size_t total = 0;
  for ([[maybe_unused]] auto [off, n] : pieces) {
    assert(off <= file->size() && n <= file->size() - off);
    total += n;
  }
  assert(total == nbytes);
  auto st = std::shared_ptr<Storage>(new Storage(nullptr, nbytes, nullptr, nullptr));
  st->pending_ = std::make_unique<Pending>();
  st->pending_->pieces = std::move(pieces);
  st->pending_->pool = file->copies_;
  st->pending_->file = std::move(file);
  return st;
}

bool Storage::is_pending() const {
  return pending_ != nullptr && !pending_->done.load(std::memory_order_acquire);
}

const std::byte* StoragePool::pending_source(const Storage& st, bool sole_holder) {
  if (!st.is_pending() || st.pending_->pieces.size() != 1) return nullptr;
  if (!sole_holder && st.pending_->file->is_private_copy()) return nullptr;
  return st.pending_->file->data() + st.pending_->pieces[0].first;
}

std::byte* Storage::materialize() const {
  Pending& p = *pending_;
  std::call_once(p.once, [&] {
    auto heap = p.pool ? p.pool->allocate(nbytes_) : allocate(nbytes_, /*zero=*/false);
    size_t at = 0;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    for (auto [off, n] : p.pieces) {
      if (n == 0) continue;
      std::byte* src = p.file->mutable_data() + off;
      // Give back the source pages lying wholly inside the piece as the copy passes them:
      // nothing else views them (readers refuse overlapping tensors) and nothing reads them
      // after this copy. A file mapping was never written there, so they would refault from the
      // page cache unchanged; a file read into anonymous memory (MappedFile::read) would refault
      // as zeros, which nothing sees. Chunk by chunk, so that copying a tensor of any size holds
      // at most kDropChunkBytes of it twice (the peak resident memory of a load stays near the
      // file's size, not the file plus its largest misaligned tensor).
      const auto begin = reinterpret_cast<uintptr_t>(src);
      uintptr_t dropped = (begin + page - 1) / page * page;  // pages before this are not ours
      for (size_t done = 0; done < n;) {
        const size_t k = std::min(n - done, kDropChunkBytes);
        std::memcpy(heap->data_ + at + done, src + done, k);
        done += k;
        const uintptr_t last = (begin + done) / page * page;
        if (last > dropped) {
          ::madvise(reinterpret_cast<void*>(dropped), last - dropped, MADV_DONTNEED);
          dropped = last;
        }
      }
      at += n;
    }
    owner_ = heap->owner_;
    data_ = heap->data_;
    p.file.reset();  // the copy no longer needs the mapping
    p.pool.reset();
    p.done.store(true, std::memory_order_release);
  });
  return data_;
}

bool populate_pages(const std::byte* p, size_t n) {
#ifdef MADV_POPULATE_READ
  if (n == 0) return true;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = begin / page * page;
  const uintptr_t last = (begin + n + page - 1) / page * page;
  return ::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_READ) == 0;
#else
  (void)p;
  (void)n;
  return false;
#endif
}

void give_back_pages(const std::byte* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + n) / page * page;
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::shared_ptr<Storage> StoragePool::allocate(size_t nbytes) {
  const size_t rounded =
      (nbytes + Storage::kAlignment - 1) / Storage::kAlignment * Storage::kAlignment;
  if (nbytes == 0 || nbytes > kMaxPooledBytes) return Storage::allocate(nbytes, /*zero=*/false);
  std::shared_ptr<std::byte> block;
  std::byte* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (block_ == nullptr || used_ + rounded > kBlockBytes) {
      size_t map_len = 0;
      // 2 MiB-aligned; huge pages but for a small pool's first block (see kBlockBytes).
      std::byte* p = allocate_for_read(kBlockBytes, map_len, !small_ || block_ != nullptr);
      if (p == nullptr) throw std::bad_alloc();
      block = std::shared_ptr<std::byte>(p, [map_len](std::byte* q) { ::munmap(q, map_len); });
      slot = p;
      // Carve on from whichever block has more room left; the other's tail is done with.
      if (block_ == nullptr || kBlockBytes - rounded > kBlockBytes - used_) {
        if (block_ != nullptr) give_back_pages(block_.get() + used_, kBlockBytes - used_);
        block_ = block;
        used_ = rounded;
      } else {
        give_back_pages(p + rounded, kBlockBytes - rounded);
      }
    } else {
      block = block_;
      slot = block_.get() + used_;
      used_ += rounded;
    }
  }
  // The tenant's deleter holds the block; the last one to go unmaps it. A large tenant gives its
  // pages back as it goes; small ones are not worth a system call each.
  std::shared_ptr<void> owner(slot, [block = std::move(block), rounded](void* q) {
    if (rounded >= kGiveBackBytes && block.use_count() > 1)
      give_back_pages(static_cast<std::byte*>(q), rounded);
  });
  return std::shared_ptr<Storage>(new Storage(slot, nbytes, std::move(owner), nullptr));
}

}  // namespace cellar
