// ThreadPool: a Parallel (ops/parallel.h) whose workers are threads it starts at construction and
// joins at destruction. Owned by an Executor, never global.
//
// A for_range publishes its chunks and wakes the workers; every thread, the caller included,
// claims chunks from one atomic word until none is left, and the caller waits only for chunks a
// worker has claimed. A worker that is slow to wake (a busy machine) costs nothing: the caller
// runs its chunks. Between ranges, workers spin for a short while (a graph's ops follow each
// other within microseconds) and then sleep on a futex (std::atomic::wait), so an idle pool costs
// nothing. Dispatching allocates nothing. One for_range at a time: the owner serialises its runs.
#pragma once

#include <atomic>
#include <exception>
#include <thread>
#include <vector>

#include "ops/parallel.h"

namespace cellar::runtime {

class ThreadPool final : public ops::Parallel {
 public:
  // threads ≥ 1 (1: no thread is started; everything runs on the caller).
  explicit ThreadPool(int threads);
  ~ThreadPool() override;

 protected:
  void dispatch(int64_t n, int chunks, ops::RangeFn fn) override;

 private:
  void worker_loop();
  // Claims and runs chunks of range `id` until none is left (or the range is over).
  void run_chunks(uint32_t id);

  std::vector<std::thread> workers_;
  // The current range: written by the caller before it publishes `job_`, read by a thread only
  // after it has claimed a chunk of it.
  const ops::RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  std::vector<std::exception_ptr> errors_;  // per chunk
  // The claim word: range id (32 bits) | chunks (16) | next unclaimed chunk (16). A claim is a
  // compare-exchange of this word, so a thread holding an old range's word can claim nothing.
  std::atomic<uint64_t> job_{0};
  uint32_t last_id_ = 0;           // the caller's
  std::atomic<int> done_{0};       // chunks of the current range finished
  std::atomic<uint64_t> wake_{0};  // bumped per range: what sleeping workers wait on
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace cellar::runtime
