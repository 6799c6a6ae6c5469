// A batch run in slices (src/runtime/batch_split.h): the analysis splits only graphs whose ops
// compute each image apart (and refuses a Reshape folding the batch into another axis, a
// Transpose moving axis 0, a BatchNorm in training mode, a MatMul with the batch on its K axis, a
// reduction, softmax or concatenation over axis 0, a constant spanning the batch); a split run
// gives the unsplit run's outputs to the bit, run after run, at 1 and 2 threads (slices one after
// the other, or side by side on the workers), from several threads at once, without allocating,
// with an arena of the slice's size; symbolic-batch graphs are split at each batch they meet.
// CELLAR_BATCH_SLICE (read when an executor is made) forces the slice size: 0 never slices.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "cellar/models/resnet.h"
#include "counting_allocator.h"
#include "runtime/batch_split.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10";

// CELLAR_BATCH_SLICE set for the executors made in a scope.
class SliceSetting {
 public:
  explicit SliceSetting(const char* value) { ::setenv("CELLAR_BATCH_SLICE", value, 1); }
  ~SliceSetting() { ::unsetenv("CELLAR_BATCH_SLICE"); }
};

runtime::Executor make(const ir::Graph& g, const char* slice, int threads) {
  SliceSetting s(slice);
  return runtime::Executor(g, {.threads = threads});
}

int constant(ir::Graph& g, const std::string& name, Shape shape, double scale = 0.1) {
  const int v = g.add_value(name, DType::Float32, shape);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = static_cast<float>(scale * static_cast<double>((i * 7919) % 23 - 11));
  g.initializers.push_back({.value = v, .data = t});
  return v;
}

// x [8, 3, 6, 6] → Conv2D → ReLU → `tail` builds the rest from the ReLU's output.
struct Net {
  ir::Graph g;
  int relu = -1;
};

Net conv_relu(int64_t n = 8) {
  Net net;
  ir::Graph& g = net.g;
  const int x = g.add_value("x", DType::Float32, Shape{n, 3, 6, 6});
  g.inputs = {x};
  const int w = constant(g, "w", Shape{4, 3, 3, 3});
  const int c = g.add_value("conv", DType::Float32, Shape{n, 4, 6, 6});
  net.relu = g.add_value("relu", DType::Float32, Shape{n, 4, 6, 6});
  g.nodes.push_back({.name = "conv",
                     .op = "Conv2D",
                     .inputs = {x, w},
                     .outputs = {c},
                     .attrs = {{"pad_mode", std::string("same")}, {"kernel_size", int64_t{3}}}});
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {c}, .outputs = {net.relu}});
  return net;
}

// conv → ReLU → ReduceMean(2, 3) → MatMul(w [4, 5]) → Softmax(-1): every op per image.
ir::Graph classifier(int64_t n = 8) {
  Net net = conv_relu(n);
  ir::Graph& g = net.g;
  const int pooled = g.add_value("pooled", DType::Float32, Shape{n, 4});
  g.nodes.push_back({.name = "pool",
                     .op = "ReduceMean",
                     .inputs = {net.relu},
                     .outputs = {pooled},
                     .attrs = {{"axis", std::vector<int64_t>{2, 3}}}});
  const int w = constant(g, "fc", Shape{4, 5}, 0.3);
  const int logits = g.add_value("logits", DType::Float32, Shape{n, 5});
  g.nodes.push_back({.name = "fc", .op = "MatMul", .inputs = {pooled, w}, .outputs = {logits}});
  const int y = g.add_value("y", DType::Float32, Shape{n, 5});
  g.nodes.push_back({.name = "softmax",
                     .op = "Softmax",
                     .inputs = {logits},
                     .outputs = {y},
                     .attrs = {{"axis", std::vector<int64_t>{-1}}}});
  g.outputs = {y};
  return g;
}

std::vector<ir::ValueType> recorded_types(const ir::Graph& g) {
  std::vector<ir::ValueType> t;
  for (const auto& v : g.values) t.push_back({v.dtype, v.shape});
  return t;
}

bool separable(const ir::Graph& g, std::string* why = nullptr) {
  return runtime::batch_separable(g, recorded_types(g), why);
}

