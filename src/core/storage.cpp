#include "cellar/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
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

}  // namespace cellar
