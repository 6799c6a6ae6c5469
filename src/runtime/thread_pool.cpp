#include "runtime/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cellar::runtime {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long an idle worker spins before it sleeps: longer than the gap between two ops of a
// graph, far shorter than the gap between two runs a user makes.
constexpr auto kSpin = std::chrono::microseconds(100);

constexpr uint64_t pack(uint32_t id, int chunks, int next) {
  return uint64_t{id} << 32 | uint64_t(static_cast<uint16_t>(chunks)) << 16 |
         static_cast<uint16_t>(next);
}
constexpr uint32_t id_of(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
constexpr int chunks_of(uint64_t w) { return static_cast<int>((w >> 16) & 0xffff); }
constexpr int next_of(uint64_t w) { return static_cast<int>(w & 0xffff); }

}  // namespace

ThreadPool::ThreadPool(int threads) : Parallel(threads), errors_(static_cast<size_t>(threads)) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (this->threads() > 1 && ::sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
      CPU_COUNT(&allowed) >= this->threads()) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &allowed)) cpus_.push_back(c);
  }
  workers_.reserve(static_cast<size_t>(this->threads() - 1));
  for (int i = 1; i < this->threads(); ++i) workers_.emplace_back([this] { worker_loop(); });
  keep_workers_off_caller_cpu();
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks(uint32_t id) {
  uint64_t w = job_.load(std::memory_order_acquire);
  while (id_of(w) == id && next_of(w) < chunks_of(w)) {
    if (!job_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire))
      continue;  // w reloaded
    const int c = next_of(w);
    const auto [b, e] = chunk(n_, chunks_of(w), c);
    // The chunk's own index, not the thread's, is the `worker` a kernel sees (as the base class
    // gives it): chunks are claimed by whichever thread is free, so per-worker scratch keyed by
    // thread would be first touched (allocated) by whichever run happened to find a thread
    // asleep; keyed by chunk, the warm-up runs at a shape allocate all of it.
    try {
      (*fn_)(b, e, c);
    } catch (...) {
      errors_[static_cast<size_t>(c)] = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
    w = job_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    // Wait for the next range: spin a little, then sleep.
    uint64_t g = wake_.load(std::memory_order_acquire);
    if (g == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 0; g == seen; ++i) {
        cpu_relax();
        g = wake_.load(std::memory_order_acquire);
        if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
      }
      while (g == seen) {
        sleepers_.fetch_add(1);
        wake_.wait(seen);
        sleepers_.fetch_sub(1);
        g = wake_.load(std::memory_order_acquire);
      }
    }
    seen = g;
    if (stop_.load()) return;
    run_chunks(id_of(job_.load(std::memory_order_acquire)));
  }
}

void ThreadPool::keep_workers_off_caller_cpu() {
  if (cpus_.empty()) return;
  const int cpu = ::sched_getcpu();  // rseq or vDSO: nanoseconds
  if (cpu == caller_cpu_) return;
  caller_cpu_ = cpu;
  cpu_set_t others;
  CPU_ZERO(&others);
  for (int c : cpus_)
    if (c != cpu) CPU_SET(c, &others);
  // Best effort: a worker that cannot be bound runs where the scheduler puts it, as before.
  for (auto& t : workers_)
    (void)::pthread_setaffinity_np(t.native_handle(), sizeof(others), &others);
}

void ThreadPool::dispatch(int64_t n, int chunks, ops::RangeFn fn) {
  keep_workers_off_caller_cpu();
  fn_ = &fn;
  n_ = n;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t id = ++last_id_;
  job_.store(pack(id, chunks, 0), std::memory_order_release);
  wake_.fetch_add(1);
  if (sleepers_.load() > 0) wake_.notify_all();
  run_chunks(id);
  // Every chunk is claimed; wait for those the workers run.
  for (int i = 0; done_.load(std::memory_order_acquire) != chunks; ++i) {
    cpu_relax();
    if ((i & 1023) == 1023) std::this_thread::yield();  // a worker may be descheduled
  }
  std::exception_ptr first;
  for (int c = 0; c < chunks; ++c) {
    if (!first) first = errors_[static_cast<size_t>(c)];
    errors_[static_cast<size_t>(c)] = nullptr;
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace cellar::runtime
