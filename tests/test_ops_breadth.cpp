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

// ---- naive references ----

// Conv2D with explicit padding (top, left) and output size; zero outside the input.
std::vector<double> conv_ref(const Tensor& xt, const Tensor& wt, int64_t group, int64_t sh,
                             int64_t sw, int64_t dh, int64_t dw, int64_t pt, int64_t pl, int64_t oh,
                             int64_t ow) {
  const auto x = vals(xt), w = vals(wt);
  const Shape& xs = xt.shape();
  const Shape& ws = wt.shape();
  const int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], o = ws[0], kh = ws[2], kw = ws[3];
  const int64_t cg = c / group, og = o / group;
  std::vector<double> y(static_cast<size_t>(n * o * oh * ow), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double s = 0;
          const int64_t gr = oc / og;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t iy = oy * sh + i * dh - pt, ix = ox * sw + j * dw - pl;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += x[static_cast<size_t>(((b * c + gr * cg + ci) * h + iy) * wd + ix)] *
                     w[static_cast<size_t>(((oc * cg + ci) * kh + i) * kw + j)];
              }
          y[static_cast<size_t>(((b * o + oc) * oh + oy) * ow + ox)] = s;
        }
  return y;
}

std::vector<double> pool_ref(const Tensor& xt, bool is_max, int64_t kh, int64_t kw, int64_t sh,
                             int64_t sw, int64_t pt, int64_t pl, int64_t oh, int64_t ow) {
  const auto x = vals(xt);
  const Shape& s = xt.shape();
  std::vector<double> y;
  for (int64_t p = 0; p < s[0] * s[1]; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        int cnt = 0;
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t iy = oy * sh + i - pt, ix = ox * sw + j - pl;
            if (iy < 0 || iy >= s[2] || ix < 0 || ix >= s[3]) continue;
            const double v = x[static_cast<size_t>((p * s[2] + iy) * s[3] + ix)];
            acc = is_max ? std::max(acc, v) : acc + v;
            ++cnt;
          }
        y.push_back(is_max ? acc : acc / cnt);
      }
  return y;
}

}  // namespace

// ---------------------------------------------------------------- Conv2D

TEST(OpsBreadth, Conv2DAgainstReference) {
  struct Case {
    Shape x, w;
    std::string mode;
    std::array<int64_t, 4> pad;
    std::array<int64_t, 2> stride, dilation;
    int64_t group;
  };
  const std::vector<Case> cases = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, "valid", {0, 0, 0, 0}, {1, 1}, {1, 1}, 1},
      {{1, 3, 9, 8}, {4, 3, 3, 3}, "same", {0, 0, 0, 0}, {1, 1}, {1, 1}, 1},
      {{1, 3, 9, 8}, {4, 3, 3, 2}, "same", {0, 0, 0, 0}, {2, 3}, {1, 1}, 1},
      {{2, 4, 10, 7}, {6, 2, 3, 3}, "pad", {1, 2, 0, 3}, {2, 1}, {2, 1}, 2},
      {{1, 4, 8, 8}, {4, 1, 3, 3}, "same", {0, 0, 0, 0}, {1, 1}, {2, 2}, 4},   // depthwise
      {{2, 5, 6, 6}, {3, 5, 1, 1}, "valid", {0, 0, 0, 0}, {1, 1}, {1, 1}, 1},  // 1×1 direct
      {{1, 2, 7, 7}, {2, 2, 5, 5}, "pad", {2, 2, 2, 2}, {3, 3}, {1, 1}, 1},
  };
  uint64_t seed = 100;
  for (const auto& c : cases) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(c.x.str() + " " + c.w.str() + " " + c.mode);
      Tensor x = rnd(c.x, seed++, dt), w = rnd(c.w, seed++, dt);
      ops::Conv2dArgs args{.stride = c.stride,
                           .pad_mode = c.mode,
                           .pad = c.pad,
                           .dilation = c.dilation,
                           .group = c.group};
      const int64_t kh = c.w[2], kw = c.w[3];
      const int64_t spanh = c.dilation[0] * (kh - 1) + 1, spanw = c.dilation[1] * (kw - 1) + 1;
      int64_t oh, ow, pt = 0, pl = 0;
      if (c.mode == "valid") {
        oh = (c.x[2] - spanh) / c.stride[0] + 1;
        ow = (c.x[3] - spanw) / c.stride[1] + 1;
      } else if (c.mode == "same") {
        oh = (c.x[2] + c.stride[0] - 1) / c.stride[0];
        ow = (c.x[3] + c.stride[1] - 1) / c.stride[1];
        pt = std::max<int64_t>(0, (oh - 1) * c.stride[0] + spanh - c.x[2]) / 2;
        pl = std::max<int64_t>(0, (ow - 1) * c.stride[1] + spanw - c.x[3]) / 2;
      } else {
        oh = (c.x[2] + c.pad[0] + c.pad[1] - spanh) / c.stride[0] + 1;
        ow = (c.x[3] + c.pad[2] + c.pad[3] - spanw) / c.stride[1] + 1;
        pt = c.pad[0];
        pl = c.pad[2];
      }
      const auto ref = conv_ref(x, w, c.group, c.stride[0], c.stride[1], c.dilation[0],
                                c.dilation[1], pt, pl, oh, ow);
      Tensor y = ops::conv2d(x, w, args);
      const ir::Attrs attrs{{"pad_mode", c.mode},
                            {"pad", std::vector<int64_t>(c.pad.begin(), c.pad.end())},
                            {"stride", std::vector<int64_t>{1, 1, c.stride[0], c.stride[1]}},
                            {"dilation", std::vector<int64_t>{1, 1, c.dilation[0], c.dilation[1]}},
                            {"group", c.group}};
      check_both("Conv2D", {x, w}, attrs, y, Shape{c.x[0], c.w[0], oh, ow}, ref, 1e-4);
    }
  }
}

