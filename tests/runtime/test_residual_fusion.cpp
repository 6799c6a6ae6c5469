// The optimiser's residual fusion (src/runtime/optimizer.h, pass 4c): a ResNet block's
// Add(conv, shortcut) [→ ReLU] becomes the convolution's residual input. On hand-made blocks: it
// fuses, with the same bits as the unfused Add and ReLU; and it refuses each case where that
// would change the values or their readers (the convolution's output read elsewhere or a graph
// output, a broadcasting or otherwise mismatched residual, an activation inside the convolution,
// Add(c, c)), or takes the Add without a ReLU that has other readers. On a traced ResNet-18: every
// block fused, the outputs within 1e-4 of the unoptimised graph's, the same bits run after run,
// and no heap allocation per run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "cellar/models/resnet.h"
#include "counting_allocator.h"
#include "graph_building.h"
#include "runtime/optimizer.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::census;
using cellar::testing::constant;
using cellar::testing::filled;
using cellar::testing::max_abs;

namespace {

int count(const ir::Graph& g, const std::string& op) {
  const auto c = census(g);
  return c.count(op) ? c.at(op) : 0;
}

// A ResNet basic block, hand-made: x (1, C, H, W) → conv1 3×3 → BiasAdd → ReLU → conv2 3×3 →
// BiasAdd → Add(·, shortcut) → ReLU → y, the shortcut x itself or (with `downsample`) a 1×1
// stride-2 conv + BiasAdd of x (conv1 then stride 2 too). The values a test rewires are kept.
struct Block {
  ir::Graph g;
  int x, conv2_out, biased2, shortcut, sum, y;
  size_t add_node, relu_node;
};

Block block(int64_t c = 8, int64_t h = 10, bool downsample = false, DType dt = DType::Float32) {
  Block b;
  ir::Graph& g = b.g;
  const int64_t o = downsample ? 2 * c : c, s = downsample ? 2 : 1;
  const int64_t oh = (h - 1) / s + 1;
  const Shape xs{1, c, h, h}, ys{1, o, oh, oh};
  b.x = g.add_value("x", dt, xs);
  g.inputs = {b.x};
  const int w1 = constant(g, "w1", filled({o, c, 3, 3}, -0.3, 0.05, dt));
  const int b1 = constant(g, "b1", filled({o}, -0.1, 0.04, dt));
  const int w2 = constant(g, "w2", filled({o, o, 3, 3}, -0.25, 0.04, dt));
  const int b2 = constant(g, "b2", filled({o}, 0.2, -0.03, dt));
  auto value = [&](const char* name) { return g.add_value(name, dt, ys); };
  const int c1 = value("c1"), v1 = value("v1"), r1 = value("r1");
  b.conv2_out = value("c2");
  b.biased2 = value("v2");
  b.sum = value("sum");
  b.y = value("y");
  const ir::Attrs pad1 = {{"pad_mode", std::string("pad")},
                          {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                          {"stride", std::vector<int64_t>{1, 1, s, s}}};
  g.nodes.push_back(
      {.name = "conv1", .op = "Conv2D", .inputs = {b.x, w1}, .outputs = {c1}, .attrs = pad1});
  g.nodes.push_back({.name = "bias1", .op = "BiasAdd", .inputs = {c1, b1}, .outputs = {v1}});
  g.nodes.push_back({.name = "relu1", .op = "ReLU", .inputs = {v1}, .outputs = {r1}});
  g.nodes.push_back({.name = "conv2",
                     .op = "Conv2D",
                     .inputs = {r1, w2},
                     .outputs = {b.conv2_out},
                     .attrs = {{"pad_mode", std::string("same")}}});
  g.nodes.push_back(
      {.name = "bias2", .op = "BiasAdd", .inputs = {b.conv2_out, b2}, .outputs = {b.biased2}});
  b.shortcut = b.x;
  if (downsample) {
    const int wd = constant(g, "wd", filled({o, c, 1, 1}, -0.4, 0.07, dt));
    const int bd = constant(g, "bd", filled({o}, 0.05, 0.02, dt));
    const int cd = value("cd");
    b.shortcut = value("vd");
    g.nodes.push_back({.name = "down",
                       .op = "Conv2D",
                       .inputs = {b.x, wd},
                       .outputs = {cd},
                       .attrs = {{"stride", std::vector<int64_t>{1, 1, 2, 2}}}});
    g.nodes.push_back(
        {.name = "down_bias", .op = "BiasAdd", .inputs = {cd, bd}, .outputs = {b.shortcut}});
  }
  b.add_node = g.nodes.size();
  g.nodes.push_back(
      {.name = "add", .op = "Add", .inputs = {b.biased2, b.shortcut}, .outputs = {b.sum}});
  b.relu_node = g.nodes.size();
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {b.sum}, .outputs = {b.y}});
  g.outputs = {b.y};
  return b;
}

