// Issue 4's ops, each against a naive reference written here in double precision, run eagerly
// and through a one-node graph executed by runtime::Executor; and their shape-rule errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "cellar/cellar.h"
#include "ops/op_table.h"

using namespace cellar;

namespace {

Tensor rnd(Shape s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return ops::uniform(s, -2, 2, g, dt);
}

std::vector<double> vals(const Tensor& t) {
  Tensor d = t.to(DType::Float64);
  return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
}

void expect_close(const Tensor& got, const Shape& shape, const std::vector<double>& ref,
                  double tol) {
  ASSERT_EQ(got.shape(), shape);
  const auto g = vals(got);
  ASSERT_EQ(g.size(), ref.size());
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], ref[i], tol) << "element " << i;
}

// Runs one op through a one-node graph and the executor; returns every output.
std::vector<Tensor> via_executor_all(const std::string& op, const std::vector<Tensor>& in,
                                     const ir::Attrs& attrs) {
  ir::Graph g;
  ir::Node node{.name = op, .op = op};
  std::vector<ops::TensorType> types;
  for (size_t i = 0; i < in.size(); ++i) {
    const int v = g.add_value("in" + std::to_string(i), in[i].dtype(), in[i].shape());
    g.inputs.push_back(v);
    node.inputs.push_back(v);
    types.push_back({in[i].dtype(), in[i].shape()});
  }
  const auto outs = ops::op_table().find(op)->infer(types, attrs);
  for (size_t i = 0; i < outs.size(); ++i) {
    const int o = g.add_value("out" + std::to_string(i), outs[i].dtype, outs[i].shape);
    node.outputs.push_back(o);
    g.outputs.push_back(o);
  }
  node.attrs = attrs;
  g.nodes.push_back(node);
  runtime::Executor ex(std::move(g));
  auto first = ex.run(in);
  auto second = ex.run(in);  // kernels are reusable: a second run gives the same bytes
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(first[i].equal(second[i])) << op;
  return first;
}

// Both paths of one op, eagerly and via the executor, against the same reference.
void check_both(const std::string& op, const std::vector<Tensor>& in, const ir::Attrs& attrs,
                const Tensor& eager, const Shape& shape, const std::vector<double>& ref,
                double tol) {
  SCOPED_TRACE(op);
  expect_close(eager, shape, ref, tol);
  expect_close(via_executor_all(op, in, attrs)[0], shape, ref, tol);
}

int64_t numel(const Shape& s) { return s.numel(); }

}  // namespace

// ---------------------------------------------------------------- Sub, Div, BatchMatMul

TEST(OpsBreadth, SubDivBroadcast) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor a = rnd({2, 1, 4}, 600, dt), b = rnd({3, 1}, 601, dt);
    Generator g(602);
    Tensor d = ops::uniform({3, 1}, 0.5, 2.0, g, dt);
    const auto av = vals(a), bv = vals(b), dv = vals(d);
    std::vector<double> rs, rd;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          rs.push_back(av[static_cast<size_t>(i * 4 + k)] - bv[static_cast<size_t>(j)]);
          rd.push_back(av[static_cast<size_t>(i * 4 + k)] / dv[static_cast<size_t>(j)]);
        }
    check_both("Sub", {a, b}, {}, ops::sub(a, b), Shape{2, 3, 4}, rs, 1e-6);
    check_both("Div", {a, d}, {}, ops::div(a, d), Shape{2, 3, 4}, rd, 1e-6);
  }
  EXPECT_EQ(vals(ops::sub(Tensor::from_vector<int64_t>({5, 7}, {2}), Tensor::scalar<int64_t>(2))),
            (std::vector<double>{3, 5}));
  EXPECT_THROW(ops::sub(ones({2, 3}), ones({3, 2})), ValueError);
  EXPECT_THROW(
      ops::div(Tensor::from_vector<int32_t>({1}, {1}), Tensor::from_vector<int32_t>({1}, {1})),
      ValueError);
}

