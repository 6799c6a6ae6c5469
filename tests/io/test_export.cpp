// Export: tracing, the refusals, MindIR round trip, GraphCell against the eager network.
#include <gtest/gtest.h>

#include <cmath>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
namespace nn = cellar::nn;
using cellar::testing::TempDir;

namespace {
using cellar::testing::max_abs_diff;
std::shared_ptr<nn::SequentialCellImpl> mlp(uint64_t seed) {
  Generator g(seed);
  return nn::SequentialCell({nn::Flatten(), nn::Dense({.in = 784, .out = 512, .generator = &g}),
                             nn::ReLU(), nn::Dense({.in = 512, .out = 512, .generator = &g}),
                             nn::ReLU(), nn::Dense({.in = 512, .out = 10, .generator = &g})});
}

Tensor input(Shape s, uint64_t seed) {
  Generator g(seed);
  return ops::uniform(s, -1, 1, g);
}

// A cell whose construct is a lambda, for the refusal cases.
class LambdaCell : public nn::Cell {
 public:
  using Fn = std::function<Value(LambdaCell&, const std::vector<Value>&)>;
  explicit LambdaCell(Fn fn) : Cell("LambdaCell"), fn_(std::move(fn)) {
    w = register_parameter("w", ones({4}));
  }
  Value construct(const std::vector<Value>& in) override { return fn_(*this, in); }
  Parameter w;

 private:
  Fn fn_;
};

void expect_refused(nn::Cell& net, const std::string& needle) {
  TempDir dir;
  try {
    export_model(net, {ones({2, 4})}, (dir / "net").string(), FileFormat::MINDIR);
    FAIL() << "export did not refuse";
  } catch (const ExportError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kExport);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_TRUE(cellar::testing::list_dir(dir.path()).empty()) << "export wrote a file";
}
}  // namespace

TEST(Trace, RecordsTheNetworkThroughTheOpTable) {
  auto net = mlp(1);
  ir::Graph g = trace(*net, {ones({1, 1, 28, 28})});
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).shape, (Shape{1, 1, 28, 28}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{1, 10}));
  std::vector<std::string> ops;
  for (auto& n : g.nodes) ops.push_back(n.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Flatten", "MatMul", "BiasAdd", "ReLU", "MatMul",
                                           "BiasAdd", "ReLU", "MatMul", "BiasAdd"}));
  std::vector<std::string> params;
  for (auto& init : g.initializers) {
    EXPECT_TRUE(init.is_parameter);
    params.push_back(g.value(init.value).name);
  }
  EXPECT_EQ(params, (std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias",
                                              "5.weight", "5.bias"}));
}

TEST(Export, MindIRRoundTripMatchesEagerNetwork) {
  TempDir dir;
  auto net = mlp(2);
  const auto path =
      export_model(net, {ones({1, 1, 28, 28})}, (dir / "model").string(), FileFormat::MINDIR);
  EXPECT_EQ(path.filename(), "model.mindir");
  ASSERT_TRUE(std::filesystem::exists(path));
  nn::GraphCell cell(load(path));
  for (uint64_t seed : {1, 2, 3}) {
    Tensor x = input({1, 1, 28, 28}, seed);
    Tensor want = (*net)(x);
    Tensor got = cell(x);
    EXPECT_EQ(got.shape(), (Shape{1, 10}));
    EXPECT_LE(max_abs_diff(got, want), 1e-6);
  }
}

TEST(Export, GraphCellChecksInputsAndReplacesParameters) {
  auto net = mlp(3);
  nn::GraphCell cell(trace(*net, {ones({2, 1, 28, 28})}));
  try {
    cell(ones({1, 1, 28, 28}));
    FAIL();
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(2, 1, 28, 28)"), std::string::npos) << m;
    EXPECT_NE(m.find("(1, 1, 28, 28)"), std::string::npos) << m;
    EXPECT_NE(m.find("'x'"), std::string::npos) << m;
  }
  EXPECT_THROW(cell(ones({2, 1, 28, 28}, DType::Float64)), ValueError);
  // params_init: zero the last layer → outputs are zero.
  ParamDict init;
  init.set("5.weight", zeros({10, 512}));
  init.set("5.bias", zeros({10}));
  nn::GraphCell zeroed(trace(*net, {ones({2, 1, 28, 28})}), init);
  Tensor y = zeroed(ones({2, 1, 28, 28}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], 0.0f);
  ParamDict bad;
  bad.set("5.bias", zeros({11}));
  EXPECT_THROW(nn::GraphCell(trace(*net, {ones({2, 1, 28, 28})}), bad), ValueError);
}

