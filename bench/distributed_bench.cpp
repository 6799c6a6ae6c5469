// Merge and reshard throughput of MindSpore-style distributed checkpoints beside a plain copy of
// the same bytes (issue 15: item 4 asks for at most 1.2× a plain copy's time, speed ≥ 0.83×,
// which implies item 7's ≥ 0.7×; the copy is cp + fsync, as the atomic writes fsync).
//
//   build/bench/distributed_bench [--size-mib 1024] [--repeats 3] [--dir DIR] [--streamed-only 1]
//
// Builds a float32 model of 16 tensors (--size-mib in all, pseudo-random), slices it for 4 ranks
// over a [2, 2] device matrix (half the tensors split on both dimensions, half split on rows and
// replicated over the other axis) and saves rank_N/aN.ckpt. Then, page cache warm, in --repeats
// rounds of every case in turn (medians, and the median of each round's ratio to cp + fsync):
//   cp, cp + fsync      of the merged checkpoint's bytes (coreutils cp: copy_file_range), from a
//                       merged file made once and read back into the page cache (a streamed
//                       merge writes around the page cache: its output would not be there)
//   merge               merge_checkpoints(strategy, folder): the 4 rank files mapped, their
//                       slices copied straight from the mapping into the whole + save (fsync)
//   reshard             reshard_checkpoints to 2 ranks ([2] on columns; `cellar reshard`): each
//                       rank's file written straight from the 4 rank files' pages
//   reshard in memory   merge_checkpoints + slice_checkpoint for each of the 2 ranks + save
// (--streamed-only 1 leaves out the two cases built in memory, the slowest by far).
//
// Each case's output from the round before is removed before it is timed, so that every case
// writes a new file right after the same amount of page cache was freed. This matters on a VM
// whose balloon reports free pages to the host (virtio-balloon free page reporting, as here):
// a page the guest has not touched lately costs a host fault and a zeroing when it is first
// written, which made the same write(2) of 1 GiB take 0.5 or 3 CPU seconds depending on whether
// the pages came back from a file just deleted (cp over an existing file truncates it first)
// or from free memory (an atomic write keeps the old file until its rename). The atomic-copy row
// shows that cost on cp itself (docs/benchmarks.md, issue 15, Session 8).
// and the throughput in GiB/s of model bytes written, the ratio to cp + fsync, and the CPU time
// (user + system, of this process and of the cp child: merge and reshard may use a second thread).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "cellar/io/distributed.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// CPU seconds (user + system) of this process's threads and of its waited-for children.
double cpu_seconds() {
  double t = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    struct rusage u {};
    ::getrusage(who, &u);
    t += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
  }
  return t;
}

void fsync_file(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t size_mib = 1024;
  int repeats = 3;
  fs::path dir;
  bool streamed_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--size-mib")
      size_mib = std::stoul(argv[i + 1]);
    else if (a == "--repeats")
      repeats = std::stoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--streamed-only")
      streamed_only = std::string(argv[i + 1]) != "0";
  }
  const bool own_dir = dir.empty();
  if (own_dir)
    dir = fs::temp_directory_path() / ("distributed-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  const int64_t n = 16, cols = 1024;
  const int64_t rows = static_cast<int64_t>((size_mib << 20) / n / 4 / cols) / 4 * 4;
  cellar::ParamDict full;
  cellar::ParallelStrategy a, b;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i < n; ++i) {
    cellar::Tensor t(cellar::DType::Float32, {rows, cols});
    auto* p = reinterpret_cast<uint64_t*>(t.raw_data());
    for (size_t k = 0; k < t.nbytes() / 8; ++k) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[k] = x;
    }
    const std::string name = "layer" + std::to_string(i) + ".weight";
    full.set(name, t);
    a[name] = {{2, 2}, i % 2 ? std::vector<int64_t>{1, 0} : std::vector<int64_t>{1, -1}};
    b[name] = {{2}, {-1, 0}};
  }
  uint64_t bytes = 0;
  for (const auto& [_, p] : full) bytes += p.data().nbytes();
  std::vector<fs::path> rank_files;
  for (int r = 0; r < 4; ++r) {
    const fs::path f = dir / ("a/rank_" + std::to_string(r)) / ("a" + std::to_string(r) + ".ckpt");
    fs::create_directories(f.parent_path());
    cellar::save_checkpoint(cellar::slice_checkpoint(full, a, r), f);
    rank_files.push_back(f);
  }
  full = cellar::ParamDict();
  const fs::path merged = dir / "merged.ckpt", merge_out = dir / "m.ckpt";

  cellar::save_strategy(a, dir / "a.ckpt");
  cellar::save_strategy(b, dir / "b.ckpt");
  const fs::path copy = dir / "copy.ckpt";
  const std::string cp = "cp '" + merged.string() + "' '" + copy.string() + "'";
  const fs::path copy2 = dir / "copy2.ckpt", copy2_tmp = dir / ".copy2.ckpt.tmp";
  const std::string cp2 = "cp '" + merged.string() + "' '" + copy2_tmp.string() + "'";
  struct Case {
    const char* what;
    std::function<void()> run;
    std::vector<fs::path> outputs;       // removed before each timed run (see below)
    std::vector<double> seconds, ratio;  // per round; ratio: this round's cp + fsync / this
    std::vector<double> cpu;             // per round, CPU seconds
  };
  std::vector<Case> cases = {
      {"cp + fsync",
       [&] {
         if (std::system(cp.c_str()) != 0) std::abort();
         fsync_file(copy);
       },
       {copy}},
      {"cp (merged file's bytes, no fsync)",
       [&] {
         if (std::system(cp.c_str()) != 0) std::abort();
       },
       {copy}},
      {"merge 4 ranks -> 1 .ckpt, streamed (merge_checkpoints_to_file, cellar merge)",
       [&] { cellar::merge_checkpoints_to_file(a, dir / "a", merge_out); },
       {merge_out}},
      {"reshard 4 ranks [2, 2] -> 2 ranks [2], streamed (reshard_checkpoints, cellar reshard)",
       [&] {
         cellar::reshard_checkpoints(dir / "a", dir / "a.ckpt", dir / "b", dir / "b.ckpt", "b");
       },
       {dir / "b"}},
      {"cp + fsync + rename over an existing copy (an atomic copy: the old file stays meanwhile)",
       [&] {
         if (std::system(cp2.c_str()) != 0) std::abort();
         fsync_file(copy2_tmp);
         fs::rename(copy2_tmp, copy2);
       },
       {}},
      {"merge 4 ranks -> 1 .ckpt, built in memory (merge_checkpoints + save)",
       [&] { cellar::save_checkpoint(cellar::merge_checkpoints(a, dir / "a"), merge_out); },
       {merge_out}},
      {"reshard 4 ranks [2, 2] -> 2 ranks [2], in memory (merge + slice + 2 saves)",
       [&] {
         const cellar::ParamDict whole = cellar::merge_checkpoints(a, dir / "a");
         for (int r = 0; r < 2; ++r)
           cellar::save_checkpoint(cellar::slice_checkpoint(whole, b, r),
                                   dir / ("b" + std::to_string(r) + ".ckpt"));
       },
       {dir / "b0.ckpt", dir / "b1.ckpt"}},
  };
  if (streamed_only) cases.resize(5);
  // Warm-up (page cache, allocator), then rounds in which every case runs once, in turn: the
  // machine's load changes by the minute, and a ratio within one round compares like with like.
  cellar::merge_checkpoints_to_file(a, dir / "a", merged);  // what cp copies, then cached
  {
    std::vector<char> buf(8 << 20);
    const int fd = ::open(merged.c_str(), O_RDONLY);
    while (fd >= 0 && ::read(fd, buf.data(), buf.size()) > 0) {
    }
    if (fd >= 0) ::close(fd);
  }
  for (auto& c : cases) c.run();
  for (int i = 0; i < repeats; ++i)
    for (auto& c : cases) {
      for (const auto& f : c.outputs) fs::remove_all(f);
      const double cpu0 = cpu_seconds();
      const auto t0 = Clock::now();
      c.run();
      c.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      c.cpu.push_back(cpu_seconds() - cpu0);
      c.ratio.push_back(cases[0].seconds.back() / c.seconds.back());
    }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double gib = static_cast<double>(bytes) / (1 << 30);
  std::printf(
      "model %.2f GiB, 16 float32 tensors, 4 ranks of a [2, 2] device matrix; median of %d "
      "rounds\n",
      gib, repeats);
  std::printf(
      "| what | seconds | GiB/s | speed vs cp + fsync (medians) | same, median of per-round "
      "ratios | CPU seconds |\n|---|---|---|---|---|---|\n");
  for (const auto& c : cases) {
    const double t = median(c.seconds);
    std::printf("| %s | %.3f | %.2f | %.2f | %.2f | %.2f |\n", c.what, t, gib / t,
                median(cases[0].seconds) / t, median(c.ratio), median(c.cpu));
  }
  if (own_dir) fs::remove_all(dir);
  return 0;
}