TEST(OpsBreadth, BatchMatMulBroadcastAndTransposes) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 3, k = 4, n = 2;
      const Shape as = ta ? Shape{2, 1, k, m} : Shape{2, 1, m, k};
      const Shape bs = tb ? Shape{3, n, k} : Shape{3, k, n};
      Tensor a = rnd(as, 700, DType::Float32), b = rnd(bs, 701, DType::Float32);
      const auto av = vals(a), bv = vals(b);
      std::vector<double> ref;
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
          for (int64_t r = 0; r < m; ++r)
            for (int64_t c = 0; c < n; ++c) {
              double s = 0;
              for (int64_t p = 0; p < k; ++p)
                s += av[static_cast<size_t>(i * m * k + (ta ? p * m + r : r * k + p))] *
                     bv[static_cast<size_t>(j * k * n + (tb ? c * k + p : p * n + c))];
              ref.push_back(s);
            }
      check_both("BatchMatMul", {a, b}, {{"transpose_a", ta}, {"transpose_b", tb}},
                 ops::batch_matmul(a, b, ta, tb), Shape{2, 3, m, n}, ref, 1e-5);
    }
  Tensor d =
      ops::batch_matmul(rnd({2, 3, 4}, 1, DType::Float64), rnd({2, 4, 5}, 2, DType::Float64));
  EXPECT_EQ(d.shape(), (Shape{2, 3, 5}));
  EXPECT_THROW(ops::batch_matmul(ones({2, 3, 4}), ones({2, 3, 4})), ValueError);
  EXPECT_THROW(ops::batch_matmul(ones({2, 3, 4}), ones({3, 4, 5})), ValueError);
  EXPECT_THROW(ops::batch_matmul(ones({4}), ones({4, 5})), ValueError);
}

// ---------------------------------------------------------------- shape ops

TEST(OpsBreadth, Transpose) {
  const Shape s{2, 3, 4};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int8}) {
    Tensor x = rnd(s, 800, DType::Float64).to(dt);
    const auto xv = vals(x);
    const std::vector<int64_t> perm{2, 0, 1};
    std::vector<double> ref;
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j) ref.push_back(xv[static_cast<size_t>((i * 3 + j) * 4 + k)]);
    check_both("Transpose", {x}, {{"perm", perm}}, ops::transpose(x, perm), Shape{4, 2, 3}, ref, 0);
  }
  EXPECT_THROW(ops::transpose(ones({2, 3}), {0}), ValueError);
  EXPECT_THROW(ops::transpose(ones({2, 3}), {0, 0}), ValueError);
  EXPECT_THROW(ops::transpose(ones({2, 3}), {0, 2}), ValueError);
}

