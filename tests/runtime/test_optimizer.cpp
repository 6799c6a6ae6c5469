// The load-time graph optimiser (src/runtime/optimizer.h): on real models, the optimised graph
// gives the unoptimised graph's outputs (and MindSpore's) within float rounding, with its
// BatchNorms folded and its convolutions fused; on small hand-made graphs, each pass does what it
// says and refuses what it must (a BatchNorm whose statistics are read, a convolution whose output
// has two readers, a constant too large to fold).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "cellar/cellar.h"
#include "counting_allocator.h"
#include "graph_building.h"
#include "ops/attr.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/op_table.h"
#include "runtime/optimizer.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::census;
using cellar::testing::constant;
using cellar::testing::filled;
using cellar::testing::max_abs;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10";

struct Model {
  std::string file, input, output;
};

class OptimisedModel : public ::testing::TestWithParam<Model> {};

TEST_P(OptimisedModel, SameOutputsFewerNodes) {
  const Model& m = GetParam();
  const ir::Graph g = load((kFixtures / m.file).string());
  const Tensor x = read_npy((kFixtures / m.input).string());
  const Tensor want = read_npy((kFixtures / m.output).string());

  runtime::OptimizeReport report;
  const ir::Graph opt = runtime::optimize(g, &report);
  EXPECT_NO_THROW(opt.validate());
  EXPECT_EQ(report.nodes_before, static_cast<int>(g.nodes.size()));
  EXPECT_EQ(report.nodes_after, static_cast<int>(opt.nodes.size()));
  const auto before = census(g), after = census(opt);
  // Every BatchNorm after a convolution is gone; every convolution followed by a bias or an
  // activation is fused.
  EXPECT_EQ(after.count("BatchNorm") ? after.at("BatchNorm") : 0,
            (before.count("BatchNorm") ? before.at("BatchNorm") : 0) - report.batch_norms_folded);
  if (before.count("Conv2D")) {
    EXPECT_GT(report.convolutions_fused, 0) << m.file;
  }
  EXPECT_LT(opt.nodes.size(), g.nodes.size());

  runtime::Executor plain(g, {.threads = 2, .optimize = false});
  runtime::Executor fast(g, {.threads = 2});
  EXPECT_EQ(fast.graph().nodes.size(), g.nodes.size());  // the user's graph stays as given
  EXPECT_EQ(fast.executed_graph().nodes.size(), opt.nodes.size());
  const Tensor y0 = plain.run(std::vector<Tensor>{x})[0];
  const Tensor y1 = fast.run(std::vector<Tensor>{x})[0];
  const double scale = max_abs(y0);
  EXPECT_LE(cellar::testing::max_abs_diff(y1, y0), 1e-4 * std::max(scale, 1e-30)) << m.file;
  EXPECT_LE(cellar::testing::max_abs_diff(y1, want),
            std::min(1e-4 * std::max(1.0, max_abs(want)), 1e-3 * max_abs(want) + 1e-30))
      << m.file;
}

INSTANTIATE_TEST_SUITE_P(
    MindSpore210, OptimisedModel,
    ::testing::Values(
        Model{"zoo/mobilenet_v1_025.mindir", "zoo/mobilenet_v1_025.input.npy",
              "zoo/mobilenet_v1_025.output.npy"},
        Model{"zoo/mobilenet_v3_small_075.mindir", "zoo/mobilenet_v3_small_075.input.npy",
              "zoo/mobilenet_v3_small_075.output.npy"},
        Model{"zoo/shufflenet_v1_g3_05.mindir", "zoo/shufflenet_v1_g3_05.input.npy",
              "zoo/shufflenet_v1_g3_05.output.npy"},
        Model{"zoo/shufflenet_v2_x0_5.mindir", "zoo/shufflenet_v2_x0_5.input.npy",
              "zoo/shufflenet_v2_x0_5.output.npy"},
        Model{"mindir/lenet5.mindir", "mindir/lenet5.input.npy", "mindir/lenet5.output.npy"}),
    [](const ::testing::TestParamInfo<Model>& p) {
      std::string s = fs::path(p.param.file).stem().string();
      std::replace_if(
          s.begin(), s.end(), [](char c) { return !std::isalnum(c); }, '_');
      return s;
    });

TEST(Optimizer, MobileNetV1FoldsEveryBatchNormAndFusesEveryConvolution) {
  runtime::OptimizeReport r;
  const ir::Graph opt =
      runtime::optimize(load((kFixtures / "zoo/mobilenet_v1_025.mindir").string()), &r);
  EXPECT_EQ(r.batch_norms_folded, 27);
  EXPECT_EQ(r.convolutions_fused, 27);
  const auto ops = census(opt);
  EXPECT_EQ(ops.count("BatchNorm"), 0u);
  EXPECT_EQ(ops.count("ReLU"), 0u);
  EXPECT_EQ(ops.count("Conv2D"), 0u);
  EXPECT_EQ(ops.at("FusedConv2D"), 27);
}

TEST(Optimizer, DynamicBatchGraphRunsAtOtherSizes) {
  const ir::Graph g = load((kFixtures / "dynamic_batch/lenet5.mindir").string());
  runtime::Executor fast(g, {.threads = 2});
  for (int b : {1, 3, 8}) {
    const Tensor x = read_npy(
        (kFixtures / ("dynamic_batch/lenet5.b" + std::to_string(b) + ".input.npy")).string());
    const Tensor want = read_npy(
        (kFixtures / ("dynamic_batch/lenet5.b" + std::to_string(b) + ".output.npy")).string());
    EXPECT_LE(cellar::testing::max_abs_diff(fast.run(std::vector<Tensor>{x})[0], want),
              1e-4 * std::max(1.0, max_abs(want)))
        << "batch " << b;
  }
}

// ---- hand-made graphs ----

// x (1, 2, 5, 5) → Conv2D(w: 3×2×3×3, same) → BiasAdd → BatchNorm → ReLU → out.
struct ConvNet {
  ir::Graph g;
  int conv_out, bn_mean_out;
};

