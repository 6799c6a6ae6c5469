// Real networks from MindSpore 2.10: the model zoo's LeNet-5 and resnet18 (at an eighth of its
// width), exported by MindSpore as MindIR with their checkpoints, inputs and MindSpore's outputs
// (tests/fixtures/mindspore/2.10/mindir/make_fixtures.py). Both ways in: cellar runs MindSpore's
// MindIR through a GraphCell, and cellar's own models (include/cellar/models/) load MindSpore's
// checkpoint and run eagerly; both must match MindSpore's output within 1e-5.
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

}  // namespace

TEST(MindSporeLeNet5, ExportedAgainItRunsTheSame) {
  // MindSpore's file → cellar's writer → cellar's reader: same outputs.
  const cellar::testing::TempDir dir;
  auto net = models::LeNet5();
  load_param_into_net(net, load_checkpoint(kFixtures / "lenet5.ckpt"));
  net->set_train(false);
  const Tensor x = cellar::read_npy(kFixtures / "lenet5.input.npy");
  const auto path = export_model(*net, {x}, (dir.path() / "lenet5").string(), FileFormat::MINDIR);
  nn::GraphCell cell(load(path));
  EXPECT_LE(max_abs_diff(cell(x), cellar::read_npy(kFixtures / "lenet5.output.npy")), 1e-5);
}

TEST(MindSporeLeNet5, GraphCellParamsInitReplacesMatchingParameters) {
  // Another LeNet-5's weights (cellar's, seeded) go into MindSpore's graph through params_init:
  // the graph then computes what that network computes eagerly.
  Generator gen(7);
  auto other = models::LeNet5({.generator = &gen});
  other->set_train(false);
  ParamDict init;
  for (const auto& [name, p] : other->parameters_and_names()) init.set(name, p.data());
  init.set("not_in_the_graph", ones({3}));  // ignored, as MindSpore ignores it
  const Tensor x = cellar::read_npy(kFixtures / "lenet5.input.npy");
  nn::GraphCell replaced(load(kFixtures / "lenet5.mindir"), init);
  const Tensor want = (*other)(x);
  EXPECT_LE(max_abs_diff(replaced(x), want), 1e-5);
  EXPECT_GT(max_abs_diff(want, cellar::read_npy(kFixtures / "lenet5.output.npy")), 1e-3);

  ParamDict bad;
  bad.set("fc3.bias", zeros({11}));
  try {
    nn::GraphCell cell(load(kFixtures / "lenet5.mindir"), bad);
    ADD_FAILURE() << "a params_init entry of another shape was accepted";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("fc3.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("(11,)"), std::string::npos) << m;
    EXPECT_NE(m.find("(10,)"), std::string::npos) << m;
  }
}

TEST(MindSporeLeNet5, GraphCellRefusesInputsOfAnotherDTypeOrShape) {
  nn::GraphCell cell(load(kFixtures / "lenet5.mindir"));
  const Tensor x = cellar::read_npy(kFixtures / "lenet5.input.npy");
  auto message = [&](const Tensor& given) -> std::string {
    try {
      cell(given);
    } catch (const ValueError& e) {
      return e.what();
    }
    ADD_FAILURE() << "GraphCell accepted " << given.shape();
    return "";
  };
  const std::string dtype = message(x.to(DType::Float64));
  EXPECT_NE(dtype.find("'x'"), std::string::npos) << dtype;
  EXPECT_NE(dtype.find("Float32(2, 1, 32, 32)"), std::string::npos) << dtype;
  EXPECT_NE(dtype.find("Float64(2, 1, 32, 32)"), std::string::npos) << dtype;
  const std::string shape = message(ones({1, 1, 32, 32}));
  EXPECT_NE(shape.find("'x'"), std::string::npos) << shape;
  EXPECT_NE(shape.find("expects Float32(2, 1, 32, 32)"), std::string::npos) << shape;
  EXPECT_NE(shape.find("given Float32(1, 1, 32, 32)"), std::string::npos) << shape;
}

// The model zoo's resnet18 (res_base: Pad + "valid" max-pool stem) at width 8, random BatchNorm
// statistics: MindSpore's MindIR in cellar, and cellar's resnet18 with MindSpore's checkpoint.
TEST(MindSporeResNet18, ExportedByCellarItRunsTheSameInMindIRAndOnnx) {
  const cellar::testing::TempDir dir;
  auto net = models::resnet18({.num_classes = 10, .width = 8});
  load_param_into_net(net, load_checkpoint(kFixtures / "resnet18w8.ckpt"));
  net->set_train(false);
  const Tensor x = cellar::read_npy(kFixtures / "resnet18w8.input.npy");
  const Tensor want = cellar::read_npy(kFixtures / "resnet18w8.output.npy");
  for (FileFormat f : {FileFormat::MINDIR, FileFormat::ONNX}) {
    const auto path = export_model(*net, {x}, (dir.path() / "r").string(), f);
    const ir::Graph g = load(path);
    EXPECT_EQ(op_counts(g).at("Pad"), 1) << path;
    nn::GraphCell cell(g);
    EXPECT_LE(max_abs_diff(cell(x), want), 1e-5) << path;
  }
}

// nn.GELU(approximate=False): MindSpore writes Div, Erf, Add, Mul (make_gelu_exact.py); cellar
// reads and runs that, and its own nn::GELU(false) exports the same nodes and the same values.
TEST(MindSporeGELU, ExactFormBothWays) {
  const Tensor x = cellar::read_npy(kFixtures / "gelu_exact.input.npy");
  const Tensor want = cellar::read_npy(kFixtures / "gelu_exact.output.npy");
  const ir::Graph ms = load(kFixtures / "gelu_exact.mindir");
  const std::map<std::string, int> spelled{{"Add", 1}, {"Div", 1}, {"Erf", 1}, {"Mul", 2}};
  EXPECT_EQ(op_counts(ms), spelled);
  EXPECT_LE(max_abs_diff(nn::GraphCell(ms)(x), want), 1e-6);

  auto net = nn::GELU(false);
  EXPECT_LE(max_abs_diff((*net)(x), want), 1e-6);
  const cellar::testing::TempDir dir;
  for (FileFormat f : {FileFormat::MINDIR, FileFormat::ONNX}) {
    const ir::Graph g = load(export_model(*net, {x}, (dir.path() / "gelu").string(), f));
    EXPECT_EQ(op_counts(g), spelled);
    EXPECT_LE(max_abs_diff(nn::GraphCell(g)(x), want), 1e-6);
  }
}