TEST(OpsBreadth, ExpandDimsAndSqueeze) {
  Tensor x = rnd({2, 3}, 900);
  const auto xv = vals(x);
  check_both("ExpandDims", {x}, {{"axis", int64_t{1}}}, ops::expand_dims(x, 1), Shape{2, 1, 3}, xv,
             0);
  EXPECT_EQ(ops::expand_dims(x, -1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(ops::expand_dims(x, 0).shape(), (Shape{1, 2, 3}));
  EXPECT_THROW(ops::expand_dims(x, 3), ValueError);
  EXPECT_THROW(ops::expand_dims(x, -4), ValueError);
  Tensor y = rnd({1, 2, 1, 3}, 901);
  const auto yv = vals(y);
  check_both("Squeeze", {y}, {{"axis", std::vector<int64_t>{}}}, ops::squeeze(y), Shape{2, 3}, yv,
             0);
  check_both("Squeeze", {y}, {{"axis", std::vector<int64_t>{-2}}}, ops::squeeze(y, {-2}),
             Shape{1, 2, 3}, yv, 0);
  EXPECT_THROW(ops::squeeze(y, {1}), ValueError);
  EXPECT_THROW(ops::squeeze(y, {4}), ValueError);
}

TEST(OpsBreadth, Concat) {
  for (int64_t axis : {0, 1, -1}) {
    const int64_t a = axis < 0 ? 2 : axis;
    Shape s1{2, 3, 4}, s2{2, 3, 4}, s3{2, 3, 4};
    s2[static_cast<size_t>(a)] = 1;
    s3[static_cast<size_t>(a)] = 2;
    Tensor x1 = rnd(s1, 1000), x2 = rnd(s2, 1001), x3 = rnd(s3, 1002);
    const std::vector<Tensor> xs{x1, x2, x3};
    Shape out = s1;
    out[static_cast<size_t>(a)] = s1[static_cast<size_t>(a)] + 1 + 2;
    std::vector<double> ref;
    // Reference by index arithmetic: for each output index, find the source tensor.
    for (int64_t i = 0; i < out[0]; ++i)
      for (int64_t j = 0; j < out[1]; ++j)
        for (int64_t k = 0; k < out[2]; ++k) {
          int64_t idx[3] = {i, j, k};
          size_t t = 0;
          while (idx[a] >= xs[t].shape()[static_cast<size_t>(a)])
            idx[a] -= xs[t++].shape()[static_cast<size_t>(a)];
          const Shape& ts = xs[t].shape();
          ref.push_back(
              vals(xs[t])[static_cast<size_t>((idx[0] * ts[1] + idx[1]) * ts[2] + idx[2])]);
        }
    check_both("Concat", xs, {{"axis", axis}}, ops::concat(xs, axis), out, ref, 0);
  }
  EXPECT_EQ(ops::concat({ones({2, 2})}, 0).shape(), (Shape{2, 2}));
  EXPECT_THROW(ops::concat({ones({2, 3}), ones({2, 4})}, 0), ValueError);
  EXPECT_THROW(ops::concat({ones({2, 3}), ones({2, 3, 1})}, 0), ValueError);
  EXPECT_THROW(ops::concat({ones({2, 3}), ones({2, 3}, DType::Float64)}, 0), ValueError);
  EXPECT_THROW(ops::concat({ones({2, 3})}, 2), ValueError);
}

TEST(OpsBreadth, Gather) {
  Tensor p = rnd({4, 5, 3}, 1100);
  const auto pv = vals(p);
  for (DType it : {DType::Int32, DType::Int64}) {
    Tensor idx = Tensor::from_vector<int64_t>({4, 0, 2, 4, 1, 1}, {2, 3}).to(it);
    const auto iv = vals(idx);
    // axis 1: out [4, 2, 3, 3]
    std::vector<double> ref;
    for (int64_t a = 0; a < 4; ++a)
      for (double i : iv)
        for (int64_t c = 0; c < 3; ++c)
          ref.push_back(pv[static_cast<size_t>((a * 5 + static_cast<int64_t>(i)) * 3 + c)]);
    check_both("Gather", {p, idx}, {{"axis", int64_t{1}}}, ops::gather(p, idx, 1),
               Shape{4, 2, 3, 3}, ref, 0);
  }
  Tensor ints = Tensor::from_vector<int32_t>({10, 20, 30}, {3});
  EXPECT_EQ(vals(ops::gather(ints, Tensor::from_vector<int32_t>({2, 0}, {2}), 0)),
            (std::vector<double>{30, 10}));
  EXPECT_THROW(ops::gather(p, Tensor::from_vector<int32_t>({5}, {1}), 1),
               ValueError);  // out of range
  EXPECT_THROW(ops::gather(p, Tensor::from_vector<int32_t>({-1}, {1}), 1), ValueError);
  EXPECT_THROW(ops::gather(p, ones({1}), 0), ValueError);  // float indices
  EXPECT_THROW(ops::gather(p, Tensor::from_vector<int32_t>({0}, {1}), 3), ValueError);
}

TEST(OpsBreadth, Tile) {
  Tensor x = rnd({2, 3}, 1200);
  const auto xv = vals(x);
  std::vector<double> ref;
  // multiples (2, 1, 3): x as (1, 2, 3) → (2, 2, 9)
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 9; ++j) ref.push_back(xv[static_cast<size_t>(i * 3 + j % 3)]);
  check_both("Tile", {x}, {{"multiples", std::vector<int64_t>{2, 1, 3}}}, ops::tile(x, {2, 1, 3}),
             Shape{2, 2, 9}, ref, 0);
  Tensor xi = Tensor::from_vector<int64_t>({1, 2}, {2, 1});
  EXPECT_EQ(vals(ops::tile(xi, {2, 2})), (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2}));
  EXPECT_EQ(ops::tile(x, {0, 1}).shape(), (Shape{0, 3}));
  EXPECT_THROW(ops::tile(x, {2}), ValueError);
  EXPECT_THROW(ops::tile(x, {-1, 1}), ValueError);
}