ConvNet conv_net() {
  ConvNet n;
  ir::Graph& g = n.g;
  const int x = g.add_value("x", DType::Float32, Shape{1, 2, 5, 5});
  g.inputs = {x};
  const int w = constant(g, "w", filled({3, 2, 3, 3}, -0.5, 0.08));
  const int b = constant(g, "b", filled({3}, 0.1, 0.1));
  const int gamma = constant(g, "gamma", filled({3}, 0.5, 0.3));
  const int beta = constant(g, "beta", filled({3}, -0.2, 0.15));
  const int mean = constant(g, "mean", filled({3}, 0.05, 0.1));
  const int var = constant(g, "var", filled({3}, 0.5, 0.4));
  n.conv_out = g.add_value("conv", DType::Float32, Shape{1, 3, 5, 5});
  const int biased = g.add_value("biased", DType::Float32, Shape{1, 3, 5, 5});
  const int bn = g.add_value("bn", DType::Float32, Shape{1, 3, 5, 5});
  std::vector<int> stats;
  for (const char* s : {"bn_mean", "bn_var", "bn_saved_mean", "bn_saved_var"})
    stats.push_back(g.add_value(s, DType::Float32, Shape{3}));
  n.bn_mean_out = stats[0];
  const int y = g.add_value("y", DType::Float32, Shape{1, 3, 5, 5});
  g.nodes.push_back({.name = "conv",
                     .op = "Conv2D",
                     .inputs = {x, w},
                     .outputs = {n.conv_out},
                     .attrs = {{"pad_mode", std::string("same")}}});
  g.nodes.push_back(
      {.name = "bias", .op = "BiasAdd", .inputs = {n.conv_out, b}, .outputs = {biased}});
  ir::Node bn_node{.name = "bn",
                   .op = "BatchNorm",
                   .inputs = {biased, gamma, beta, mean, var},
                   .outputs = {bn},
                   .attrs = {{"epsilon", 1e-3}}};
  bn_node.outputs.insert(bn_node.outputs.end(), stats.begin(), stats.end());
  g.nodes.push_back(bn_node);
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {bn}, .outputs = {y}});
  g.outputs = {y};
  return n;
}

std::vector<Tensor> run(const ir::Graph& g, bool optimize, const std::vector<Tensor>& x) {
  runtime::Executor e(g, {.threads = 1, .optimize = optimize});
  return e.run(x);
}

TEST(Optimizer, FoldsBatchNormThroughBiasAddAndFusesTheChain) {
  const ConvNet n = conv_net();
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(n.g, &r);
  EXPECT_EQ(r.batch_norms_folded, 1);
  EXPECT_EQ(r.convolutions_fused, 1);
  ASSERT_EQ(opt.nodes.size(), 1u);
  EXPECT_EQ(opt.nodes[0].op, "FusedConv2D");
  EXPECT_EQ(std::get<std::string>(opt.nodes[0].attrs.at("activation")), "relu");
  // The statistics, the old weight and bias are no longer in the graph.
  EXPECT_EQ(opt.initializers.size(), 2u);
  const std::vector<Tensor> x{filled({1, 2, 5, 5}, -1, 0.17)};
  const Tensor want = run(n.g, false, x)[0], got = run(n.g, true, x)[0];
  EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
  EXPECT_GT(max_abs(want), 0.1);  // the case is not trivially zero
}

TEST(Optimizer, LeavesABatchNormWhoseStatisticsAreRead) {
  ConvNet n = conv_net();
  n.g.outputs.push_back(n.bn_mean_out);
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(n.g, &r);
  EXPECT_EQ(r.batch_norms_folded, 0);
  EXPECT_EQ(census(opt).at("BatchNorm"), 1);
  // Conv2D + BiasAdd still fuse (the BatchNorm reads the fused output).
  EXPECT_EQ(r.convolutions_fused, 1);
  const std::vector<Tensor> x{filled({1, 2, 5, 5}, -1, 0.17)};
  const auto want = run(n.g, false, x), got = run(n.g, true, x);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(cellar::testing::max_abs_diff(got[i], want[i]), 1e-5 * (1 + max_abs(want[i])));
}

TEST(Optimizer, LeavesAConvolutionWhoseOutputHasTwoReaders) {
  ConvNet n = conv_net();
  n.g.outputs.push_back(n.conv_out);  // the raw convolution is wanted too
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(n.g, &r);
  EXPECT_EQ(r.batch_norms_folded, 0);
  EXPECT_EQ(r.convolutions_fused, 0);
  EXPECT_EQ(census(opt).at("Conv2D"), 1);
  const std::vector<Tensor> x{filled({1, 2, 5, 5}, -1, 0.17)};
  const auto want = run(n.g, false, x), got = run(n.g, true, x);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(got[i].equal(want[i])) << i;
}

// x (1, 16, 9, 9) → 1×1 Conv2D (24) → BiasAdd → Mul(·, Sigmoid(·)) (swish as mindcv's EfficientNet
// writes it) → depthwise 3×3 Conv2D → BiasAdd → SiLU → y. `sigmoid_out`: the Sigmoid's value.
struct SwishNet {
  ir::Graph g;
  int sigmoid_out;
};

SwishNet swish_net() {
  SwishNet n;
  ir::Graph& g = n.g;
  const int x = g.add_value("x", DType::Float32, Shape{1, 16, 9, 9});
  g.inputs = {x};
  const int w1 = constant(g, "w1", filled({24, 16, 1, 1}, -0.4, 0.07));
  const int b1 = constant(g, "b1", filled({24}, -0.3, 0.05));
  const int w2 = constant(g, "w2", filled({24, 1, 3, 3}, -0.5, 0.09));
  const int b2 = constant(g, "b2", filled({24}, 0.2, -0.04));
  const Shape s{1, 24, 9, 9};
  const int c1 = g.add_value("c1", DType::Float32, s), v1 = g.add_value("v1", DType::Float32, s);
  n.sigmoid_out = g.add_value("sig", DType::Float32, s);
  const int m1 = g.add_value("m1", DType::Float32, s), c2 = g.add_value("c2", DType::Float32, s);
  const int v2 = g.add_value("v2", DType::Float32, s), y = g.add_value("y", DType::Float32, s);
  g.nodes.push_back({.name = "conv1", .op = "Conv2D", .inputs = {x, w1}, .outputs = {c1}});
  g.nodes.push_back({.name = "bias1", .op = "BiasAdd", .inputs = {c1, b1}, .outputs = {v1}});
  g.nodes.push_back({.name = "sig", .op = "Sigmoid", .inputs = {v1}, .outputs = {n.sigmoid_out}});
  g.nodes.push_back({.name = "mul", .op = "Mul", .inputs = {n.sigmoid_out, v1}, .outputs = {m1}});
  g.nodes.push_back({.name = "conv2",
                     .op = "Conv2D",
                     .inputs = {m1, w2},
                     .outputs = {c2},
                     .attrs = {{"pad_mode", std::string("same")}, {"group", int64_t{24}}}});
  g.nodes.push_back({.name = "bias2", .op = "BiasAdd", .inputs = {c2, b2}, .outputs = {v2}});
  g.nodes.push_back({.name = "silu", .op = "SiLU", .inputs = {v2}, .outputs = {y}});
  g.outputs = {y};
  return n;
}

