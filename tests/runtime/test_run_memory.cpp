// Memory while running (issue 13: peak RSS ≤ weights + planned arena + 32 MiB). The optimiser
// replaces most weights with folded, packed or transposed copies; with
// ExecutorOptions::keep_graph = false the executor holds only those copies, and `cellar bench`
// (a fresh process, as a server would be) stays within the bound on a ResNet-18 of 43 MiB.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "cellar/models/resnet.h"
#include "ops/blas.h"
#include "sanitized.h"
#include "test_util.h"

using namespace cellar;
namespace fs = std::filesystem;
using cellar::testing::TempDir;

namespace {

Tensor input() {
  Generator gen(3);
  return ops::uniform({1, 3, 32, 32}, -1, 1, gen);
}

// A ResNet-18 of `width` traced into a graph whose weights are its own (not the cell's).
ir::Graph resnet_graph(int64_t width, const Tensor& x) {
  Generator gen(7);
  auto net = models::resnet18({.num_classes = 10, .width = width, .generator = &gen});
  net->set_train(false);
  ir::Graph g = trace(*net, {x});
  for (auto& init : g.initializers) init.data = init.data.clone();
  return g;
}

TEST(KeepGraph, FalseHoldsOnlyWhatRuns) {
  const Tensor x = input();
  ir::Graph g = resnet_graph(8, x);
  // Our own handles on the given weights: whoever else holds one shows in use_count().
  std::vector<Tensor> given;
  for (const auto& init : g.initializers) given.push_back(init.data);

  runtime::Executor kept(g, {.threads = 1});
  runtime::Executor lean(std::move(g), {.threads = 1, .keep_graph = false});
  // keep_graph (the default): graph() is the graph as given, every weight in it.
  EXPECT_EQ(kept.graph().initializers.size(), given.size());
  // keep_graph = false: graph() is what runs, and most given weights are held by nobody but us
  // (the convolutions' weights and BatchNorm statistics were replaced by folded, packed copies).
  EXPECT_EQ(&lean.graph(), &lean.executed_graph());
  size_t released = 0, bytes_released = 0, bytes = 0;
  for (const auto& t : given) {
    bytes += t.nbytes();
    if (t.storage().use_count() == 2) {  // ours and `kept`'s
      ++released;
      bytes_released += t.nbytes();
    }
  }
  EXPECT_GT(released, given.size() / 2);
  EXPECT_GT(bytes_released, bytes * 9 / 10) << bytes_released << " of " << bytes;
  // Same answers to the bit.
  const std::vector<Tensor> in{x};
  EXPECT_TRUE(lean.run(in)[0].equal(kept.run(in)[0]));
  EXPECT_EQ(kept.graph().initializers.size(), given.size());
}

// BLAS is opened when a product first needs it (ops/blas.h): a MindSpore mobilenet_v1 runs on
// cellar's own kernels without it, and a Float64 product then loads it and computes right.
// (LeNet-5 at batch 2 still loads it: its two-row Dense products go to BLAS.)
TEST(LazyBlas, LoadedOnlyWhenAProductNeedsIt) {
  if (ops::blas::loaded()) GTEST_SKIP() << "another test in this process loaded BLAS first";
  const fs::path zoo = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/zoo";
  runtime::Executor exec(load((zoo / "mobilenet_v1_025.mindir").string()), {.threads = 2});
  const Tensor x = read_npy((zoo / "mobilenet_v1_025.input.npy").string());
  const Tensor want = read_npy((zoo / "mobilenet_v1_025.output.npy").string());
  const Tensor y = exec.run(std::vector<Tensor>{x})[0];
  ASSERT_EQ(y.shape(), want.shape());
  for (int64_t i = 0; i < y.numel(); ++i)
    EXPECT_NEAR(y.data<float>()[i], want.data<float>()[i], 1e-4);
  EXPECT_FALSE(ops::blas::loaded());

  Tensor a(DType::Float64, Shape{2, 3}), b(DType::Float64, Shape{2, 2});
  for (int64_t i = 0; i < 6; ++i) a.data<double>()[i] = static_cast<double>(i + 1);
  for (int64_t i = 0; i < 4; ++i) b.data<double>()[i] = static_cast<double>(i);
  const Tensor c = ops::matmul(a, b, /*transpose_a=*/true);  // 3×2 = aᵀ · b: BLAS
  EXPECT_TRUE(ops::blas::loaded());
  const double expect[] = {8, 13, 10, 17, 12, 21};  // aᵀ = [[1,4],[2,5],[3,6]], b = [[0,1],[2,3]]
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(c.data<double>()[i], expect[i]);
}

// The cellar CLI in a fresh process (its peak RSS is its own), output captured.
cellar::testing::ProcessResult cellar_cli(const std::vector<std::string>& args) {
  return cellar::testing::run_process(CELLAR_CLI, args);
}

TEST(PeakResidentMemory, ResNet18RunsWithinWeightsPlusArenaPlus32MiB) {
#if CELLAR_TEST_SANITIZED
  // A sanitizer's shadow memory and its quarantine of freed blocks (which keeps the original
  // weights resident after they are released) make resident memory say nothing about cellar's.
  GTEST_SKIP() << "RSS BOUND NOT CHECKED: built with a sanitizer (the Release run checks it)";
#endif
  // The bench's ResNet-18 (width 64, 32×32 input): 43 MiB of weights, so a second copy of them
  // (the given graph kept beside the packed one) would break the bound.
  TempDir dir;
  const Tensor x = input();
  const fs::path file = export_graph(resnet_graph(64, x), (dir / "resnet18").string(),
                                     FileFormat::MINDIR, ExportOptions{});
  for (const char* threads : {"1", "2"}) {
    // At 2 threads, 2 callers at once as well (a server's request threads): a second arena.
    const std::string callers = std::string(threads) == "2" ? "2" : "1";
    const cellar::testing::ProcessResult r =
        cellar_cli({"bench", file.string(), "--threads", threads, "--callers", callers,
                    "--iterations", "5", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("callers").get<int>(), std::stoi(callers));
    EXPECT_GT(j.at("wall_throughput_per_s").get<double>(), 0);
    const double mib = 1 << 20;
    const auto weights = j.at("weights_bytes").get<double>();
    const auto arena = j.at("arena_bytes").get<double>();
    ASSERT_GT(weights, 40 * mib);
    ASSERT_TRUE(j.at("run_peak_rss_bytes").is_number()) << "no /proc/self/clear_refs";
    const auto run_peak = j.at("run_peak_rss_bytes").get<double>();
    const auto load_peak = j.at("load_peak_rss_bytes").get<double>();
    RecordProperty("run_peak_mib_" + std::string(threads), std::to_string(run_peak / mib));
    EXPECT_LE(run_peak, weights + std::stoi(callers) * arena + 32 * mib)
        << threads << " threads: runs peak at " << run_peak / mib << " MiB for " << weights / mib
        << " MiB of weights and a " << arena / mib << " MiB arena (load peak " << load_peak / mib
        << " MiB)";
  }
}

}  // namespace