std::vector<Tensor> run(const ir::Graph& g, bool optimize, const std::vector<Tensor>& x,
                        int threads = 1) {
  runtime::Executor e(g, {.threads = threads, .optimize = optimize});
  return e.run(x);
}

Tensor block_input(const Block& b) {
  const auto& xi = b.g.value(b.x);
  return filled(xi.shape, -1, 0.17, xi.dtype);
}

// b's graph run as given and optimised, on block_input: `outputs` outputs, each the optimised
// run's within 1e-5 of the unoptimised one's.
void expect_optimised_as_given(const Block& b, size_t outputs = 1) {
  const std::vector<Tensor> x{block_input(b)};
  const auto want = run(b.g, false, x), got = run(b.g, true, x);
  ASSERT_EQ(got.size(), outputs);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(cellar::testing::max_abs_diff(got[i], want[i]), 1e-5 * (1 + max_abs(want[i])));
}

// The fused node: the one FusedConv2D reading a residual.
const ir::Node* residual_node(const ir::Graph& g) {
  for (const auto& n : g.nodes)
    if (n.op == "FusedConv2D" && n.attrs.count("residual") &&
        std::get<bool>(n.attrs.at("residual")))
      return &n;
  return nullptr;
}

TEST(ResidualFusion, FoldsAddAndReLUIntoTheLastConvolution) {
  for (bool downsample : {false, true}) {
    SCOPED_TRACE(downsample ? "downsample shortcut" : "identity shortcut");
    const Block b = block(8, 10, downsample);
    runtime::OptimizeReport r;
    const ir::Graph opt = runtime::optimize(b.g, &r);
    EXPECT_NO_THROW(opt.validate());
    EXPECT_EQ(r.residuals_fused, 1);
    EXPECT_EQ(count(opt, "Add"), 0);
    EXPECT_EQ(count(opt, "ReLU"), 0);
    EXPECT_EQ(count(opt, "FusedConv2D"), downsample ? 3 : 2);
    const ir::Node* fused = residual_node(opt);
    ASSERT_NE(fused, nullptr);
    EXPECT_EQ(std::get<std::string>(fused->attrs.at("activation")), "relu");
    ASSERT_EQ(fused->inputs.size(), 4u);  // x, w, bias, residual
    EXPECT_EQ(opt.value(fused->inputs[3]).name, downsample ? "vd" : "x");
    EXPECT_EQ(opt.value(fused->outputs[0]).name, "y");
    const std::vector<Tensor> x{block_input(b)};
    const Tensor want = run(b.g, false, x)[0];
    EXPECT_GT(max_abs(want), 0.1);
    for (int threads : {1, 2}) {
      const Tensor got = run(b.g, true, x, threads)[0];
      EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
    }
  }
}

// Bit for bit: the fused block against the same optimised graph with the fusion refused (the
// convolution's output also a graph output: the Add and ReLU then run as ops after the same
// convolution kernel), on every shortcut and on one and two threads.
TEST(ResidualFusion, SameBitsAsTheUnfusedAddAndReLU) {
  for (bool downsample : {false, true})
    for (DType dt : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(std::string(downsample ? "downsample" : "identity") +
                   (dt == DType::Float64 ? " f64" : " f32"));
      const Block fused = block(16, 14, downsample, dt);
      Block unfused = block(16, 14, downsample, dt);
      // Both of the Add's inputs graph outputs too (a downsample shortcut is a convolution's
      // output the Add could fold into as well).
      unfused.g.outputs.push_back(unfused.biased2);
      if (downsample) unfused.g.outputs.push_back(unfused.shortcut);
      runtime::OptimizeReport r;
      runtime::optimize(unfused.g, &r);
      EXPECT_EQ(r.residuals_fused, 0);
      const std::vector<Tensor> x{block_input(fused)};
      for (int threads : {1, 2}) {
        const Tensor a = run(fused.g, true, x, threads)[0];
        const Tensor b = run(unfused.g, true, x, threads)[0];
        EXPECT_TRUE(a.equal(b)) << threads << " threads: max diff "
                                << cellar::testing::max_abs_diff(a, b);
      }
    }
}