TEST(Optimizer, FusesSwishAndSiLUIntoTheConvolutions) {
  const SwishNet n = swish_net();
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(n.g, &r);
  EXPECT_EQ(r.convolutions_fused, 2);
  ASSERT_EQ(opt.nodes.size(), 2u);
  EXPECT_EQ(opt.nodes[0].op, "FusedConv2D");
  EXPECT_EQ(std::get<std::string>(opt.nodes[0].attrs.at("activation")), "x_sigmoid");
  EXPECT_EQ(std::get<std::string>(opt.nodes[1].attrs.at("activation")), "silu");
  const std::vector<Tensor> x{filled({1, 16, 9, 9}, -1, 0.17)};
  const Tensor want = run(n.g, false, x)[0], got = run(n.g, true, x)[0];
  EXPECT_GT(max_abs(want), 0.1);
  EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
}

TEST(Optimizer, LeavesASwishWhoseSigmoidIsRead) {
  SwishNet n = swish_net();
  n.g.outputs.push_back(n.sigmoid_out);
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(n.g, &r);
  // Conv2D + BiasAdd still fuse (activation none); the Sigmoid and the Mul stay.
  EXPECT_EQ(census(opt).at("Sigmoid"), 1);
  EXPECT_EQ(census(opt).at("Mul"), 1);
  const std::vector<Tensor> x{filled({1, 16, 9, 9}, -1, 0.17)};
  const auto want = run(n.g, false, x), got = run(n.g, true, x);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(cellar::testing::max_abs_diff(got[i], want[i]), 1e-5 * (1 + max_abs(want[i])));
}

// x (5, 12) → MatMul(w: 9×12, transpose_b) → BiasAdd | Add of b (9) → ReLU → y: a Dense layer.
struct DenseNet {
  ir::Graph g;
  int mm_out;
};

DenseNet dense_net(const std::string& bias_op, bool bias_first = false) {
  DenseNet n;
  ir::Graph& g = n.g;
  const int x = g.add_value("x", DType::Float32, Shape{5, 12});
  g.inputs = {x};
  const int w = constant(g, "w", filled({9, 12}, -0.5, 0.09));
  const int b = constant(g, "b", filled({9}, -0.3, 0.07));
  n.mm_out = g.add_value("mm", DType::Float32, Shape{5, 9});
  const int biased = g.add_value("biased", DType::Float32, Shape{5, 9});
  const int y = g.add_value("y", DType::Float32, Shape{5, 9});
  g.nodes.push_back({.name = "mm",
                     .op = "MatMul",
                     .inputs = {x, w},
                     .outputs = {n.mm_out},
                     .attrs = {{"transpose_a", false}, {"transpose_b", true}}});
  g.nodes.push_back(
      {.name = "bias",
       .op = bias_op,
       .inputs = bias_first ? std::vector<int>{b, n.mm_out} : std::vector<int>{n.mm_out, b},
       .outputs = {biased}});
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {biased}, .outputs = {y}});
  g.outputs = {y};
  return n;
}

// x (n, 16, h, w) → 1×1 Conv2D (96) → BiasAdd → ReLU6 → depthwise 3×3 Conv2D (stride s, pad 1) →
// BiasAdd → ReLU6 → y: an inverted-residual block's expansion and depthwise convolution.
// `expanded`: the ReLU6's value (the depthwise's input).
struct ExpansionNet {
  ir::Graph g;
  int expanded;
};