TEST(Export, ExecutorReusesDeadBuffers) {
  auto net = mlp(4);
  runtime::Executor ex(trace(*net, {ones({8, 1, 28, 28})}));
  // Without reuse the arena would hold every intermediate: input + 9 node outputs.
  size_t all = 0;
  for (auto& v : ex.graph().values)
    if (!ex.graph().find_initializer(ex.graph().find_value(v.name))) all += v.shape.numel() * 4;
  EXPECT_LT(ex.arena_bytes(), all);
  auto outs = ex.make_outputs();
  Tensor x = input({8, 1, 28, 28}, 9);
  ex.run(std::vector<Tensor>{x}, outs);
  EXPECT_LE(max_abs_diff(outs[0], (*net)(x)), 1e-6);
}

TEST(Export, TupleOutputsAndConstants) {
  LambdaCell net([](LambdaCell& self, const std::vector<Value>& in) -> Value {
    Tensor x = in[0].tensor();
    Tensor y = ops::mul(x, self.w.value());
    Tensor z = ops::add(y, Tensor::from_vector<float>({1, 2, 3, 4}, {4}));  // a constant
    return Value::Tuple{Value(y), Value(Value::Tuple{Value(z)})};
  });
  TempDir dir;
  auto path = export_model(net, {ones({2, 4})}, (dir / "t").string(), FileFormat::MINDIR);
  nn::GraphCell cell(load(path));
  Tensor x = input({2, 4}, 3);
  Value out = cell({Value(x)});
  ASSERT_TRUE(out.is_tuple());
  ASSERT_EQ(out.tuple().size(), 2u);
  const Tensor& z = out.tuple()[1].tensor();
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_FLOAT_EQ(z.data<float>()[i], x.data<float>()[i] + float(i % 4 + 1));
}

TEST(ExportRefuses, ANonTensorReturnValue) {
  LambdaCell net([](LambdaCell&, const std::vector<Value>& in) -> Value {
    return in[0].tensor().dtype();  // a DType
  });
  expect_refused(net, "DType");
  LambdaCell tuple_with_int([](LambdaCell&, const std::vector<Value>& in) -> Value {
    return Value::Tuple{in[0], Value(int64_t{3})};
  });
  expect_refused(tuple_with_int, "int");
}

TEST(ExportRefuses, AParameterNoCellOwns) {
  Parameter global(ones({4}), "global_scale");
  LambdaCell net([&](LambdaCell&, const std::vector<Value>& in) -> Value {
    return ops::mul(in[0].tensor(), global.value());
  });
  expect_refused(net, "global_scale");
  // The same network runs eagerly.
  EXPECT_EQ(net(ones({2, 4})).shape(), (Shape{2, 4}));
}

TEST(ExportRefuses, RandomOpsInsideTheGraph) {
  Generator gen(1);
  LambdaCell randn_net([&](LambdaCell&, const std::vector<Value>& in) -> Value {
    return ops::add(in[0].tensor(), ops::randn({2, 4}, gen));
  });
  expect_refused(randn_net, "randn");
  LambdaCell uniform_net([&](LambdaCell&, const std::vector<Value>& in) -> Value {
    return ops::add(in[0].tensor(), ops::uniform({2, 4}, 0, 1, gen));
  });
  expect_refused(uniform_net, "uniform");
  LambdaCell perm_net([&](LambdaCell&, const std::vector<Value>& in) -> Value {
    ops::randperm(4, gen);
    return in[0];
  });
  expect_refused(perm_net, "randperm");
}

TEST(ExportRefuses, ReadingATracedValue) {
  LambdaCell net([](LambdaCell&, const std::vector<Value>& in) -> Value {
    const Tensor& x = in[0].tensor();
    if (x.data<float>()[0] > 0) return ops::relu(x);  // data-dependent control flow
    return x;
  });
  expect_refused(net, "data-dependent");
}

TEST(Export, InvalidTargetFolderIsAnIoError) {
  auto net = mlp(5);
  EXPECT_THROW(export_model(net, {ones({1, 1, 28, 28})}, "/nonexistent-dir/x", FileFormat::MINDIR),
               IoError);
}
