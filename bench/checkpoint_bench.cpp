// Checkpoint save/load speed and memory, cellar beside its peers and the machine's limits.
//
//   build/bench/checkpoint_bench [--size-mib 1024] [--repeats 5] [--dir DIR]
//                                [--python PY]... [--no-peers]
//
// Builds a float32 model of many tensors of mixed sizes (--size-mib in all), then measures with
// a warm page cache, each figure the median of --repeats runs:
//   limits   memcpy of all tensor bytes (into warm memory, and into fresh pages); a plain
//            sequential write() of them + fsync
//   cellar   save .ckpt (MindSpore's bytes, and with align_tensors) / .safetensors (atomic:
//            temp file, fsync, rename); load zero-copy (mmap + validate) alone and + touching
//            every page; a copying load (use_mmap = false: read() + touch); peak RSS of both
//            loads in a fresh process
//   peers    bench/peers.py run by each --python given (safetensors, torch, mindspore: whatever
//            that interpreter can import), on the same tensor sizes
// and prints every figure with its ratio to the relevant limit and to the best peer.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cellar/cellar.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  size_t size_mib = 1024;
  int repeats = 5;
  fs::path dir;
  std::vector<std::string> pythons;
  bool peers = true;
};

// Mixed sizes, as a real model has: big matrices, small biases and norms, odd shapes.
std::vector<int64_t> tensor_sizes(size_t total_bytes) {
  static const int64_t pattern[] = {4 << 20, 1 << 10, 4 << 20, 1 << 10, 16 << 20, 4 << 10,
                                    1 << 20, 256,     1 << 18, 3 << 20, 12345,    64 << 10};
  std::vector<int64_t> out;
  size_t have = 0;
  for (size_t i = 0; have < total_bytes; ++i) {
    int64_t n = pattern[i % std::size(pattern)];  // elements
    n = std::min<int64_t>(n, static_cast<int64_t>((total_bytes - have + 3) / 4));
    out.push_back(n);
    have += static_cast<size_t>(n) * 4;
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double time_once(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double time_median(int repeats, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) t.push_back(time_once(f));
  return median(t);
}

// Sum of one byte per 4 KiB page: makes every page resident without a full pass. The same work
// as the peers' touch (numpy's `b[::4096].sum()`: a tight loop, integer sum). An earlier version
// summed into a double and called Tensor::nbytes() (out of line) on every iteration; that loop
// alone cost 2.5x the memory accesses it made (15 ms instead of 6 for 1 GiB, measured with perf).
uint64_t touch(const cellar::ParamDict& d) {
  uint64_t s = 0;
  for (const auto& [_, p] : d) {
    const cellar::Tensor& t = p.data();
    const auto* b = reinterpret_cast<const volatile unsigned char*>(t.raw_data());
    const size_t n = t.nbytes();
    for (size_t i = 0; i < n; i += 4096) s += b[i];
  }
  return s;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  pclose(p);
  return out;
}

// Peak resident memory of a load, measured in a fresh process (this program re-executed with
// --rss-child), so that it holds nothing but the load: a forked child would carry this
// benchmark's own copy of the model, and the kernel's ru_maxrss keeps a pre-exec peak.
long read_status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return -1;
}

int rss_child(const std::string& mode, const fs::path& path) {
  const long before = read_status_kib("VmRSS:");
  if (mode == "touch") {
    auto d = cellar::load_checkpoint(path);
    touch(d);
  } else if (mode == "read") {
    auto d = cellar::load_checkpoint(path, {.use_mmap = false});
    touch(d);
  } else {
    return 2;
  }
  std::cout << before << " " << read_status_kib("VmHWM:") << "\n";
  return 0;
}

struct Rss {
  long baseline_kib = -1, peak_kib = -1;
};

Rss child_peak_rss(const std::string& self, const std::string& mode, const fs::path& path) {
  std::istringstream out(run_capture(self + " --rss-child " + mode + " '" + path.string() + "'"));
  Rss r;
  out >> r.baseline_kib >> r.peak_kib;
  return r;
}

struct Row {
  std::string group, name;
  double seconds;
  std::string vs;  // what the ratio is against
  double ratio;    // throughput relative to `vs` (higher is better)
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--rss-child") return rss_child(argv[2], argv[3]);
  Options opt;
  opt.dir = fs::temp_directory_path() / "cellar-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--size-mib")
      opt.size_mib = std::stoul(next());
    else if (a == "--repeats")
      opt.repeats = std::stoi(next());
    else if (a == "--dir")
      opt.dir = next();
    else if (a == "--python")
      opt.pythons.push_back(next());
    else if (a == "--no-peers")
      opt.peers = false;
    else {
      std::cerr << "usage: checkpoint_bench [--size-mib N] [--repeats N] [--dir DIR] [--python "
                   "PY]... [--no-peers]\n";
      return 2;
    }
  }
  fs::create_directories(opt.dir);
  const auto sizes = tensor_sizes(opt.size_mib << 20);
  cellar::ParamDict model;
  size_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    cellar::Tensor t(cellar::float32, cellar::Shape{sizes[i]});
    float* p = t.data<float>();
    for (int64_t k = 0; k < sizes[i]; ++k)
      p[k] = static_cast<float>((k * 2654435761u + i) % 1000) / 997.0f;
    model.set("layer" + std::to_string(i / 4) + ".param" + std::to_string(i % 4), t);
    total += t.nbytes();
  }
  {
    std::ofstream spec(opt.dir / "spec.txt");
    for (auto n : sizes) spec << n << "\n";
  }
  std::cout << "model: " << sizes.size() << " float32 tensors, " << total / (1 << 20)
            << " MiB; folder " << opt.dir << "; median of " << opt.repeats << " runs\n\n";
  std::vector<Row> rows;

  // ---- the machine's limits ----
  std::vector<std::byte> dst(total);
  std::memset(dst.data(), 1, dst.size());
  const double t_memcpy = time_median(opt.repeats, [&] {
    size_t off = 0;
    for (const auto& [_, p] : model) {
      std::memcpy(dst.data() + off, p.data().raw_data(), p.data().nbytes());
      off += p.data().nbytes();
    }
  });
  // The same copy into memory the process has not touched yet, as any load into new tensors
  // must: page faults and the kernel's zeroing of each page, not the copy, dominate.
  const double t_memcpy_fresh = time_median(opt.repeats, [&] {
    std::unique_ptr<std::byte[]> fresh(new std::byte[total]);
    size_t off = 0;
    for (const auto& [_, p] : model) {
      std::memcpy(fresh.get() + off, p.data().raw_data(), p.data().nbytes());
      off += p.data().nbytes();
    }
    asm volatile("" : : "r"(fresh.get()) : "memory");
  });
  const fs::path plain = opt.dir / "plain.bin";
  const double t_write = time_median(opt.repeats, [&] {
    const int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (const auto& [_, p] : model) {
      const auto* b = reinterpret_cast<const char*>(p.data().raw_data());
      size_t left = p.data().nbytes();
      while (left) {
        const ssize_t n = ::write(fd, b, left);
        if (n <= 0) {
          std::perror("write");
          std::exit(1);
        }
        b += n;
        left -= static_cast<size_t>(n);
      }
    }
    ::fsync(fd);
    ::close(fd);
  });
  fs::remove(plain);
  rows.push_back({"limit", "memcpy", t_memcpy, "memcpy", 1.0});
  rows.push_back(
      {"limit", "memcpy into fresh memory", t_memcpy_fresh, "memcpy", t_memcpy / t_memcpy_fresh});
  rows.push_back({"limit", "write()+fsync", t_write, "write()", 1.0});

  // ---- cellar ----
  const fs::path ckpt = opt.dir / "cellar.ckpt", aligned = opt.dir / "cellar-aligned.ckpt",
                 st = opt.dir / "cellar.safetensors";
  const double t_save_ckpt =
      time_median(opt.repeats, [&] { cellar::save_checkpoint(model, ckpt); });
  const double t_save_aligned = time_median(
      opt.repeats, [&] { cellar::save_checkpoint(model, aligned, {.align_tensors = true}); });
  const double t_save_st = time_median(opt.repeats, [&] {
    cellar::save_checkpoint(model, st, {.format = cellar::CheckpointFormat::kSafetensors});
  });
  rows.push_back({"cellar", "save .ckpt", t_save_ckpt, "write()", t_write / t_save_ckpt});
  rows.push_back(
      {"cellar", "save .ckpt align_tensors", t_save_aligned, "write()", t_write / t_save_aligned});
  rows.push_back({"cellar", "save .safetensors", t_save_st, "write()", t_write / t_save_st});
  std::map<std::string, std::pair<double, double>> single;  // label → (zero-copy, + touch)
  for (const auto& [label, path] : {std::pair{"ckpt", ckpt}, std::pair{"ckpt (aligned)", aligned},
                                    std::pair{"safetensors", st}}) {
    // Well under a millisecond: a median of a few runs would be mostly the first run's cold
    // caches, so this row takes at least 50 (as bench/peers.py's lazy loads do).
    const double t_load =
        time_median(std::max(opt.repeats, 50), [&] { (void)cellar::load_checkpoint(path); });
    const double t_touch = time_median(opt.repeats, [&] { touch(cellar::load_checkpoint(path)); });
    // The copying load: read() into memory (LoadOptions::use_mmap = false), every page touched.
    const double t_copy = time_median(
        opt.repeats, [&] { touch(cellar::load_checkpoint(path, {.use_mmap = false})); });
    rows.push_back({"cellar", std::string("load .") + label + " zero-copy", t_load, "-", 0});
    rows.push_back({"cellar", std::string("load .") + label + " zero-copy + touch", t_touch,
                    "memcpy", t_memcpy / t_touch});
    rows.push_back({"cellar", std::string("load .") + label + " copying (read() + touch)", t_copy,
                    "memcpy", t_memcpy / t_copy});
    single[label] = {t_load, t_touch};
    const Rss rss = child_peak_rss(argv[0], "touch", path);
    const Rss rss_copy = child_peak_rss(argv[0], "read", path);
    const long file_mib = static_cast<long>(fs::file_size(path) >> 20);
    std::cout << "peak RSS of a fresh process loading the " << file_mib << " MiB ." << label
              << " (its RSS before the load: " << rss.baseline_kib / 1024
              << " MiB): zero-copy + touch " << rss.peak_kib / 1024 << " MiB ("
              << (rss.peak_kib / 1024 - file_mib) << " MiB over the file), read() + touch "
              << rss_copy.peak_kib / 1024 << " MiB (" << (rss_copy.peak_kib / 1024 - file_mib)
              << " MiB over the file)\n";
  }

  // The same bytes as eight shards and an index (issue 15's target: a sharded zero-copy load
  // within 1.2x of the single file's).
  const fs::path sharded_dir = opt.dir / "sharded";
  fs::create_directories(sharded_dir);
  cellar::save_checkpoint(model, sharded_dir / "model.safetensors",
                          {.format = cellar::CheckpointFormat::kSafetensors,
                           .max_shard_size = std::max<uint64_t>(opt.size_mib << 17, 1 << 20)});
  const fs::path index = sharded_dir / "model.safetensors.index.json";
  const size_t shards = cellar::checkpoint_files(index).size();
  const double t_sharded =
      time_median(std::max(opt.repeats, 50), [&] { (void)cellar::load_checkpoint(index); });
  const double t_sharded_touch =
      time_median(opt.repeats, [&] { touch(cellar::load_checkpoint(index)); });
  const std::string shard_label =
      "load sharded .safetensors (" + std::to_string(shards) + " shards + index)";
  rows.push_back({"cellar", shard_label + " zero-copy", t_sharded, "-", 0});
  rows.push_back({"cellar", shard_label + " zero-copy + touch", t_sharded_touch, "memcpy",
                  t_memcpy / t_sharded_touch});
  std::cout << "sharded / single-file .safetensors load: zero-copy " << std::setprecision(3)
            << t_sharded / single["safetensors"].first << "x, zero-copy + touch "
            << t_sharded_touch / single["safetensors"].second << "x (target <= 1.2x)\n";
  fs::remove_all(sharded_dir);

  // The cellar files are not needed any more: free their page cache before the peers run (a
  // peer that checks free memory, as MindSpore's load_checkpoint does, sees it).
  fs::remove(ckpt);
  fs::remove(aligned);
  fs::remove(st);

  // ---- peers ----
  // Fastest peer seconds by "kind" (any file format) and by "kind@format" (the same format).
  std::map<std::string, double> best_peer;
  if (opt.peers) {
    if (opt.pythons.empty()) {
      std::cout << "\n(no --python given: peers not measured)\n";
    }
    const fs::path script = fs::path(CELLAR_SOURCE_DIR) / "bench" / "peers.py";
    for (const auto& py : opt.pythons) {
      const std::string cmd = py + " " + script.string() + " --dir " + opt.dir.string() +
                              " --repeats " + std::to_string(opt.repeats) + " 2>&1";
      std::istringstream out(run_capture(cmd));
      std::string line;
      while (std::getline(out, line)) {
        // "RESULT <kind> <seconds> <name…>" lines; anything else is the peer's own chatter.
        if (line.rfind("RESULT ", 0) != 0) {
          if (line.find("SKIP") == 0 || line.find("Error") != std::string::npos)
            std::cout << py << ": " << line << "\n";
          continue;
        }
        std::istringstream ls(line.substr(7));
        std::string kind, name;
        double s = 0;
        ls >> kind >> s;
        std::getline(ls, name);
        name.erase(0, name.find_first_not_of(' '));
        const std::string kind_any = kind.substr(0, kind.find('@'));
        const bool is_save = kind_any == "save";
        name += " [" + fs::path(py).parent_path().parent_path().filename().string() + "]";
        rows.push_back(
            {"peer", name, s, is_save ? "write()" : "memcpy", (is_save ? t_write : t_memcpy) / s});
        for (const std::string& k : {kind_any, kind}) {
          auto& b = best_peer[k];
          if (b == 0 || s < b) b = s;
        }
      }
    }
  }

  std::cout << "\n"
            << std::left << std::setw(8) << "who" << std::setw(66) << "what" << std::right
            << std::setw(11) << "median ms" << std::setw(10) << "GB/s" << std::setw(16)
            << "vs limit"
            << "\n";
  for (const auto& r : rows) {
    std::ostringstream ratio;
    if (r.vs != "-") ratio << std::fixed << std::setprecision(2) << r.ratio << "x " << r.vs;
    std::cout << std::left << std::setw(8) << r.group << std::setw(66) << r.name << std::right
              << std::setw(11) << std::fixed << std::setprecision(r.seconds < 0.01 ? 3 : 1)
              << r.seconds * 1e3 << std::setw(10) << std::setprecision(2) << total / r.seconds / 1e9
              << std::setw(16) << ratio.str() << "\n";
  }
  if (!best_peer.empty()) {
    // Two columns: against the fastest peer handling the same file format (for a MindSpore .ckpt
    // that is MindSpore itself: no other peer reads it), and against the fastest peer of any
    // format (torch's own .pt, say), which is not the same work when layouts differ.
    std::cout << "\ncellar vs the fastest peer doing the same (>1: cellar faster)\n"
              << std::left << std::setw(50) << "" << std::right << std::setw(14) << "same format"
              << std::setw(14) << "any format"
              << "\n";
    auto ratio = [&](const std::string& key, double cellar_s) {
      std::ostringstream o;
      if (best_peer.count(key))
        o << std::fixed << std::setprecision(2) << best_peer[key] / cellar_s << "x";
      else
        o << "-";
      return o.str();
    };
    auto cmp = [&](const std::string& kind, const std::string& format, const std::string& label,
                   double cellar_s) {
      std::cout << "  " << std::left << std::setw(48) << label << std::right << std::setw(14)
                << ratio(kind + "@" + format, cellar_s) << std::setw(14) << ratio(kind, cellar_s)
                << "\n";
    };
    cmp("save", "ckpt", "save (.ckpt)", t_save_ckpt);
    cmp("save", "safetensors", "save (.safetensors)", t_save_st);
    for (const auto& r : rows) {
      if (r.group != "cellar") continue;
      for (const char* label : {"ckpt", "ckpt (aligned)", "safetensors"}) {
        const std::string format = std::string(label).substr(0, std::string(label).find(' '));
        const std::string base = std::string("load .") + label;
        if (r.name == base + " zero-copy")
          cmp("load_mmap", format, "zero-copy load (." + std::string(label) + ")", r.seconds);
        if (r.name == base + " zero-copy + touch")
          cmp("load_mmap_touch", format, "zero-copy load + touch (." + std::string(label) + ")",
              r.seconds);
        if (r.name == base + " copying (read() + touch)")
          cmp("load_copy", format, "copying load (." + std::string(label) + ")", r.seconds);
      }
    }
  }
  return 0;
}
