// MindSpore → cellar, one check per kind of file, run on every MindSpore version's fixture folder
// (tests/fixtures/mindspore/<version>/, README.md there): each TEST_P is written once and
// instantiated for 2.10, 2.7 and 1.x; a version folder without the fixture skips, naming it.
//
// Today: the op-group and padding networks (make_ops_fixtures.py, make_pad_fixtures.py,
// make_gelu_exact.py) run through cellar's GraphCell on the committed input within 1e-5 of that
// MindSpore's output, with the ops it wrote counted (a test that silently lost an op would not be
// one). The other interop checks are still per version in test_mindspore_{models,ckpt,variants,
// v27,1x}.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <ostream>
#include <string>

#include "cellar/cellar.h"
#include "tensor_compare.h"

using namespace cellar;
using cellar::testing::max_abs_diff;

namespace {
namespace fs = std::filesystem;

struct Version {
  std::string name;  // the folder under tests/fixtures/mindspore
};
// Names the parameter in test listings (ctest's names), instead of its bytes.
void PrintTo(const Version& v, std::ostream* os) { *os << v.name; }

fs::path version_dir(const Version& v) {
  return fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore" / v.name;
}

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  return ops;
}

// Every op of `want` with exactly its count (0 when absent).
void expect_ops(const std::map<std::string, int>& got, const std::map<std::string, int>& want) {
  for (const auto& [op, count] : want) {
    auto it = got.find(op);
    EXPECT_EQ(it == got.end() ? 0 : it->second, count) << op;
  }
}

class MindSporeVersion : public ::testing::TestWithParam<Version> {
 protected:
  fs::path mindir_dir() const { return version_dir(GetParam()) / "mindir"; }

  // <name>.mindir on <name>.input.npy in cellar's GraphCell, against <name>.output.npy; returns
  // the loaded graph's op counts.
  std::map<std::string, int> expect_runs_like_mindspore(const std::string& name,
                                                        double tolerance = 1e-5) {
    const fs::path dir = mindir_dir();
    const ir::Graph g = load(dir / (name + ".mindir"));
    const Tensor y = nn::GraphCell(g)(read_npy(dir / (name + ".input.npy")));
    const double diff = max_abs_diff(y, read_npy(dir / (name + ".output.npy")));
    EXPECT_LE(diff, tolerance) << name;
    std::cout << "MindSpore " << GetParam().name << " " << name
              << ".mindir: max |cellar - MindSpore| = " << diff << "\n";
    return op_counts(g);
  }
};

// Skips the test, loudly, when this version's folder lacks `file` (under mindir/).
#define REQUIRE_MINDIR_FIXTURE(file)                                                    \
  if (!fs::exists(mindir_dir() / (file)))                                               \
  GTEST_SKIP() << "SKIPPED: MindSpore " << GetParam().name << " has no fixture "        \
               << (mindir_dir() / (file)).string()

}  // namespace

TEST_P(MindSporeVersion, PoolNormActivations) {
  REQUIRE_MINDIR_FIXTURE("ops_act.mindir");
  // nn.Dropout leaves nothing in an inference graph: MindSpore drops it at export.
  expect_ops(expect_runs_like_mindspore("ops_act"), {{"AvgPool", 1},
                                                     {"BatchNorm", 1},
                                                     {"Sigmoid", 1},
                                                     {"Tanh", 1},
                                                     {"Softmax", 1},
                                                     {"LogSoftmax", 1},
                                                     {"Abs", 1},
                                                     {"GeLU", 1}});
}

TEST_P(MindSporeVersion, BroadcastArithmeticAndReductions) {
  REQUIRE_MINDIR_FIXTURE("ops_arith.mindir");
  expect_ops(expect_runs_like_mindspore("ops_arith"), {{"Add", 2},
                                                       {"Sub", 2},
                                                       {"Mul", 2},
                                                       {"Div", 1},
                                                       {"ReduceSum", 2},
                                                       {"ReduceMean", 2},
                                                       {"ExpandDims", 1}});
}

TEST_P(MindSporeVersion, MatMulsAndShapes) {
  REQUIRE_MINDIR_FIXTURE("ops_matmul.mindir");
  expect_ops(expect_runs_like_mindspore("ops_matmul"), {{"MatMul", 2},
                                                        {"BatchMatMul", 2},
                                                        {"Reshape", 2},
                                                        {"Transpose", 2},
                                                        {"ExpandDims", 1},
                                                        {"Squeeze", 1}});
}

TEST_P(MindSporeVersion, ConcatGatherTile) {
  REQUIRE_MINDIR_FIXTURE("ops_concat.mindir");
  expect_ops(expect_runs_like_mindspore("ops_concat"),
             {{"Concat", 2}, {"Gather", 2}, {"Tile", 1}, {"Abs", 1}});
}

// Padding as MindSpore writes it (make_pad_fixtures.py): MirrorPad for nn.Pad's REFLECT and
// SYMMETRIC modes and nn.ReflectionPad2d; PadV3 for nn.ConstantPad2d (a non-zero fill),
// nn.ZeroPad2d, nn.ReplicationPad1d/2d ("edge") and ops.pad (reflect, constant). All read as
// cellar's Pad.
TEST_P(MindSporeVersion, MirrorPad) {
  REQUIRE_MINDIR_FIXTURE("pad_mirror.mindir");
  expect_ops(expect_runs_like_mindspore("pad_mirror"), {{"Pad", 3}});
}

TEST_P(MindSporeVersion, PadV3) {
  REQUIRE_MINDIR_FIXTURE("pad_v3.mindir");
  expect_ops(expect_runs_like_mindspore("pad_v3"), {{"Pad", 6}});
}

// nn.GELU(approximate=False): MindSpore writes Div, Erf, Add, Mul (make_gelu_exact.py).
TEST_P(MindSporeVersion, ExactGELU) {
  REQUIRE_MINDIR_FIXTURE("gelu_exact.mindir");
  EXPECT_EQ(expect_runs_like_mindspore("gelu_exact"),
            (std::map<std::string, int>{{"Add", 1}, {"Div", 1}, {"Erf", 1}, {"Mul", 2}}));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MindSporeVersion,
                         ::testing::Values(Version{"2.10"}, Version{"2.7"}, Version{"1.x"}),
                         [](const auto& info) {
                           std::string n = "v" + info.param.name;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });
