// The runtime's thread pool (src/runtime/thread_pool.h) and the executor's thread count: every
// index of a range runs exactly once, in contiguous chunks; errors come back to the caller; scratch
// is per worker and kept; a model gives the same outputs on 1, 2 and 3 workers and the same bytes
// run after run.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "runtime/thread_pool.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
namespace fs = std::filesystem;

using cellar::testing::max_abs;

namespace {

const fs::path kZoo = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/zoo";

TEST(ThreadPool, EveryIndexOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 5}) {
    runtime::ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000, 4097}) {
      for (int64_t grain : {1, 10, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::mutex m;
        std::map<int64_t, std::pair<int64_t, int>> chunks;  // begin → (end, worker index)
        pool.for_range(n, grain, [&](int64_t b, int64_t e, int w) {
          for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
          std::lock_guard lock(m);
          chunks[b] = {e, w};
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
        // The chunks tile [0, n), at most one per worker, at least `grain` each unless alone;
        // the k-th chunk is worker k's, whichever thread ran it, so per-worker scratch follows
        // the chunk and a repeated range touches the same scratch (the executor's no-allocation
        // promise depends on it).
        int64_t next = 0;
        int k = 0;
        for (const auto& [b, ew] : chunks) {
          const auto [e, w] = ew;
          EXPECT_EQ(b, next);
          EXPECT_EQ(w, k++) << "chunk at " << b;
          next = e;
          if (chunks.size() > 1) {
            EXPECT_GE(e - b, std::min(grain, n) - 1);
          }
        }
        EXPECT_EQ(next, n);
        EXPECT_LE(chunks.size(), static_cast<size_t>(threads));
      }
    }
  }
}

TEST(ThreadPool, ManyRangesBackToBackAndAfterSleeping) {
  runtime::ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int r = 0; r < 20000; ++r)
    pool.for_range(3, 1, [&](int64_t b, int64_t e, int) { sum += e - b; });
  EXPECT_EQ(sum.load(), 60000);
  // Past the spin time the workers sleep; a range wakes them.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pool.for_range(3, 1, [&](int64_t b, int64_t e, int) { sum += e - b; });
  EXPECT_EQ(sum.load(), 60003);
}

// With at least as many CPUs as threads, a worker may run on every CPU but the caller's (so that
// it is never woken onto the caller's CPU and left there), and follows the caller when it moves.
TEST(ThreadPool, WorkersKeepOffTheCallersCpu) {
  cpu_set_t allowed;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU";
  const auto pin_caller = [](int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ASSERT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof(one), &one), 0);
  };
  // The affinity of a thread other than the caller that runs a chunk (each chunk waits, up to a
  // second, for the other to start, so that both threads take one).
  const auto worker_affinity = [](runtime::ThreadPool& pool, cpu_set_t& out) {
    const auto caller = std::this_thread::get_id();
    std::atomic<int> started{0};
    std::atomic<bool> seen{false};
    pool.for_range(2, 1, [&](int64_t, int64_t, int) {
      ++started;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (started.load() < 2 && std::chrono::steady_clock::now() < until) {
      }
      if (std::this_thread::get_id() != caller) {
        ::sched_getaffinity(0, sizeof(out), &out);
        seen = true;
      }
    });
    return seen.load();
  };
  {
    runtime::ThreadPool pool(2);
    for (int cpu : {cpus[0], cpus[1], cpus[0]}) {
      SCOPED_TRACE(cpu);
      pin_caller(cpu);
      cpu_set_t w;
      ASSERT_TRUE(worker_affinity(pool, w));
      EXPECT_FALSE(CPU_ISSET(cpu, &w));
      for (int c : cpus) {
        if (c != cpu) {
          EXPECT_TRUE(CPU_ISSET(c, &w)) << c;
        }
      }
    }
  }
  // More threads than CPUs: the affinity is left alone.
  pin_caller(cpus[0]);
  const int many = static_cast<int>(cpus.size()) + 1;
  {
    runtime::ThreadPool pool(many);
    cpu_set_t w;
    if (worker_affinity(pool, w)) {
      EXPECT_TRUE(CPU_ISSET(cpus[0], &w));
    }
  }
  ASSERT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof(allowed), &allowed), 0);
}

TEST(ThreadPool, AnErrorInAChunkReachesTheCallerAndThePoolGoesOn) {
  runtime::ThreadPool pool(2);
  // Chunk 1 fails (whichever thread claims it), then chunk 0.
  EXPECT_THROW(pool.for_range(2, 1,
                              [](int64_t b, int64_t, int) {
                                if (b == 1) throw std::runtime_error("chunk 1 failed");
                              }),
               std::runtime_error);
  EXPECT_THROW(pool.for_range(2, 1,
                              [](int64_t b, int64_t, int) {
                                if (b == 0) throw std::runtime_error("chunk 0 failed");
                              }),
               std::runtime_error);
  std::atomic<int64_t> total{0};
  pool.for_range(2, 1, [&](int64_t b, int64_t e, int) { total += e - b; });
  EXPECT_EQ(total.load(), 2);
  // A chunk may not start a range of its own.
  EXPECT_THROW(pool.for_range(2, 1,
                              [&](int64_t, int64_t, int w) {
                                if (w == 0) pool.for_range(2, 1, [](int64_t, int64_t, int) {});
                              }),
               std::logic_error);
}

TEST(ThreadPool, ScratchIsAlignedPerWorkerAndKept) {
  runtime::ThreadPool pool(2);
  void* a = pool.scratch(0, 1000);
  void* b = pool.scratch(1, 1000);
  EXPECT_NE(a, b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  EXPECT_EQ(pool.scratch(0, 500), a);  // no larger: the same memory
  EXPECT_THROW(pool.scratch(2, 8), std::out_of_range);
}

TEST(ExecutorThreads, OptionResolvesAndRefusesNegative) {
  const ir::Graph g = load((kZoo / "mobilenet_v1_025.mindir").string());
  EXPECT_EQ(runtime::Executor(g, {.threads = 3}).threads(), 3);
  EXPECT_GE(runtime::Executor(g).threads(), 1);
  EXPECT_THROW(runtime::Executor(g, {.threads = -1}), ValueError);
}

// Every zoo model: 1, 2 and 3 workers agree (a split changes no element's arithmetic beyond the
// BLAS's blocking), and each gives the same bytes on every run.
class ZooThreads : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooThreads, SameOutputsOnAnyNumberOfWorkers) {
  const std::string net = GetParam();
  const ir::Graph g = load((kZoo / (net + ".mindir")).string());
  const Tensor x = read_npy((kZoo / (net + ".input.npy")).string());
  const Tensor want = read_npy((kZoo / (net + ".output.npy")).string());
  std::vector<Tensor> by_threads;
  for (int threads : {1, 2, 3}) {
    runtime::Executor exec(g, {.threads = threads});
    const auto first = exec.run(std::vector<Tensor>{x});
    for (int r = 0; r < 3; ++r)
      EXPECT_TRUE(exec.run(std::vector<Tensor>{x})[0].equal(first[0])) << threads << " threads";
    by_threads.push_back(first[0]);
  }
  // Relative to the outputs' own scale: random weights leave some networks' outputs ~1e-10.
  const double scale = max_abs(want);
  for (size_t i = 1; i < by_threads.size(); ++i)
    EXPECT_LE(cellar::testing::max_abs_diff(by_threads[i], by_threads[0]), 1e-4 * scale + 1e-30)
        << i + 1 << " threads";
  // And MindSpore's own output for the input, as test_mindcv_zoo bounds it.
  EXPECT_LE(cellar::testing::max_abs_diff(by_threads[1], want),
            std::min(1e-4 * std::max(1.0, scale), 1e-3 * scale + 1e-30));
}

INSTANTIATE_TEST_SUITE_P(MindSpore210, ZooThreads,
                         ::testing::Values("mobilenet_v1_025", "mobilenet_v3_small_075",
                                           "shufflenet_v1_g3_05", "shufflenet_v2_x0_5"));

}  // namespace
