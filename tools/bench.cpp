// `cellar bench MODEL`: inference latency and throughput of a MindIR or ONNX model.
#include <time.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli.h"
#include "graph_shapes.h"
#include "model_inputs.h"

namespace cellar::cli {

namespace {

struct BenchArgs {
  std::string model;
  std::optional<int64_t> batch;
  std::optional<int> threads;
  int iterations = 50;
  int warmup = 5;
  int callers = 1;
  uint64_t seed = 0;
  bool json = false;
  std::string dec_key_file, dec_mode;
};

// The p-th percentile (0-100) of sorted samples, by linear interpolation (numpy's default).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = p / 100 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

// This process's peak resident memory in bytes (VmHWM of /proc/self/status: the memory map made
// at exec, so unlike getrusage's ru_maxrss it does not count the parent's memory before exec);
// 0 where there is no /proc.
uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// This process's CPU time (every thread's, user + system) in microseconds. On a machine shared with
// other work, a run's CPU time is what its wall time would be alone (at one thread); its wall time
// also counts the slices the scheduler gave to others.
double process_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Resets VmHWM to the current resident size (Linux ≥ 4.0: "5" to /proc/self/clear_refs), so that
// a later peak_rss_bytes() is the peak from here on. False where that is not possible.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// Bytes of the graph's constants (its weights as loaded).
uint64_t weight_bytes(const ir::Graph& g) {
  uint64_t n = 0;
  for (const auto& init : g.initializers) n += init.data.nbytes();
  return n;
}

int run_bench(const BenchArgs& a) {
  if (a.iterations < 1) throw UsageError("--iterations must be at least 1");
  if (a.warmup < 0) throw UsageError("--warmup must be at least 0");
  if (a.threads && *a.threads < 1) throw UsageError("--threads must be at least 1");
  if (a.batch && *a.batch < 1) throw UsageError("--batch must be at least 1");
  if (a.callers < 1) throw UsageError("--callers must be at least 1");
  const auto t_load = std::chrono::steady_clock::now();
  KeyOptions key{a.dec_key_file.empty() ? "" : read_key_file(a.dec_key_file), a.dec_mode};
  ir::Graph g = load_graph(a.model, key);
  if (g.inputs.empty())
    throw Error(ErrorCode::kInvalidArgument, "the model has no inputs", {a.model});
  if (a.batch) g = with_batch(g, *a.batch, a.model);
  const int64_t batch =
      g.value(g.inputs[0]).shape.rank() ? g.value(g.inputs[0]).shape[0] : int64_t{1};

  const ModelInputs in = random_inputs(g, a.seed);
  const uint64_t weights = weight_bytes(g);
  // The executor keeps only what it runs (not the loaded graph beside its packed weights).
  runtime::Executor exec(std::move(g), {.threads = a.threads.value_or(0), .keep_graph = false});
  const uint64_t load_peak_rss = peak_rss_bytes();
  // From here on the peak is the runs' (the load's transient buffers excluded).
  const bool run_peak_known = reset_peak_rss();
  const int threads = exec.threads();
  std::vector<Tensor> outs = exec.make_outputs();
  const auto t_first = std::chrono::steady_clock::now();
  exec.run(in.tensors, outs);
  const auto t_done = std::chrono::steady_clock::now();
  // Load: reading the file, planning, starting the workers (random inputs included, a few µs).
  const double load_us = std::chrono::duration<double, std::micro>(t_first - t_load).count();
  const double first_run_us = std::chrono::duration<double, std::micro>(t_done - t_first).count();
  for (int i = 1; i < a.warmup; ++i) exec.run(in.tensors, outs);
  // Each caller: its own outputs, `iterations` runs of the one executor, all callers at once (as
  // a server's request threads share one loaded model); one latency sample per run.
  const size_t callers = static_cast<size_t>(a.callers);
  std::vector<std::vector<double>> samples(callers);
  // With one caller, each run's CPU time too (with several, the process's clock mixes the callers).
  std::vector<double> cpu_samples;
  if (callers == 1) cpu_samples.reserve(static_cast<size_t>(a.iterations));
  std::barrier start(static_cast<std::ptrdiff_t>(callers));
  // Each caller's start, after all have warmed up; the wall time runs from the first.
  std::vector<std::chrono::steady_clock::time_point> starts(callers);
  auto caller = [&](size_t c) {
    std::vector<Tensor> own = c == 0 ? outs : exec.make_outputs();
    if (c > 0)
      for (int i = 0; i < a.warmup; ++i) exec.run(in.tensors, own);  // its arena made here
    samples[c].reserve(static_cast<size_t>(a.iterations));
    start.arrive_and_wait();
    starts[c] = std::chrono::steady_clock::now();
    for (int i = 0; i < a.iterations; ++i) {
      const double cpu0 = callers == 1 ? process_cpu_us() : 0;
      const auto t0 = std::chrono::steady_clock::now();
      exec.run(in.tensors, own);
      samples[c].push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      if (callers == 1) cpu_samples.push_back(process_cpu_us() - cpu0);
    }
  };
  {
    std::vector<std::jthread> others;
    for (size_t c = 1; c < callers; ++c) others.emplace_back(caller, c);
    caller(0);
  }
  const double wall_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() -
                                                *std::min_element(starts.begin(), starts.end()))
          .count();
  std::vector<double> us;
  for (const auto& s : samples) us.insert(us.end(), s.begin(), s.end());
  double total = 0;
  for (double x : us) total += x;
  const double mean = total / static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  const double p50 = percentile(us, 50), p90 = percentile(us, 90), p99 = percentile(us, 99);
  std::sort(cpu_samples.begin(), cpu_samples.end());
  const bool cpu_known = !cpu_samples.empty();
  const double cpu_p50 = percentile(cpu_samples, 50);
  // Samples per second: at the median latency for one caller (one run at a time); over the wall
  // time of all runs for several (from when all have warmed up to when the last is done).
  const double throughput =
      callers == 1 ? (p50 > 0 ? static_cast<double>(batch) * 1e6 / p50 : 0)
                   : static_cast<double>(batch) * static_cast<double>(us.size()) * 1e6 / wall_us;

