// MindSpore → cellar, one check per kind of file, run on every MindSpore version's fixture folder
// (tests/fixtures/mindspore/<version>/, README.md there): each TEST_P is written once and
// instantiated for 2.10, 2.7 and 1.x; a version folder without the fixture skips, naming it.
//
// The networks (make_fixtures.py: the MLP, a two-output net, the model zoo's LeNet-5 and resnet18,
// each with its checkpoint) run in cellar's GraphCell like in MindSpore, hold the checkpoint's
// parameters bit for bit, and cellar's own LeNet-5 and resnet18 load the checkpoints and run like
// MindSpore; encrypted and external-data MindIR (mindir_extdata/) run the same.
// The op-group and padding networks (make_ops_fixtures.py, make_pad_fixtures.py,
// make_gelu_exact.py) run through cellar's GraphCell on the committed input within 1e-5 of that
// MindSpore's output, with the ops it wrote counted (a test that silently lost an op would not be
// one). Checkpoint variants are still per version in test_mindspore_{ckpt,variants,v27}.cpp, and
// 1.x's own files in test_mindspore_1x.cpp.
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
  std::string name;      // the folder under tests/fixtures/mindspore
  int mlp_hidden = 0;    // the MLP's hidden width in that folder (2.7's is narrower)
  int resnet_width = 0;  // resnet18w<width>.* in that folder
};
// Names the parameter in test listings (ctest's names), instead of its bytes.
void PrintTo(const Version& v, std::ostream* os) { *os << v.name; }

fs::path version_dir(const Version& v) {
  return fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore" / v.name;
}

