// Converting between IR formats: load() a file, export_graph() it in the other format, load that
// and run it. The sources are real peers' files: MindIR that MindSpore 2.10 wrote
// (tests/fixtures/mindspore/2.10/mindir) and ONNX that PyTorch wrote (tests/fixtures/torch). What
// `cellar convert a.onnx b.mindir` and the reverse do.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace cellar {
namespace {
using cellar::testing::max_abs_diff;
using cellar::testing::read_f32;

namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kMsFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir";
const fs::path kTorchFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";

TEST(ExportGraph, MindSporeMindIRToOnnxRunsTheSame) {
  TempDir dir;
  {
    const ir::Graph g = load(kMsFixtures / "tuple.mindir");
    const fs::path p = export_graph(g, (dir / "tuple").string(), FileFormat::ONNX);
    EXPECT_EQ(p, dir / "tuple.onnx");
    const ir::Graph back = load(p);
    const Value out =
        nn::GraphCell(back)({Value(read_f32(kMsFixtures / "tuple.input0.f32", {6})),
                             Value(read_f32(kMsFixtures / "tuple.input1.f32", {2, 3}))});
    ASSERT_TRUE(out.is_tuple());
    ASSERT_EQ(out.tuple().size(), 2u);
    EXPECT_LE(
        max_abs_diff(out.tuple()[0].tensor(), read_f32(kMsFixtures / "tuple.output0.f32", {2, 3})),
        1e-5);
    EXPECT_LE(
        max_abs_diff(out.tuple()[1].tensor(), read_f32(kMsFixtures / "tuple.output1.f32", {2, 3})),
        1e-5);
  }
  {
    const ir::Graph g = load(kMsFixtures / "mlp.mindir");
    const fs::path p = export_graph(g, (dir / "mlp.onnx").string(), FileFormat::ONNX);
    EXPECT_EQ(p, dir / "mlp.onnx");  // the suffix is not doubled
    const Tensor y =
        nn::GraphCell(load(p))(read_f32(kMsFixtures / "mlp.input.f32", {1, 1, 28, 28}));
    EXPECT_LE(max_abs_diff(y, read_f32(kMsFixtures / "mlp.output.f32", {1, 10})), 1e-5);
  }
  EXPECT_EQ(testing::list_dir(dir.path()), (std::vector<std::string>{"mlp.onnx", "tuple.onnx"}));
}

TEST(ExportGraph, TorchOnnxToMindIRAndBackRunsTheSame) {
  TempDir dir;
  for (const std::string net : {"mlp", "lenet5", "resnetish"}) {
    SCOPED_TRACE(net);
    const Tensor x = cellar::read_npy(kTorchFixtures / (net + "_input.npy"));
    const Tensor want = cellar::read_npy(kTorchFixtures / (net + "_output.npy"));
    const ir::Graph g = load(kTorchFixtures / (net + "_opset17.onnx"));
    const fs::path mindir = export_graph(g, (dir / net).string(), FileFormat::MINDIR);
    EXPECT_EQ(mindir, dir / (net + ".mindir"));
    const ir::Graph from_mindir = load(mindir);
    EXPECT_LE(max_abs_diff(nn::GraphCell(from_mindir)(x), want), 1e-5);
    // And on to ONNX again: two conversions keep the numbers.
    const fs::path onnx =
        export_graph(from_mindir, (dir / (net + "_again")).string(), FileFormat::ONNX);
    EXPECT_EQ(onnx, dir / (net + "_again.onnx"));
    EXPECT_LE(max_abs_diff(nn::GraphCell(load(onnx))(x), want), 1e-5);
  }
}

TEST(ExportGraph, AnInvalidGraphWritesNothing) {
  TempDir dir;
  ir::Graph g = load(kMsFixtures / "tuple.mindir");
  g.nodes[0].inputs[0] = 9999;  // dangling
  for (FileFormat f : {FileFormat::MINDIR, FileFormat::ONNX}) {
    try {
      export_graph(g, (dir / "bad").string(), f);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(g.nodes[0].name), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(testing::list_dir(dir.path()).empty());
}

TEST(ExportGraph, AWriterRefusalWritesNothingAndKeepsTheOldFile) {
  TempDir dir;
  // Structurally valid, but two values share a name, which neither file format can hold.
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, {2, 3});
  const int y = g.add_value("x", DType::Float32, {2, 3});
  g.inputs = {x};
  g.outputs = {y};
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {x}, .outputs = {y}});
  ASSERT_NO_THROW(g.validate());
  for (const auto& [f, name] :
       {std::pair{FileFormat::MINDIR, "r.mindir"}, std::pair{FileFormat::ONNX, "r.onnx"}}) {
    SCOPED_TRACE(name);
    { std::ofstream(dir / name) << "old"; }
    try {
      export_graph(g, (dir / "r").string(), f);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
    }
    std::ifstream in(dir / name);
    std::string old;
    in >> old;
    EXPECT_EQ(old, "old");
  }
  EXPECT_EQ(testing::list_dir(dir.path()), (std::vector<std::string>{"r.mindir", "r.onnx"}));
}

TEST(ExportGraph, LoadOptionsAreIgnoredForPlainFiles) {
  const ir::Graph g = load(kMsFixtures / "tuple.mindir", {.dec_key = std::string(16, 'k')});
  EXPECT_EQ(g.outputs.size(), 2u);
}

}  // namespace
}  // namespace cellar
