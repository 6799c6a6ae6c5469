// Symbolic (dynamic) input dimensions: graphs whose inputs have open dimensions load, run at any
// size there against MindSpore's own outputs, plan once per input shape (an LRU of plans), run
// without allocating at a shape already planned, and refuse what they cannot do with typed errors.
// The fixtures are MindSpore 2.10 exports with Tensor(shape=[None, ...])
// (tests/fixtures/mindspore/2.10/dynamic_batch/make_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <set>

#include "cellar/cellar.h"
#include "cellar/io/npy.h"
#include "counting_allocator.h"
#include "expect_error.h"
#include "mind_ir.pb.h"
#include "onnx_model_maker.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::expect_error;
using cellar::testing::max_abs_diff;

namespace {

const std::filesystem::path kDir =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/dynamic_batch";

// Allocations made by `runs` more runs of `x` into `y` (the outputs of an earlier run of `x`),
// after one warm-up run: 0 when a run at a planned shape (and value) allocates nothing.
size_t allocations_of_planned_runs(runtime::Executor& exec, const std::vector<Tensor>& x,
                                   std::vector<Tensor>& y, int runs = 1) {
  exec.run(x, y);
  const size_t before = cellar::testing::allocations();
  for (int i = 0; i < runs; ++i) exec.run(x, y);
  return cellar::testing::allocations() - before;
}

Tensor input_at(const std::string& net, int batch) {
  return read_npy(kDir / (net + ".b" + std::to_string(batch) + ".input.npy"));
}
Tensor output_at(const std::string& net, int batch) {
  return read_npy(kDir / (net + ".b" + std::to_string(batch) + ".output.npy"));
}
double bound(const Tensor& ref) {
  double m = 0;
  const float* p = ref.data<float>();
  for (int64_t i = 0; i < ref.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(p[i])));
  return 1e-4 * std::max(1.0, m);
}

class DynamicBatch : public ::testing::TestWithParam<std::string> {};

TEST_P(DynamicBatch, LoadsWithAnOpenBatchDimension) {
  const std::string net = GetParam();
  const ir::Graph g = load(kDir / (net + ".mindir"));
  ASSERT_TRUE(g.symbolic());
  ASSERT_EQ(g.inputs.size(), 1u);
  const ir::ValueInfo& x = g.value(g.inputs[0]);
  EXPECT_TRUE(x.open(0));
  for (size_t d = 1; d < x.shape.rank(); ++d) EXPECT_FALSE(x.open(d)) << d;
  EXPECT_EQ(x.shape_str(), net == "lenet5" ? "(?, 1, 32, 32)" : "(?, 1, 28, 28)");
  EXPECT_EQ(x.type_str(), net == "lenet5" ? "Float32(?, 1, 32, 32)" : "Float32(?, 1, 28, 28)");
  // The open batch flows to the output: MindSpore records it as -1, cellar infers and marks it.
  EXPECT_EQ(g.value(g.outputs[0]).shape_str(), "(?, 10)");
}

TEST_P(DynamicBatch, RunsEveryBatchAsMindSporeDoes) {
  const std::string net = GetParam();
  nn::GraphCell cell(load(kDir / (net + ".mindir")));
  for (int b : {1, 3, 8, 3, 1}) {
    const Tensor y = cell(input_at(net, b));
    const Tensor ref = output_at(net, b);
    EXPECT_LE(cellar::testing::max_abs_diff(y, ref), bound(ref)) << net << " batch " << b;
    EXPECT_EQ(cell.input_shapes()[0][0], b);
    EXPECT_EQ(cell.output_types()[0].shape, (Shape{b, 10}));
  }
  // Batch 1 was planned at construction (the representative size); 3 and 8 once each.
  EXPECT_EQ(cell.executor().plan_count(), 3u);
}

TEST_P(DynamicBatch, RunningAtAPlannedShapeAllocatesNothing) {
  const std::string net = GetParam();
  runtime::Executor exec(load(kDir / (net + ".mindir")));
  const std::vector<Tensor> x3{input_at(net, 3)}, x8{input_at(net, 8)};
  exec.resize({x3[0].shape()});
  std::vector<Tensor> y3 = exec.make_outputs();
  exec.resize({x8[0].shape()});
  std::vector<Tensor> y8 = exec.make_outputs();
  exec.run(x3, y3);  // warm: the plans exist, kernels have run once
  exec.run(x8, y8);
  const size_t plans = exec.plan_count();
  const size_t before = cellar::testing::allocations();
  exec.run(x3, y3);
  exec.run(x8, y8);
  exec.run(x3, y3);
  const size_t allocated = cellar::testing::allocations() - before;
  EXPECT_EQ(allocated, 0u) << "allocations while running at planned shapes";
  EXPECT_EQ(exec.plan_count(), plans);
  EXPECT_LE(cellar::testing::max_abs_diff(y3[0], output_at(net, 3)), bound(output_at(net, 3)));
  EXPECT_LE(cellar::testing::max_abs_diff(y8[0], output_at(net, 8)), bound(output_at(net, 8)));
  // A new shape does plan (and so allocate).
  const std::vector<Tensor> x5{
      Tensor(DType::Float32, Shape{5, x3[0].shape()[1], x3[0].shape()[2], x3[0].shape()[3]})};
  const size_t before_new = cellar::testing::allocations();
  const auto y5 = exec.run(x5);
  EXPECT_GT(cellar::testing::allocations(), before_new);
  EXPECT_EQ(y5[0].shape(), (Shape{5, 10}));
}

INSTANTIATE_TEST_SUITE_P(MindSpore210, DynamicBatch, ::testing::Values("lenet5", "mlp"));

// The depthwise convolutions (the direct kernel on the wide planes, the blocked one on the small
// ones, on one worker and on two) allocate nothing per run either: two mindcv mobilenets of the
// zoo fixtures, outputs as MindSpore's.
TEST(DynamicShapes, DepthwiseNetsRunWithoutAllocating) {
  const std::filesystem::path zoo =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/zoo";
  for (const char* net : {"mobilenet_v2_035_128", "mobilenet_v3_small_075"}) {
    for (int threads : {1, 2}) {
      runtime::Executor exec(load(zoo / (std::string(net) + ".mindir")), {.threads = threads});
      const std::vector<Tensor> x{read_npy(zoo / (std::string(net) + ".input.npy"))};
      std::vector<Tensor> y = exec.run(x);
      EXPECT_EQ(allocations_of_planned_runs(exec, x, y, 3), 0u) << net << " threads " << threads;
      const Tensor ref = read_npy(zoo / (std::string(net) + ".output.npy"));
      EXPECT_LE(max_abs_diff(y[0], ref), bound(ref)) << net << " threads " << threads;
    }
  }
}