// ---------------------------------------------------------------- reductions

TEST(OpsBreadth, ReduceSumAndMean) {
  const Shape s{2, 3, 4};
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = rnd(s, 1300, dt);
    const auto xv = vals(x);
    struct Case {
      std::vector<int64_t> axis;
      bool keep;
    };
    for (const Case& c :
         std::vector<Case>{{{1}, false}, {{0, 2}, true}, {{-1}, false}, {{}, false}, {{}, true}}) {
      bool red[3] = {c.axis.empty(), c.axis.empty(), c.axis.empty()};
      for (int64_t a : c.axis) red[a < 0 ? a + 3 : a] = true;
      std::vector<int64_t> od;
      for (size_t d = 0; d < 3; ++d)
        if (!red[d])
          od.push_back(s[d]);
        else if (c.keep)
          od.push_back(1);
      const Shape out(od);
      std::vector<double> sum(static_cast<size_t>(numel(out)), 0.0);
      int64_t count = 1;
      for (size_t d = 0; d < 3; ++d)
        if (red[d]) count *= s[d];
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
          for (int64_t k = 0; k < 4; ++k) {
            const int64_t oi = red[0] ? 0 : i, oj = red[1] ? 0 : j, ok = red[2] ? 0 : k;
            const int64_t d1 = red[1] ? 1 : 3, d2 = red[2] ? 1 : 4;
            sum[static_cast<size_t>((oi * d1 + oj) * d2 + ok)] +=
                xv[static_cast<size_t>((i * 3 + j) * 4 + k)];
          }
      std::vector<double> mean;
      for (double v : sum) mean.push_back(v / static_cast<double>(count));
      const ir::Attrs attrs{{"axis", c.axis}, {"keep_dims", c.keep}};
      check_both("ReduceSum", {x}, attrs, ops::reduce_sum(x, c.axis, c.keep), out, sum, 1e-5);
      check_both("ReduceMean", {x}, attrs, ops::reduce_mean(x, c.axis, c.keep), out, mean, 1e-6);
    }
  }
  Tensor xi = Tensor::from_vector<int32_t>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(vals(ops::reduce_sum(xi, {0})), (std::vector<double>{4, 6}));
  // An integer mean is refused (MindSpore's CPU ReduceMean takes floats), never a sum.
  EXPECT_THROW(ops::reduce_mean(xi, {0}), cellar::Error);
  // MindSpore's axis as a single int, and skip_mode with no axis (identity).
  EXPECT_EQ(vals(via_executor_all("ReduceSum", {xi}, {{"axis", int64_t{1}}})[0]),
            (std::vector<double>{3, 7}));
  EXPECT_EQ(via_executor_all("ReduceSum", {xi},
                             {{"axis", std::vector<int64_t>{}}, {"skip_mode", true}})[0]
                .shape(),
            (Shape{2, 2}));
  EXPECT_THROW(ops::reduce_sum(xi, {2}), ValueError);
  EXPECT_THROW(ops::reduce_sum(xi, {0, -2}), ValueError);
  EXPECT_THROW(ops::reduce_mean(xi, {0}), ValueError);
}

// ---------------------------------------------------------------- the table

