// The rows of src/ops/elementwise_ops.cpp against naive references: each op run through the op
// table's kernel (ops::call, eager) on seeded data, with broadcasting, compared element by element
// with a loop over the output index computed here in double.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "cellar/cellar.h"
#include "ops/op_table.h"

namespace cellar {
namespace {

Tensor rand(const Shape& s, int seed, double lo = -2.0, double hi = 2.0) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor x(DType::Float64, s);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = u(rng);
  return x.to(DType::Float32);
}

// The element of `t` (shape s) that output index `idx` (of `out`) broadcasts from, as a double.
double at(const Tensor& t, const std::vector<int64_t>& idx, const Shape& out) {
  const Tensor d = t.to(DType::Float64);
  int64_t off = 0, stride = 1;
  const size_t r = out.rank(), tr = t.shape().rank();
  for (size_t k = tr; k-- > 0;) {
    const int64_t dim = t.shape()[k];
    const int64_t i = dim == 1 ? 0 : idx[k + (r - tr)];
    off += i * stride;
    stride *= dim;
  }
  return d.data<double>()[off];
}

std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.rank());
  for (size_t k = s.rank(); k-- > 0;) {
    idx[k] = i % s[k];
    i /= s[k];
  }
  return idx;
}

void expect_matches(const Tensor& got, const Shape& out, DType dtype,
                    const std::function<double(const std::vector<int64_t>&)>& want,
                    double tol = 1e-6) {
  ASSERT_EQ(got.shape(), out);
  ASSERT_EQ(got.dtype(), dtype);
  const Tensor g = got.to(DType::Float64);
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double w = want(unravel(i, out));
    ASSERT_NEAR(g.data<double>()[i], w, tol * std::max(1.0, std::abs(w))) << "element " << i;
  }
}

TEST(ElementwiseOps, UnaryAgainstTheCLibrary) {
  const Tensor x = rand({3, 4}, 1), pos = rand({3, 4}, 2, 0.1, 3.0);
  struct Case {
    const char* op;
    const Tensor* in;
    double (*f)(double);
  };
  for (const Case& c : {Case{"Erf", &x, [](double v) { return std::erf(v); }},
                        Case{"Sqrt", &pos, [](double v) { return std::sqrt(v); }},
                        Case{"Exp", &x, [](double v) { return std::exp(v); }},
                        Case{"Log", &pos, [](double v) { return std::log(v); }},
                        Case{"Reciprocal", &pos, [](double v) { return 1.0 / v; }},
                        Case{"Neg", &x, [](double v) { return -v; }}}) {
    SCOPED_TRACE(c.op);
    const Tensor y = ops::call(c.op, {*c.in}).at(0);
    expect_matches(y, {3, 4}, DType::Float32, [&](const auto& idx) {
      return c.f(at(*c.in, idx, {3, 4}));
    });
  }
  // Neg on ints; Sqrt refuses ints.
  const Tensor xi = Tensor::from_vector(std::vector<int64_t>{3, -4, 0}, Shape{3});
  expect_matches(ops::call("Neg", {xi}).at(0), {3}, DType::Int64,
                 [&](const auto& idx) { return -at(xi, idx, {3}); });
  EXPECT_THROW(ops::call("Sqrt", {xi}), Error);
}

TEST(ElementwiseOps, BinaryBroadcastAgainstNaive) {
  const Tensor a = rand({2, 3, 4}, 3, 0.2, 2.0), b = rand({3, 1}, 4);
  const Shape out{2, 3, 4};
  struct Case {
    const char* op;
    double (*f)(double, double);
  };
  for (const Case& c : {Case{"Pow", [](double p, double q) { return std::pow(p, q); }},
                        Case{"Minimum", [](double p, double q) { return std::min(p, q); }},
                        Case{"Maximum", [](double p, double q) { return std::max(p, q); }}}) {
    SCOPED_TRACE(c.op);
    expect_matches(
        ops::call(c.op, {a, b}).at(0), out, DType::Float32,
        [&](const auto& idx) { return c.f(at(a, idx, out), at(b, idx, out)); }, 1e-5);
  }
}