TEST(OpsBreadth, Conv2DShapeErrors) {
  EXPECT_THROW(ops::conv2d(ones({1, 3, 8, 8}), ones({4, 2, 3, 3})), ValueError);  // channels
  EXPECT_THROW(ops::conv2d(ones({3, 8, 8}), ones({4, 3, 3, 3})), ValueError);     // rank
  EXPECT_THROW(ops::conv2d(ones({1, 3, 2, 2}), ones({4, 3, 3, 3})), ValueError);  // too small
  EXPECT_THROW(ops::conv2d(ones({1, 4, 8, 8}), ones({3, 2, 3, 3}), {.group = 2}), ValueError);
  EXPECT_THROW(ops::conv2d(ones({1, 3, 8, 8}), ones({4, 3, 3, 3}),
                           {.pad_mode = "same", .pad = {1, 1, 1, 1}}),
               ValueError);
  EXPECT_THROW(ops::conv2d(ones({1, 3, 8, 8}), ones({4, 3, 3, 3}), {.pad_mode = "full"}),
               ValueError);
  EXPECT_THROW(ops::conv2d(ones({1, 3, 8, 8}), ones({4, 3, 3, 3}, DType::Float64)), ValueError);
  // MindSpore's spellings: pad_mode as the PadMode enum (SAME = 1) and in upper case.
  Tensor x = rnd({1, 2, 5, 5}, 1), w = rnd({2, 2, 3, 3}, 2);
  Tensor same = ops::conv2d(x, w, {.pad_mode = "same"});
  EXPECT_TRUE(same.equal(via_executor_all("Conv2D", {x, w}, {{"pad_mode", int64_t{1}}})[0]));
  EXPECT_TRUE(
      same.equal(via_executor_all("Conv2D", {x, w}, {{"pad_mode", std::string("SAME")}})[0]));
}

// ---------------------------------------------------------------- pooling

