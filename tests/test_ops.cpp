// Every op of the table against a naive reference, run eagerly and through the executor.
#include <gtest/gtest.h>

#include <cmath>

#include "cellar/cellar.h"
#include "ops/op_table.h"

using namespace cellar;

namespace {
Tensor random_tensor(Shape s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return ops::uniform(s, -2, 2, g, dt);
}

double at(const Tensor& t, int64_t i) { return t.to(DType::Float64).data<double>()[i]; }

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.shape(), b.shape());
  Tensor x = a.to(DType::Float64), y = b.to(DType::Float64);
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(x.data<double>()[i], y.data<double>()[i], tol) << "element " << i;
}

// Runs one op through a one-node graph and the executor (the export path's kernels).
Tensor via_executor(const std::string& op, const std::vector<Tensor>& in, ir::Attrs attrs) {
  ir::Graph g;
  ir::Node node{.name = op, .op = op};
  for (size_t i = 0; i < in.size(); ++i) {
    const int v = g.add_value("in" + std::to_string(i), in[i].dtype(), in[i].shape());
    g.inputs.push_back(v);
    node.inputs.push_back(v);
  }
  std::vector<ops::TensorType> types;
  for (auto& t : in) types.push_back({t.dtype(), t.shape()});
  auto out = ops::op_table().find(op)->infer(types, attrs)[0];
  const int o = g.add_value("out", out.dtype, out.shape);
  node.outputs.push_back(o);
  node.attrs = attrs;
  g.nodes.push_back(node);
  g.outputs.push_back(o);
  runtime::Executor ex(std::move(g));
  return ex.run(in)[0];
}
}  // namespace

TEST(Ops, MatMulAllTransposes) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 5, k = 7, n = 3;
      Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, 1);
      Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, 2);
      Tensor y = ops::matmul(a, b, ta, tb);
      ASSERT_EQ(y.shape(), (Shape{m, n}));
      Tensor ref(DType::Float32, Shape{m, n});
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p)
            s += at(a, ta ? p * m + i : i * k + p) * at(b, tb ? j * k + p : p * n + j);
          ref.data<float>()[i * n + j] = static_cast<float>(s);
        }
      expect_close(y, ref, 1e-5);
      expect_close(via_executor("MatMul", {a, b}, {{"transpose_a", ta}, {"transpose_b", tb}}), ref, 1e-5);
    }
  EXPECT_THROW(ops::matmul(ones({2, 3}), ones({2, 3})), ValueError);
  EXPECT_THROW(ops::matmul(ones({2, 3}), ones({3, 2}, DType::Float64)), ValueError);
  Tensor d = ops::matmul(random_tensor({2, 3}, 3, DType::Float64), random_tensor({3, 4}, 4, DType::Float64));
  EXPECT_EQ(d.dtype(), DType::Float64);
}

TEST(Ops, BiasAddAlongChannelDimension) {
  Tensor x = random_tensor({2, 3, 4}, 5);
  Tensor b = random_tensor({3}, 6);
  Tensor y = ops::bias_add(x, b);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t k = 0; k < 4; ++k) {
        const int64_t idx = (i * 3 + c) * 4 + k;
        ASSERT_FLOAT_EQ(y.data<float>()[idx], x.data<float>()[idx] + b.data<float>()[c]);
      }
  expect_close(via_executor("BiasAdd", {x, b}, {}), y, 0);
  EXPECT_THROW(ops::bias_add(x, random_tensor({4}, 7)), ValueError);
}

TEST(Ops, ReLU) {
  Tensor x = random_tensor({3, 5}, 8);
  Tensor y = ops::relu(x);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(y.data<float>()[i], std::max(0.0f, x.data<float>()[i]));
  expect_close(via_executor("ReLU", {x}, {}), y, 0);
  Tensor xi = Tensor::from_vector<int32_t>({-1, 2}, {2});
  EXPECT_EQ(ops::relu(xi).data<int32_t>()[0], 0);
}

TEST(Ops, EveryGraphOpHasAMindIRSpelling) {
  for (const auto& name : ops::op_table().names()) {
    const auto* def = ops::op_table().find(name);
    if (def->make_kernel) {
      EXPECT_FALSE(def->mindir.primitive.empty()) << name;
    }
  }
}