// conv → ReLU → one op `op` with `attrs` to an output of `shape` (and constant inputs `extra`).
ir::Graph with_tail(const std::string& op, Shape shape, ir::Attrs attrs = {},
                    std::vector<Shape> extra = {}) {
  Net net = conv_relu();
  ir::Graph& g = net.g;
  std::vector<int> inputs{net.relu};
  for (size_t k = 0; k < extra.size(); ++k)
    inputs.push_back(constant(g, "c" + std::to_string(k), extra[k]));
  const int y = g.add_value("y", DType::Float32, shape);
  g.nodes.push_back(
      {.name = "tail", .op = op, .inputs = inputs, .outputs = {y}, .attrs = std::move(attrs)});
  g.outputs = {y};
  return g;
}

Tensor random_input(Shape shape, uint64_t seed) {
  Generator gen(seed);
  return ops::uniform(shape, -1, 1, gen);
}

TEST(BatchSplitAnalysis, PerImageOpsAreSeparable) {
  std::string why;
  EXPECT_TRUE(separable(classifier(), &why)) << why;
  EXPECT_TRUE(separable(
      with_tail("Transpose", Shape{8, 6, 4, 6}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}),
      &why))
      << why;
  EXPECT_TRUE(separable(with_tail("Flatten", Shape{8, 144}), &why)) << why;
  EXPECT_TRUE(separable(with_tail("Add", Shape{8, 4, 6, 6}, {}, {Shape{4, 6, 6}}), &why)) << why;
  EXPECT_TRUE(separable(with_tail("Mul", Shape{8, 4, 6, 6}, {}, {Shape{1, 4, 1, 1}}), &why)) << why;
}

TEST(BatchSplitAnalysis, OpsMixingTheBatchAreNot) {
  std::string why;
  // A Reshape folding the batch into another axis (and any Reshape: its target is a constant).
  EXPECT_FALSE(separable(
      with_tail("Reshape", Shape{32, 36}, {{"shape", std::vector<int64_t>{32, 36}}}), &why));
  EXPECT_FALSE(separable(
      with_tail("Reshape", Shape{8, 144}, {{"shape", std::vector<int64_t>{8, 144}}}), &why));
  EXPECT_NE(why.find("Reshape"), std::string::npos) << why;
  // A Transpose moving axis 0, even where the shapes would not show it (4 channels per image
  // are 4 images' rows once transposed).
  EXPECT_FALSE(separable(
      with_tail("Transpose", Shape{4, 8, 6, 6}, {{"perm", std::vector<int64_t>{1, 0, 2, 3}}}),
      &why));
  {
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, Shape{8, 8, 6});
    g.inputs = {x};
    const int y = g.add_value("y", DType::Float32, Shape{8, 8, 6});
    g.nodes.push_back({.name = "t",
                       .op = "Transpose",
                       .inputs = {x},
                       .outputs = {y},
                       .attrs = {{"perm", std::vector<int64_t>{1, 0, 2}}}});
    g.outputs = {y};
    EXPECT_FALSE(separable(g, &why));
    EXPECT_NE(why.find("moves the batch axis"), std::string::npos) << why;
  }
  // Padding the batch axis (and not padding it is fine).
  EXPECT_TRUE(separable(with_tail("Pad", Shape{8, 4, 6, 8},
                                  {{"paddings", std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1}}}),
                        &why))
      << why;
  EXPECT_FALSE(separable(with_tail("Pad", Shape{10, 4, 6, 6},
                                   {{"paddings", std::vector<int64_t>{1, 1, 0, 0, 0, 0, 0, 0}}}),
                         &why));
  // Reductions, softmax, concatenation over axis 0, or over every axis.
  EXPECT_FALSE(separable(
      with_tail("ReduceMean", Shape{4, 6, 6}, {{"axis", std::vector<int64_t>{0}}}), &why));
  EXPECT_FALSE(separable(with_tail("ReduceSum", Shape{}, {}), &why));
  EXPECT_FALSE(separable(
      with_tail("Softmax", Shape{8, 4, 6, 6}, {{"axis", std::vector<int64_t>{0}}}), &why));
  EXPECT_FALSE(separable(with_tail("Concat", Shape{16, 4, 6, 6}, {{"axis", int64_t{0}}}), &why));
  // A constant with a leading axis of the batch's size: each image would meet its own part.
  EXPECT_FALSE(separable(with_tail("Add", Shape{8, 4, 6, 6}, {}, {Shape{8, 4, 6, 6}}), &why));
  EXPECT_NE(why.find("constant"), std::string::npos) << why;
  // An op the analysis does not know.
  EXPECT_FALSE(separable(with_tail("CumSum", Shape{8, 4, 6, 6}, {{"axis", int64_t{1}}}), &why));
}

