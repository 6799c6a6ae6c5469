// One loaded model run from several threads at once (runtime/executor.h's thread-safety contract):
// 8 threads × 500 runs of LeNet-5 and fewer of each mindcv model of the zoo fixtures, each thread
// with its own inputs, give the very outputs a single-threaded run gives, whichever run had the
// pool.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "graph_building.h"
#include "ops/isa.h"
#include "runtime/optimizer.h"
#include "test_util.h"

using namespace cellar;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10";

// Input k: the fixture's input shifted by k/10 (so that a run that read another thread's
// arena would give another thread's answer).
Tensor shifted(const Tensor& x, int k) {
  Tensor t = x.clone();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] += static_cast<float>(k) * 0.1f;
  return t;
}

void stress(const ir::Graph& g, const Tensor& x, int executor_threads, int callers, int runs,
            bool inputs_matter = true) {
  runtime::Executor exec(g, {.threads = executor_threads});
  // The single-threaded answers, one per caller's input, from an executor of its own on one
  // thread (results do not depend on how a kernel splits its work).
  runtime::Executor alone(g, {.threads = 1});
  std::vector<Tensor> inputs, want;
  for (int k = 0; k < callers; ++k) {
    inputs.push_back(shifted(x, k));
    want.push_back(alone.run(std::vector<Tensor>{inputs.back()})[0]);
  }
  if (inputs_matter) {
    for (int k = 1; k < callers; ++k) {
      ASSERT_FALSE(want[static_cast<size_t>(k)].equal(want[0]));
    }
  }

  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < callers; ++k)
    threads.emplace_back([&, k] {
      try {
        const std::vector<Tensor> in{inputs[static_cast<size_t>(k)]};
        std::vector<Tensor> out = exec.make_outputs();
        for (int r = 0; r < runs; ++r) {
          exec.run(in, out);
          if (!out[0].equal(want[static_cast<size_t>(k)])) ++mismatches;
        }
      } catch (...) {
        ++errors;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0) << "of " << callers * runs << " runs";
}

void stress(const std::string& file, const std::string& input, int executor_threads, int callers,
            int runs, bool inputs_matter = true) {
  stress(load((kFixtures / file).string()), read_npy((kFixtures / input).string()),
         executor_threads, callers, runs, inputs_matter);
}

TEST(ConcurrentRuns, LeNetEightThreadsFiveHundredRunsEach) {
  stress("mindir/lenet5.mindir", "mindir/lenet5.input.npy", 1, 8, 500);
}

TEST(ConcurrentRuns, PooledExecutorEightThreads) {
  // Two workers: the run holding the pool splits its kernels, the others run alone; the answers
  // are the same bytes either way.
  stress("mindir/lenet5.mindir", "mindir/lenet5.input.npy", 2, 8, 500);
}

TEST(ConcurrentRuns, MobileNetEightThreads) {
  // (Its random weights leave the output the same for the shifted inputs: only the runs' own
  // consistency is checked here; LeNet above checks that each run reads its own input.)
  stress("zoo/mobilenet_v1_025.mindir", "zoo/mobilenet_v1_025.input.npy", 2, 8, 60, false);
}

// ResNet's 3 × 3 layers as the optimiser gives them to their kernels on AVX-512 (none of the zoo
// fixtures' planes are large enough): 28 × 28 on Winograd with its weight transformed at load,
// stride 2 on conv_taps' phase planes, 14 × 14 on Winograd transforming its packed weight per run
// into each worker's scratch. Elsewhere all three run conv_taps, checked the same way.
TEST(ConcurrentRuns, ResNetsThreeByThreeLayersEightThreads) {
  using cellar::testing::constant;
  using cellar::testing::filled;
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{1, 8, 28, 28});
  g.inputs = {x};
  const auto conv = [&](const std::string& name, int in, int64_t c, int64_t o, int64_t h,
                        int64_t stride) {
    const int w = constant(g, name + "/w", filled({o, c, 3, 3}, -0.3, 0.05));
    const int b = constant(g, name + "/b", filled({o}, -0.2, 0.03));
    const int64_t oh = (h - 1) / stride + 1;
    const int y = g.add_value(name, DType::Float32, Shape{1, o, oh, oh});
    const int biased = g.add_value(name + "/biased", DType::Float32, Shape{1, o, oh, oh});
    const int relu = g.add_value(name + "/relu", DType::Float32, Shape{1, o, oh, oh});
    g.nodes.push_back({.name = name,
                       .op = "Conv2D",
                       .inputs = {in, w},
                       .outputs = {y},
                       .attrs = {{"pad_mode", std::string("pad")},
                                 {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                                 {"stride", std::vector<int64_t>{1, 1, stride, stride}}}});
    g.nodes.push_back(
        {.name = name + "/bias", .op = "BiasAdd", .inputs = {y, b}, .outputs = {biased}});
    g.nodes.push_back(
        {.name = name + "/relu", .op = "ReLU", .inputs = {biased}, .outputs = {relu}});
    return relu;
  };
  const int a = conv("a", x, 8, 16, 28, 1);
  const int b = conv("b", a, 16, 16, 28, 2);
  const int c = conv("c", b, 16, 16, 14, 1);
  g.outputs = {c};
  if (ops::kernel_isa() == ops::Isa::kAvx512 && std::getenv("CELLAR_NO_WINOGRAD") == nullptr) {
    runtime::OptimizeReport r;
    runtime::optimize(g, &r);
    EXPECT_EQ(r.weights_winograd, 2) << "layers a and c on Winograd";
  }
  stress(g, filled({1, 8, 28, 28}, -1, 0.17), 2, 8, 60);
}

// The other nets of the zoo fixtures, for the ops LeNet-5 and mobilenet_v1 do not reach (under
// ./dev tsan, where the whole library is instrumented, each op's kernel is checked for races):
// inverted residuals, squeeze-excitation and hard-swish (mobilenet_v2/v3), channel shuffle and
// grouped convolutions (shufflenet v1/v2), attention, LayerNorm, MatMul and SiLU (mobilevit).
class ConcurrentZooRuns : public ::testing::TestWithParam<const char*> {};

TEST_P(ConcurrentZooRuns, EightThreads) {
  const std::string net = GetParam();
  stress("zoo/" + net + ".mindir", "zoo/" + net + ".input.npy", 2, 8, 20, false);
}

INSTANTIATE_TEST_SUITE_P(MindSpore210, ConcurrentZooRuns,
                         ::testing::Values("mobilenet_v2_035_128", "mobilenet_v3_small_075",
                                           "shufflenet_v1_g3_05", "shufflenet_v2_x0_5",
                                           "mobilevit_xx_small"));

}  // namespace
