// Shared by the fuzz targets. MemFile: an in-memory file for readers that take a path, a memfd
// rewritten for each input and named /proc/self/fd/N; one per target process, not thread safe
// (libFuzzer runs one input at a time per process). touch_initializers: reads every byte of a
// graph's weights, so that a view past the end of its buffer is found by ASan.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cellar/ir/graph.h"

namespace cellar::fuzz {

inline void touch_initializers(const ir::Graph& g) {
  uint64_t sum = 0;
  for (const auto& init : g.initializers)
    for (std::byte b : init.data.bytes()) sum += static_cast<uint8_t>(b);
  volatile uint64_t sink = sum;
  (void)sink;
}

class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the file's contents with `data`; returns its path.
  const std::string& set(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 ||
        (size && pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace cellar::fuzz