TEST(BatchSplitAnalysis, BatchNormInTrainingModeIsNot) {
  std::vector<Shape> stats(4, Shape{4});
  ir::Graph eval = with_tail("BatchNorm", Shape{8, 4, 6, 6}, {{"is_training", false}}, stats);
  std::string why;
  EXPECT_TRUE(separable(eval, &why)) << why;
  ir::Graph train = with_tail("BatchNorm", Shape{8, 4, 6, 6}, {{"is_training", true}}, stats);
  EXPECT_FALSE(separable(train, &why));
  EXPECT_NE(why.find("training"), std::string::npos) << why;
}

TEST(BatchSplitAnalysis, MatMulWithTheBatchOnItsKAxisIsNot) {
  // x [8, 16] as the right operand of W [8, 8] · x: every output row sums over the 8 images
  // (though the output has 8 rows).
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{8, 16});
  g.inputs = {x};
  const int w = constant(g, "w", Shape{8, 8});
  const int y = g.add_value("y", DType::Float32, Shape{8, 16});
  g.nodes.push_back({.name = "mm", .op = "MatMul", .inputs = {w, x}, .outputs = {y}});
  g.outputs = {y};
  std::string why;
  EXPECT_FALSE(separable(g, &why));
  EXPECT_NE(why.find("rows"), std::string::npos) << why;
  // Nor x [8, 8] transposed into the K axis of its own product.
  ir::Graph t;
  const int xt = t.add_value("x", DType::Float32, Shape{8, 8});
  t.inputs = {xt};
  const int wt = constant(t, "w", Shape{8, 3});
  const int yt = t.add_value("y", DType::Float32, Shape{8, 3});
  t.nodes.push_back({.name = "mm",
                     .op = "MatMul",
                     .inputs = {xt, wt},
                     .outputs = {yt},
                     .attrs = {{"transpose_a", true}}});
  t.outputs = {yt};
  EXPECT_FALSE(separable(t, &why));
  EXPECT_NE(why.find("rows"), std::string::npos) << why;
}

TEST(BatchSplitAnalysis, ABatchOfOneOrAConstantOutputIsNot) {
  std::string why;
  EXPECT_FALSE(separable(classifier(1), &why));
  ir::Graph g = classifier();
  g.outputs.push_back(g.initializers[0].value);
  EXPECT_FALSE(separable(g, &why));
  EXPECT_NE(why.find("output"), std::string::npos) << why;
}

TEST(BatchSplitChoice, LargestSliceWithinTheBudget) {
  const size_t mib = size_t{1} << 20;
  // MobileNetV2's largest step works on ~6 MiB per image: one image per slice at 8 MiB.
  EXPECT_EQ(runtime::choose_slice(8, 6 * mib, 8 * mib, 1), 1);
  // ResNet-18's ~4 MiB: two images; side by side on two workers, one each.
  EXPECT_EQ(runtime::choose_slice(8, 4 * mib, 8 * mib, 1), 2);
  EXPECT_EQ(runtime::choose_slice(8, 4 * mib, 8 * mib, 2), 1);
  // A batch that fits whole is not sliced; slices divide the batch.
  EXPECT_EQ(runtime::choose_slice(8, 1 * mib, 8 * mib, 1), 8);
  EXPECT_EQ(runtime::choose_slice(6, 2 * mib, 9 * mib, 1), 3);
  EXPECT_EQ(runtime::choose_slice(7, 2 * mib, 9 * mib, 1), 1);
  EXPECT_GT(runtime::slice_budget(), 0u);
}

TEST(BatchSplitRun, SameBitsAsTheWholeBatchAtEverySliceAndThreadCount) {
  const ir::Graph g = classifier();
  const std::vector<Tensor> x{random_input({8, 3, 6, 6}, 5)};
  for (int threads : {1, 2}) {
    runtime::Executor whole = make(g, "0", threads);
    const Tensor want = whole.run(x)[0];
    for (const char* slice : {"1", "2", "4"}) {
      runtime::Executor split = make(g, slice, threads);
      // Slices side by side (at 2 threads, 2 or more slices) take an arena each.
      if (threads == 1) {
        EXPECT_LT(split.arena_bytes(), whole.arena_bytes()) << slice;
      } else {
        EXPECT_LE(split.arena_bytes(), whole.arena_bytes()) << slice;
      }
      for (int r = 0; r < 3; ++r)
        EXPECT_TRUE(split.run(x)[0].equal(want)) << "slice " << slice << ", threads " << threads;
    }
  }
}

