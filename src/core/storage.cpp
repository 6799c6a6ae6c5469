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

#include "cellar/error.h"

namespace cellar {

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
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size, size));
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
  if (size > 0) {
    // Anonymous memory: page-aligned like a mapping, and not zero-filled up front (read() is
    // the first touch of each page).
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("cannot allocate memory for the file: ");
    data = static_cast<std::byte*>(p);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::read(fd, data + done, std::min<size_t>(size - done, size_t{1} << 30));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = n < 0 ? errno : 0;
        ::munmap(data, size);
        ::close(fd);
        throw IoError(e ? std::string("cannot read: ") + std::strerror(e)
                        : "the file shrank while it was read (" + std::to_string(done) + " of " +
                              std::to_string(size) + " bytes)",
                      {path.string()});
      }
      done += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size, size));
}

std::shared_ptr<MappedFile> MappedFile::adopt(std::filesystem::path path,
                                              std::vector<std::byte> bytes) {
  std::shared_ptr<MappedFile> f(new MappedFile(std::move(path), nullptr, 0, 0));
  f->owned_ = std::move(bytes);
  f->data_ = f->owned_.empty() ? nullptr : f->owned_.data();
  f->size_ = f->owned_.size();
  return f;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr && map_len_ != 0) ::munmap(data_, map_len_);
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, bool zero) {
  // Round up so aligned_alloc's size is a multiple of the alignment (and never 0).
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
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
  st->pending_->file = std::move(file);
  return st;
}

bool Storage::is_pending() const {
  return pending_ != nullptr && !pending_->done.load(std::memory_order_acquire);
}

std::byte* Storage::materialize() const {
  Pending& p = *pending_;
  std::call_once(p.once, [&] {
    auto heap = allocate(nbytes_, /*zero=*/false);
    size_t at = 0;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    for (auto [off, n] : p.pieces) {
      if (n == 0) continue;
      std::byte* src = p.file->mutable_data() + off;
      std::memcpy(heap->data_ + at, src, n);
      at += n;
      // Give back the pages lying wholly inside the piece: nothing else views them (readers
      // refuse overlapping tensors) and nothing reads them after this copy. A file mapping was
      // never written there, so they would refault from the page cache unchanged; a file read
      // into anonymous memory (MappedFile::read) would refault as zeros, which nothing sees.
      const auto first = (reinterpret_cast<uintptr_t>(src) + page - 1) / page * page;
      const auto last = (reinterpret_cast<uintptr_t>(src) + n) / page * page;
      if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
    owner_ = heap->owner_;
    data_ = heap->data_;
    p.file.reset();  // the copy no longer needs the mapping
    p.done.store(true, std::memory_order_release);
  });
  return data_;
}

}  // namespace cellar