// The parameters a MindIR file holds, by name.
ParamDict graph_parameters(const ir::Graph& g) {
  ParamDict d;
  for (const auto& init : g.initializers)
    if (init.is_parameter) d.set(g.value(init.value).name, init.data);
  return d;
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

// ---- networks ----

TEST_P(MindSporeVersion, MLPRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("mlp.mindir");
  const ir::Graph g = load(mindir_dir() / "mlp.mindir");
  EXPECT_EQ(op_counts(g),
            (std::map<std::string, int>{{"BiasAdd", 3}, {"Flatten", 1}, {"MatMul", 3}, {"ReLU", 2}}));
  const int64_t h = GetParam().mlp_hidden;
  EXPECT_EQ(graph_parameters(g).at("dense_relu_sequential.2.weight").data().shape(), (Shape{h, h}));
  const Tensor y =
      nn::GraphCell(g)(cellar::testing::read_f32(mindir_dir() / "mlp.input.f32", {1, 1, 28, 28}));
  EXPECT_LE(max_abs_diff(y, cellar::testing::read_f32(mindir_dir() / "mlp.output.f32", {1, 10})),
            1e-5);
}

TEST_P(MindSporeVersion, TwoOutputNetRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("tuple.mindir");
  using cellar::testing::read_f32;
  const fs::path dir = mindir_dir();
  const ir::Graph g = load(dir / "tuple.mindir");
  ASSERT_EQ(g.inputs.size(), 2u);
  ASSERT_EQ(g.outputs.size(), 2u);
  nn::GraphCell cell(g);
  const Value out = cell({Value(read_f32(dir / "tuple.input0.f32", {6})),
                          Value(read_f32(dir / "tuple.input1.f32", {2, 3}))});
  ASSERT_TRUE(out.is_tuple());
  EXPECT_LE(max_abs_diff(out.tuple().at(0).tensor(), read_f32(dir / "tuple.output0.f32", {2, 3})),
            1e-5);
  EXPECT_LE(max_abs_diff(out.tuple().at(1).tensor(), read_f32(dir / "tuple.output1.f32", {2, 3})),
            1e-5);
}

// <name>.mindir takes <name>.input.npy's shape, holds exactly <name>.ckpt's parameters (the same
// names, dtypes, shapes and bits: save_checkpoint(net) and export(net) of one network), and runs
// like MindSpore.
#define EXPECT_NETWORK_LIKE_MINDSPORE(name)                                                  \
  do {                                                                                     \
    const fs::path dir = mindir_dir();                                                     \
    const ir::Graph g = load(dir / ((name) + std::string(".mindir")));                     \
    ASSERT_EQ(g.inputs.size(), 1u);                                                        \
    EXPECT_EQ(g.value(g.inputs[0]).shape,                                                  \
              read_npy(dir / ((name) + std::string(".input.npy"))).shape());               \
    cellar::testing::expect_same(graph_parameters(g),                                      \
                                 load_checkpoint(dir / ((name) + std::string(".ckpt"))),   \
                                 cellar::testing::Order::kAny);                            \
    expect_runs_like_mindspore(name);                                                      \
  } while (0)

TEST_P(MindSporeVersion, LeNet5MindIRRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("lenet5.mindir");
  EXPECT_NETWORK_LIKE_MINDSPORE(std::string("lenet5"));
  EXPECT_EQ(op_counts(load(mindir_dir() / "lenet5.mindir")),
            (std::map<std::string, int>{{"BiasAdd", 3},
                                        {"Conv2D", 2},
                                        {"Flatten", 1},
                                        {"MatMul", 3},
                                        {"MaxPool", 2},
                                        {"ReLU", 4}}));
}

// The model zoo's resnet18 (res_base: Pad + "valid" max-pool stem), random BatchNorm statistics.
TEST_P(MindSporeVersion, ResNet18MindIRRunsLikeMindSpore) {
  const std::string name = "resnet18w" + std::to_string(GetParam().resnet_width);
  REQUIRE_MINDIR_FIXTURE(name + ".mindir");
  EXPECT_NETWORK_LIKE_MINDSPORE(name);
  const auto ops = op_counts(load(mindir_dir() / (name + ".mindir")));
  EXPECT_EQ(ops.at("Pad"), 1);
  EXPECT_EQ(ops.at("MaxPool"), 1);
  EXPECT_EQ(ops.at("Conv2D"), 20);
}

// cellar's own models (include/cellar/models/) load MindSpore's checkpoint strictly and run
// eagerly like MindSpore.
#define EXPECT_EAGER_LIKE_MINDSPORE(net, name)                                              \
  do {                                                                                      \
    const fs::path base = mindir_dir() / (name);                                            \
    const auto [param_not_load, ckpt_not_load] =                                            \
        load_param_into_net(net, load_checkpoint(base.string() + ".ckpt"), true);           \
    EXPECT_TRUE(param_not_load.empty()) << param_not_load;                                  \
    EXPECT_TRUE(ckpt_not_load.empty()) << ckpt_not_load;                                    \
    (net).set_train(false);                                                                 \
    const Tensor y = (net)(read_npy(base.string() + ".input.npy"));                         \
    EXPECT_LE(max_abs_diff(y, read_npy(base.string() + ".output.npy")), 1e-5) << (name);    \
  } while (0)

TEST_P(MindSporeVersion, CellarsLeNet5LoadsTheCheckpointAndRunsLikeMindSpore) {
  REQUIRE_MINDIR_FIXTURE("lenet5.ckpt");
  auto net = models::LeNet5();
  EXPECT_EAGER_LIKE_MINDSPORE(*net, std::string("lenet5"));
}

TEST_P(MindSporeVersion, CellarsResNet18LoadsTheCheckpointAndRunsLikeMindSpore) {
  const int w = GetParam().resnet_width;
  REQUIRE_MINDIR_FIXTURE("resnet18w" + std::to_string(w) + ".ckpt");
  auto net = models::resnet18({.num_classes = 10, .width = w});
  EXPECT_EAGER_LIKE_MINDSPORE(*net, "resnet18w" + std::to_string(w));
}

// mindir_extdata/ (make_fixtures.py there): a Dense(8, 5)-ReLU-Dense(5, 3) net exported encrypted
// in each mode, in the external-data layout, and both.
TEST_P(MindSporeVersion, EncryptedAndExternalDataRunLikeMindSpore) {
  const fs::path dir = version_dir(GetParam()) / "mindir_extdata";
  if (!fs::exists(dir / "net.input.f32"))
    GTEST_SKIP() << "SKIPPED: MindSpore " << GetParam().name << " has no fixture " << dir.string();
  const std::string key16 = "cellar-mindir-16", key32 = "cellar-mindir-key-32-bytes-long!";
  const Tensor x = cellar::testing::read_f32(dir / "net.input.f32", {2, 8});
  const Tensor want = cellar::testing::read_f32(dir / "net.output.f32", {2, 3});
  struct Case {
    const char* file;
    std::string key;
    const char* mode;
  };
  for (const Case& c :
       {Case{"gcm.mindir", key16, "AES-GCM"}, Case{"gcm32.mindir", key32, "AES-GCM"},
        Case{"cbc.mindir", key16, "AES-CBC"}, Case{"sm4.mindir", key16, "SM4-CBC"},
        Case{"encsplit_graph.mindir", key16, "AES-GCM"}, Case{"split_graph.mindir", "", ""}}) {
    SCOPED_TRACE(c.file);
    const ir::Graph g = c.key.empty() ? load(dir / c.file)
                                      : load(dir / c.file, {.dec_key = c.key, .dec_mode = c.mode});
    EXPECT_EQ(graph_parameters(g).size(), 4u);
    EXPECT_LE(max_abs_diff(nn::GraphCell(g)(x), want), 1e-5);
  }
  // Without the key: a typed error naming the file, not garbage.
  try {
    load(dir / "gcm.mindir");
    ADD_FAILURE() << "an encrypted MindIR loaded without a key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCrypto);
    EXPECT_NE(std::string(e.what()).find("gcm.mindir"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MindSporeVersion,
                         ::testing::Values(Version{"2.10", 512, 8}, Version{"2.7", 32, 4},
                                           Version{"1.x"}),
                         [](const auto& info) {
                           std::string n = "v" + info.param.name;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });
