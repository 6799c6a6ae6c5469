// Reading PyTorch files: cellar's load_checkpoint beside torch.load on the same files.
//
//   build/bench/pytorch_bench [--size-mib 1024] [--repeats 5] [--dir DIR] [--python PY]
//
// torch writes the files (bench/pytorch_peer.py run by --python, default /opt/torch/bin/python):
// a float32 state dict of --size-mib MiB in tensors of mixed sizes, as torch.save's zip layout and
// its legacy layout. Then, with a warm page cache, each figure the median of --repeats runs:
//   torch    torch.load(weights_only=True) (reads every storage into memory), and with mmap=True;
//            each also with every page touched
//   cellar   load_checkpoint: zero-copy (mmap, parse data.pkl, view storages), + touching every
//            page, and use_mmap=false (read() into private memory) + touch; the legacy file
//            (storages at unaligned offsets: deferred copies) + touch
// Without torch in that interpreter nothing can be measured: the program says so loudly
// (SKIPPED) and exits 0.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cellar/cellar.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<int64_t> tensor_sizes(size_t total_bytes) {
  static const int64_t pattern[] = {4 << 20, 1 << 10, 4 << 20, 1 << 10, 16 << 20, 4 << 10,
                                    1 << 20, 256,     1 << 18, 3 << 20, 12345,    64 << 10};
  std::vector<int64_t> out;
  size_t have = 0;
  for (size_t i = 0; have < total_bytes; ++i) {
    int64_t n = pattern[i % std::size(pattern)];
    n = std::min<int64_t>(n, static_cast<int64_t>((total_bytes - have + 3) / 4));
    out.push_back(n);
    have += static_cast<size_t>(n) * 4;
  }
  return out;
}

double time_median(int repeats, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

uint64_t touch(const cellar::ParamDict& d) {
  uint64_t s = 0;
  for (const auto& [_, p] : d) {
    const cellar::Tensor& t = p.data();
    const auto* b = reinterpret_cast<const volatile unsigned char*>(t.raw_data());
    for (size_t i = 0; i < t.nbytes(); i += 4096) s += b[i];
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  size_t size_mib = 1024;
  int repeats = 5;
  fs::path dir = fs::temp_directory_path() / "cellar-pytorch-bench";
  std::string python = "/opt/torch/bin/python";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "usage: pytorch_bench [--size-mib N] [--repeats N] [--dir DIR] [--python PY]\n";
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--size-mib") {
      size_mib = std::stoul(v);
    } else if (a == "--repeats") {
      repeats = std::max(1, std::stoi(v));
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--python") {
      python = v;
    } else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  fs::create_directories(dir);
  {
    std::ofstream spec(dir / "spec.txt");
    for (int64_t n : tensor_sizes(size_mib << 20)) spec << n << "\n";
  }
  const fs::path script = fs::path(CELLAR_SOURCE_DIR) / "bench" / "pytorch_peer.py";
  const std::string cmd = python + " '" + script.string() + "' --dir '" + dir.string() +
                          "' --repeats " + std::to_string(repeats) + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    pclose(p);
  }
  struct Row {
    std::string kind, what;
    double seconds;
  };
  std::vector<Row> rows;
  std::istringstream lines(out);
  std::string line, version;
  bool have_torch = false;
  while (std::getline(lines, line)) {
    if (line.rfind("RESULT ", 0) == 0) {
      std::istringstream f(line.substr(7));
      Row r;
      f >> r.kind >> r.seconds;
      std::getline(f >> std::ws, r.what);
      rows.push_back(r);
      have_torch = true;
    } else if (line.rfind("VERSION ", 0) == 0) {
      version = line.substr(8);
    } else {
      std::cerr << "[peer] " << line << "\n";
    }
  }
  if (!have_torch || !fs::exists(dir / "model.pt")) {
    std::cerr << "\n*** SKIPPED: no torch in " << python
              << " (python3 -m venv /opt/torch && /opt/torch/bin/pip install torch numpy), so no "
                 "PyTorch file to read and nothing to compare. ***\n";
    return 0;
  }
  const fs::path pt = dir / "model.pt", legacy = dir / "model_legacy.pt";
  uint64_t sink = 0;  // printed at the end, so the loads cannot be optimised away
  rows.push_back(
      {"load_mmap@pt", "cellar load_checkpoint (zero-copy)",
       time_median(std::max(repeats, 20), [&] { sink += cellar::load_checkpoint(pt).size(); })});
  rows.push_back({"load_mmap_touch@pt", "cellar load_checkpoint + touch",
                  time_median(repeats, [&] { sink += touch(cellar::load_checkpoint(pt)); })});
  rows.push_back({"load_copy_touch@pt", "cellar load_checkpoint(use_mmap=false) + touch",
                  time_median(repeats, [&] {
                    sink += touch(cellar::load_checkpoint(pt, {.use_mmap = false}));
                  })});
  rows.push_back({"load_mmap_touch@legacy", "cellar load_checkpoint + touch",
                  time_median(repeats, [&] { sink += touch(cellar::load_checkpoint(legacy)); })});
  const double gib = static_cast<double>(fs::file_size(pt)) / (1 << 30);
  std::cout << "PyTorch files: " << fs::file_size(pt) << " bytes (zip), " << fs::file_size(legacy)
            << " bytes (legacy), " << version << ", median of " << repeats << "\n\n";
  std::cout << "| file | what | seconds | GiB/s |\n|---|---|---|---|\n";
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.kind < b.kind; });
  for (const Row& r : rows)
    std::cout << "| " << r.kind << " | " << r.what << " | " << std::setprecision(4) << r.seconds
              << " | " << std::setprecision(3) << gib / r.seconds << " |\n";
  std::cerr << "(checksum " << sink << ")\n";
  fs::remove(pt);
  fs::remove(legacy);
  return 0;
}