  if (a.json) {
    print_json(json{{"model", a.model},
                    {"batch", batch},
                    {"threads", threads},
                    {"callers", a.callers},
                    {"iterations", a.iterations},
                    {"warmup", a.warmup},
                    {"median_us", p50},
                    {"cpu_median_us", cpu_known ? json(cpu_p50) : json()},
                    {"p90_us", p90},
                    {"p99_us", p99},
                    {"mean_us", mean},
                    {"min_us", us.front()},
                    {"max_us", us.back()},
                    {"throughput_per_s", throughput},
                    {"wall_throughput_per_s",
                     static_cast<double>(batch) * static_cast<double>(us.size()) * 1e6 / wall_us},
                    {"load_us", load_us},
                    {"first_run_us", first_run_us},
                    {"arena_bytes", exec.arena_bytes()},
                    {"weights_bytes", weights},
                    {"load_peak_rss_bytes", load_peak_rss},
                    {"run_peak_rss_bytes", run_peak_known ? json(peak_rss_bytes()) : json()},
                    {"peak_rss_bytes", std::max(load_peak_rss, peak_rss_bytes())}});
    return kExitOk;
  }
  std::cout << a.model << ": batch " << batch << ", " << threads << " thread"
            << (threads == 1 ? "" : "s") << ", " << a.iterations << " iterations after " << a.warmup
            << " warm-up\n";
  print_table(
      std::cout,
      {{"latency", "p50", fmt_num(p50) + " us"},
       {"", "p90", fmt_num(p90) + " us"},
       {"", "p99", fmt_num(p99) + " us"},
       {"", "mean", fmt_num(mean) + " us"},
       {"CPU time", "p50", cpu_known ? fmt_num(cpu_p50) + " us" : "(one caller only)"},
       {"load", "", fmt_num(load_us) + " us"},
       {"first run", "", fmt_num(first_run_us) + " us"},
       {"throughput", "", fmt_num(throughput) + " samples/s"},
       {"memory", "weights", fmt_num(static_cast<double>(weights) / 1048576) + " MiB"},
       {"", "arena", fmt_num(static_cast<double>(exec.arena_bytes()) / 1048576) + " MiB"},
       {"", "peak RSS, load", fmt_num(static_cast<double>(load_peak_rss) / 1048576) + " MiB"},
       {"", "peak RSS, runs",
        run_peak_known ? fmt_num(static_cast<double>(peak_rss_bytes()) / 1048576) + " MiB"
                       : "unknown"}});
  return kExitOk;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Measure a model's inference latency and throughput");
  sub->add_option("MODEL", args->model, "a .mindir or .onnx file")->required();
  sub->add_option("--batch", args->batch,
                  "replace the inputs' leading dimension (an error when the graph fixes it)");
  sub->add_option("--threads", args->threads,
                  "worker threads the kernels run on (default: one per CPU)");
  sub->add_option("--iterations,-n", args->iterations, "timed runs (default 50)");
  sub->add_option("--warmup", args->warmup,
                  "untimed runs first (default 5; the first is reported as first_run_us)");
  sub->add_option("--seed", args->seed, "seed of the random inputs (default 0)");
  sub->add_option("--callers", args->callers,
                  "threads running the one loaded model at once, --iterations runs each "
                  "(default 1); throughput is then over their wall time");
  sub->add_option("--dec-key-file", args->dec_key_file, "key of an encrypted MindIR file");
  sub->add_option("--dec-mode", args->dec_mode,
                  "AES-GCM, AES-CBC or SM4-CBC (default: the file's)");
  sub->add_flag(
      "--json", args->json,
      "print one JSON object: median_us, cpu_median_us (the process's CPU time per run, "
      "every thread's; null with several callers), p90_us, p99_us, mean_us, min_us, max_us, "
      "throughput_per_s, wall_throughput_per_s (samples over the timed runs' wall "
      "time, every caller's), load_us, first_run_us, arena_bytes, weights_bytes, "
      "load_peak_rss_bytes (VmHWM after loading and planning), run_peak_rss_bytes "
      "(VmHWM over the runs alone), peak_rss_bytes (the process's)");
  sub->footer(
      "Runs the model on random inputs of its recorded shapes (after --batch), timing each run.\n"
      "Throughput is batch × 1e6 / median latency, in samples per second.\n\n"
      "Examples:\n"
      "  cellar bench model.mindir\n"
      "  cellar bench model.onnx --batch 32 --threads 2 --iterations 200 --json");
  return {sub, [args] { return run_bench(*args); }};
}

}  // namespace cellar::cli
