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

TEST(Ops, FlattenAndReshape) {
  Tensor x = random_tensor({2, 3, 4}, 9);
  Tensor f = ops::flatten(x);
  EXPECT_EQ(f.shape(), (Shape{2, 12}));
  EXPECT_EQ(std::memcmp(f.raw_data(), x.raw_data(), x.nbytes()), 0);
  Tensor r = ops::reshape(x, Shape{4, -1});
  EXPECT_EQ(r.shape(), (Shape{4, 6}));
  expect_close(via_executor("Reshape", {x}, {{"shape", std::vector<int64_t>{4, -1}}}), r, 0);
  EXPECT_THROW(ops::reshape(x, Shape{5, -1}), ValueError);
  EXPECT_THROW(ops::reshape(x, Shape{-1, -1}), ValueError);
  EXPECT_THROW(ops::reshape(x, Shape{7}), ValueError);
  EXPECT_THROW(ops::flatten(Tensor::scalar<float>(1)), ValueError);
}

TEST(Ops, AddMulBroadcast) {
  Tensor a = random_tensor({2, 1, 4}, 10);
  Tensor b = random_tensor({3, 1}, 11);
  Tensor s = ops::add(a, b);
  Tensor p = ops::mul(a, b);
  ASSERT_EQ(s.shape(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        const float av = a.data<float>()[i * 4 + k], bv = b.data<float>()[j];
        ASSERT_FLOAT_EQ(s.data<float>()[(i * 3 + j) * 4 + k], av + bv);
        ASSERT_FLOAT_EQ(p.data<float>()[(i * 3 + j) * 4 + k], av * bv);
      }
  expect_close(via_executor("Add", {a, b}, {}), s, 0);
  expect_close(via_executor("Mul", {a, b}, {}), p, 0);
  EXPECT_THROW(ops::add(ones({2, 3}), ones({3, 2})), ValueError);
  Tensor i = ops::add(Tensor::from_vector<int64_t>({1, 2}, {2}), Tensor::scalar<int64_t>(5));
  EXPECT_EQ(i.data<int64_t>()[1], 7);
}

TEST(Ops, RandomOpsAreSeededAndMarked) {
  Generator g1(3), g2(3);
  EXPECT_TRUE(ops::randn({4, 4}, g1).equal(ops::randn({4, 4}, g2)));
  Tensor p = ops::randperm(10, g1);
  std::vector<bool> seen(10);
  for (int i = 0; i < 10; ++i) seen.at(static_cast<size_t>(p.data<int64_t>()[i])) = true;
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 10);
  EXPECT_TRUE(ops::op_table().find("StandardNormal")->is_random);
}

TEST(Ops, EveryGraphOpHasAMindIRSpelling) {
  for (const auto& name : ops::op_table().names()) {
    const auto* def = ops::op_table().find(name);
    if (def->make_kernel) EXPECT_FALSE(def->mindir.primitive.empty()) << name;
  }
}
