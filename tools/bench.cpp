// `cellar bench MODEL`: inference latency and throughput of a MindIR or ONNX model.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

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
  uint64_t seed = 0;
  bool json = false;
  std::string dec_key_file, dec_mode;
};

// The executor's kernels are single-threaded except GEMM, which OpenBLAS runs on its own thread
// pool; its size is the only thread count there is to set. Looked up at run time, so another
// BLAS simply reports 1 thread.
int set_blas_threads(std::optional<int> n) {
  using SetFn = void (*)(int);
  using GetFn = int (*)();
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (n && set) set(*n);
  return get ? get() : 1;
}

// The p-th percentile (0-100) of sorted samples, by linear interpolation (numpy's default).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = p / 100 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

int run_bench(const BenchArgs& a) {
  if (a.iterations < 1) throw UsageError("--iterations must be at least 1");
  if (a.warmup < 0) throw UsageError("--warmup must be at least 0");
  if (a.threads && *a.threads < 1) throw UsageError("--threads must be at least 1");
  if (a.batch && *a.batch < 1) throw UsageError("--batch must be at least 1");
  const int threads = set_blas_threads(a.threads);

  KeyOptions key{a.dec_key_file.empty() ? "" : read_key_file(a.dec_key_file), a.dec_mode};
  ir::Graph g = load_graph(a.model, key);
  if (g.inputs.empty())
    throw Error(ErrorCode::kInvalidArgument, "the model has no inputs", {a.model});
  if (a.batch) g = with_batch(g, *a.batch, a.model);
  const int64_t batch =
      g.value(g.inputs[0]).shape.rank() ? g.value(g.inputs[0]).shape[0] : int64_t{1};

  const ModelInputs in = random_inputs(g, a.seed);
  runtime::Executor exec(g);
  std::vector<Tensor> outs = exec.make_outputs();
  for (int i = 0; i < a.warmup; ++i) exec.run(in.tensors, outs);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(a.iterations));
  for (int i = 0; i < a.iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    exec.run(in.tensors, outs);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  double total = 0;
  for (double x : us) total += x;
  const double mean = total / static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  const double p50 = percentile(us, 50), p90 = percentile(us, 90), p99 = percentile(us, 99);
  // Samples per second at the median latency (one run at a time, as GraphCell runs).
  const double throughput = p50 > 0 ? static_cast<double>(batch) * 1e6 / p50 : 0;

  if (a.json) {
    print_json(json{{"model", a.model},
                    {"batch", batch},
                    {"threads", threads},
                    {"iterations", a.iterations},
                    {"warmup", a.warmup},
                    {"median_us", p50},
                    {"p90_us", p90},
                    {"p99_us", p99},
                    {"mean_us", mean},
                    {"min_us", us.front()},
                    {"max_us", us.back()},
                    {"throughput_per_s", throughput},
                    {"arena_bytes", exec.arena_bytes()}});
    return kExitOk;
  }
  std::cout << a.model << ": batch " << batch << ", " << threads << " BLAS thread"
            << (threads == 1 ? "" : "s") << ", " << a.iterations << " iterations after " << a.warmup
            << " warm-up\n";
  print_table(std::cout, {{"latency", "p50", fmt_num(p50) + " us"},
                          {"", "p90", fmt_num(p90) + " us"},
                          {"", "p99", fmt_num(p99) + " us"},
                          {"", "mean", fmt_num(mean) + " us"},
                          {"throughput", "", fmt_num(throughput) + " samples/s"}});
  return kExitOk;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Measure a model's inference latency and throughput");
  sub->add_option("MODEL", args->model, "a .mindir or .onnx file")->required();
  sub->add_option("--batch", args->batch,
                  "replace the inputs' leading dimension (an error when the graph fixes it)");
  sub->add_option("--threads", args->threads, "BLAS threads for GEMM (default: OpenBLAS's own)");
  sub->add_option("--iterations,-n", args->iterations, "timed runs (default 50)");
  sub->add_option("--warmup", args->warmup, "untimed runs first (default 5)");
  sub->add_option("--seed", args->seed, "seed of the random inputs (default 0)");
  sub->add_option("--dec-key-file", args->dec_key_file, "key of an encrypted MindIR file");
  sub->add_option("--dec-mode", args->dec_mode,
                  "AES-GCM, AES-CBC or SM4-CBC (default: the file's)");
  sub->add_flag("--json", args->json,
                "print one JSON object: median_us, p90_us, p99_us, mean_us, min_us, max_us, "
                "throughput_per_s, ...");
  sub->footer(
      "Runs the model on random inputs of its recorded shapes (after --batch), timing each run.\n"
      "Throughput is batch × 1e6 / median latency, in samples per second.\n\n"
      "Examples:\n"
      "  cellar bench model.mindir\n"
      "  cellar bench model.onnx --batch 32 --threads 2 --iterations 200 --json");
  return {sub, [args] { return run_bench(*args); }};
}

}  // namespace cellar::cli