TEST(DynamicShapes, PlansAreCachedLeastRecentlyUsedFirst) {
  runtime::Executor exec(load(kDir / "mlp.mindir"));
  EXPECT_EQ(exec.plan_count(), 1u);
  for (int64_t b = 2; b < 2 + 2 * static_cast<int64_t>(runtime::Executor::kMaxPlans); ++b)
    exec.resize({Shape{b, 1, 28, 28}});
  EXPECT_EQ(exec.plan_count(), runtime::Executor::kMaxPlans);
  // resize makes the plan current: shapes, output types and fresh outputs follow it.
  exec.resize({Shape{4, 1, 28, 28}});
  EXPECT_EQ(exec.input_shapes(), (std::vector<Shape>{Shape{4, 1, 28, 28}}));
  EXPECT_EQ(exec.output_types()[0].shape, (Shape{4, 10}));
  EXPECT_EQ(exec.make_outputs()[0].shape(), (Shape{4, 10}));
  EXPECT_EQ(exec.plan_count(), runtime::Executor::kMaxPlans);
}

TEST(DynamicShapes, AFixedAxisOrARankThatDiffersIsATypedError) {
  nn::GraphCell cell(load(kDir / "mlp.mindir"));
  auto e = expect_error(
      [&] {
        cell(Tensor(DType::Float32, Shape{3, 1, 28, 29}));
      },
      ErrorCode::kShapeMismatch);
  EXPECT_NE(
      std::string(e.what()).find("expects Float32(?, 1, 28, 28), given Float32(3, 1, 28, 29)"),
      std::string::npos)
      << e.what();
  expect_error([&] { cell(Tensor(DType::Float32, Shape{3, 28, 28})); }, ErrorCode::kShapeMismatch);
  expect_error([&] { cell.resize({Shape{2, 2, 28, 28}}); }, ErrorCode::kShapeMismatch);
  expect_error(
      [&] {
        cell(Tensor(DType::Float64, Shape{3, 1, 28, 28}));
      },
      ErrorCode::kDTypeMismatch);
  // Nothing was planned for the refused shapes.
  EXPECT_EQ(cell.executor().plan_count(), 1u);
}

TEST(DynamicShapes, AStaticGraphKeepsOnePlanAndRefusesOtherShapes) {
  const ir::Graph g = load(std::filesystem::path(CELLAR_SOURCE_DIR) /
                           "tests/fixtures/mindspore/2.10/mindir/lenet5.mindir");
  ASSERT_FALSE(g.symbolic());
  runtime::Executor exec(g);
  EXPECT_EQ(g.value(g.inputs[0]).shape_str(), "(2, 1, 32, 32)");
  const std::vector<Tensor> x{Tensor(DType::Float32, Shape{3, 1, 32, 32})};
  expect_error([&] { exec.run(x); }, ErrorCode::kShapeMismatch);
  EXPECT_EQ(exec.plan_count(), 1u);
}