// MindSpore 2.10 writes every residual add of a mindcv model as AddExt(a, b; alpha = 1) (mint.add,
// `x += y`): fused when alpha is 1 (a + 1·b is a + b to the bit), refused otherwise.
TEST(ResidualFusion, FoldsAddExtWithAlphaOneOnly) {
  for (double alpha : {1.0, 2.0})
    for (bool as_int : {true, false}) {
      SCOPED_TRACE("alpha " + std::to_string(alpha) + (as_int ? " (int)" : " (float)"));
      Block b = block(8, 10, true);
      ir::Node& add = b.g.nodes[b.add_node];
      add.op = "AddExt";
      if (as_int)
        add.attrs["alpha"] = static_cast<int64_t>(alpha);
      else
        add.attrs["alpha"] = alpha;
      runtime::OptimizeReport r;
      const ir::Graph opt = runtime::optimize(b.g, &r);
      EXPECT_EQ(r.residuals_fused, alpha == 1.0 ? 1 : 0);
      EXPECT_EQ(count(opt, "AddExt"), alpha == 1.0 ? 0 : 1);
      const std::vector<Tensor> x{block_input(b)};
      const Tensor want = run(b.g, false, x)[0], got = run(b.g, true, x)[0];
      EXPECT_GT(max_abs(want), 0.1);
      EXPECT_LE(cellar::testing::max_abs_diff(got, want), 1e-5 * (1 + max_abs(want)));
    }
}

TEST(ResidualFusion, RefusesAConvolutionOutputThatIsAGraphOutput) {
  Block b = block();
  b.g.outputs.push_back(b.biased2);
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
  EXPECT_EQ(count(opt, "Add"), 1);
  EXPECT_EQ(count(opt, "ReLU"), 1);
  expect_optimised_as_given(b, 2);
}

TEST(ResidualFusion, RefusesAConvolutionOutputWithAnotherReader) {
  Block b = block();
  // The block's convolution output is also scaled and returned.
  const int doubled = b.g.add_value("doubled", DType::Float32, b.g.value(b.biased2).shape);
  b.g.nodes.push_back(
      {.name = "twice", .op = "Add", .inputs = {b.biased2, b.biased2}, .outputs = {doubled}});
  b.g.outputs.push_back(doubled);
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  // Neither Add folds: the convolution's output has two readers (and Add(c, c) is 2c).
  EXPECT_EQ(r.residuals_fused, 0);
  EXPECT_EQ(count(opt, "Add"), 2);
  expect_optimised_as_given(b, 2);
}

TEST(ResidualFusion, RefusesAddOfTheConvolutionToItself) {
  Block b = block();
  b.g.nodes[b.add_node].inputs = {b.biased2, b.biased2};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
  EXPECT_EQ(count(opt, "Add"), 1);
  expect_optimised_as_given(b);
}

TEST(ResidualFusion, RefusesABroadcastingResidual) {
  Block b = block();
  // The shortcut a per-channel (1, C, 1, 1) tensor: the Add broadcasts it.
  const int per_channel = constant(b.g, "per_channel", filled({1, 8, 1, 1}, -0.5, 0.1));
  b.g.nodes[b.add_node].inputs = {b.biased2, per_channel};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
  EXPECT_EQ(count(opt, "Add"), 1);
  expect_optimised_as_given(b);
  // The other way round too: the convolution's output broadcast against a larger tensor (its
  // shape is not the Add's).
  Block c = block();
  const int big = c.g.add_value("big", DType::Float32, Shape{2, 8, 10, 10});
  const int wide = c.g.add_value("wide", DType::Float32, Shape{2, 8, 10, 10});
  c.g.inputs.push_back(big);
  c.g.nodes[c.add_node].inputs = {c.biased2, big};
  c.g.nodes[c.add_node].outputs = {wide};
  c.g.nodes[c.relu_node].inputs = {wide};
  c.g.values[static_cast<size_t>(c.y)].shape = Shape{2, 8, 10, 10};
  runtime::optimize(c.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
}

TEST(ResidualFusion, RefusesAResidualOfAnotherDtype) {
  // Value types as a graph may declare them (the Add row itself refuses mixed dtypes when it
  // runs): the pass checks them rather than trust the Add.
  Block b = block();
  b.g.values[static_cast<size_t>(b.x)].dtype = DType::Float64;
  runtime::OptimizeReport r;
  runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
}

TEST(ResidualFusion, RefusesAConvolutionWithItsOwnActivation) {
  // conv2 → BiasAdd → ReLU6 → Add(·, x) → ReLU: relu(relu6(conv) + x) is not relu(conv + x) under
  // any one activation, so conv2 keeps its ReLU6 and the Add and ReLU stay ops.
  Block b = block();
  const int clipped = b.g.add_value("clipped", DType::Float32, b.g.value(b.biased2).shape);
  b.g.nodes.insert(b.g.nodes.begin() + static_cast<std::ptrdiff_t>(b.add_node),
                   {.name = "relu6", .op = "ReLU6", .inputs = {b.biased2}, .outputs = {clipped}});
  b.g.nodes[b.add_node + 1].inputs = {clipped, b.x};
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 0);
  EXPECT_EQ(count(opt, "Add"), 1);
  EXPECT_EQ(count(opt, "ReLU"), 1);
  EXPECT_EQ(residual_node(opt), nullptr);
  expect_optimised_as_given(b);
}