TEST(OpsBreadth, MindIRSpellings) {
  const std::map<std::string, std::vector<std::string>> attr_inputs = {
      {"Transpose", {"perm"}},
      {"ExpandDims", {"axis"}},
      {"Gather", {"axis", "batch_dims"}},
      {"Tile", {"multiples"}},
      {"ReduceSum", {"axis", "keep_dims", "skip_mode"}},
      {"ReduceMean", {"axis", "keep_dims"}},
      {"Conv2D", {}},
      {"MaxPool", {}},
      {"AvgPool", {"kernel_size", "strides", "pad_mode", "data_format"}},
      {"BatchNorm", {"is_training", "epsilon", "momentum", "data_format"}},
      {"Softmax", {"axis"}},
      {"LogSoftmax", {"axis"}},
      {"Sigmoid", {}},
      {"Tanh", {}},
      {"GeLU", {}},
      {"Abs", {}},
      {"Sub", {}},
      {"Div", {}},
      {"BatchMatMul", {"transpose_a", "transpose_b"}},
      {"Squeeze", {"axis"}},  // MindSpore 2.10 passes it as an input (ops_matmul.mindir)
      {"Concat", {"axis"}}};
  // MindSpore 2.x passes yaml-defined ops' init arguments as constant inputs too, so every attr
  // input has a default the MindIR writer can use.
  for (const auto& [name, inputs] : attr_inputs) {
    const ops::OpDef* def = ops::op_table().find(name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_EQ(def->mindir.primitive, name);
    EXPECT_EQ(def->mindir.attr_inputs, inputs) << name;
    for (const auto& key : inputs)
      if (!(name == "Transpose" || name == "ExpandDims" || name == "Tile" || key == "axis"))
        EXPECT_TRUE(def->mindir.defaults.count(key)) << name << " " << key;
    EXPECT_EQ(ops::op_table().find_mindir(name), def);
  }
}

// Pad against a naive reference: every output element is the input element it maps back to, or
// the fill; ranks 1 to 4, zero and non-zero fills, an integer dtype, zero-size pads and inputs.
TEST(OpsBreadth, PadAgainstReference) {
  struct Case {
    Shape x;
    std::vector<std::pair<int64_t, int64_t>> p;
    double value;
    DType dtype;
  };
  const std::vector<Case> cases = {
      {Shape{5}, {{2, 3}}, 0, DType::Float32},
      {Shape{2, 3}, {{0, 1}, {2, 0}}, -1.5, DType::Float32},
      {Shape{1, 2, 3, 4}, {{0, 0}, {0, 0}, {1, 1}, {1, 1}}, 0, DType::Float32},
      {Shape{2, 1, 3, 2}, {{1, 0}, {0, 2}, {3, 1}, {0, 0}}, 7, DType::Int32},
      {Shape{2, 2}, {{0, 0}, {0, 0}}, 0, DType::Float64},
      {Shape{0, 3}, {{1, 1}, {0, 0}}, 2, DType::Float32},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.x.str());
    const size_t r = c.x.rank();
    Tensor x = Tensor(DType::Float64, c.x);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = double(i % 11) - 4;
    x = x.to(c.dtype);
    std::vector<int64_t> od, flat;
    for (size_t d = 0; d < r; ++d) {
      od.push_back(c.x[d] + c.p[d].first + c.p[d].second);
      flat.push_back(c.p[d].first);
      flat.push_back(c.p[d].second);
    }
    const Shape out(od);
    const auto xv = vals(x);
    std::vector<double> ref;
    for (int64_t i = 0; i < out.numel(); ++i) {
      int64_t rest = i, src = 0, stride = 1;
      bool inside = true;
      std::vector<int64_t> idx(r);
      for (size_t d = r; d-- > 0;) {
        idx[d] = rest % out[d];
        rest /= out[d];
      }
      for (size_t d = r; d-- > 0;) {
        const int64_t k = idx[d] - c.p[d].first;
        inside = inside && k >= 0 && k < c.x[d];
        src += k * stride;
        stride *= c.x[d];
      }
      ref.push_back(inside ? xv[static_cast<size_t>(src)] : c.value);
    }
    ir::Attrs attrs{{"paddings", flat}};
    if (c.value != 0) attrs["value"] = c.value;
    check_both("Pad", {x}, attrs, ops::pad(x, c.p, c.value), out, ref, 0);
  }
  // Bad paddings: a clear error, at the call.
  const Tensor x = ones({2, 3});
  EXPECT_THROW(ops::pad(x, {{1, 1}}), cellar::ValueError);              // rank 2, one pair
  EXPECT_THROW(ops::pad(x, {{0, 0}, {-1, 0}}), cellar::ValueError);     // negative
  EXPECT_THROW(ops::pad(x, {{0, 0}, {INT64_MAX, 1}}), cellar::ValueError);  // overflow
}