TEST(DynamicShapes, ValidateChecksTheSymbols) {
  ir::Graph g;
  const int x = g.add_value("x", DType::Float32, Shape{1, 4});
  g.values[static_cast<size_t>(x)].symbols = {"batch", "", ""};  // rank 2, three symbols
  const int y = g.add_value("y", DType::Float32, Shape{1, 4});
  g.inputs = {x};
  g.nodes.push_back({.name = "relu", .op = "ReLU", .inputs = {x}, .outputs = {y}, .attrs = {}});
  g.outputs = {y};
  auto e = expect_error([&] { g.validate(); }, ErrorCode::kFormat);
  EXPECT_NE(std::string(e.what()).find("3 dimension symbols for rank 2"), std::string::npos)
      << e.what();
  g.values[static_cast<size_t>(x)].symbols = {"batch", ""};
  g.validate();
  EXPECT_TRUE(g.symbolic());
  EXPECT_EQ(g.value(x).shape_str(), "(batch, 4)");
  g.derive_symbols();
  EXPECT_EQ(g.value(y).shape_str(), "(batch, 4)");
  runtime::Executor exec(g);
  const std::vector<Tensor> in{Tensor::from_vector<float>({-1, 2, -3, 4, 5, -6, 7, -8}, {2, 4})};
  const auto out = exec.run(in);
  EXPECT_EQ(out[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(out[0].data<float>()[1], 2.0f);
  EXPECT_EQ(out[0].data<float>()[2], 0.0f);
}

TEST(DynamicShapes, ExportingASymbolicGraphIsRefused) {
  cellar::testing::TempDir dir;
  const ir::Graph g = load(kDir / "mlp.mindir");
  for (auto fmt : {FileFormat::MINDIR, FileFormat::ONNX}) {
    auto e =
        expect_error([&] { export_graph(g, (dir / "out").string(), fmt); }, ErrorCode::kExport);
    EXPECT_NE(std::string(e.what()).find("symbolic"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(cellar::testing::list_dir(dir.path()).empty());
}

TEST(DynamicShapes, MindIRDynamicRankIsRefused) {
  mind_ir::ModelProto m;
  const auto bytes = cellar::testing::read_bytes(kDir / "mlp.mindir");
  ASSERT_TRUE(m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  ASSERT_EQ(m.graph().input(0).tensor(0).dims(0), -1);
  m.mutable_graph()->mutable_input(0)->mutable_tensor(0)->set_dims(0, -2);
  cellar::testing::TempDir dir;
  cellar::testing::write_string(dir / "rank.mindir", m.SerializeAsString());
  auto e = expect_error([&] { load(dir / "rank.mindir"); }, ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("dynamic rank"), std::string::npos) << e.what();
}

}  // namespace

// ---- shapes that depend on values: ONNX's Expand to a shape computed at run time ----

namespace {

using cellar::testing::i64;
using cellar::testing::ModelMaker;
namespace onnx_pb = ::onnx;

ir::Graph read_model(const ModelMaker& mk) {
  const std::string b = mk.bytes();
  ir::Graph g =
      formats::read_onnx({reinterpret_cast<const std::byte*>(b.data()), b.size()}, "dyn.onnx");
  g.validate("dyn.onnx");
  return g;
}

// Y = Expand(X, S) with X float (1, 3, 1) and the target S a graph input (ONNX's
// simple/test_expand_shape_model*).
ModelMaker expand_to_input(int64_t shape_len) {
  ModelMaker mk(13);
  mk.input("X", {1, 3, 1});
  mk.input("S", {shape_len}, onnx_pb::TensorProto::INT64);
  mk.node("Expand", {"X", "S"}, {"Y"})->set_name("expand_y");
  mk.output("Y");
  return mk;
}

Tensor x131() { return Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{1, 3, 1}); }

}  // namespace

TEST(ValueDependentShapes, ExpandToAShapeGivenAsAGraphInput) {
  const ir::Graph g = read_model(expand_to_input(2));
  EXPECT_EQ(g.shape_value_inputs(), (std::vector<bool>{false, true}));
  runtime::Executor exec(g);
  const std::vector<Tensor> in{x131(), i64({2, 1, 4})}, in3{x131(), i64({1, 3})};
  expect_error([&] { exec.run(in); }, ErrorCode::kShapeMismatch);  // S is (2,), not (3,)
  const auto y = exec.run(in3);
  ASSERT_EQ(y[0].shape(), (Shape{1, 3, 3}));
  const float want[9] = {1, 1, 1, 2, 2, 2, 3, 3, 3};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(y[0].data<float>()[i], want[i]) << i;
  const auto y2 = exec.run(std::vector<Tensor>{x131(), i64({3, 1})});  // (1,3,1) with (3,1)
  ASSERT_EQ(y2[0].shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(y2[0].data<float>()[2], 3.0f);
}

TEST(ValueDependentShapes, TheSameValueReusesItsPlanAndANewValueReplans) {
  runtime::Executor exec(read_model(expand_to_input(2)));
  const size_t at_load = exec.plan_count();  // the representative plan
  const std::vector<Tensor> a{x131(), i64({1, 3})}, b{x131(), i64({3, 4})};
  std::vector<Tensor> ya = exec.run(a);
  EXPECT_EQ(exec.plan_count(), at_load + 1);
  EXPECT_EQ(allocations_of_planned_runs(exec, a, ya, 2), 0u)
      << "allocations at a planned shape and value";
  EXPECT_EQ(exec.plan_count(), at_load + 1);
  // Same input shapes, another value: a plan of its own, with its own output shape.
  const size_t before_new = cellar::testing::allocations();
  const auto yb = exec.run(b);
  EXPECT_GT(cellar::testing::allocations(), before_new);
  EXPECT_EQ(exec.plan_count(), at_load + 2);
  ASSERT_EQ(yb[0].shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(yb[0].data<float>()[11], 3.0f);
  // Back to the first value: its plan is still there.
  exec.run(a, ya);
  EXPECT_EQ(exec.plan_count(), at_load + 2);
  EXPECT_EQ(ya[0].shape(), (Shape{1, 3, 3}));
}

TEST(ValueDependentShapes, BadTargetValuesAreTypedErrorsNamingTheNode) {
  runtime::Executor exec(read_model(expand_to_input(2)));
  const size_t plans = exec.plan_count();
  const std::vector<std::pair<std::vector<int64_t>, std::string>> bad = {
      {{-1, 3}, "negative dimension -1"},
      {{2, 2}, "do not broadcast"},          // x's 3 against 2
      {{1, int64_t{1} << 62}, "overflows"},  // (1, 3, 2^62): 3 × 2^62 elements
      {{1, int64_t{1} << 61}, "overflows"},  // 3 × 2^61 elements fit, × 4 bytes do not
  };
  for (const auto& entry : bad) {  // not a structured binding: clang 14 refuses capturing one
    const std::vector<int64_t>& target = entry.first;
    const std::string& why = entry.second;
    const auto e = expect_error(
        [&] {
          exec.run(std::vector<Tensor>{x131(), i64(target)});
        },
        ErrorCode::kShapeMismatch);
    EXPECT_EQ(e.tensor(), "expand_y") << e.what();
    EXPECT_NE(std::string(e.what()).find("node 'expand_y' (Expand)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  EXPECT_EQ(exec.plan_count(), plans);  // nothing planned for refused values
  EXPECT_EQ(exec.run(std::vector<Tensor>{x131(), i64({1, 1})})[0].shape(), (Shape{1, 3, 1}));
}

// torch's x.expand(x.size(0), 3)-style graphs on a dynamic batch: the target is computed from the
// input's shape (Shape -> Gather -> Concat), so it must follow the batch at run time.
TEST(ValueDependentShapes, ShapeComputedFromTheInputShapeFollowsTheBatch) {
  ModelMaker mk(13);
  mk.input_symbolic("X", {"N", "3"});
  mk.init("row", Tensor::from_vector(std::vector<float>{10, 20, 30}, Shape{1, 3}));
  mk.init("first", i64({0}));
  mk.init("three", i64({3}));
  mk.node("Shape", {"X"}, {"sx"});
  mk.node("Gather", {"sx", "first"}, {"n"});
  ModelMaker::i(mk.node("Concat", {"n", "three"}, {"target"}), "axis", 0);
  mk.node("Expand", {"row", "target"}, {"rows"})->set_name("expand_rows");
  mk.node("Add", {"rows", "X"}, {"Y"});
  mk.output("Y");
  const ir::Graph g = read_model(mk);
  EXPECT_EQ(g.shape_value_inputs(), (std::vector<bool>{false}));  // shapes suffice
  runtime::Executor exec(g);
  for (int64_t n : {2, 5, 1}) {
    Tensor x(DType::Float32, Shape{n, 3});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
    const auto y = exec.run(std::vector<Tensor>{x});
    ASSERT_EQ(y[0].shape(), (Shape{n, 3})) << n;
    for (int64_t i = 0; i < x.numel(); ++i)
      EXPECT_EQ(y[0].data<float>()[i], static_cast<float>(i + 10 * (i % 3 + 1))) << n << " " << i;
  }
  const std::vector<Tensor> x4{Tensor(DType::Float32, Shape{4, 3})};
  std::vector<Tensor> y4 = exec.run(x4);
  const size_t plans = exec.plan_count();
  EXPECT_EQ(allocations_of_planned_runs(exec, x4, y4), 0u);
  EXPECT_EQ(exec.plan_count(), plans);
}

// The same Shape -> Gather -> Concat chain over a value whose shape itself is known only at run
// time (the output of an Expand to a graph input): the Shape node is read at run time too.
TEST(ValueDependentShapes, ShapeOfAValueShapedAtRunTime) {
  ModelMaker mk(13);
  mk.input("X", {1, 3, 1});
  mk.input("S", {3}, onnx_pb::TensorProto::INT64);
  mk.init("last", i64({2}));
  mk.init("one", i64({1}));
  mk.node("Expand", {"X", "S"}, {"A"});
  mk.node("Shape", {"A"}, {"sa"});
  mk.node("Gather", {"sa", "last"}, {"k"});
  ModelMaker::i(mk.node("Concat", {"one", "k"}, {"t"}), "axis", 0);
  mk.init("v", Tensor::from_vector(std::vector<float>{7}, Shape{1, 1}));
  mk.node("Expand", {"v", "t"}, {"Y"})->set_name("expand_v");
  mk.output("Y");
  mk.output("A");
  runtime::Executor exec(read_model(mk));
  const auto y = exec.run(std::vector<Tensor>{x131(), i64({2, 3, 5})});
  EXPECT_EQ(y[0].shape(), (Shape{1, 5}));
  EXPECT_EQ(y[1].shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(y[0].data<float>()[4], 7.0f);
}

// ---- value inputs that stand for attributes: Reshape, ConstantOfShape, Range, Tile and Slice
// whose shape-deciding input is computed at run time ----

namespace {

Tensor iota(Shape s) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

Tensor i64_scalar(int64_t v) { return Tensor::from_vector(std::vector<int64_t>{v}, Shape{}); }

// The error a plan gives for bad values: kShapeMismatch naming the node, with `why` in it.
void expect_node_error(const std::function<void()>& f, const std::string& node,
                       const std::string& why) {
  const auto e = expect_error(f, ErrorCode::kShapeMismatch);
  EXPECT_EQ(e.tensor(), node) << e.what();
  EXPECT_NE(std::string(e.what()).find("node '" + node + "'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
}

}  // namespace

TEST(ValueDependentShapes, ReshapeToAShapeGivenAsAGraphInput) {
  ModelMaker mk(13);
  mk.input("X", {2, 3, 4});
  mk.input("S", {2}, onnx_pb::TensorProto::INT64);
  mk.node("Reshape", {"X", "S"}, {"Y"})->set_name("reshape_y");
  mk.output("Y");
  const ir::Graph g = read_model(mk);
  EXPECT_EQ(g.shape_value_inputs(), (std::vector<bool>{false, true}));
  runtime::Executor exec(g);
  const Tensor x = iota({2, 3, 4});
  for (const auto& [target, want] : std::vector<std::pair<std::vector<int64_t>, Shape>>{
           {{6, 4}, Shape{6, 4}}, {{-1, 12}, Shape{2, 12}}, {{0, -1}, Shape{2, 12}}}) {
    const auto y = exec.run(std::vector<Tensor>{x, i64(target)});
    ASSERT_EQ(y[0].shape(), want) << Shape(target).str();
    for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(y[0].data<float>()[i], static_cast<float>(i));
  }
  // A value already planned: its plan again, and no allocation.
  const std::vector<Tensor> in{x, i64({4, 6})};
  std::vector<Tensor> y = exec.run(in);
  const size_t plans = exec.plan_count();
  EXPECT_EQ(allocations_of_planned_runs(exec, in, y, 2), 0u) << "allocations at a planned value";
  EXPECT_EQ(exec.plan_count(), plans);
  EXPECT_EQ(y[0].shape(), (Shape{4, 6}));
  const std::vector<std::pair<std::vector<int64_t>, std::string>> bad = {
      {{-2, 12}, "negative dimension -2"},
      {{-1, -1}, "more than one -1"},
      {{5, 5}, "cannot reshape"},
      {{int64_t{1} << 62, 4}, "overflows"},
  };
  for (const auto& [target, why] : bad) {
    const Tensor s = i64(target);
    expect_node_error([&] { exec.run(std::vector<Tensor>{x, s}); }, "reshape_y", why);
  }
  EXPECT_EQ(exec.plan_count(), plans);  // nothing planned for refused values
}

// A zero-element input may take any dimensions its shape input gives, up to the readers' limits.
TEST(ValueDependentShapes, ShapesFromValuesKeepTheReadersLimits) {
  ModelMaker mk(13);
  mk.input("X", {0, 3});
  mk.input("S", {2}, onnx_pb::TensorProto::INT64);
  mk.node("Reshape", {"X", "S"}, {"Y"})->set_name("reshape_empty");
  mk.output("Y");
  runtime::Executor exec(read_model(mk));
  const Tensor x(DType::Float32, Shape{0, 3});
  EXPECT_EQ(exec.run(std::vector<Tensor>{x, i64({0, int64_t{1} << 40})})[0].shape(),
            (Shape{0, int64_t{1} << 40}));
  expect_node_error(
      [&] {
        exec.run(std::vector<Tensor>{x, i64({0, int64_t{1} << 50})});
      },
      "reshape_empty", "above cellar's limit of 2^48");

  // ConstantOfShape to a graph input: negative and overflowing shapes are refused.
  ModelMaker mc(13);
  mc.input("S", {3}, onnx_pb::TensorProto::INT64);
  mc.node("ConstantOfShape", {"S"}, {"Y"})->set_name("fill");
  mc.output("Y");
  runtime::Executor fill(read_model(mc));
  const auto y = fill.run(std::vector<Tensor>{i64({2, 1, 3})});
  ASSERT_EQ(y[0].shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(y[0].dtype(), DType::Float32);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y[0].data<float>()[i], 0.0f);
  expect_node_error(
      [&] {
        fill.run(std::vector<Tensor>{i64({2, -1, 3})});
      },
      "fill", "negative dimension -1");
  expect_node_error(
      [&] {
        fill.run(std::vector<Tensor>{i64({int64_t{1} << 30, 1 << 30, 8})});
      },
      "fill", "overflows");
  expect_node_error(
      [&] {
        fill.run(std::vector<Tensor>{i64({0, int64_t{1} << 49, 1})});
      },
      "fill", "above cellar's limit of 2^48");
  expect_node_error(
      [&] {
        fill.run(std::vector<Tensor>{i64({int64_t{1} << 31, 1 << 30, 2})});
      },
      "fill", "more bytes than int64");
}

TEST(ValueDependentShapes, RangeTileAndSliceFromGraphInputs) {
  ModelMaker mk(13);
  mk.input("start", {}, onnx_pb::TensorProto::INT64);
  mk.input("limit", {}, onnx_pb::TensorProto::INT64);
  mk.input("delta", {}, onnx_pb::TensorProto::INT64);
  mk.node("Range", {"start", "limit", "delta"}, {"R"})->set_name("range");
  mk.output("R");
  runtime::Executor range(read_model(mk));
  auto r = range.run(std::vector<Tensor>{i64_scalar(3), i64_scalar(-4), i64_scalar(-2)});
  ASSERT_EQ(r[0].shape(), (Shape{4}));
  const int64_t want[4] = {3, 1, -1, -3};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r[0].data<int64_t>()[i], want[i]);
  EXPECT_EQ(range.run(std::vector<Tensor>{i64_scalar(5), i64_scalar(1), i64_scalar(1)})[0].shape(),
            (Shape{0}));
  expect_node_error(
      [&] {
        range.run(std::vector<Tensor>{i64_scalar(0), i64_scalar(5), i64_scalar(0)});
      },
      "range", "delta must be non-zero");
  expect_node_error(
      [&] {
        range.run(std::vector<Tensor>{i64_scalar(std::numeric_limits<int64_t>::min()),
                                      i64_scalar(std::numeric_limits<int64_t>::max()),
                                      i64_scalar(1)});
      },
      "range", "dimension limit of 2^48");

  ModelMaker mt(13);
  mt.input("X", {2, 3});
  mt.input("reps", {2}, onnx_pb::TensorProto::INT64);
  mt.node("Tile", {"X", "reps"}, {"Y"})->set_name("tile");
  mt.output("Y");
  runtime::Executor tile(read_model(mt));
  const auto t = tile.run(std::vector<Tensor>{iota({2, 3}), i64({2, 2})});
  ASSERT_EQ(t[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(t[0].data<float>()[4], 1.0f);   // row 0, column 4: x[0, 1]
  EXPECT_EQ(t[0].data<float>()[23], 5.0f);  // row 3, column 5: x[1, 2]
  expect_node_error(
      [&] {
        tile.run(std::vector<Tensor>{iota({2, 3}), i64({1, -3})});
      },
      "tile", "multiples must be non-negative, got -3");
  expect_node_error(
      [&] {
        tile.run(std::vector<Tensor>{iota({2, 3}), i64({int64_t{1} << 62, 1})});
      },
      "tile", "overflows");

  // x[:, s:e] with s and e graph inputs (axes and steps constant).
  ModelMaker ms(13);
  ms.input("X", {2, 5});
  ms.input("s", {1}, onnx_pb::TensorProto::INT64);
  ms.input("e", {1}, onnx_pb::TensorProto::INT64);
  ms.init("axes", i64({1}));
  ms.node("Slice", {"X", "s", "e", "axes"}, {"Y"})->set_name("slice");
  ms.output("Y");
  runtime::Executor slice(read_model(ms));
  const auto sl = slice.run(std::vector<Tensor>{iota({2, 5}), i64({1}), i64({-1})});
  ASSERT_EQ(sl[0].shape(), (Shape{2, 3}));
  const float ws[6] = {1, 2, 3, 6, 7, 8};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(sl[0].data<float>()[i], ws[i]);
  EXPECT_EQ(slice.run(std::vector<Tensor>{iota({2, 5}), i64({-100}), i64({100})})[0].shape(),
            (Shape{2, 5}));  // clamped as NumPy does
}

// TopK's k and Pad's pads given as graph inputs: the two-input forms TopkExt(x, k) and Pad(x,
// pads), planned with the values; bad values are typed errors naming the node; MindIR, which
// carries them only as constants, refuses to write them; ONNX writes them as it reads them.
TEST(ValueDependentShapes, TopKAndPadFromGraphInputs) {
  auto node_error = [](const std::function<void()>& f, ErrorCode code, const std::string& node,
                       const std::string& why) {
    const auto e = expect_error(f, code);
    EXPECT_EQ(e.tensor().substr(0, node.size()), node) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  };
  ModelMaker mk(18);
  mk.input("X", {2, 5});
  mk.input("k", {1}, onnx_pb::TensorProto::INT64);
  mk.input("pads", {4}, onnx_pb::TensorProto::INT64);
  mk.input("cols", {2}, onnx_pb::TensorProto::INT64);
  mk.init("axis1", i64({1}));
  mk.node("TopK", {"X", "k"}, {"V", "I"})->set_name("topk");
  mk.node("Pad", {"X", "pads"}, {"P"})->set_name("pad");
  mk.node("Pad", {"X", "cols", "", "axis1"}, {"Q"})->set_name("pad_cols");  // opset 18's axes
  for (const char* o : {"V", "I", "P", "Q"}) mk.output(o);
  const ir::Graph g = read_model(mk);
  std::set<std::string> two_input;
  for (const auto& n : g.nodes)
    if (n.inputs.size() == 2 && (n.op == "TopkExt" || n.op == "Pad"))
      two_input.insert(n.name.substr(0, n.name.find('/')));
  // pad_cols's pads are first filled in over every dimension (a Concat and a Gather before it).
  EXPECT_EQ(two_input, (std::set<std::string>{"topk", "pad", "pad_cols"}));
  const std::string bytes = formats::write_onnx(g);
  const ir::Graph back = formats::read_onnx(
      {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "back.onnx");
  back.validate("back.onnx");
  // x = [[0 1 2 3 4], [5 6 7 8 9]] reversed in its second row, so the top elements differ.
  Tensor x = iota({2, 5});
  for (int i = 0; i < 5; ++i) x.data<float>()[5 + i] = static_cast<float>(9 - i);
  for (const ir::Graph* graph : {&g, &back}) {
    runtime::Executor exec(*graph);
    for (int64_t k : {3, 0, 5}) {
      SCOPED_TRACE(k);
      const auto y = exec.run(std::vector<Tensor>{x, i64({k}), i64({0, 1, 1, 0}), i64({2, 1})});
      ASSERT_EQ(y[0].shape(), (Shape{2, k}));
      ASSERT_EQ(y[1].shape(), (Shape{2, k}));
      for (int64_t j = 0; j < k; ++j) {
        EXPECT_EQ(y[0].data<float>()[j], static_cast<float>(4 - j));  // row 0: 4, 3, 2
        EXPECT_EQ(y[1].data<int64_t>()[j], 4 - j);
        EXPECT_EQ(y[0].data<float>()[k + j], static_cast<float>(9 - j));  // row 1: 9, 8, 7
        EXPECT_EQ(y[1].data<int64_t>()[k + j], j);
      }
      // pads [0, 1, 1, 0]: (before, after) = (0, 1) on rows, (1, 0) on columns.
      ASSERT_EQ(y[2].shape(), (Shape{3, 6}));
      EXPECT_EQ(y[2].data<float>()[0], 0.0f);
      EXPECT_EQ(y[2].data<float>()[1], 0.0f);  // x[0, 0] moved one column right
      EXPECT_EQ(y[2].data<float>()[2], 1.0f);
      EXPECT_EQ(y[2].data<float>()[17], 0.0f);
      // Columns only (axes = [1]): 2 before, 1 after.
      ASSERT_EQ(y[3].shape(), (Shape{2, 8}));
      EXPECT_EQ(y[3].data<float>()[2], 0.0f);
      EXPECT_EQ(y[3].data<float>()[3], 1.0f);
      EXPECT_EQ(y[3].data<float>()[8 + 2], 9.0f);
    }
    if (graph == &back) continue;  // the errors name the nodes of the file read
    node_error(
        [&] {
          exec.run(std::vector<Tensor>{x, i64({6}), i64({0, 0, 0, 0}), i64({0, 0})});
        },
        ErrorCode::kInvalidArgument, "topk", "k = 6 is outside [0, 5]");
    node_error(
        [&] {
          exec.run(std::vector<Tensor>{x, i64({-1}), i64({0, 0, 0, 0}), i64({0, 0})});
        },
        ErrorCode::kInvalidArgument, "topk", "k = -1");
    node_error(
        [&] {
          exec.run(std::vector<Tensor>{x, i64({1}), i64({0, -1, 0, 0}), i64({0, 0})});
        },
        ErrorCode::kShapeMismatch, "pad", "negative pads (crops) must be constants");
    node_error(
        [&] {
          exec.run(std::vector<Tensor>{x, i64({1}), i64({0, 0, 0, 0}), i64({int64_t{1} << 62, 0})});
        },
        ErrorCode::kShapeMismatch, "pad_cols", "");
  }
  cellar::testing::TempDir dir;
  const auto e = expect_error([&] { export_graph(g, (dir / "out").string(), FileFormat::MINDIR); },
                              ErrorCode::kExport);
  EXPECT_NE(std::string(e.what()).find("topk"), std::string::npos) << e.what();
  ModelMaker mp(13);
  mp.input("X", {2, 5});
  mp.input("pads", {4}, onnx_pb::TensorProto::INT64);
  mp.node("Pad", {"X", "pads"}, {"P"})->set_name("pad");
  mp.output("P");
  const ir::Graph gp = read_model(mp);
  const auto ep = expect_error(
      [&] { export_graph(gp, (dir / "pad").string(), FileFormat::MINDIR); }, ErrorCode::kExport);
  EXPECT_NE(std::string(ep.what()).find("pad"), std::string::npos) << ep.what();
  EXPECT_TRUE(cellar::testing::list_dir(dir.path()).empty());
}

// Resize's sizes given as a graph input: either row's two-input form (linear, nearest), planned
// with the values; sizes that resize N or C, or ask for an empty or huge image, are typed errors
// naming the node; ONNX writes the form back as it reads it.
TEST(ValueDependentShapes, ResizeToSizesGivenAsAGraphInput) {
  ModelMaker mk(13);
  mk.input("X", {1, 2, 2, 2});
  mk.input("sizes", {4}, onnx_pb::TensorProto::INT64);
  auto* lin = mk.node("Resize", {"X", "", "", "sizes"}, {"L"});
  lin->set_name("linear");
  ModelMaker::s(lin, "mode", "linear");
  ModelMaker::s(lin, "coordinate_transformation_mode", "align_corners");
  auto* near = mk.node("Resize", {"X", "", "", "sizes"}, {"N"});
  near->set_name("nearest");
  ModelMaker::s(near, "mode", "nearest");
  ModelMaker::s(near, "coordinate_transformation_mode", "asymmetric");
  ModelMaker::s(near, "nearest_mode", "floor");
  mk.output("L");
  mk.output("N");
  const ir::Graph g = read_model(mk);
  size_t two_input = 0;
  for (const auto& n : g.nodes) two_input += n.inputs.size() == 2;
  EXPECT_EQ(two_input, 2u);
  const std::string bytes = formats::write_onnx(g);
  const ir::Graph back = formats::read_onnx(
      {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "back.onnx");
  back.validate("back.onnx");
  const Tensor x = iota({1, 2, 2, 2});  // planes [[0 1] [2 3]] and [[4 5] [6 7]]
  for (const ir::Graph* graph : {&g, &back}) {
    runtime::Executor exec(*graph);
    const auto y = exec.run(std::vector<Tensor>{x, i64({1, 2, 3, 4})});
    ASSERT_EQ(y[0].shape(), (Shape{1, 2, 3, 4}));
    ASSERT_EQ(y[1].shape(), (Shape{1, 2, 3, 4}));
    EXPECT_FLOAT_EQ(y[0].data<float>()[0], 0.0f);
    EXPECT_FLOAT_EQ(y[0].data<float>()[11], 3.0f);  // align_corners keeps the corners
    EXPECT_FLOAT_EQ(y[0].data<float>()[4], 1.0f);   // row 1 of 3: halfway between rows 0 and 1
    EXPECT_FLOAT_EQ(y[1].data<float>()[1], 0.0f);   // nearest, floor(1 · 2/4) = 0
    EXPECT_FLOAT_EQ(y[1].data<float>()[2], 1.0f);   // floor(2 · 2/4) = 1
    EXPECT_EQ(exec.run(std::vector<Tensor>{x, i64({1, 2, 1, 1})})[0].shape(), (Shape{1, 2, 1, 1}));
  }
  runtime::Executor exec(g);
  for (const auto& [bad, why] :
       {std::pair<std::vector<int64_t>, std::string>{{2, 2, 3, 3}, "only H and W may be resized"},
        {{1, 3, 3, 3}, "only H and W may be resized"},
        {{1, 2, 0, 3}, "sizes must be positive"},
        {{1, 2, -5, 3}, "sizes must be positive"},
        {{1, 2, int64_t{1} << 40, int64_t{1} << 40}, ""}}) {
    const Tensor sizes = i64(bad);  // a lambda cannot capture a structured binding in C++20
    const auto e = expect_error(
        [&] {
          exec.run(std::vector<Tensor>{x, sizes});
        },
        ErrorCode::kShapeMismatch);
    EXPECT_EQ(e.tensor(), "linear") << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  cellar::testing::TempDir dir;
  const auto e = expect_error([&] { export_graph(g, (dir / "out").string(), FileFormat::MINDIR); },
                              ErrorCode::kExport);
  EXPECT_NE(std::string(e.what()).find("computed at run time"), std::string::npos) << e.what();
}

// Split's sizes given as a graph input: the two-input form Split(x, sizes), one output per entry,
// planned with the values; sizes that do not add up to the dimension or are negative are typed
// errors naming the node; ONNX writes the form back as it reads it, MindIR refuses it.
TEST(ValueDependentShapes, SplitBySizesGivenAsAGraphInput) {
  ModelMaker mk(13);
  mk.input("X", {2, 5});
  mk.input("sizes", {3}, onnx_pb::TensorProto::INT64);
  auto* split = mk.node("Split", {"X", "sizes"}, {"A", "B", "C"});
  split->set_name("split");
  ModelMaker::i(split, "axis", 1);
  for (const char* o : {"A", "B", "C"}) mk.output(o);
  const ir::Graph g = read_model(mk);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].inputs.size(), 2u);
  const std::string bytes = formats::write_onnx(g);
  const ir::Graph back = formats::read_onnx(
      {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "back.onnx");
  back.validate("back.onnx");
  for (const ir::Graph* graph : {&g, &back}) {
    runtime::Executor exec(*graph);
    const auto y = exec.run(std::vector<Tensor>{iota({2, 5}), i64({1, 0, 4})});
    ASSERT_EQ(y.size(), 3u);
    EXPECT_EQ(y[0].shape(), (Shape{2, 1}));
    EXPECT_EQ(y[1].shape(), (Shape{2, 0}));
    ASSERT_EQ(y[2].shape(), (Shape{2, 4}));
    EXPECT_EQ(y[0].data<float>()[1], 5.0f);
    EXPECT_EQ(y[2].data<float>()[4], 6.0f);
    const auto z = exec.run(std::vector<Tensor>{iota({2, 5}), i64({2, 2, 1})});
    EXPECT_EQ(z[2].shape(), (Shape{2, 1}));
    EXPECT_EQ(z[2].data<float>()[1], 9.0f);
  }
  runtime::Executor exec(g);
  for (const auto& [bad, why] :
       {std::pair<std::vector<int64_t>, std::string>{{1, 1, 1}, "add up to 3, not dimension 5"},
        {{3, 3, -1}, "sizes must not be negative"},
        {{int64_t{1} << 62, int64_t{1} << 62, 5}, "bad size"}}) {
    const Tensor sizes = i64(bad);
    const auto e = expect_error(
        [&] {
          exec.run(std::vector<Tensor>{iota({2, 5}), sizes});
        },
        ErrorCode::kShapeMismatch);
    EXPECT_EQ(e.tensor(), "split") << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  cellar::testing::TempDir dir;
  const auto e = expect_error([&] { export_graph(g, (dir / "out").string(), FileFormat::MINDIR); },
                              ErrorCode::kExport);
  EXPECT_NE(std::string(e.what()).find("computed at run time"), std::string::npos) << e.what();
}

// TopK's k and Pad's pads read from the input's shape (torch's x.topk(x.size(1) // 2) and
// F.pad(x, (0, x.size(1))) on dynamic axes): computed at run time, every size matches.
TEST(ValueDependentShapes, TopKAndPadFromTheInputShape) {
  ModelMaker mk(13);
  mk.input_symbolic("X", {"N", "L"});
  mk.init("one", i64({1}));
  mk.init("two", i64({2}));
  mk.init("zeros3", i64({0, 0, 0}));
  mk.node("Shape", {"X"}, {"s"});
  mk.node("Slice", {"s", "one", "two"}, {"len"});
  mk.node("Div", {"len", "two"}, {"k"});
  mk.node("TopK", {"X", "k"}, {"V", "I"})->set_name("topk");
  ModelMaker::i(mk.node("Concat", {"zeros3", "len"}, {"pads"}), "axis", 0);
  mk.node("Pad", {"X", "pads"}, {"P"})->set_name("pad");
  for (const char* o : {"V", "P"}) mk.output(o);
  const ir::Graph g = read_model(mk);
  runtime::Executor exec(g);
  for (auto [n, l] : {std::pair<int64_t, int64_t>{2, 5}, {3, 8}, {1, 1}, {2, 5}}) {
    SCOPED_TRACE(std::to_string(n) + "x" + std::to_string(l));
    const Tensor x = iota({n, l});
    const auto y = exec.run(std::vector<Tensor>{x});
    ASSERT_EQ(y[0].shape(), (Shape{n, l / 2}));
    if (l / 2 > 0) {
      EXPECT_EQ(y[0].data<float>()[0], static_cast<float>(l - 1));
    }
    ASSERT_EQ(y[1].shape(), (Shape{n, 2 * l}));
    EXPECT_EQ(y[1].data<float>()[l - 1], static_cast<float>(l - 1));
    EXPECT_EQ(y[1].data<float>()[l], 0.0f);
  }
}

// The PyTorch patterns on a dynamic batch: x.view(x.size(0), -1) (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape), x.new_zeros(x.shape) (Shape -> ConstantOfShape) and
// torch.arange(x.size(1)) (Shape -> Gather -> Range). ConstantOfShape of the input's shape changes
// with the batch, so the model is read with its shapes computed at run time.
TEST(ValueDependentShapes, TorchStylePatternsOnADynamicBatch) {
  ModelMaker mk(13);
  mk.input_symbolic("X", {"N", "2", "3"});
  mk.init("zero", i64_scalar(0));
  mk.init("one", i64_scalar(1));
  mk.init("axes0", i64({0}));
  mk.init("minus_one", i64({-1}));
  mk.node("Shape", {"X"}, {"sx"});
  mk.node("Gather", {"sx", "zero"}, {"n"});
  mk.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  ModelMaker::i(mk.node("Concat", {"n1", "minus_one"}, {"target"}), "axis", 0);
  mk.node("Reshape", {"X", "target"}, {"flat"})->set_name("view");
  mk.node("ConstantOfShape", {"sx"}, {"zeros"})->set_name("new_zeros");
  mk.node("Add", {"X", "zeros"}, {"x_again"});
  mk.node("Gather", {"sx", "one"}, {"c"});
  mk.node("Range", {"zero", "c", "one"}, {"ar"})->set_name("arange");
  mk.output("flat");
  mk.output("x_again");
  mk.output("ar");
  const ir::Graph g = read_model(mk);
  EXPECT_EQ(g.shape_value_inputs(), (std::vector<bool>{false}));  // shapes suffice
  bool runtime_reshape = false;
  for (const auto& n : g.nodes) runtime_reshape |= n.op == "Reshape" && n.inputs.size() == 2;
  EXPECT_TRUE(runtime_reshape);
  runtime::Executor exec(g);
  for (int64_t n : {3, 1, 4}) {
    const Tensor x = iota({n, 2, 3});
    const auto y = exec.run(std::vector<Tensor>{x});
    ASSERT_EQ(y[0].shape(), (Shape{n, 6})) << n;
    ASSERT_EQ(y[1].shape(), (Shape{n, 2, 3})) << n;
    ASSERT_EQ(y[2].shape(), (Shape{2})) << n;
    for (int64_t i = 0; i < x.numel(); ++i) {
      EXPECT_EQ(y[0].data<float>()[i], static_cast<float>(i));
      EXPECT_EQ(y[1].data<float>()[i], static_cast<float>(i));
    }
    EXPECT_EQ(y[2].data<int64_t>()[1], 1);
  }
  const std::vector<Tensor> x5{iota({5, 2, 3})};
  std::vector<Tensor> y5 = exec.run(x5);
  const size_t plans = exec.plan_count();
  EXPECT_EQ(allocations_of_planned_runs(exec, x5, y5), 0u) << "allocations at a planned batch";
  EXPECT_EQ(exec.plan_count(), plans);
}

// The forms with value inputs are written to ONNX as ONNX spells them (Reshape, Tile, Slice,
// ConstantOfShape, Range with their computed inputs), and read back the same.
TEST(ValueDependentShapes, ValueInputFormsSurviveAnOnnxRoundTrip) {
  ModelMaker mk(13);
  mk.input("X", {2, 6});
  mk.input("S", {2}, onnx_pb::TensorProto::INT64);
  mk.input("n", {}, onnx_pb::TensorProto::INT64);
  mk.init("zero", i64_scalar(0));
  mk.init("one", i64_scalar(1));
  mk.init("axes1", i64({1}));
  mk.init("first1", i64({0}));
  mk.node("Reshape", {"X", "S"}, {"R"});
  mk.node("Tile", {"R", "S"}, {"T"});
  mk.node("Range", {"zero", "n", "one"}, {"A"});
  mk.node("Unsqueeze", {"n", "first1"}, {"n1"});
  mk.node("Slice", {"X", "first1", "n1", "axes1"}, {"L"});
  mk.node("ConstantOfShape", {"S"}, {"Z"});
  for (const char* o : {"R", "T", "A", "L", "Z"}) mk.output(o);
  const ir::Graph g = read_model(mk);
  const std::string bytes = formats::write_onnx(g);
  const ir::Graph back = formats::read_onnx(
      {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "back.onnx");
  back.validate("back.onnx");
  for (const ir::Graph* graph : {&g, &back}) {
    runtime::Executor exec(*graph);
    const auto y = exec.run(std::vector<Tensor>{iota({2, 6}), i64({3, 4}), i64_scalar(4)});
    ASSERT_EQ(y.size(), 5u);
    EXPECT_EQ(y[0].shape(), (Shape{3, 4}));
    EXPECT_EQ(y[1].shape(), (Shape{9, 16}));
    EXPECT_EQ(y[2].shape(), (Shape{4}));
    EXPECT_EQ(y[2].data<int64_t>()[3], 3);
    EXPECT_EQ(y[3].shape(), (Shape{2, 4}));
    EXPECT_EQ(y[3].data<float>()[4], 6.0f);
    EXPECT_EQ(y[4].shape(), (Shape{3, 4}));
    EXPECT_EQ(y[1].data<float>()[16 * 8 + 15], 11.0f);  // T[8, 15] = R[2, 3] = x[1, 5]
  }
}

// A PyTorch export with dynamic batch and sequence axes (tests/fixtures/torch/
// make_dynamic_fixture.py): x.new_zeros(x.shape), torch.arange(x.size(1)), h.view(x.size(0), -1)
// and x[:, :x.size(1) - 1] read their sizes at run time; cellar matches PyTorch's eager outputs at
// (2, 5, 4) and (3, 7, 4), and a second run at a planned size allocates nothing.
TEST(ValueDependentShapes, TorchExportAtTwoSizes) {
  const std::filesystem::path dir =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";
  const ir::Graph g = cellar::load(dir / "dynamic_opset17.onnx");
  std::set<std::string> run_time;
  for (const auto& n : g.nodes)
    if ((n.op == "Reshape" && n.inputs.size() == 2) || n.op == "FillV2" || n.op == "Range" ||
        (n.op == "StridedSlice" && n.inputs.size() == 3))
      run_time.insert(n.op);
  EXPECT_EQ(run_time, (std::set<std::string>{"FillV2", "Range", "Reshape", "StridedSlice"}));
  runtime::Executor exec(g);
  for (const char* k : {"2", "3", "2"}) {
    SCOPED_TRACE(k);
    const Tensor x = read_npy(dir / (std::string("dynamic_x") + k + ".npy"));
    const auto y = exec.run(std::vector<Tensor>{x});
    ASSERT_EQ(y.size(), 2u);
    const Tensor flat = read_npy(dir / (std::string("dynamic_flat") + k + ".npy"));
    const Tensor head = read_npy(dir / (std::string("dynamic_head") + k + ".npy"));
    ASSERT_EQ(y[0].shape(), flat.shape());
    ASSERT_EQ(y[1].shape(), head.shape());
    EXPECT_LE(max_abs_diff(y[0], flat), 1e-5);
    EXPECT_EQ(max_abs_diff(y[1], head), 0.0);
  }
  const std::vector<Tensor> x3{read_npy(dir / "dynamic_x3.npy")};
  std::vector<Tensor> y3 = exec.run(x3);
  EXPECT_EQ(allocations_of_planned_runs(exec, x3, y3), 0u);
  EXPECT_LE(max_abs_diff(y3[0], read_npy(dir / "dynamic_flat3.npy")), 1e-5);
}

// The Shape of an intermediate value, whose first dimension is 4 × batch rather than an input
// dimension (tests/fixtures/torch/make_window_fixture.py: Swin's qkv.reshape(x.size(0), ...)
// after a window partition, ViT's class token expanded to x.size(0)). Folded at load it would
// hold the windows of one batch size; cellar reads it at run time, while a Pad whose pads come
// from a fixed dimension of the same Shape (Swin's padding to its window) keeps constant pads. It
// matches PyTorch's eager outputs at batch 2 and 5, in either order, and a second run at a planned
// size allocates nothing.
TEST(ValueDependentShapes, ShapeOfAnIntermediateValueFromATorchExport) {
  const std::filesystem::path dir =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";
  const ir::Graph g = cellar::load(dir / "window_opset17.onnx");
  ASSERT_TRUE(g.symbolic());
  size_t shapes_read = 0;
  for (const auto& n : g.nodes) shapes_read += n.op == "TensorShape";
  EXPECT_GE(shapes_read, 2u);  // of the intermediate value, not of the input
  size_t pads = 0;
  for (const auto& n : g.nodes)
    if (n.op == "Pad") {
      ++pads;
      EXPECT_EQ(n.inputs.size(), 1u) << "the pads are constants, read as attributes";
    }
  EXPECT_EQ(pads, 1u);
  runtime::Executor exec(g);
  for (const char* k : {"5", "2", "5"}) {
    SCOPED_TRACE(k);
    const Tensor x = read_npy(dir / (std::string("window_x") + k + ".npy"));
    const auto y = exec.run(std::vector<Tensor>{x});
    ASSERT_EQ(y.size(), 2u);
    const Tensor h = read_npy(dir / (std::string("window_h") + k + ".npy"));
    const Tensor t = read_npy(dir / (std::string("window_t") + k + ".npy"));
    ASSERT_EQ(y[0].shape(), h.shape());
    ASSERT_EQ(y[1].shape(), t.shape());
    EXPECT_EQ(y[0].shape()[0], 4 * x.shape()[0]);
    EXPECT_LE(max_abs_diff(y[0], h), 1e-5);
    EXPECT_LE(max_abs_diff(y[1], t), 1e-5);
  }
  const std::vector<Tensor> x2{read_npy(dir / "window_x2.npy")};
  std::vector<Tensor> y2 = exec.run(x2);
  EXPECT_EQ(allocations_of_planned_runs(exec, x2, y2), 0u);
  EXPECT_LE(max_abs_diff(y2[1], read_npy(dir / "window_t2.npy")), 1e-5);
}

// A PyTorch export whose op arguments are computed from its inputs' shapes (tests/fixtures/torch/
// make_sizes_fixture.py): F.interpolate to another input's size (Resize, linear and nearest),
// F.pad to a multiple of 4, topk(size // 2) and split([1, size - 1]). cellar matches PyTorch's
// eager outputs at two sizes of every dynamic axis, in either order.
TEST(ValueDependentShapes, TorchExportWithComputedArguments) {
  const std::filesystem::path dir =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";
  const ir::Graph g = cellar::load(dir / "sizes_opset17.onnx");
  std::set<std::string> computed;
  for (const auto& n : g.nodes)
    if (n.inputs.size() == 2 && (n.op == "ResizeBilinearV2" || n.op == "ResizeNearestNeighbor" ||
                                 n.op == "Pad" || n.op == "TopkExt"))
      computed.insert(n.op);
  // (torch 2.15 writes the split as Slices with computed ends.)
  EXPECT_EQ(computed,
            (std::set<std::string>{"Pad", "ResizeBilinearV2", "ResizeNearestNeighbor", "TopkExt"}));
  runtime::Executor exec(g);
  const char* names[] = {"up", "near", "padded", "top", "rest"};
  for (const char* k : {"1", "0", "1"}) {
    SCOPED_TRACE(k);
    const auto y =
        exec.run(std::vector<Tensor>{read_npy(dir / (std::string("sizes_x") + k + ".npy")),
                                     read_npy(dir / (std::string("sizes_y") + k + ".npy"))});
    ASSERT_EQ(y.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      const Tensor want = read_npy(dir / (std::string("sizes_") + names[i] + k + ".npy"));
      ASSERT_EQ(y[i].shape(), want.shape()) << names[i];
      EXPECT_LE(max_abs_diff(y[i], want), 1e-5) << names[i];
    }
  }
}

// resize() (MindSpore Lite's Model::Resize) reports real output shapes where the input shapes
// decide them (shapes computed from shapes, as torch's x.view(x.size(0), -1)), and says which
// outputs are known only at run time (they depend on an input's values).
TEST(ValueDependentShapes, ResizeReportsRealShapesOrKnownOnlyAtRunTime) {
  const std::filesystem::path dir =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";
  nn::GraphCell cell(cellar::load(dir / "dynamic_opset17.onnx"));
  cell.resize({Shape{9, 11, 4}});
  const auto types = cell.output_types();
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0].shape, (Shape{9, 66}));
  EXPECT_EQ(types[1].shape, (Shape{9, 10, 4}));
  EXPECT_EQ(cell.output_shapes_known(), (std::vector<bool>{true, true}));

  ModelMaker mk(13);
  mk.input("X", {2, 3, 4});
  mk.input("S", {2}, onnx_pb::TensorProto::INT64);
  mk.node("Reshape", {"X", "S"}, {"Y"});
  mk.node("Relu", {"X"}, {"Z"});
  mk.output("Y");
  mk.output("Z");
  runtime::Executor exec(read_model(mk));
  exec.resize({Shape{2, 3, 4}, Shape{2}});
  EXPECT_EQ(exec.output_shapes_known(), (std::vector<bool>{false, true}));
  EXPECT_EQ(exec.output_types()[1].shape, (Shape{2, 3, 4}));
  // A run plans with the values: its plan knows every shape.
  const auto y = exec.run(std::vector<Tensor>{iota({2, 3, 4}), i64({3, 8})});
  EXPECT_EQ(y[0].shape(), (Shape{3, 8}));
  EXPECT_EQ(exec.output_shapes_known(), (std::vector<bool>{true, true}));
  EXPECT_EQ(exec.output_types()[0].shape, (Shape{3, 8}));
}