TEST(OpsBreadth, PoolingAgainstReference) {
  struct Case {
    Shape x;
    int64_t kh, kw, sh, sw;
    std::string mode;
  };
  const std::vector<Case> cases = {{{2, 3, 8, 8}, 2, 2, 2, 2, "valid"},
                                   {{1, 2, 7, 9}, 3, 3, 2, 2, "valid"},
                                   {{1, 2, 7, 9}, 3, 3, 2, 2, "same"},
                                   {{1, 1, 6, 5}, 3, 2, 1, 3, "same"},
                                   {{2, 2, 5, 5}, 1, 1, 1, 1, "valid"}};
  uint64_t seed = 200;
  for (const auto& c : cases)
    for (bool is_max : {true, false})
      for (DType dt : {DType::Float32, DType::Float64}) {
        Tensor x = rnd(c.x, seed++, dt);
        int64_t oh, ow, pt = 0, pl = 0;
        if (c.mode == "valid") {
          oh = (c.x[2] - c.kh) / c.sh + 1;
          ow = (c.x[3] - c.kw) / c.sw + 1;
        } else {
          oh = (c.x[2] + c.sh - 1) / c.sh;
          ow = (c.x[3] + c.sw - 1) / c.sw;
          pt = std::max<int64_t>(0, (oh - 1) * c.sh + c.kh - c.x[2]) / 2;
          pl = std::max<int64_t>(0, (ow - 1) * c.sw + c.kw - c.x[3]) / 2;
        }
        const auto ref = pool_ref(x, is_max, c.kh, c.kw, c.sh, c.sw, pt, pl, oh, ow);
        Tensor y = is_max ? ops::max_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, c.mode)
                          : ops::avg_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, c.mode);
        const ir::Attrs attrs{
            {"kernel_size", std::vector<int64_t>{1, 1, c.kh, c.kw}},
            {"strides", std::vector<int64_t>{1, 1, c.sh, c.sw}},
            {"pad_mode", c.mode == "same" ? std::string("SAME") : std::string("VALID")}};
        check_both(is_max ? "MaxPool" : "AvgPool", {x}, attrs, y, Shape{c.x[0], c.x[1], oh, ow},
                   ref, 1e-5);
      }
  EXPECT_THROW(ops::max_pool2d(ones({1, 1, 2, 2}), {3, 3}, {1, 1}), ValueError);
  EXPECT_THROW(ops::max_pool2d(ones({1, 4, 4}), {2, 2}, {2, 2}), ValueError);
  EXPECT_THROW(ops::avg_pool2d(ones({1, 1, 4, 4}), {2, 2}, {2, 2}, "pad"), ValueError);
  EXPECT_THROW(ops::avg_pool2d(ones({1, 1, 4, 4}), {0, 2}, {2, 2}), ValueError);
}

// ---------------------------------------------------------------- BatchNorm

TEST(OpsBreadth, BatchNormInference) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const int64_t n = 2, c = 3, hw = 5;
    Tensor x = rnd({n, c, hw, 1}, 300, dt), scale = rnd({c}, 301, dt), bias = rnd({c}, 302, dt);
    Tensor mean = rnd({c}, 303, dt);
    Generator g(304);
    Tensor var = ops::uniform({c}, 0.1, 2.0, g, dt);
    const double eps = 1e-3;
    const auto xv = vals(x), sv = vals(scale), bv = vals(bias), mv = vals(mean), vv = vals(var);
    std::vector<double> ref;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j)
        for (int64_t k = 0; k < hw; ++k)
          ref.push_back((xv[static_cast<size_t>((i * c + j) * hw + k)] - mv[j]) /
                            std::sqrt(vv[j] + eps) * sv[j] +
                        bv[j]);
    Tensor y = ops::batch_norm(x, scale, bias, mean, var, eps);
    const ir::Attrs attrs{{"is_training", false}, {"epsilon", eps}};
    check_both("BatchNorm", {x, scale, bias, mean, var}, attrs, y, x.shape(), ref, 1e-5);
    // MindSpore's 5 outputs: y, then the statistics (the moving ones at inference).
    const auto all = via_executor_all("BatchNorm", {x, scale, bias, mean, var}, attrs);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_TRUE(all[1].equal(mean));
    EXPECT_TRUE(all[2].equal(var));
  }
  EXPECT_EQ(ops::op_table().find("BatchNorm")->num_outputs, 5);
  EXPECT_THROW(ops::batch_norm(ones({2, 3, 4, 4}), ones({4}), ones({3}), ones({3}), ones({3})),
               ValueError);
  EXPECT_THROW(ops::batch_norm(ones({3}), ones({3}), ones({3}), ones({3}), ones({3})), ValueError);
  EXPECT_THROW(ops::call("BatchNorm", {ones({2, 3}), ones({3}), ones({3}), ones({3}), ones({3})},
                         {{"is_training", true}}),
               ValueError);
}

// ---------------------------------------------------------------- activations

