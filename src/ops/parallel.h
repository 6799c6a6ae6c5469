// What a kernel runs its work on (private to src/): a Parallel hands out `threads()` workers for
// one range of work at a time and keeps per-worker scratch memory. The executor owns one (a
// thread pool, src/runtime/thread_pool.h) per concurrent run and passes it to every kernel; eager
// calls (ops::call) and the 2-argument Kernel call get a serial one on their stack. Nothing here is
// global: a kernel that wants threads asks the Parallel it is given.
//
// Contract for kernels: every chunk writes disjoint outputs, so the result does not depend on
// the thread count or on timing (run after run, outputs are identical bit for bit).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace cellar::ops {

// A non-owning reference to a callable fn(begin, end, worker): no allocation, valid while the
// callable it was made from lives (a temporary lives for the call it is passed to).
class RangeFn {
 public:
  template <class F>
  requires(!std::is_same_v<std::decay_t<F>, RangeFn>)
      RangeFn(F&& f)  // NOLINT(google-explicit-constructor): made at every for_range call
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int64_t b, int64_t e, int w) {
          (*static_cast<std::remove_reference_t<F>*>(o))(b, e, w);
        }) {}
  void operator()(int64_t begin, int64_t end, int worker) const { call_(obj_, begin, end, worker); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t, int);
};

// Element-wise work below this many elements per worker is not worth a wake-up.
inline constexpr int64_t kElementGrain = 1 << 14;

// The grain, in rows of `row` elements each, for a range over rows of element-wise work.
inline int64_t rows_grain(int64_t row) {
  return row > 0 ? std::max<int64_t>(1, kElementGrain / row) : kElementGrain;
}

class Parallel {
 public:
  // `threads` ≥ 1 workers; worker 0 is the calling thread. Scratch for each is allocated on
  // demand and kept.
  explicit Parallel(int threads = 1);
  virtual ~Parallel();
  Parallel(const Parallel&) = delete;
  Parallel& operator=(const Parallel&) = delete;

  int threads() const { return threads_; }
  // Splits [0, n) into at most threads() contiguous chunks of at least `grain` items (the last
  // chunks may be one item shorter) and calls fn(begin, end, worker) once per chunk, chunk w on
  // worker w; returns when every chunk is done. An exception from a chunk is rethrown here (the
  // first one, by chunk order). Not reentrant: a chunk must not call for_range (std::logic_error).
  void for_range(int64_t n, int64_t grain, RangeFn fn);
  // At least `bytes` of 64-byte-aligned memory for `worker`'s own use, valid until that worker
  // asks again. Allocates only when more is asked than the worker held so far.
  void* scratch(int worker, size_t bytes);
  template <class T>
  T* scratch(int worker, size_t count) {
    return static_cast<T*>(scratch(worker, count * sizeof(T)));
  }

 protected:
  // Runs chunks 1..chunks-1 of [0, n) (split as for_range says) on the other workers and chunk
  // 0 here. The base class runs them all here, in order.
  virtual void dispatch(int64_t n, int chunks, RangeFn fn);
  // Chunk c of [0, n) cut into `chunks`.
  static std::pair<int64_t, int64_t> chunk(int64_t n, int chunks, int c) {
    const int64_t base = n / chunks, extra = n % chunks;
    const int64_t begin = c * base + std::min<int64_t>(c, extra);
    return {begin, begin + base + (c < extra ? 1 : 0)};
  }

 private:
  struct Scratch {
    std::unique_ptr<std::byte[]> owned;
    void* aligned = nullptr;
    size_t size = 0;
  };
  int threads_;
  bool inside_ = false;  // a for_range is running
  std::vector<Scratch> scratch_;
};

}  // namespace cellar::ops