TEST(ResidualFusion, TakesTheAddAloneWhenItsSumHasOtherReaders) {
  // The Add's output is also a graph output: the Add folds (activation none), the ReLU stays.
  Block b = block();
  b.g.outputs.push_back(b.sum);
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(b.g, &r);
  EXPECT_EQ(r.residuals_fused, 1);
  EXPECT_EQ(count(opt, "Add"), 0);
  EXPECT_EQ(count(opt, "ReLU"), 1);
  const ir::Node* fused = residual_node(opt);
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(std::get<std::string>(fused->attrs.at("activation")), "none");
  EXPECT_EQ(opt.value(fused->outputs[0]).name, "sum");
  expect_optimised_as_given(b, 2);
}

TEST(ResidualFusion, ExportedFilesAreTheGraphAsGiven) {
  // The fusion is a load-time rewrite: the executor's graph() (what export writes) keeps its Add
  // and ReLU, and a file written from it loads and runs to the same outputs.
  const Block b = block(8, 10, true);
  runtime::Executor e(b.g, {.threads = 1});
  EXPECT_EQ(count(e.graph(), "Add"), 1);
  EXPECT_EQ(count(e.executed_graph(), "Add"), 0);
  cellar::testing::TempDir dir;
  for (FileFormat f : {FileFormat::MINDIR, FileFormat::ONNX}) {
    const auto file =
        export_graph(e.graph(), (dir / (f == FileFormat::MINDIR ? "block" : "block_onnx")).string(),
                     f, ExportOptions{});
    const ir::Graph back = load(file.string());
    EXPECT_EQ(count(back, "FusedConv2D"), 0);
    EXPECT_EQ(count(back, "ReLU"), 2);
    // (ONNX writes each BiasAdd as an Add too.)
    if (f == FileFormat::MINDIR) {
      EXPECT_EQ(count(back, "Add"), 1);
    }
    const std::vector<Tensor> x{block_input(b)};
    const Tensor want = e.run(x)[0];
    EXPECT_LE(cellar::testing::max_abs_diff(run(back, true, x)[0], want),
              1e-5 * (1 + max_abs(want)));
  }
}

// ResNet-18 (width 8) traced: every basic block's Add and ReLU folded, outputs within 1e-4 of the
// unoptimised graph's at 1 and 2 threads, the same bits run after run, no allocation per run.
TEST(ResidualFusion, ResNet18BlocksRunFusedWithoutAllocating) {
  Generator gen(3);
  const Tensor x = ops::uniform({2, 3, 32, 32}, -1, 1, gen);
  Generator wgen(7);
  auto net = models::resnet18({.num_classes = 10, .width = 8, .generator = &wgen});
  net->set_train(false);
  ir::Graph g = trace(*net, {x});
  runtime::OptimizeReport r;
  const ir::Graph opt = runtime::optimize(g, &r);
  EXPECT_EQ(r.residuals_fused, 8) << "ResNet-18 has 8 basic blocks";
  EXPECT_EQ(count(opt, "Add"), 0);
  const std::vector<Tensor> in{x};
  const Tensor want = run(g, false, in)[0];
  for (int threads : {1, 2}) {
    runtime::Executor e(g, {.threads = threads});
    std::vector<Tensor> y = e.make_outputs();
    e.run(in, y);  // warm
    const Tensor first = y[0].clone();
    EXPECT_LE(cellar::testing::max_abs_diff(first, want), 1e-4 * std::max(1.0, max_abs(want)));
    const size_t before = cellar::testing::allocations();
    for (int i = 0; i < 3; ++i) e.run(in, y);
    EXPECT_EQ(cellar::testing::allocations() - before, 0u) << threads << " threads";
    EXPECT_TRUE(y[0].equal(first)) << threads << " threads";
  }
}

}  // namespace