ExpansionNet expansion_net(int64_t n, int64_t h, int64_t w, int64_t stride) {
  ExpansionNet net;
  ir::Graph& g = net.g;
  const int64_t e = 96, oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
  const int x = g.add_value("x", DType::Float32, Shape{n, 16, h, w});
  g.inputs = {x};
  const int w1 = constant(g, "w1", filled({e, 16, 1, 1}, -0.4, 0.07));
  const int b1 = constant(g, "b1", filled({e}, -0.3, 0.05));
  const int w2 = constant(g, "w2", filled({e, 1, 3, 3}, -0.5, 0.09));
  const int b2 = constant(g, "b2", filled({e}, 0.2, -0.04));
  const Shape s{n, e, h, w}, so{n, e, oh, ow};
  const int c1 = g.add_value("c1", DType::Float32, s), v1 = g.add_value("v1", DType::Float32, s);
  net.expanded = g.add_value("r1", DType::Float32, s);
  const int c2 = g.add_value("c2", DType::Float32, so), v2 = g.add_value("v2", DType::Float32, so);
  const int y = g.add_value("y", DType::Float32, so);
  g.nodes.push_back({.name = "conv1", .op = "Conv2D", .inputs = {x, w1}, .outputs = {c1}});
  g.nodes.push_back({.name = "bias1", .op = "BiasAdd", .inputs = {c1, b1}, .outputs = {v1}});
  g.nodes.push_back({.name = "relu1", .op = "ReLU6", .inputs = {v1}, .outputs = {net.expanded}});
  g.nodes.push_back({.name = "conv2",
                     .op = "Conv2D",
                     .inputs = {net.expanded, w2},
                     .outputs = {c2},
                     .attrs = {{"pad_mode", std::string("pad")},
                               {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                               {"stride", std::vector<int64_t>{stride, stride}},
                               {"group", e}}});
  g.nodes.push_back({.name = "bias2", .op = "BiasAdd", .inputs = {c2, b2}, .outputs = {v2}});
  g.nodes.push_back({.name = "relu2", .op = "ReLU6", .inputs = {v2}, .outputs = {y}});
  g.outputs = {y};
  return net;
}

// The expansion's 96 channels of 57 × 57 (1.19 MiB an image, over the pass's 1 MiB) become one
// FusedPointwiseDepthwise node, whose output has the bits of the two FusedConv2D nodes the same
// graph gets when the expansion is also a graph output (which the pass refuses), at batch 1 and 2
// (the batch run image by image), on one worker and two.
TEST(Optimizer, FusesAnExpansionIntoItsDepthwise) {
  if (!ops::packed_kernels()) GTEST_SKIP() << "no packed kernels on this CPU";
  for (int64_t stride : {1, 2})
    for (int64_t n : {1, 2}) {
      SCOPED_TRACE("stride " + std::to_string(stride) + " batch " + std::to_string(n));
      const ExpansionNet net = expansion_net(n, 57, 57, stride);
      runtime::OptimizeReport r;
      const ir::Graph opt = runtime::optimize(net.g, &r);
      EXPECT_EQ(r.pointwise_depthwise_fused, 1);
      EXPECT_EQ(census(opt).at("FusedPointwiseDepthwise"), 1);
      EXPECT_EQ(census(opt).count("FusedConv2D"), 0u);
      ExpansionNet apart = expansion_net(n, 57, 57, stride);
      apart.g.outputs.push_back(apart.expanded);
      runtime::OptimizeReport ra;
      EXPECT_EQ(census(runtime::optimize(apart.g, &ra)).at("FusedConv2D"), 2);
      EXPECT_EQ(ra.pointwise_depthwise_fused, 0);
      const std::vector<Tensor> x{filled({n, 16, 57, 57}, -1, 0.17)};
      const Tensor want = run(apart.g, true, x)[0];
      EXPECT_GT(max_abs(want), 0.1);
      EXPECT_TRUE(run(net.g, true, x)[0].equal(want));
      runtime::Executor two(net.g, {.threads = 2});
      EXPECT_TRUE(two.run(x)[0].equal(want));
      // The unfused ops themselves, within rounding.
      EXPECT_LE(cellar::testing::max_abs_diff(run(net.g, false, x)[0], want),
                1e-5 * (1 + max_abs(want)));
    }
}

// The pass refuses an expansion another node reads, and one that fits L2 (16 × 16: 96 KiB; the 1
// MiB bound: 28 × 28 layers of 192 to 240 channels stay two nodes).
TEST(Optimizer, LeavesAnExpansionWithAnotherReaderOrASmallOne) {
  ExpansionNet read = expansion_net(1, 57, 57, 1);
  const int sq = read.g.add_value("sq", DType::Float32, Shape{1, 96, 57, 57});
  read.g.nodes.push_back(
      {.name = "sq", .op = "Square", .inputs = {read.expanded}, .outputs = {sq}});
  read.g.outputs.push_back(sq);
  runtime::OptimizeReport r;
  EXPECT_EQ(census(runtime::optimize(read.g, &r)).count("FusedPointwiseDepthwise"), 0u);
  EXPECT_EQ(r.pointwise_depthwise_fused, 0);
  const ExpansionNet small = expansion_net(1, 16, 16, 2);
  runtime::OptimizeReport rs;
  EXPECT_EQ(census(runtime::optimize(small.g, &rs)).count("FusedPointwiseDepthwise"), 0u);
  EXPECT_EQ(rs.convolutions_fused, 2);
}

TEST(Optimizer, FusesMatMulBiasAndReLU) {
  for (const auto& [op, first] : std::vector<std::pair<std::string, bool>>{
           {"BiasAdd", false}, {"Add", false}, {"Add", true}}) {
    SCOPED_TRACE(op + (first ? " bias first" : ""));
    const DenseNet n = dense_net(op, first);
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(n.g, &r);
    EXPECT_EQ(r.matmuls_fused, 1);
    ASSERT_EQ(opt.nodes.size(), 1u);
    EXPECT_EQ(opt.nodes[0].op, "FusedMatMul");
    EXPECT_EQ(opt.nodes[0].inputs.size(), 3u);
    EXPECT_EQ(std::get<std::string>(opt.nodes[0].attrs.at("activation")), "relu");
    const std::vector<Tensor> x{filled({5, 12}, -1, 0.19)};
    const Tensor want = run(n.g, false, x)[0], got = run(n.g, true, x)[0];
    EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
    EXPECT_GT(max_abs(want), 0.1);
    double zeros = 0;  // ReLU cut some outputs: the activation is exercised
    for (int64_t i = 0; i < want.numel(); ++i) zeros += want.data<float>()[i] == 0.0f;
    EXPECT_GT(zeros, 0);
  }
}

// MindSpore's Dense on a rank-3 input: MatMul → BiasAdd → Reshape → GeLU. The product takes in
// the GeLU; the Reshape stays, writing the GeLU's output.
TEST(Optimizer, FusesAGeLUBehindAReshapeOfTheProduct) {
  DenseNet n = dense_net("BiasAdd");
  ir::Graph& g = n.g;
  const int biased = g.nodes[1].outputs[0];
  const int shaped = g.add_value("shaped", DType::Float32, Shape{5, 3, 3});
  const int y = g.add_value("y3", DType::Float32, Shape{5, 3, 3});
  g.nodes[2] = {.name = "reshape",
                .op = "Reshape",
                .inputs = {biased},
                .outputs = {shaped},
                .attrs = {{"shape", std::vector<int64_t>{5, 3, 3}}}};
  g.nodes.push_back({.name = "gelu", .op = "GeLU", .inputs = {shaped}, .outputs = {y}});
  g.outputs = {y};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(g, &r);
  EXPECT_NO_THROW(opt.validate());
  EXPECT_EQ(r.matmuls_fused, 1);
  const auto ops = census(opt);
  EXPECT_EQ(ops.count("GeLU"), 0u);
  EXPECT_EQ(ops.at("FusedMatMul"), 1);
  EXPECT_EQ(ops.at("Reshape"), 1);
  const std::vector<Tensor> x{filled({5, 12}, -1, 0.19)};
  const Tensor want = run(g, false, x)[0], got = run(g, true, x)[0];
  EXPECT_EQ(got.shape(), (Shape{5, 3, 3}));
  EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
  EXPECT_GT(max_abs(want), 0.1);
}

// A constant weight read by at least 8 known rows is packed in column tiles (pass 7), a plain
// MatMul turned into a FusedMatMul for it; one read by fewer rows (batch 1 to 7) stays as it is.
TEST(Optimizer, PacksTheWeightOfAProductOfEightRowsOrMore) {
  for (int64_t rows : {5, 8, 70}) {
    SCOPED_TRACE(rows);
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, Shape{rows, 12});
    g.inputs = {x};
    const int w = constant(g, "w", filled({100, 12}, -0.5, 0.09));
    const int y = g.add_value("y", DType::Float32, Shape{rows, 100});
    g.nodes.push_back({.name = "mm",
                       .op = "MatMul",
                       .inputs = {x, w},
                       .outputs = {y},
                       .attrs = {{"transpose_a", false}, {"transpose_b", true}}});
    g.outputs = {y};
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(g, &r);
    const bool packs = rows >= 8 && ops::packed_kernels();
    EXPECT_EQ(r.operands_packed, packs ? 1 : 0);
    EXPECT_EQ(opt.nodes[0].op, packs ? "FusedMatMul" : "MatMul");
    const std::vector<Tensor> in{filled({rows, 12}, -1, 0.19)};
    const Tensor want = run(g, false, in)[0], got = run(g, true, in)[0];
    EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
  }
}

// A Dense weight (transpose_b) read by 8 rows or more is packed from its transpose in one pass
// (pass 7), not transposed into a copy first (pass 6 leaves it). A weight that is a deferred copy
// of a file's misaligned bytes (as MindIR files put most weights) is read where it lies, not
// copied first: when the optimiser holds it alone, the file's pages it read are given back
// afterwards (a file read into memory then reads zeros there); when the caller's graph holds it
// too, the caller's copy stays to be made (of a mapped file; of a file read into memory, whose
// bytes another holder's copy could zero under the read, it is made first), and its bytes are the
// file's. The product is the unoptimised one's either way.
TEST(Optimizer, PacksADenseWeightFromWhereTheFileHoldsIt) {
  const int64_t rows = 20, n = 96, k = 1100;
  const Tensor w = filled({n, k}, -0.5, 0.09);
  const size_t nbytes = w.nbytes(), at = 1;  // misaligned for float
  std::vector<std::byte> bytes(at + nbytes + 3, std::byte{0x5a});
  std::memcpy(bytes.data() + at, w.raw_data(), nbytes);
  cellar::testing::TempDir dir;
  cellar::testing::write_bytes(dir / "w.bin", bytes);
  const auto net = [&](Tensor weight) {
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, Shape{rows, k});
    g.inputs = {x};
    const int wv = constant(g, "w", std::move(weight));
    const int y = g.add_value("y", DType::Float32, Shape{rows, n});
    g.nodes.push_back({.name = "mm",
                       .op = "MatMul",
                       .inputs = {x, wv},
                       .outputs = {y},
                       .attrs = {{"transpose_a", false}, {"transpose_b", true}}});
    g.outputs = {y};
    return g;
  };
  const std::vector<Tensor> in{filled({rows, k}, -1, 0.19)};
  const Tensor want = run(net(w), false, in)[0];
  for (bool mapped : {true, false}) {
    for (bool caller_keeps : {false, true}) {
      SCOPED_TRACE(std::string(mapped ? "mapped" : "read") +
                   (caller_keeps ? ", caller keeps the graph" : ""));
      auto file = mapped ? MappedFile::open(dir / "w.bin") : MappedFile::read(dir / "w.bin");
      ir::Graph g = net(Tensor(DType::Float32, Shape{n, k},
                               Storage::deferred_copy(file, {{at, nbytes}}, nbytes), 0));
      ASSERT_TRUE(g.initializers[0].data.storage()->is_pending());
      runtime::OptimizeReport r;
      const ir::Graph opt =
          caller_keeps ? runtime::optimize(g, &r) : runtime::optimize(std::move(g), &r);
      EXPECT_NO_THROW(opt.validate());
      EXPECT_EQ(r.operands_transposed, 0);
      EXPECT_EQ(r.operands_packed, ops::packed_kernels() ? 1 : 0);
      runtime::Executor e(opt, {.threads = 1, .optimize = false});
      const Tensor got = e.run(in)[0];
      EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
      if (caller_keeps) {
        const Tensor& kept = g.initializers[0].data;
        EXPECT_EQ(kept.storage()->is_pending(), mapped && ops::packed_kernels());
        ASSERT_EQ(std::memcmp(kept.raw_data(), w.raw_data(), nbytes), 0);
      } else if (!mapped && ops::packed_kernels()) {
        // The pages wholly inside the weight's bytes were given back: zeros in the process's copy.
        const std::byte* p = file->data() + at + 4096;
        for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(p[i], std::byte{0}) << i;
      }
    }
  }
}

// x (batch, k) → MatMul(w1: h×k, transpose_b) → ReLU → MatMul(w2: 10×h, transpose_b) → y: two
// Dense layers (the tutorial MLP's shape, smaller), batch 1 unless said.
ir::Graph one_row_net(int64_t k, int64_t h, int64_t batch = 1) {
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{batch, k});
  g.inputs = {x};
  const int w1 = constant(g, "w1", filled({h, k}, -0.5, 0.09));
  const int w2 = constant(g, "w2", filled({10, h}, -0.3, 0.05));
  const int m1 = g.add_value("m1", DType::Float32, Shape{batch, h});
  const int r1 = g.add_value("r1", DType::Float32, Shape{batch, h});
  const int y = g.add_value("y", DType::Float32, Shape{batch, 10});
  const ir::Attrs tb{{"transpose_a", false}, {"transpose_b", true}};
  g.nodes.push_back(
      {.name = "mm1", .op = "MatMul", .inputs = {x, w1}, .outputs = {m1}, .attrs = tb});
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {m1}, .outputs = {r1}});
  g.nodes.push_back(
      {.name = "mm2", .op = "MatMul", .inputs = {r1, w2}, .outputs = {y}, .attrs = tb});
  g.outputs = {y};
  return g;
}

// The weights of one-row products (batch 1), when they come to 1 MiB or more and the optimiser
// holds them alone, are copied into one block on 2 MiB boundaries (pass 8, huge pages where the
// system gives them); the outputs are those of the weights where they were, bit for bit, at 1 and
// 2 threads. Kept where the caller's graph holds them too, or when they are small.
TEST(Optimizer, GathersOneRowWeightsIntoOneHugePageBlock) {
  const std::vector<Tensor> in{filled({1, 301}, -1, 0.19)};
  const auto weights_of = [](const ir::Graph& g) {
    std::vector<const Tensor*> w;
    for (const auto& n : g.nodes)
      if (n.op == "MatMul" || n.op == "FusedMatMul")
        for (const auto& init : g.initializers)
          if (init.value == n.inputs[1]) w.push_back(&init.data);
    return w;
  };
  const Tensor want = run(one_row_net(301, 1021), false, in)[0];
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    // 1021 × 301 + 10 × 1021 floats: 1.2 MiB, the optimiser's alone.
    runtime::Executor e(one_row_net(301, 1021), {.threads = threads, .keep_graph = false});
    const auto w = weights_of(e.executed_graph());
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0]->storage(), w[1]->storage());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w[0]->storage()->data()) % (size_t{2} << 20), 0u);
    EXPECT_EQ(w[0]->shape(), (Shape{1021, 301}));
    EXPECT_EQ(w[1]->shape(), (Shape{10, 1021}));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(cellar::testing::max_abs_diff(e.run(in)[0], want), 0.0);
  }
  {
    // The caller keeps its graph: its weights are used where they are.
    const ir::Graph g = one_row_net(301, 1021);
    runtime::Executor e(g, {.threads = 1});
    const auto w = weights_of(e.executed_graph());
    ASSERT_EQ(w.size(), 2u);
    EXPECT_NE(w[0]->storage(), w[1]->storage());
    EXPECT_EQ(cellar::testing::max_abs_diff(e.run(in)[0], want), 0.0);
  }
  {
    // w1 read by a Gather too (tied embeddings): left where it is (a copy would hold it twice),
    // and with it the rest (w2 alone is under 1 MiB).
    ir::Graph g = one_row_net(301, 1021);
    const int w1 = g.nodes[0].inputs[1];
    const int ids = g.add_value("ids", DType::Int32, Shape{3});
    const int z = g.add_value("z", DType::Float32, Shape{3, 301});
    g.inputs.push_back(ids);
    g.nodes.push_back({.name = "gather",
                       .op = "Gather",
                       .inputs = {w1, ids},
                       .outputs = {z},
                       .attrs = {{"axis", int64_t{0}}, {"batch_dims", int64_t{0}}}});
    g.outputs.push_back(z);
    runtime::Executor e(std::move(g), {.threads = 1, .keep_graph = false});
    const auto w = weights_of(e.executed_graph());
    ASSERT_EQ(w.size(), 2u);
    EXPECT_NE(w[0]->storage(), w[1]->storage());
    Tensor rows(DType::Int32, Shape{3});
    rows.data<int32_t>()[0] = 0;
    rows.data<int32_t>()[1] = 7;
    rows.data<int32_t>()[2] = 1020;
    const auto out = e.run(std::vector<Tensor>{in[0], rows});
    EXPECT_EQ(cellar::testing::max_abs_diff(out[0], want), 0.0);
    EXPECT_EQ(out[1].data<float>()[301 + 5],
              filled({1021, 301}, -0.5, 0.09).data<float>()[7 * 301 + 5]);
  }
  {
    // 0.2 MiB: stays in L2 between runs, left where it is.
    runtime::Executor e(one_row_net(301, 150), {.threads = 1, .keep_graph = false});
    const auto w = weights_of(e.executed_graph());
    ASSERT_EQ(w.size(), 2u);
    EXPECT_NE(w[0]->storage(), w[1]->storage());
  }
}

// The products whose weights pass 8 gathers, with their rows interleaved where the CPU has the
// one-row kernels (AVX2, AVX-512): FusedMatMul nodes with rows_interleaved (the first with the
// ReLU fused, the second a MatMul made one), the outputs those of the unoptimised graph bit for
// bit at 1 and 2 threads, and no allocation per run. Not where the weights stay as given: the
// caller keeps its graph, a batch of 2 (pass 7 packs them), no SIMD set (the weights gathered as
// they are, for BLAS).
TEST(Optimizer, InterleavesTheRowsOfOneRowWeightsItGathers) {
  const auto interleaved = [](const ir::Graph& g) {
    int count = 0;
    for (const auto& n : g.nodes)
      if (n.op == "FusedMatMul" && ops::attr_bool(n.attrs, n.op, "rows_interleaved", false))
        ++count;
    return count;
  };
  const std::vector<Tensor> in{filled({1, 301}, -1, 0.19)};
  const Tensor want = run(one_row_net(301, 1021), false, in)[0];
  {
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(one_row_net(301, 1021), &r);
    EXPECT_NO_THROW(opt.validate());
    const int expected = ops::packed_kernels() ? 2 : 0;
    EXPECT_EQ(r.rows_interleaved, expected);
    EXPECT_EQ(interleaved(opt), expected);
  }
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    runtime::Executor e(one_row_net(301, 1021), {.threads = threads, .keep_graph = false});
    EXPECT_EQ(interleaved(e.executed_graph()), ops::packed_kernels() ? 2 : 0);
    std::vector<Tensor> y = e.make_outputs();
    e.run(in, y);  // warm
    EXPECT_EQ(cellar::testing::max_abs_diff(y[0], want), 0.0);
    const size_t before = cellar::testing::allocations();
    for (int i = 0; i < 3; ++i) e.run(in, y);
    EXPECT_EQ(cellar::testing::allocations() - before, 0u);
    EXPECT_EQ(cellar::testing::max_abs_diff(y[0], want), 0.0);
  }
  {
    const ir::Graph g = one_row_net(301, 1021);
    runtime::OptimizeReport r;
    EXPECT_EQ(interleaved(runtime::optimize(g, &r)), 0) << "the caller's graph keeps its weights";
    EXPECT_EQ(r.rows_interleaved, 0);
  }
  {
    const std::vector<Tensor> in2{filled({2, 301}, -1, 0.19)};
    const Tensor want2 = run(one_row_net(301, 1021, 2), false, in2)[0];
    runtime::Executor e(one_row_net(301, 1021, 2), {.threads = 1, .keep_graph = false});
    EXPECT_EQ(interleaved(e.executed_graph()), 0) << "batch 2";
    EXPECT_LE(cellar::testing::max_abs_diff(e.run(in2)[0], want2), 1e-5 * (1 + max_abs(want2)));
  }
  {
    const ops::Isa previous = ops::force_isa(ops::Isa::kNone);
    const Tensor want_none = run(one_row_net(301, 1021), false, in)[0];
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(one_row_net(301, 1021), &r);
    runtime::Executor e(one_row_net(301, 1021), {.threads = 1, .keep_graph = false});
    const Tensor got = e.run(in)[0];
    ops::force_isa(previous);
    EXPECT_EQ(r.rows_interleaved, 0);
    EXPECT_EQ(interleaved(opt), 0) << "no SIMD set";
    EXPECT_EQ(cellar::testing::max_abs_diff(got, want_none), 0.0);
  }
}

