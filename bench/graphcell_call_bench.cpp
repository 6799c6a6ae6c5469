// The C++ side of bench/python_boundary.py: the latency of one GraphCell call from C++, the way a
// C++ user calls it (cell({x}): inputs checked, the planned graph run, fresh output tensors).
//
//   graphcell_call_bench MODEL.mindir N      → prints one JSON object: median_ns, p10_ns, p90_ns,
//                                              mean_ns

// The input is ones() in the graph's input shape and dtype; N timed calls follow 20 untimed ones.
#include <cellar/cellar.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

// Times `n` calls; writes the median, 10th and 90th percentiles and the mean in nanoseconds to
// out[0..3]. Returns 0, or 1 with the error on stderr.
namespace {
int call_bench(const char* model, int n, double* out) {
  try {
    cellar::nn::GraphCell cell(cellar::load(model));
    const auto& in = cell.graph().value(cell.graph().inputs.at(0));
    const cellar::Tensor x = cellar::ones(in.shape, in.dtype);
    const std::vector<cellar::Value> args{cellar::Value(x)};
    for (int i = 0; i < 20; ++i) (void)cell(args);
    std::vector<double> ns(static_cast<size_t>(std::max(1, n)));
    double total = 0;
    for (auto& t : ns) {
      const auto t0 = std::chrono::steady_clock::now();
      const cellar::Value y = cell(args);
      t = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
      total += t;
      if (!y.is_tensor()) return 1;
    }
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) {
      return ns[static_cast<size_t>(q * static_cast<double>(ns.size() - 1))];
    };
    out[0] = at(0.5);
    out[1] = at(0.1);
    out[2] = at(0.9);
    out[3] = total / static_cast<double>(ns.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: graphcell_call_bench MODEL.mindir N\n");
    return 2;
  }
  double r[4];
  if (call_bench(argv[1], std::stoi(argv[2]), r) != 0) return 1;
  std::printf("{\"median_ns\": %.0f, \"p10_ns\": %.0f, \"p90_ns\": %.0f, \"mean_ns\": %.0f}\n",
              r[0], r[1], r[2], r[3]);
  return 0;
}