// A traced ResNet-18 at batch 8 (Conv2D, BatchNorm, ReLU, Add, MaxPool, pooling, Dense), after the
// optimiser's fusions: split into slices, it gives the whole batch's bits.
TEST(BatchSplitRun, ResNet18AtBatch8) {
  const Tensor x = random_input({8, 3, 32, 32}, 11);
  Generator gen(7);
  auto net = models::resnet18({.num_classes = 10, .width = 8, .generator = &gen});
  net->set_train(false);
  const ir::Graph g = trace(*net, {x});
  std::string why;
  const std::vector<Tensor> in{x};
  for (int threads : {1, 2}) {
    runtime::Executor whole = make(g, "0", threads);
    runtime::Executor split = make(g, "1", threads);
    ASSERT_TRUE(runtime::batch_separable(split.executed_graph(),
                                         recorded_types(split.executed_graph()), &why))
        << why;
    EXPECT_LT(split.arena_bytes(), whole.arena_bytes());
    const Tensor want = whole.run(in)[0];
    EXPECT_TRUE(split.run(in)[0].equal(want));
    EXPECT_TRUE(split.run(in)[0].equal(want));
  }
}

TEST(BatchSplitRun, NoAllocationPerRun) {
  const ir::Graph g = classifier();
  const std::vector<Tensor> x{random_input({8, 3, 6, 6}, 3)};
  for (int threads : {1, 2}) {
    runtime::Executor split = make(g, "2", threads);
    std::vector<Tensor> out = split.make_outputs();
    split.run(x, out);  // the first run may size the workers' scratch
    const size_t before = cellar::testing::allocations();
    for (int r = 0; r < 5; ++r) split.run(x, out);
    if (cellar::testing::kCountingAllocations) {
      EXPECT_EQ(cellar::testing::allocations(), before) << threads << " threads";
    }
  }
}

TEST(BatchSplitRun, ConcurrentRunsGiveTheSameBits) {
  const ir::Graph g = classifier();
  const std::vector<Tensor> x{random_input({8, 3, 6, 6}, 9)};
  runtime::Executor whole = make(g, "0", 1);
  const Tensor want = whole.run(x)[0];
  runtime::Executor split = make(g, "1", 2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r)
        if (!split.run(x)[0].equal(want)) ++wrong;
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A graph with an open batch axis (MindSpore's Tensor(shape=[None, ...])): each batch it meets
// gets its own plan, split where the batch divides into slices, whole where it does not.
TEST(BatchSplitRun, SymbolicBatchAgainstMindSpore) {
  const ir::Graph g = load((kFixtures / "dynamic_batch/lenet5.mindir").string());
  for (int threads : {1, 2}) {
    runtime::Executor whole = make(g, "0", threads);
    runtime::Executor split = make(g, "2", threads);
    for (int b : {8, 3, 1, 8}) {
      const std::string stem = "dynamic_batch/lenet5.b" + std::to_string(b);
      const std::vector<Tensor> x{read_npy((kFixtures / (stem + ".input.npy")).string())};
      const Tensor want = read_npy((kFixtures / (stem + ".output.npy")).string());
      const Tensor y = split.run(x)[0];
      EXPECT_TRUE(y.equal(whole.run(x)[0])) << "batch " << b;
      EXPECT_LE(cellar::testing::max_abs_diff(y, want), 1e-4) << "batch " << b;
      if (b == 8) {
        EXPECT_LT(split.arena_bytes(), whole.arena_bytes());
      }
    }
    EXPECT_EQ(split.plan_count(), whole.plan_count());  // one per shape, slices not counted
    std::vector<Tensor> out = split.make_outputs();
    const std::vector<Tensor> x8{
        read_npy((kFixtures / "dynamic_batch/lenet5.b8.input.npy").string())};
    split.resize({x8[0].shape()});
    out = split.make_outputs();
    split.run(x8, out);
    const size_t before = cellar::testing::allocations();
    split.run(x8, out);
    if (cellar::testing::kCountingAllocations) {
      EXPECT_EQ(cellar::testing::allocations(), before);
    }
  }
}

}  // namespace