// x (n, c, h, w) → Conv2D(o × c × 3 × 3, pad 1, stride s) → BiasAdd → ReLU → out.
ir::Graph conv3x3_net(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t stride = 1) {
  ir::Graph g;
  const int64_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
  const int x = g.add_value("x", DType::Float32, Shape{n, c, h, w});
  g.inputs = {x};
  const int wt = constant(g, "w", filled({o, c, 3, 3}, -0.3, 0.05));
  const int b = constant(g, "b", filled({o}, -0.2, 0.03));
  const int conv = g.add_value("conv", DType::Float32, Shape{n, o, oh, ow});
  const int biased = g.add_value("biased", DType::Float32, Shape{n, o, oh, ow});
  const int y = g.add_value("y", DType::Float32, Shape{n, o, oh, ow});
  g.nodes.push_back({.name = "conv",
                     .op = "Conv2D",
                     .inputs = {x, wt},
                     .outputs = {conv},
                     .attrs = {{"pad_mode", std::string("pad")},
                               {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                               {"stride", std::vector<int64_t>{1, 1, stride, stride}}}});
  g.nodes.push_back({.name = "bias", .op = "BiasAdd", .inputs = {conv, b}, .outputs = {biased}});
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {biased}, .outputs = {y}});
  g.outputs = {y};
  return g;
}

TEST(Optimizer, GivesTheWinogradKernelItsWeightWhereItPaysOnAvx512) {
  if (!ops::cpu_has(ops::Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  struct Case {
    const char* label;
    int64_t n, c, h, w, o, stride;
    bool winograd;
  };
  const Case cases[] = {
      {"14x14: one chunk, the weight packed", 1, 8, 14, 14, 16, 1, true},
      {"batch 3, odd plane: 72 tiles, the weight transformed", 3, 5, 15, 17, 8, 1, true},
      {"28x28", 2, 16, 28, 28, 8, 1, true},
      {"12x12: conv_taps", 1, 8, 12, 12, 16, 1, false},
      {"12 output channels", 1, 8, 14, 14, 12, 1, false},
      {"stride 2", 1, 8, 28, 28, 16, 2, false},
  };
  for (ops::Isa isa : {ops::Isa::kAvx512, ops::Isa::kAvx2})
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.label) + " " + ops::isa_name(isa));
      const ops::Isa previous = ops::force_isa(isa);
      const ir::Graph g = conv3x3_net(c.n, c.c, c.h, c.w, c.o, c.stride);
      const bool winograd = c.winograd && isa == ops::Isa::kAvx512;
      // Planes of one chunk of 49 tiles keep the packed weight, transformed by the kernel.
      const bool per_run = winograd && (c.h + 1) / 2 * ((c.w + 1) / 2) <= 49;
      const bool transformed = winograd && !per_run;
      runtime::OptimizeReport r;
      const ir::Graph opt = runtime::optimize(g, &r);
      EXPECT_NO_THROW(opt.validate());
      EXPECT_EQ(r.weights_winograd, winograd ? 1 : 0);
      EXPECT_EQ(r.weights_packed, transformed ? 0 : 1);
      ASSERT_EQ(opt.nodes.size(), 1u);
      EXPECT_EQ(ops::attr_bool(opt.nodes[0].attrs, "FusedConv2D", "winograd_weight", false),
                transformed);
      EXPECT_EQ(ops::attr_bool(opt.nodes[0].attrs, "FusedConv2D", "winograd", false), per_run);
      // The weight it supersedes is gone: the transformed weight and the bias are all there is.
      ASSERT_EQ(opt.initializers.size(), 2u);
      for (const auto& init : opt.initializers) {
        if (init.data.rank() == 4) {
          EXPECT_EQ(init.data.shape(), (Shape{c.o, c.c, transformed ? 4 : 3, transformed ? 4 : 3}));
        }
      }
      const std::vector<Tensor> x{filled({c.n, c.c, c.h, c.w}, -1, 0.17)};
      const Tensor want = run(g, false, x)[0];
      for (int threads : {1, 2}) {
        runtime::Executor e(g, {.threads = threads, .keep_graph = false});
        std::vector<Tensor> y = e.make_outputs();
        e.run(x, y);  // warm
        EXPECT_LE(cellar::testing::max_abs_diff(y[0], want), 1e-5 * (1 + max_abs(want)));
        const size_t before = cellar::testing::allocations();
        for (int i = 0; i < 3; ++i) e.run(x, y);
        EXPECT_EQ(cellar::testing::allocations() - before, 0u) << threads << " threads";
        EXPECT_LE(cellar::testing::max_abs_diff(y[0], want), 1e-5 * (1 + max_abs(want)));
      }
      EXPECT_GT(max_abs(want), 0.1);
      ops::force_isa(previous);
    }
}

TEST(Optimizer, LeavesAMatMulWhoseOutputHasTwoReadersAndABiasThatBroadcastsTheOtherWay) {
  DenseNet n = dense_net("BiasAdd");
  n.g.outputs.push_back(n.mm_out);
  runtime::OptimizeReport r;
  runtime::optimize(n.g, &r);
  EXPECT_EQ(r.matmuls_fused, 0);
  // An Add whose other operand is not a [n] vector (here the product itself) is no bias.
  DenseNet sq = dense_net("Add");
  sq.g.nodes[1].inputs = {sq.mm_out, sq.mm_out};
  runtime::optimize(sq.g, &r);
  EXPECT_EQ(r.matmuls_fused, 0);
  const std::vector<Tensor> x{filled({5, 12}, -1, 0.19)};
  const auto want = run(n.g, false, x), got = run(n.g, true, x);
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(cellar::testing::max_abs_diff(got[i], want[i]), 1e-5 * (1 + max_abs(want[i]))) << i;
}

