// Issue 4's op list, MindSpore → cellar: small networks MindSpore 2.10 exported to MindIR, one
// group of ops each (tests/fixtures/mindspore/2.10/mindir/make_ops_fixtures.py), run through cellar's
// GraphCell on the committed input; each must match MindSpore's output within 1e-5. The op counts
// show which ops MindSpore actually wrote (a test that silently lost an op would not be one).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;

namespace {
using cellar::testing::max_abs_diff;

const std::filesystem::path kFixtures =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir";

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  return ops;
}

// Loads ops_<name>.mindir, runs it on its input, returns the op counts of the loaded graph.
std::map<std::string, int> expect_runs_like_mindspore(const std::string& name) {
  const Tensor x = cellar::read_npy(kFixtures / (name + ".input.npy"));
  const Tensor want = cellar::read_npy(kFixtures / (name + ".output.npy"));
  const ir::Graph g = load(kFixtures / (name + ".mindir"));
  nn::GraphCell cell(g);
  const Tensor y = cell(x);
  const double diff = max_abs_diff(y, want);
  EXPECT_LE(diff, 1e-5) << name;
  std::cout << name << ": max |cellar - MindSpore| = " << diff << "\n";
  return op_counts(g);
}

}  // namespace

// Each group's ops, with how many MindSpore wrote (nn.Dropout leaves nothing in an inference graph:
// MindSpore drops it at export).
static void expect_ops(const std::map<std::string, int>& got,
                       const std::map<std::string, int>& want) {
  for (const auto& [op, count] : want) {
    auto it = got.find(op);
    EXPECT_EQ(it == got.end() ? 0 : it->second, count) << op;
  }
}

TEST(MindSporeOps, PoolNormActivations) {
  expect_ops(expect_runs_like_mindspore("ops_act"), {{"AvgPool", 1},
                                                     {"BatchNorm", 1},
                                                     {"Sigmoid", 1},
                                                     {"Tanh", 1},
                                                     {"Softmax", 1},
                                                     {"LogSoftmax", 1},
                                                     {"Abs", 1},
                                                     {"GeLU", 1}});
}

TEST(MindSporeOps, BroadcastArithmeticAndReductions) {
  expect_ops(expect_runs_like_mindspore("ops_arith"), {{"Add", 2},
                                                       {"Sub", 2},
                                                       {"Mul", 2},
                                                       {"Div", 1},
                                                       {"ReduceSum", 2},
                                                       {"ReduceMean", 2},
                                                       {"ExpandDims", 1}});
}

TEST(MindSporeOps, MatMulsAndShapes) {
  expect_ops(expect_runs_like_mindspore("ops_matmul"), {{"MatMul", 2},
                                                        {"BatchMatMul", 2},
                                                        {"Reshape", 2},
                                                        {"Transpose", 2},
                                                        {"ExpandDims", 1},
                                                        {"Squeeze", 1}});
}

TEST(MindSporeOps, ConcatGatherTile) {
  expect_ops(expect_runs_like_mindspore("ops_concat"),
             {{"Concat", 2}, {"Gather", 2}, {"Tile", 1}, {"Abs", 1}});
}

// Padding as MindSpore 2.10 writes it (make_pad_fixtures.py): MirrorPad for nn.Pad's REFLECT and
// SYMMETRIC modes and nn.ReflectionPad2d; PadV3 for nn.ConstantPad2d (a non-zero fill),
// nn.ZeroPad2d, nn.ReplicationPad1d/2d ("edge") and ops.pad (reflect, constant). All read as
// cellar's Pad.
TEST(MindSporePad, MirrorPad) {
  expect_ops(expect_runs_like_mindspore("pad_mirror"), {{"Pad", 3}});
}

TEST(MindSporePad, PadV3) { expect_ops(expect_runs_like_mindspore("pad_v3"), {{"Pad", 6}}); }