// Pad's reflect, symmetric and edge modes against a naive reference that builds each padded
// dimension's source indices by concatenation, as numpy.pad describes the modes: reflect
// x[b] … x[1] | x | x[n-2] … x[n-1-a]; symmetric x[b-1] … x[0] | x | x[n-1] … x[n-a]; edge
// x[0]·b | x | x[n-1]·a. Ranks 0 to 5, several dtypes, paddings up to the modes' limits.
TEST(OpsBreadth, PadModesAgainstReference) {
  struct Case {
    Shape x;
    std::vector<std::pair<int64_t, int64_t>> p;
    std::string mode;
    DType dtype;
  };
  const std::vector<Case> cases = {
      {Shape{5}, {{4, 4}}, "reflect", DType::Float32},
      {Shape{5}, {{5, 5}}, "symmetric", DType::Float32},
      {Shape{5}, {{7, 2}}, "edge", DType::Float32},
      {Shape{2, 3}, {{1, 0}, {2, 2}}, "reflect", DType::Int32},
      {Shape{2, 3}, {{2, 1}, {3, 0}}, "symmetric", DType::Float16},
      {Shape{2, 3}, {{0, 3}, {1, 4}}, "edge", DType::UInt8},
      {Shape{2, 3, 4, 5}, {{0, 0}, {1, 0}, {2, 1}, {0, 3}}, "reflect", DType::Float64},
      {Shape{2, 3, 4, 5}, {{1, 2}, {0, 3}, {4, 1}, {2, 5}}, "symmetric", DType::Int64},
      {Shape{2, 1, 3, 2, 2}, {{1, 1}, {2, 0}, {0, 1}, {1, 2}, {0, 0}}, "edge", DType::Bool},
      {Shape{1, 1}, {{0, 0}, {1, 1}}, "symmetric", DType::BFloat16},
      {Shape{1, 4}, {{0, 0}, {0, 0}}, "reflect", DType::Float32},  // size 1, no padding
      {Shape{0, 3}, {{0, 0}, {2, 1}}, "edge", DType::Float32},     // empty input
      {Shape{}, {}, "reflect", DType::Int8},                       // a scalar
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.x.str() + " " + c.mode);
    const size_t r = c.x.rank();
    Tensor x = Tensor(DType::Float64, c.x);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = double(i % 13) - 5;
    if (c.dtype == DType::UInt8 || c.dtype == DType::Bool)
      for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = double(i % 2 + i % 7);
    x = x.to(c.dtype);
    std::vector<std::vector<int64_t>> src(r);  // per dimension: output index → input index
    std::vector<int64_t> od, flat;
    for (size_t d = 0; d < r; ++d) {
      const int64_t n = c.x[d], b = c.p[d].first, a = c.p[d].second;
      std::vector<int64_t>& s = src[d];
      for (int64_t k = 0; k < b; ++k)
        s.push_back(c.mode == "reflect" ? b - k : c.mode == "symmetric" ? b - 1 - k : 0);
      for (int64_t k = 0; k < n; ++k) s.push_back(k);
      for (int64_t k = 0; k < a; ++k)
        s.push_back(c.mode == "reflect" ? n - 2 - k : c.mode == "symmetric" ? n - 1 - k : n - 1);
      od.push_back(static_cast<int64_t>(s.size()));
      flat.push_back(b);
      flat.push_back(a);
    }
    const Shape out(od);
    const auto xv = vals(x);
    std::vector<double> ref;
    for (int64_t i = 0; i < out.numel(); ++i) {
      int64_t rest = i, off = 0, stride = 1;
      for (size_t d = r; d-- > 0;) {
        off += src[d][static_cast<size_t>(rest % out[d])] * stride;
        rest /= out[d];
        stride *= c.x[d];
      }
      ref.push_back(xv[static_cast<size_t>(off)]);
    }
    const ir::Attrs attrs{{"paddings", flat}, {"mode", c.mode}};
    check_both("Pad", {x}, attrs, ops::pad(x, c.p, c.mode), out, ref, 0);
  }
  // MindSpore's upper-case spellings (nn.Pad's modes) through ops::pad and nn::Pad.
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_TRUE(
      ops::pad(x, {{1, 1}, {2, 2}}, "SYMMETRIC").equal(ops::pad(x, {{1, 1}, {2, 2}}, "symmetric")));
  auto reflect = nn::Pad({{0, 1}, {2, 0}}, "REFLECT");
  EXPECT_TRUE(Tensor((*reflect)(x)).equal(ops::pad(x, {{0, 1}, {2, 0}}, "reflect")));
  EXPECT_TRUE(
      ops::pad(x, {{0, 1}, {2, 0}}, "CONSTANT", 2.5).equal(ops::pad(x, {{0, 1}, {2, 0}}, 2.5)));
}