TEST(Optimizer, FoldsConstantsAndBypassesIdentities) {
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{2, 3});
  g.inputs = {x};
  const int a = constant(g, "a", filled({2, 3}, 1, 0.5));
  const int b = constant(g, "b", filled({2, 3}, -2, 0.25));
  const int ab = g.add_value("ab", DType::Float32, Shape{2, 3});
  const int same = g.add_value("same", DType::Float32, Shape{2, 3});
  const int y = g.add_value("y", DType::Float32, Shape{2, 3});
  g.nodes.push_back({.name = "mul", .op = "Mul", .inputs = {a, b}, .outputs = {ab}});
  g.nodes.push_back({.name = "reshape",
                     .op = "Reshape",
                     .inputs = {x},
                     .outputs = {same},
                     .attrs = {{"shape", std::vector<int64_t>{2, 3}}}});
  g.nodes.push_back({.name = "add", .op = "Add", .inputs = {same, ab}, .outputs = {y}});
  g.outputs = {y};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(g, &r);
  EXPECT_EQ(r.constants_folded, 1);
  EXPECT_EQ(r.identities_removed, 1);
  ASSERT_EQ(opt.nodes.size(), 1u);
  EXPECT_EQ(opt.nodes[0].op, "Add");
  const std::vector<Tensor> in{filled({2, 3}, 0.3, -0.7)};
  EXPECT_TRUE(run(g, true, in)[0].equal(run(g, false, in)[0]));
}

TEST(Optimizer, LeavesLargeConstantsAsNodes) {
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{1});
  g.inputs = {x};
  const int c = constant(g, "c", filled({1, 1}, 1, 0));
  const int64_t side = 4096;  // 64 MiB of float32: over kMaxFoldedBytes
  const int big = g.add_value("big", DType::Float32, Shape{side, side});
  const int y = g.add_value("y", DType::Float32, Shape{side, side});
  g.nodes.push_back({.name = "tile",
                     .op = "Tile",
                     .inputs = {c},
                     .outputs = {big},
                     .attrs = {{"multiples", std::vector<int64_t>{side, side}}}});
  g.nodes.push_back({.name = "add", .op = "Add", .inputs = {big, x}, .outputs = {y}});
  g.outputs = {y};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(g, &r);
  EXPECT_EQ(r.constants_folded, 0);
  EXPECT_EQ(opt.nodes.size(), 2u);
}

// Folding runs a kernel at load time: a product of constants whose arithmetic passes
// ops::kMaxFoldWork stays a node (a few kilobytes of hostile file must not make a load take
// hours), while a small one folds; both give the same answers.
TEST(Optimizer, LeavesCostlyProductsOfConstantsAsNodes) {
  for (const int64_t k : {int64_t{64}, int64_t{8192}}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, Shape{256, 256});
    g.inputs = {x};
    const int a = constant(g, "a", filled({256, k}, 0.001, 0.0001));
    const int b = constant(g, "b", filled({k, 256}, 0.002, -0.0001));
    const int ab = g.add_value("ab", DType::Float32, Shape{256, 256});
    const int y = g.add_value("y", DType::Float32, Shape{256, 256});
    g.nodes.push_back({.name = "mm", .op = "MatMul", .inputs = {a, b}, .outputs = {ab}});
    g.nodes.push_back({.name = "add", .op = "Add", .inputs = {ab, x}, .outputs = {y}});
    g.outputs = {y};
    // 256 × 256 outputs × k: 2^22 multiply-adds at k = 64, 2^29 at k = 8192.
    const std::vector<ops::TensorType> in{{DType::Float32, Shape{256, k}},
                                          {DType::Float32, Shape{k, 256}}};
    const std::vector<ops::TensorType> out{{DType::Float32, Shape{256, 256}}};
    const double work = ops::node_work(*ops::op_table().find("MatMul"), in, out, {});
    EXPECT_GE(work, 256.0 * 256.0 * static_cast<double>(k));
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(g, &r);
    const bool costly = k == 8192;
    EXPECT_EQ(work > ops::kMaxFoldWork, costly);
    EXPECT_EQ(r.constants_folded, costly ? 0 : 1);
    EXPECT_EQ(opt.nodes.size(), costly ? 2u : 1u);
    const std::vector<Tensor> xs{filled({256, 256}, 0.3, -0.7)};
    EXPECT_LE(cellar::testing::max_abs_diff(run(g, true, xs)[0], run(g, false, xs)[0]), 1e-3);
  }
}

}  // namespace

// A Reshape (Flatten, ExpandDims, Squeeze, Identity) of a value read last by it takes over the
// value's arena bytes: x → ReLU → a → Reshape → b → ReLU → y plans x, a (b in a's bytes) and y
// in x's freed block, two blocks instead of three; the Reshape copies nothing and the answers
// are the unaliased ones. A Reshape whose input is read again (here by a second output) keeps
// its own block.
TEST(Executor, AReshapeOfADeadValueSharesItsBytes) {
  auto net = [](bool input_read_again) {
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, Shape{4, 256});
    g.inputs = {x};
    const int a = g.add_value("a", DType::Float32, Shape{4, 256});
    const int b = g.add_value("b", DType::Float32, Shape{1024});
    const int y = g.add_value("y", DType::Float32, Shape{1024});
    g.nodes.push_back({.name = "relu1", .op = "ReLU", .inputs = {x}, .outputs = {a}});
    g.nodes.push_back({.name = "reshape",
                       .op = "Reshape",
                       .inputs = {a},
                       .outputs = {b},
                       .attrs = {{"shape", std::vector<int64_t>{1024}}}});
    g.nodes.push_back({.name = "neg", .op = "Neg", .inputs = {b}, .outputs = {y}});
    g.outputs = {y};
    if (input_read_again) g.outputs.push_back(a);
    return g;
  };
  const std::vector<Tensor> x{filled({4, 256}, -1, 0.19)};
  runtime::Executor shared(net(false), {.threads = 1, .optimize = false});
  EXPECT_EQ(shared.arena_bytes(), 2 * 4096u);
  const Tensor y = shared.run(x)[0];
  for (int64_t i = 0; i < y.numel(); ++i)
    ASSERT_EQ(y.data<float>()[i], -std::max(x[0].data<float>()[i], 0.0f)) << i;
  EXPECT_TRUE(shared.run(x)[0].equal(y));  // run after run
  runtime::Executor kept(net(true), {.threads = 1, .optimize = false});
  EXPECT_EQ(kept.arena_bytes(), 3 * 4096u);
  const auto both = kept.run(x);
  EXPECT_TRUE(both[0].equal(y));
  for (int64_t i = 0; i < both[1].numel(); ++i)
    ASSERT_EQ(both[1].data<float>()[i], std::max(x[0].data<float>()[i], 0.0f)) << i;
}
