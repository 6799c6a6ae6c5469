// ThreadPool: a Parallel (ops/parallel.h) whose workers are threads it starts at construction and
// joins at destruction. Owned by an Executor, never global.
//
// A for_range publishes its chunks and wakes the workers; every thread, the caller included,
// claims chunks from one atomic word until none is left, and the caller waits only for chunks a
// worker has claimed. A worker that is slow to wake (a busy machine) costs nothing: the caller
// runs its chunks. Between ranges, workers spin for a short while (a graph's ops follow each
// other within microseconds) and then sleep on a futex (std::atomic::wait), so an idle pool costs
// nothing. Dispatching allocates nothing. One for_range at a time: the owner serialises its runs.
//
// When the process may run on at least as many CPUs as the pool has threads, the workers are kept
// off the CPU the caller is on (their affinity: every allowed CPU but the caller's, updated when a
// range finds the caller on another CPU). Left to the scheduler, a worker that sleeps between
// ranges was woken onto the caller's CPU and stayed there for the process's life, the caller then
// running every chunk itself: the tutorial MLP at 2 threads took 26-28 µs per run in such
// processes and 12-15 µs in the others (docs/benchmarks.md, Session 11).
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
  // Sets the workers' affinity to cpus_ but the calling thread's CPU, when that has changed.
  void keep_workers_off_caller_cpu();

  std::vector<std::thread> workers_;
  // The CPUs the process may run on (at construction) when there are at least threads() of them;
  // empty otherwise (affinity left alone).
  std::vector<int> cpus_;
  int caller_cpu_ = -1;  // the caller's CPU that the workers' affinity leaves out
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