TEST(ElementwiseOps, ComparisonsGiveBool) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{2, 5, 3}, Shape{3});
  const Shape out{2, 3};
  struct Case {
    const char* op;
    bool (*f)(double, double);
  };
  for (const Case& c : {Case{"Equal", [](double p, double q) { return p == q; }},
                        Case{"Greater", [](double p, double q) { return p > q; }},
                        Case{"Less", [](double p, double q) { return p < q; }}}) {
    SCOPED_TRACE(c.op);
    expect_matches(ops::call(c.op, {a, b}).at(0), out, DType::Bool, [&](const auto& idx) {
      return c.f(at(a, idx, out), at(b, idx, out)) ? 1.0 : 0.0;
    });
  }
  EXPECT_THROW(ops::call("Greater", {a, b.to(DType::Float64)}), Error);  // dtypes must agree
}

TEST(ElementwiseOps, SelectBroadcastsAllThree) {
  const Tensor cond =
      Tensor::from_vector(std::vector<int64_t>{1, 0, 0, 1}, Shape{4, 1}).to(DType::Bool);
  const Tensor x = rand({4, 3}, 5), y = rand({3}, 6);
  const Shape out{4, 3};
  expect_matches(
      ops::call("Select", {cond, x, y}).at(0), out, DType::Float32,
      [&](const auto& idx) { return at(cond, idx, out) != 0 ? at(x, idx, out) : at(y, idx, out); });
  EXPECT_THROW(ops::call("Select", {x, x, y}), Error);  // the condition must be Bool
}

TEST(ElementwiseOps, ReduceMaxAgainstNaive) {
  const Tensor x = rand({2, 3, 4}, 7);
  const Tensor y =
      ops::call("ReduceMax", {x}, {{"axis", std::vector<int64_t>{0, 2}}, {"keep_dims", false}})
          .at(0);
  expect_matches(y, {3}, DType::Float32, [&](const auto& idx) {
    double m = -INFINITY;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 4; ++k) m = std::max(m, at(x, {i, idx[0], k}, {2, 3, 4}));
    return m;
  });
  const Tensor all =
      ops::call("ReduceMax", {x}, {{"axis", std::vector<int64_t>{}}, {"keep_dims", true}}).at(0);
  expect_matches(all, {1, 1, 1}, DType::Float32, [&](const auto&) {
    double m = -INFINITY;
    for (int64_t i = 0; i < x.numel(); ++i) m = std::max(m, double(x.data<float>()[i]));
    return m;
  });
  EXPECT_THROW(ops::call("ReduceMax", {x}, {{"axis", std::vector<int64_t>{3}}}), Error);
}

TEST(ElementwiseOps, CastConvertsAndSaturates) {
  const Tensor x =
      Tensor::from_vector(std::vector<float>{1.75f, -2.5f, 0.0f, NAN, 1e20f, -1e20f}, Shape{6});
  const Tensor i = ops::call("Cast", {x}, {{"dst_type", std::string("Int32")}}).at(0);
  ASSERT_EQ(i.dtype(), DType::Int32);
  EXPECT_EQ(std::vector<int32_t>(i.data<int32_t>(), i.data<int32_t>() + 6),
            (std::vector<int32_t>{1, -2, 0, 0, INT32_MAX, INT32_MIN}));
  const Tensor b = ops::call("Cast", {x}, {{"dst_type", std::string("Bool")}}).at(0);
  ASSERT_EQ(b.dtype(), DType::Bool);
  const auto* bp = static_cast<const uint8_t*>(static_cast<const void*>(b.raw_data()));
  EXPECT_EQ(std::vector<int>(bp, bp + 6), (std::vector<int>{1, 1, 0, 1, 1, 1}));
  const Tensor f = ops::call("Cast", {b}, {{"dst_type", std::string("Float64")}}).at(0);
  EXPECT_EQ(f.data<double>()[2], 0.0);
  EXPECT_EQ(f.data<double>()[0], 1.0);
  EXPECT_THROW(ops::call("Cast", {x}, {{"dst_type", std::string("Complex64")}}), Error);
  EXPECT_THROW(ops::call("Cast", {x}), Error);
}

}  // namespace
}  // namespace cellar
