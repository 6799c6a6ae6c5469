#include "ops/parallel.h"

#include <algorithm>
#include <stdexcept>

namespace cellar::ops {

Parallel::Parallel(int threads) : threads_(std::max(threads, 1)), scratch_(threads_) {}
Parallel::~Parallel() = default;

void Parallel::for_range(int64_t n, int64_t grain, RangeFn fn) {
  if (n <= 0) return;
  if (inside_) throw std::logic_error("Parallel::for_range called from inside a chunk");
  const int64_t by_grain = n / std::max<int64_t>(grain, 1);
  const int chunks = static_cast<int>(std::clamp<int64_t>(by_grain, 1, threads_));
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  inside_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{inside_};
  dispatch(n, chunks, fn);
}

void Parallel::dispatch(int64_t n, int chunks, RangeFn fn) {
  for (int c = 0; c < chunks; ++c) {
    const auto [b, e] = chunk(n, chunks, c);
    fn(b, e, c);
  }
}

void* Parallel::scratch(int worker, size_t bytes) {
  Scratch& s = scratch_.at(static_cast<size_t>(worker));
  if (bytes > s.size || s.aligned == nullptr) {
    constexpr size_t kAlign = 64;
    const size_t size = std::max<size_t>(bytes, kAlign);
    s.owned.reset(new std::byte[size + kAlign]);
    const auto addr = reinterpret_cast<uintptr_t>(s.owned.get());
    s.aligned = s.owned.get() + ((kAlign - addr % kAlign) % kAlign);
    s.size = size;
  }
  return s.aligned;
}

}  // namespace cellar::ops