// The modes' limits and bad attributes: a ValueError that says which dimension and why.
TEST(OpsBreadth, PadModeLimitsAreErrors) {
  const Tensor x = ones({2, 3});
  auto message = [&](const std::vector<std::pair<int64_t, int64_t>>& p, const std::string& mode,
                     double value = 0) {
    try {
      (void)ops::pad(x, p, mode, value);
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{0, 0}, {3, 0}}, "reflect").find("smaller than the dimension"),
            std::string::npos);  // reflect: padding < dimension
  EXPECT_NE(message({{0, 2}, {0, 0}}, "reflect").find("dimension 0"), std::string::npos);
  EXPECT_EQ(message({{1, 1}, {2, 2}}, "reflect"), "no error");
  EXPECT_NE(message({{0, 0}, {0, 4}}, "symmetric").find("must not exceed"), std::string::npos);
  EXPECT_EQ(message({{2, 2}, {3, 3}}, "symmetric"), "no error");
  EXPECT_NE(message({{0, 0}, {-1, 0}}, "edge").find("negative"), std::string::npos);
  EXPECT_NE(message({{0, 0}, {1, 0}}, "wrap").find("not one of"), std::string::npos);
  EXPECT_NE(message({{0, 0}, {1, 0}}, "edge", 1.0).find("constant mode"), std::string::npos);
  EXPECT_THROW(ops::pad(ones({0, 2}), {{1, 0}, {0, 0}}, "edge"), ValueError);
  EXPECT_THROW(ops::pad(ones({1, 2}), {{1, 0}, {0, 0}}, "reflect"), ValueError);
  EXPECT_THROW(ops::pad(x, {{0, 0}, {INT64_MAX, 1}}, "edge"), ValueError);
  EXPECT_THROW(ops::pad(Tensor::from_string("s"), {}, "edge"), ValueError);
  // A mode that is not a string, through the op table.
  const auto* def = ops::op_table().find("Pad");
  const ops::TensorType t{DType::Float32, Shape{2, 3}};
  EXPECT_THROW(
      def->infer({&t, 1}, {{"paddings", std::vector<int64_t>{0, 0, 1, 1}}, {"mode", int64_t{1}}}),
      ValueError);
}