TEST(OpsBreadth, SoftmaxAndLogSoftmax) {
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t axis : {0, 1, -1}) {
      const Shape s{3, 4, 5};
      Tensor x = rnd(s, 400 + static_cast<uint64_t>(axis + 1), dt);
      const auto xv = vals(x);
      const int64_t a = axis < 0 ? axis + 3 : axis;
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < a; ++i) outer *= s[static_cast<size_t>(i)];
      for (int64_t i = a + 1; i < 3; ++i) inner *= s[static_cast<size_t>(i)];
      const int64_t len = s[static_cast<size_t>(a)];
      std::vector<double> sm(xv.size()), lsm(xv.size());
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          double z = 0;
          for (int64_t k = 0; k < len; ++k)
            z += std::exp(xv[static_cast<size_t>((o * len + k) * inner + i)]);
          for (int64_t k = 0; k < len; ++k) {
            const size_t idx = static_cast<size_t>((o * len + k) * inner + i);
            sm[idx] = std::exp(xv[idx]) / z;
            lsm[idx] = xv[idx] - std::log(z);
          }
        }
      check_both("Softmax", {x}, {{"axis", std::vector<int64_t>{axis}}}, ops::softmax(x, axis), s,
                 sm, 1e-6);
      check_both("LogSoftmax", {x}, {{"axis", axis}}, ops::log_softmax(x, axis), s, lsm, 1e-5);
    }
  EXPECT_THROW(ops::softmax(ones({2, 3}), 2), ValueError);
  EXPECT_THROW(ops::log_softmax(ones({2, 3}), -3), ValueError);
  EXPECT_THROW(ops::call("Softmax", {ones({2, 3})}, {{"axis", std::vector<int64_t>{0, 1}}}),
               ValueError);
  EXPECT_THROW(ops::softmax(Tensor::from_vector<int32_t>({1, 2}, {2})), ValueError);
}

TEST(OpsBreadth, ElementwiseUnary) {
  const std::vector<std::pair<std::string, std::function<double(double)>>> cases = {
      {"Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"GeLU",
       [](double v) {
         return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
       }},
      {"Abs", [](double v) { return std::fabs(v); }}};
  const std::map<std::string, std::function<Tensor(const Tensor&)>> fns = {
      {"Sigmoid", ops::sigmoid},
      {"Tanh", ops::tanh},
      {"GeLU", [](const Tensor& t) { return ops::gelu(t); }},
      {"Abs", ops::abs}};
  for (const auto& [name, f] : cases)
    for (DType dt : {DType::Float32, DType::Float64}) {
      Tensor x = rnd({4, 7}, 500, dt);
      std::vector<double> ref;
      for (double v : vals(x)) ref.push_back(f(v));
      check_both(name, {x}, {}, fns.at(name)(x), x.shape(), ref, 1e-6);
    }
  Tensor xi = Tensor::from_vector<int32_t>({-3, 0, 4}, {3});
  EXPECT_EQ(vals(ops::abs(xi)), (std::vector<double>{3, 0, 4}));
  EXPECT_THROW(ops::sigmoid(xi), ValueError);
  EXPECT_THROW(ops::gelu(Tensor::from_vector<int64_t>({1}, {1})), ValueError);
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
    for (const auto& key : inputs) {
      if (!(name == "Transpose" || name == "ExpandDims" || name == "Tile" || key == "axis")) {
        EXPECT_TRUE(def->mindir.defaults.count(key)) << name << " " << key;
      }
    }
    EXPECT_EQ(ops::op_table().find_mindir(name), def);
  }
}

// The functional API's Pad (ops::pad, nn::Pad) takes MindSpore's upper-case mode names (nn.Pad's
// REFLECT, SYMMETRIC, CONSTANT) and gives the row's results; the row's own values are
// tests/ops/cases_tensor.cpp's.
TEST(OpsBreadth, PadFunctionalTakesMindSporeModeNames) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_TRUE(
      ops::pad(x, {{1, 1}, {2, 2}}, "SYMMETRIC").equal(ops::pad(x, {{1, 1}, {2, 2}}, "symmetric")));
  auto reflect = nn::Pad({{0, 1}, {2, 0}}, "REFLECT");
  EXPECT_TRUE(Tensor((*reflect)(x)).equal(ops::pad(x, {{0, 1}, {2, 0}}, "reflect")));
  EXPECT_TRUE(
      ops::pad(x, {{0, 1}, {2, 0}}, "CONSTANT", 2.5).equal(ops::pad(x, {{0, 1}, {2, 0}}, 2.5)));
}
