// Cases of the nn rows (src/ops/nn/): activations, convolution, pooling, normalisation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

// ---- references of the nn rows (plain loops in double) ----

// y[i, j] = Σ_p op(a)[i, p] · op(b)[p, j].
OpReference matmul_ref() {
  return [](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    const bool ta = std::get<bool>(attrs.at("transpose_a")),
               tb = std::get<bool>(attrs.at("transpose_b"));
    const Shape& as = in[0].shape();
    const Shape& bs = in[1].shape();
    const int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1], n = tb ? bs[0] : bs[1];
    const auto a = as_doubles(in[0]), b = as_doubles(in[1]);
    std::vector<double> y(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += a[static_cast<size_t>(ta ? p * m + i : i * k + p)] *
               b[static_cast<size_t>(tb ? j * k + p : p * n + j)];
        y[static_cast<size_t>(i * n + j)] = s;
      }
    return std::vector<Tensor>{from_doubles(y, Shape{m, n}, in[0].dtype())};
  };
}

OpCase matmul_case(bool ta, bool tb) {
  const int64_t m = 5, k = 7, n = 3;
  return {.op = "MatMul",
          .label = std::string("ta") + (ta ? "1" : "0") + "_tb" + (tb ? "1" : "0"),
          .inputs = {uniform(ta ? Shape{k, m} : Shape{m, k}, 1),
                     uniform(tb ? Shape{n, k} : Shape{k, n}, 2)},
          .attrs = {{"transpose_a", ta}, {"transpose_b", tb}},
          .reference = matmul_ref()};
}

// FusedMatMul (the optimiser's MatMul + bias + ReLU): MatMul's reference, plus the bias along
// columns and the activation, as the unfused ops state them.
OpCase fused_matmul_case(const std::string& label, int64_t m, int64_t n, int64_t k, bool ta,
                         bool tb, bool bias, const std::string& activation, uint64_t seed) {
  OpCase c{.op = "FusedMatMul",
           .label = label,
           .inputs = {uniform(ta ? Shape{k, m} : Shape{m, k}, seed),
                      uniform(tb ? Shape{n, k} : Shape{k, n}, seed + 1)},
           .attrs = {{"transpose_a", ta}, {"transpose_b", tb}, {"activation", activation}}};
  if (bias) c.inputs.push_back(uniform(Shape{n}, seed + 2));
  c.reference = [mm = matmul_ref(), bias, activation](const std::vector<Tensor>& in,
                                                      const ir::Attrs& attrs) {
    const Tensor y = mm(in, attrs)[0];
    auto v = as_doubles(y);
    const int64_t cols = y.shape()[1];
    const auto b = bias ? as_doubles(in[2]) : std::vector<double>(static_cast<size_t>(cols));
    for (size_t i = 0; i < v.size(); ++i) {
      const double t = v[i] + b[i % static_cast<size_t>(cols)];
      v[i] = activation == "relu" ? std::max(t, 0.0)
             : activation == "gelu"
                 ? 0.5 * t * (1 + std::tanh(0.7978845608028654 * (t + 0.044715 * t * t * t)))
                 : t;
    }
    return std::vector<Tensor>{from_doubles(v, y.shape(), y.dtype())};
  };
  return c;
}

// y = x + b[c] along dimension 1.
OpReference bias_add_ref() {
  return [](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    auto x = as_doubles(in[0]);
    const auto b = as_doubles(in[1]);
    int64_t inner = 1;
    for (size_t i = 2; i < s.rank(); ++i) inner *= s[i];
    for (size_t i = 0; i < x.size(); ++i)
      x[i] += b[(i / static_cast<size_t>(inner)) % static_cast<size_t>(s[1])];
    return std::vector<Tensor>{from_doubles(x, s, in[0].dtype())};
  };
}

struct ConvParams {
  Shape x, w;
  std::string mode;
  std::vector<int64_t> pad;  // top, bottom, left, right
  int64_t sh, sw, dh, dw, group;
};

// Each output pixel is the sum over the window's taps that fall inside the input (zero padding);
// the output size and the padding before from MindSpore's rule for the pad mode.
OpReference conv_ref(ConvParams p) {
  return [p](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in[0]), w = as_doubles(in[1]);
    const int64_t n = p.x[0], c = p.x[1], h = p.x[2], wd = p.x[3];
    const int64_t o = p.w[0], kh = p.w[2], kw = p.w[3];
    const int64_t spanh = p.dh * (kh - 1) + 1, spanw = p.dw * (kw - 1) + 1;
    int64_t oh, ow, pt = 0, pl = 0;
    if (p.mode == "valid") {
      oh = (h - spanh) / p.sh + 1;
      ow = (wd - spanw) / p.sw + 1;
    } else if (p.mode == "same") {
      oh = (h + p.sh - 1) / p.sh;
      ow = (wd + p.sw - 1) / p.sw;
      pt = std::max<int64_t>(0, (oh - 1) * p.sh + spanh - h) / 2;
      pl = std::max<int64_t>(0, (ow - 1) * p.sw + spanw - wd) / 2;
    } else {
      oh = (h + p.pad[0] + p.pad[1] - spanh) / p.sh + 1;
      ow = (wd + p.pad[2] + p.pad[3] - spanw) / p.sw + 1;
      pt = p.pad[0];
      pl = p.pad[2];
    }
    const int64_t cg = c / p.group, og = o / p.group;
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
                  const int64_t iy = oy * p.sh + i * p.dh - pt, ix = ox * p.sw + j * p.dw - pl;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                  s += x[static_cast<size_t>(((b * c + gr * cg + ci) * h + iy) * wd + ix)] *
                       w[static_cast<size_t>(((oc * cg + ci) * kh + i) * kw + j)];
                }
            y[static_cast<size_t>(((b * o + oc) * oh + oy) * ow + ox)] = s;
          }
    return std::vector<Tensor>{from_doubles(y, Shape{n, o, oh, ow}, in[0].dtype())};
  };
}

OpCase conv_case(std::string label, ConvParams p, DType dt, uint64_t seed) {
  return {.op = "Conv2D",
          .label = std::move(label),
          .inputs = {uniform(p.x, seed, -2, 2, dt), uniform(p.w, seed + 1, -2, 2, dt)},
          .attrs = {{"pad_mode", p.mode},
                    {"pad", p.pad},
                    {"stride", std::vector<int64_t>{1, 1, p.sh, p.sw}},
                    {"dilation", std::vector<int64_t>{1, 1, p.dh, p.dw}},
                    {"group", p.group}},
          .reference = conv_ref(p),
          .tol = 1e-4};
}

// FusedConv2D (the optimiser's Conv2D + bias + activation): Conv2D's reference, plus the bias
// along channels and the activation, as the unfused ops state them.
OpCase fused_conv_case(const std::string& label, ConvParams p, DType dt, uint64_t seed,
                       const std::string& activation, bool bias) {
  OpCase c = conv_case(label, p, dt, seed);
  c.op = "FusedConv2D";
  c.attrs["activation"] = activation;
  if (bias) c.inputs.push_back(uniform(Shape{p.w[0]}, seed + 2, -2, 2, dt));
  c.reference = [conv = conv_ref(p), activation, bias](const std::vector<Tensor>& in,
                                                       const ir::Attrs& attrs) {
    const Tensor y = conv(in, attrs)[0];
    auto v = as_doubles(y);
    const auto b =
        bias ? as_doubles(in[2]) : std::vector<double>(static_cast<size_t>(y.shape()[1]));
    const int64_t plane = y.shape()[2] * y.shape()[3], channels = y.shape()[1];
    auto relu6 = [](double t) { return std::min(std::max(t, 0.0), 6.0); };
    for (size_t i = 0; i < v.size(); ++i) {
      const double t = v[i] + b[static_cast<size_t>((static_cast<int64_t>(i) / plane) % channels)];
      v[i] = activation == "relu"       ? std::max(t, 0.0)
             : activation == "relu6"    ? relu6(t)
             : activation == "hswish"   ? t * relu6(t + 3) / 6
             : activation == "hsigmoid" ? relu6(t + 3) / 6
                                        : t;
    }
    return std::vector<Tensor>{from_doubles(v, y.shape(), y.dtype())};
  };
  return c;
}

// The mean (padding not counted) or maximum of the window's taps inside the input.
OpReference pool_ref(bool is_max, int64_t kh, int64_t kw, int64_t sh, int64_t sw, bool same) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in[0]);
    const Shape& s = in[0].shape();
    int64_t oh, ow, pt = 0, pl = 0;
    if (!same) {
      oh = (s[2] - kh) / sh + 1;
      ow = (s[3] - kw) / sw + 1;
    } else {
      oh = (s[2] + sh - 1) / sh;
      ow = (s[3] + sw - 1) / sw;
      pt = std::max<int64_t>(0, (oh - 1) * sh + kh - s[2]) / 2;
      pl = std::max<int64_t>(0, (ow - 1) * sw + kw - s[3]) / 2;
    }
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
    return std::vector<Tensor>{from_doubles(y, Shape{s[0], s[1], oh, ow}, in[0].dtype())};
  };
}

// MaxPool as ops.MaxPool writes it ((1, 1, h, w), "VALID"/"SAME"); AvgPool as MindSpore 2.x's
// AvgPool does ((h, w), the PadMode and Format enums), as the functional API calls them.
OpCase pool_case(bool is_max, const Shape& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                 bool same, DType dt, uint64_t seed) {
  ir::Attrs attrs;
  if (is_max)
    attrs = {{"kernel_size", std::vector<int64_t>{1, 1, kh, kw}},
             {"strides", std::vector<int64_t>{1, 1, sh, sw}},
             {"pad_mode", std::string(same ? "SAME" : "VALID")},
             {"data_format", std::string("NCHW")}};
  else
    attrs = {{"kernel_size", std::vector<int64_t>{kh, kw}},
             {"strides", std::vector<int64_t>{sh, sw}},
             {"pad_mode", int64_t{same ? 1 : 2}},
             {"data_format", int64_t{0}}};
  std::string label = x.str() + "_k" + std::to_string(kh) + std::to_string(kw) + "_s" +
                      std::to_string(sh) + std::to_string(sw) + (same ? "_same_" : "_valid_") +
                      (dt == DType::Float64 ? "f64" : "f32");
  return {.op = is_max ? "MaxPool" : "AvgPool",
          .label = label,
          .inputs = {uniform(x, seed, -2, 2, dt)},
          .attrs = attrs,
          .reference = pool_ref(is_max, kh, kw, sh, sw, same)};
}

// y, then the statistics passed through (mean, variance, mean, variance) at inference.
OpReference batch_norm_ref(double eps) {
  return [eps](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    auto x = as_doubles(in[0]);
    const auto sc = as_doubles(in[1]), b = as_doubles(in[2]), m = as_doubles(in[3]),
               v = as_doubles(in[4]);
    int64_t inner = 1;
    for (size_t i = 2; i < s.rank(); ++i) inner *= s[i];
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t j = (i / static_cast<size_t>(inner)) % static_cast<size_t>(s[1]);
      x[i] = (x[i] - m[j]) / std::sqrt(v[j] + eps) * sc[j] + b[j];
    }
    return std::vector<Tensor>{from_doubles(x, s, in[0].dtype()), in[3], in[4], in[3], in[4]};
  };
}

OpCase batch_norm_case(DType dt) {
  const int64_t c = 3;
  Generator g(304);
  return {.op = "BatchNorm",
          .label = dt == DType::Float64 ? "f64" : "f32",
          .inputs = {uniform({2, c, 5, 1}, 300, -2, 2, dt), uniform({c}, 301, -2, 2, dt),
                     uniform({c}, 302, -2, 2, dt), uniform({c}, 303, -2, 2, dt),
                     ops::uniform({c}, 0.1, 2.0, g, dt)},
          .attrs = {{"is_training", false}, {"epsilon", 1e-3}},
          .reference = batch_norm_ref(1e-3),
          .no_onnx =
              "the one-node graph outputs the batch statistics (outputs 1-4), which "
              "ONNX's inference BatchNormalization does not have"};
}

// e^x / Σ e^x (or its log) along one axis.
OpReference softmax_ref(int64_t axis, bool log) {
  return [axis, log](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]);
    const int64_t r = static_cast<int64_t>(s.rank()), a = axis < 0 ? axis + r : axis;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < a; ++i) outer *= s[static_cast<size_t>(i)];
    for (int64_t i = a + 1; i < r; ++i) inner *= s[static_cast<size_t>(i)];
    const int64_t len = s[static_cast<size_t>(a)];
    std::vector<double> y(x.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double z = 0;
        for (int64_t k = 0; k < len; ++k)
          z += std::exp(x[static_cast<size_t>((o * len + k) * inner + i)]);
        for (int64_t k = 0; k < len; ++k) {
          const size_t idx = static_cast<size_t>((o * len + k) * inner + i);
          y[idx] = log ? x[idx] - std::log(z) : std::exp(x[idx]) / z;
        }
      }
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype())};
  };
}

double gelu_tanh(double v) {
  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
}
double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<OpCase> nn_cases() {
  std::vector<OpCase> cases;
  auto add = [&](OpCase c) { cases.push_back(std::move(c)); };

  // MatMul (src/ops/math/matmul.cpp)
  for (bool ta : {false, true})
    for (bool tb : {false, true}) add(matmul_case(ta, tb));
  add({.op = "MatMul",
       .label = "f64",
       .inputs = {uniform({2, 3}, 3, -2, 2, DType::Float64),
                  uniform({3, 4}, 4, -2, 2, DType::Float64)},
       .attrs = {{"transpose_a", false}, {"transpose_b", false}},
       .reference = matmul_ref()});
  // Large enough that the executor splits it over its workers (ops/gemm.h), both ways.
  add({.op = "MatMul",
       .label = "split_columns",
       .inputs = {uniform({9, 70}, 5), uniform({70, 100}, 6)},
       .attrs = {{"transpose_a", false}, {"transpose_b", false}},
       .reference = matmul_ref()});
  // Narrow products (n ≤ 32, A not transposed) take the kernels of ops/gemm.cpp: rows in
  // blocks of 8 and one left over, columns in masked groups.
  add({.op = "MatMul",
       .label = "narrow",
       .inputs = {uniform({21, 300}, 9), uniform({300, 13}, 10)},
       .attrs = {{"transpose_a", false}, {"transpose_b", false}},
       .reference = matmul_ref()});
  add({.op = "MatMul",
       .label = "narrow_two_groups",
       .inputs = {uniform({16, 5}, 11), uniform({5, 32}, 12)},
       .attrs = {{"transpose_a", false}, {"transpose_b", false}},
       .reference = matmul_ref()});
  add({.op = "MatMul",
       .label = "split_rows_transposed",
       .inputs = {uniform({300, 40}, 7), uniform({20, 300}, 8)},
       .attrs = {{"transpose_a", true}, {"transpose_b", true}},
       .reference = matmul_ref()});
  add({.op = "MatMul",
       .label = "inner_differ",
       .inputs = {ones({2, 3}), ones({2, 3})},
       .error = "inner dimensions differ"});
  add({.op = "MatMul",
       .label = "dtypes_differ",
       .inputs = {ones({2, 3}), ones({3, 2}, DType::Float64)},
       .error = "inputs have different dtypes"});
  add({.op = "MatMul",
       .label = "rank3_refused",
       .inputs = {ones({2, 2, 3}), ones({3, 2})},
       .error = "operands must be rank 2"});

  // FusedMatMul (src/ops/math/matmul.cpp): the GEMM paths (one row, narrow, panels with tails,
  // BLAS for a transposed A), each with and without bias, ReLU or none; large enough to split.
  {
    struct Mm {
      std::string label;
      int64_t m, n, k;
      bool ta, tb;
    };
    uint64_t fseed = 900;
    for (const Mm& p : std::vector<Mm>{{"row", 1, 70, 33, false, false},
                                       {"row_tb", 1, 50, 20, false, true},
                                       {"narrow", 21, 13, 30, false, false},
                                       {"panels", 13, 45, 7, false, false},
                                       {"split", 9, 100, 70, false, false},
                                       {"ta", 6, 20, 9, true, false},
                                       {"tb", 10, 40, 12, false, true}})
      for (const std::string act : {"none", "relu", "gelu"})
        for (bool bias : {true, false}) {
          if (act == "none" && !bias) continue;  // the optimiser never makes a plain MatMul
          add(fused_matmul_case(p.label + "_" + act + (bias ? "_bias" : ""), p.m, p.n, p.k, p.ta,
                                p.tb, bias, act, fseed += 3));
        }
    OpCase bad = fused_matmul_case("bias_wrong_size", 3, 4, 5, false, false, true, "relu", 950);
    bad.inputs[2] = ones({5});
    bad.error = "bias (5,) must be [4]";
    bad.reference = nullptr;
    add(bad);
    OpCase unknown =
        fused_matmul_case("unknown_activation", 3, 4, 5, false, false, false, "swish", 960);
    unknown.error = "activation 'swish' is not one of none, relu, gelu";
    unknown.reference = nullptr;
    add(unknown);
    OpCase f64 = fused_matmul_case("f64_refused", 3, 4, 5, false, false, false, "relu", 970);
    f64.inputs = {ones({3, 5}, DType::Float64), ones({5, 4}, DType::Float64)};
    f64.error = "FusedMatMul";
    f64.reference = nullptr;
    add(f64);
  }

  // BiasAdd
  add({.op = "BiasAdd",
       .label = "rank3",
       .inputs = {uniform({2, 3, 4}, 5), uniform({3}, 6)},
       .reference = bias_add_ref()});
  add({.op = "BiasAdd",
       .label = "rank2_f64",
       .inputs = {uniform({4, 3}, 7, -2, 2, DType::Float64),
                  uniform({3}, 8, -2, 2, DType::Float64)},
       .reference = bias_add_ref()});
  add({.op = "BiasAdd",
       .label = "rank4_format_enum",
       .inputs = {uniform({2, 3, 2, 2}, 9), uniform({3}, 10)},
       .attrs = {{"data_format", int64_t{0}}},
       .reference = bias_add_ref()});
  add({.op = "BiasAdd",
       .label = "bias_not_channels",
       .inputs = {ones({2, 3, 4}), ones({4})},
       .error = "does not match channel dimension"});
  add({.op = "BiasAdd",
       .label = "nhwc_refused",
       .inputs = {ones({2, 3, 4}), ones({3})},
       .attrs = {{"data_format", std::string("NHWC")}},
       .error = "only the channels-first data_format"});

  // ReLU
  add({.op = "ReLU",
       .label = "f32",
       .inputs = {uniform({3, 5}, 8)},
       .reference = unary_ref([](double v) { return std::max(0.0, v); })});
  add({.op = "ReLU",
       .label = "split",
       .inputs = {uniform({5, 100, 81}, 11)},
       .reference = unary_ref([](double v) { return std::max(0.0, v); })});
  add({.op = "BiasAdd",
       .label = "rank2_rows_split",
       .inputs = {uniform({300, 70}, 14), uniform({70}, 15)},
       .reference = bias_add_ref()});
  add({.op = "BiasAdd",
       .label = "split",
       .inputs = {uniform({3, 10, 40, 41}, 12), uniform({10}, 13)},
       .reference = bias_add_ref()});
  add({.op = "ReLU",
       .label = "int32",
       .inputs = {values({-1, 2, 0, -7}, {4}, DType::Int32)},
       .reference = unary_ref([](double v) { return std::max(0.0, v); })});
  add({.op = "ReLU",
       .label = "special_values",
       .inputs = {values({-kInf, -0.0, kInf, kNaN}, {4}, DType::Float64)},
       .reference = unary_ref([](double v) { return v > 0 ? v : 0.0; })});
  add({.op = "ReLU",
       .label = "empty",
       .inputs = {values({}, {0, 3})},
       .reference = unary_ref([](double v) { return std::max(0.0, v); })});
  add({.op = "ReLU",
       .label = "bool_refused",
       .inputs = {ones({2}, DType::Bool)},
       .error = "is not supported"});

  // Sigmoid, Tanh, GeLU, Abs
  const std::vector<std::pair<std::string, double (*)(double)>> unary = {
      {"Sigmoid", sigmoid},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"GeLU", gelu_tanh},
      {"Abs", [](double v) { return std::fabs(v); }}};
  for (const auto& [op, f] : unary)
    for (DType dt : {DType::Float32, DType::Float64})
      add({.op = op,
           .label = dt == DType::Float64 ? "f64" : "f32",
           .inputs = {uniform({4, 7}, 500, -2, 2, dt)},
           .reference = unary_ref(f),
           .tol = 1e-6});
  for (size_t i : {0, 1, 3})  // Sigmoid, Tanh, Abs at ±∞, −0, NaN and saturation
    add({.op = unary[i].first,
         .label = "special_values",
         .inputs = {values({-kInf, -0.0, kInf, kNaN, 40, -40}, {6}, DType::Float64)},
         .reference = unary_ref(unary[i].second)});
  // Float32 Sigmoid runs in SIMD lanes (ops/vec_math.h): its special values too.
  add({.op = "Sigmoid",
       .label = "special_values_f32",
       .inputs = {values({-kInf, -0.0, kInf, kNaN, 40, -40, 88.5, -88.5, -100}, {9})},
       .reference = unary_ref(sigmoid)});
  add({.op = "Abs",
       .label = "int32",
       .inputs = {values({-3, 0, 4}, {3}, DType::Int32)},
       .reference = unary_ref([](double v) { return std::fabs(v); })});
  add({.op = "Abs",
       .label = "int64",
       .inputs = {values({-5, 7}, {2}, DType::Int64)},
       .reference = unary_ref([](double v) { return std::fabs(v); })});
  add({.op = "Sigmoid",
       .label = "int_refused",
       .inputs = {values({-3, 0, 4}, {3}, DType::Int32)},
       .error = "dtype Int32 is not supported"});
  add({.op = "Tanh",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int64)},
       .error = "is not supported"});
  add({.op = "GeLU",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int64)},
       .error = "dtype Int64 is not supported"});

  // Softmax, LogSoftmax
  uint64_t seed = 400;
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t axis : {0, 1, -1}) {
      const std::string label = "axis" + std::string(axis < 0 ? "m1" : std::to_string(axis)) +
                                (dt == DType::Float64 ? "_f64" : "_f32");
      const Tensor x = uniform({3, 4, 5}, seed++, -2, 2, dt);
      add({.op = "Softmax",
           .label = label,
           .inputs = {x},
           .attrs = {{"axis", std::vector<int64_t>{axis}}},
           .reference = softmax_ref(axis, false),
           .tol = 1e-6});
      add({.op = "LogSoftmax",
           .label = label,
           .inputs = {x},
           .attrs = {{"axis", axis}},
           .reference = softmax_ref(axis, true)});
    }
  add({.op = "Softmax",
       .label = "default_axis",
       .inputs = {uniform({2, 6}, 410)},
       .reference = softmax_ref(-1, false),
       .tol = 1e-6});
  add({.op = "Softmax",
       .label = "large_values_stable",
       .inputs = {values({1000, 1001, 1002, -1000}, {1, 4}, DType::Float64)},
       .attrs = {{"axis", std::vector<int64_t>{-1}}},
       .reference = [](const std::vector<Tensor>& in, const ir::Attrs&) {
         // Shifted by the maximum, as the kernel does: e^1000 overflows a double.
         std::vector<double> y;
         double z = 0;
         for (double v : as_doubles(in[0])) z += std::exp(v - 1002);
         for (double v : as_doubles(in[0])) y.push_back(std::exp(v - 1002) / z);
         return std::vector<Tensor>{from_doubles(y, in[0].shape(), DType::Float64)};
       }});
  // Float32 over the last axis runs in SIMD lanes, rows split over workers: long rows with
  // tails, and a masked (−∞) entry, which gives 0.
  add({.op = "Softmax",
       .label = "last_axis_long_rows",
       .inputs = {uniform({6, 50, 37}, 411, -10, 10)},
       .attrs = {{"axis", std::vector<int64_t>{-1}}},
       .reference = softmax_ref(-1, false),
       .tol = 1e-6});
  add({.op = "Softmax",
       .label = "last_axis_masked",
       .inputs = {values({0.5, -std::numeric_limits<double>::infinity(),
                          2,   1,
                          0,   -1,
                          3,   4,
                          5,   6,
                          7,   8,
                          9,   10,
                          11,  12,
                          13,  14,
                          15,  88},
                         {2, 10})},
       .attrs = {{"axis", std::vector<int64_t>{-1}}},
       .reference = softmax_ref(-1, false),
       .tol = 1e-6});
  add({.op = "Softmax",
       .label = "axis_out_of_range",
       .inputs = {ones({2, 3})},
       .attrs = {{"axis", std::vector<int64_t>{2}}},
       .error = "axis 2 is out of range"});
  add({.op = "LogSoftmax",
       .label = "axis_out_of_range",
       .inputs = {ones({2, 3})},
       .attrs = {{"axis", int64_t{-3}}},
       .error = "axis -3 is out of range"});
  add({.op = "Softmax",
       .label = "two_axes",
       .inputs = {ones({2, 3})},
       .attrs = {{"axis", std::vector<int64_t>{0, 1}}},
       .error = "exactly one axis"});
  add({.op = "Softmax",
       .label = "int_refused",
       .inputs = {values({1, 2}, {2}, DType::Int32)},
       .error = "dtype Int32 is not supported"});
  add({.op = "LogSoftmax",
       .label = "scalar_refused",
       .inputs = {values({1}, {})},
       .error = "rank >= 1"});

  // Conv2D: every pad mode, strides, dilations, groups (depthwise), the direct 1×1 path.
  const std::vector<std::pair<std::string, ConvParams>> convs = {
      {"valid", {{2, 3, 9, 8}, {4, 3, 3, 3}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
      {"same", {{1, 3, 9, 8}, {4, 3, 3, 3}, "same", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
      {"same_strided", {{1, 3, 9, 8}, {4, 3, 3, 2}, "same", {0, 0, 0, 0}, 2, 3, 1, 1, 1}},
      {"pad_dilated_grouped", {{2, 4, 10, 7}, {6, 2, 3, 3}, "pad", {1, 2, 0, 3}, 2, 1, 2, 1, 2}},
      {"depthwise_dilated", {{1, 4, 8, 8}, {4, 1, 3, 3}, "same", {0, 0, 0, 0}, 1, 1, 2, 2, 4}},
      {"direct_1x1", {{2, 5, 6, 6}, {3, 5, 1, 1}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
      {"pad_strided_5x5", {{1, 2, 7, 7}, {2, 2, 5, 5}, "pad", {2, 2, 2, 2}, 3, 3, 1, 1, 1}},
      // The kernel's own paths at sizes where the executor splits them over its workers: im2col
      // in several column blocks, depthwise planes (strided, padded, a channel multiplier of 2),
      // a 1×1 convolution cut in column blocks.
      {"column_blocks", {{1, 16, 40, 40}, {8, 16, 3, 3}, "same", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
      {"depthwise_strided_padded",
       {{2, 8, 17, 17}, {8, 1, 3, 3}, "pad", {1, 1, 1, 1}, 2, 2, 1, 1, 8}},
      {"depthwise_multiplier", {{1, 3, 9, 9}, {6, 1, 5, 5}, "pad", {2, 1, 0, 2}, 1, 2, 1, 1, 3}},
      {"direct_1x1_blocks",
       {{1, 32, 24, 24}, {16, 32, 1, 1}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
      // A late layer: four output positions, 40 channels cut into row blocks over the workers.
      {"late_layer_rows", {{1, 24, 4, 4}, {40, 24, 3, 3}, "same", {0, 0, 0, 0}, 2, 2, 1, 1, 1}},
  };
  seed = 100;
  for (const auto& [label, p] : convs)
    for (DType dt : {DType::Float32, DType::Float64}) {
      add(conv_case(label + (dt == DType::Float64 ? "_f64" : "_f32"), p, dt, seed));
      seed += 2;
    }
  // FusedConv2D: each activation, with and without bias, on the kernel's three paths (im2col in
  // column blocks, depthwise, direct 1×1).
  {
    const std::vector<std::pair<std::string, ConvParams>> fused = {
        {"im2col", {{1, 16, 40, 40}, {8, 16, 3, 3}, "same", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
        {"depthwise", {{2, 8, 17, 17}, {8, 1, 3, 3}, "pad", {1, 1, 1, 1}, 2, 2, 1, 1, 8}},
        {"direct_1x1", {{1, 32, 24, 24}, {16, 32, 1, 1}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1}},
        {"grouped", {{2, 4, 10, 7}, {6, 2, 3, 3}, "pad", {1, 2, 0, 3}, 2, 1, 2, 1, 2}},
    };
    uint64_t fseed = 700;
    for (const auto& [path, p] : fused)
      for (const std::string act : {"none", "relu", "relu6", "hswish", "hsigmoid"})
        for (bool bias : {true, false}) {
          if (act == "none" && !bias) continue;  // the optimiser never makes a plain Conv2D
          add(fused_conv_case(path + "_" + act + (bias ? "_bias" : ""), p, DType::Float32,
                              fseed += 3, act, bias));
        }
    add(fused_conv_case("f64_relu6_bias", fused[0].second, DType::Float64, 800, "relu6", true));
    OpCase bad =
        fused_conv_case("bias_wrong_size", fused[0].second, DType::Float32, 810, "relu", true);
    bad.inputs[2] = ones({7});
    bad.error = "bias (7,) must be [8]";
    bad.reference = nullptr;
    add(bad);
    OpCase unknown =
        fused_conv_case("unknown_activation", fused[0].second, DType::Float32, 820, "gelu", false);
    unknown.error = "activation 'gelu' is not one of";
    unknown.reference = nullptr;
    add(unknown);
  }
  // FusedPointwiseDepthwise (the optimiser's 1 × 1 FusedConv2D + depthwise FusedConv2D as one
  // node): FusedConv2D's reference twice. The op-table cases give the 1 × 1 weight unpacked (the
  // node then runs as the two convolutions); tests/ops/pointwise_depthwise_kernels.cpp checks the
  // packed weight's bands against the two nodes bit for bit.
  {
    struct Pair {
      std::string label;
      ConvParams expand, depthwise;
      std::string act_e, act_d;
    };
    const std::vector<Pair> pairs = {
        {"s2_relu6",
         {{2, 3, 9, 10}, {20, 3, 1, 1}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1},
         {{2, 20, 9, 10}, {20, 1, 3, 3}, "pad", {1, 1, 1, 1}, 2, 2, 1, 1, 20},
         "relu6",
         "relu6"},
        {"s1_5x5_hswish",
         {{1, 5, 12, 7}, {17, 5, 1, 1}, "valid", {0, 0, 0, 0}, 1, 1, 1, 1, 1},
         {{1, 17, 12, 7}, {17, 1, 5, 5}, "pad", {2, 1, 0, 2}, 1, 1, 1, 1, 17},
         "hswish",
         "none"},
    };
    uint64_t pseed = 900;
    for (const Pair& p : pairs) {
      const OpCase e = fused_conv_case("e", p.expand, DType::Float32, pseed += 3, p.act_e, true);
      const OpCase d = fused_conv_case("d", p.depthwise, DType::Float32, pseed += 3, p.act_d, true);
      OpCase c;
      c.op = "FusedPointwiseDepthwise";
      c.label = p.label;
      c.inputs = {e.inputs[0], e.inputs[1], e.inputs[2], d.inputs[1], d.inputs[2]};
      c.attrs = d.attrs;
      c.attrs["expand_activation"] = p.act_e;
      c.reference = [re = e.reference, rd = d.reference](const std::vector<Tensor>& in,
                                                         const ir::Attrs& attrs) {
        const Tensor mid = re({in[0], in[1], in[2]}, attrs)[0];
        return rd({mid, in[3], in[4]}, attrs);
      };
      c.tol = 1e-4;
      add(c);
    }
    OpCase bad;
    bad.op = "FusedPointwiseDepthwise";
    bad.label = "bias_wrong_size";
    bad.inputs = {ones({1, 3, 4, 4}), ones({8, 3, 1, 1}), ones({8}), ones({8, 1, 3, 3}), ones({7})};
    bad.attrs = {{"pad_mode", std::string("pad")},
                 {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                 {"group", int64_t{8}}};
    bad.error = "bias (7,) must be [8]";
    add(bad);
  }
  // MindSpore's spellings of pad_mode: the PadMode enum (SAME = 1) and upper case; and every
  // attribute ops.Conv2D (and the functional API) writes.
  {
    const ConvParams p{{1, 2, 5, 5}, {2, 2, 3, 3}, "same", {0, 0, 0, 0}, 1, 1, 1, 1, 1};
    OpCase e = conv_case("pad_mode_enum", p, DType::Float32, 1);
    e.attrs["pad_mode"] = int64_t{1};
    add(e);
    OpCase u = conv_case("pad_mode_upper", p, DType::Float32, 1);
    u.attrs["pad_mode"] = std::string("SAME");
    add(u);
    OpCase f = conv_case("all_ms_attrs", p, DType::Float32, 3);
    f.attrs["out_channel"] = int64_t{2};
    f.attrs["kernel_size"] = std::vector<int64_t>{3, 3};
    f.attrs["mode"] = int64_t{1};
    f.attrs["groups"] = int64_t{1};
    f.attrs["data_format"] = std::string("NCHW");
    add(f);
  }
  add({.op = "Conv2D",
       .label = "channels_differ",
       .inputs = {ones({1, 3, 8, 8}), ones({4, 2, 3, 3})},
       .error = "input channels"});
  add({.op = "Conv2D",
       .label = "rank3_refused",
       .inputs = {ones({3, 8, 8}), ones({4, 3, 3, 3})},
       .error = "input must be NCHW"});
  add({.op = "Conv2D",
       .label = "kernel_too_large",
       .inputs = {ones({1, 3, 2, 2}), ones({4, 3, 3, 3})},
       .error = "does not fit input"});
  add({.op = "Conv2D",
       .label = "group_indivisible",
       .inputs = {ones({1, 4, 8, 8}), ones({3, 2, 3, 3})},
       .attrs = {{"group", int64_t{2}}},
       .error = "divisible by group"});
  add({.op = "Conv2D",
       .label = "pad_with_same",
       .inputs = {ones({1, 3, 8, 8}), ones({4, 3, 3, 3})},
       .attrs = {{"pad_mode", std::string("same")}, {"pad", std::vector<int64_t>{1, 1, 1, 1}}},
       .error = "pad must be zero when pad_mode is 'same'"});
  add({.op = "Conv2D",
       .label = "unknown_pad_mode",
       .inputs = {ones({1, 3, 8, 8}), ones({4, 3, 3, 3})},
       .attrs = {{"pad_mode", std::string("full")}},
       .error = "'full' is not one of"});
  add({.op = "Conv2D",
       .label = "dtypes_differ",
       .inputs = {ones({1, 3, 8, 8}), ones({4, 3, 3, 3}, DType::Float64)},
       .error = "inputs have different dtypes"});

  // MaxPool, AvgPool
  struct Pool {
    Shape x;
    int64_t kh, kw, sh, sw;
    bool same;
  };
  const std::vector<Pool> pools = {{{2, 3, 8, 8}, 2, 2, 2, 2, false},
                                   {{1, 2, 7, 9}, 3, 3, 2, 2, false},
                                   {{1, 2, 7, 9}, 3, 3, 2, 2, true},
                                   {{1, 1, 6, 5}, 3, 2, 1, 3, true},
                                   {{2, 2, 5, 5}, 1, 1, 1, 1, false},
                                   // LeNet's; a window wider than the input (no inner columns)
                                   {{2, 6, 28, 28}, 2, 2, 2, 2, false},
                                   {{1, 3, 4, 2}, 3, 3, 1, 1, true},
                                   // enough planes to be split over the executor's workers
                                   {{2, 8, 33, 33}, 3, 3, 2, 2, true}};
  seed = 200;
  for (const auto& p : pools)
    for (bool is_max : {true, false})
      for (DType dt : {DType::Float32, DType::Float64})
        add(pool_case(is_max, p.x, p.kh, p.kw, p.sh, p.sw, p.same, dt, seed++));
  // The other spelling of each: AvgPool as ops.AvgPool 1.x wrote it, MaxPool with the enums.
  {
    OpCase a = pool_case(false, {1, 2, 7, 9}, 3, 3, 2, 2, true, DType::Float32, 230);
    a.label = "ms1x_attrs_same";
    a.attrs = {{"kernel_size", std::vector<int64_t>{1, 1, 3, 3}},
               {"strides", std::vector<int64_t>{1, 1, 2, 2}},
               {"pad_mode", std::string("SAME")},
               {"data_format", std::string("NCHW")}};
    add(a);
    OpCase m = pool_case(true, {1, 2, 7, 9}, 3, 3, 2, 2, true, DType::Float32, 231);
    m.label = "enum_attrs_same";
    m.attrs = {{"kernel_size", std::vector<int64_t>{3, 3}},
               {"strides", std::vector<int64_t>{2, 2}},
               {"pad_mode", int64_t{1}},
               {"data_format", int64_t{0}}};
    add(m);
  }
  add({.op = "MaxPool",
       .label = "window_too_large",
       .inputs = {ones({1, 1, 2, 2})},
       .attrs = {{"kernel_size", std::vector<int64_t>{1, 1, 3, 3}}},
       .error = "does not fit input"});
  add({.op = "MaxPool",
       .label = "rank3_refused",
       .inputs = {ones({1, 4, 4})},
       .attrs = {{"kernel_size", std::vector<int64_t>{1, 1, 2, 2}}},
       .error = "input must be NCHW"});
  add({.op = "AvgPool",
       .label = "pad_mode_pad",
       .inputs = {ones({1, 1, 4, 4})},
       .attrs = {{"kernel_size", std::vector<int64_t>{2, 2}}, {"pad_mode", std::string("pad")}},
       .error = "pad_mode 'pad' is not a mode"});
  add({.op = "AvgPool",
       .label = "zero_window",
       .inputs = {ones({1, 1, 4, 4})},
       .attrs = {{"kernel_size", std::vector<int64_t>{0, 2}}},
       .error = "must be positive"});
  add({.op = "MaxPool",
       .label = "nhwc_refused",
       .inputs = {ones({1, 1, 4, 4})},
       .attrs = {{"data_format", std::string("NHWC")}},
       .error = "only data_format NCHW"});

  // BatchNorm
  for (DType dt : {DType::Float32, DType::Float64}) add(batch_norm_case(dt));
  add({.op = "BatchNorm",
       .label = "scale_not_channels",
       .inputs = {ones({2, 3, 4, 4}), ones({4}), ones({3}), ones({3}), ones({3})},
       .error = "does not match the channel dimension"});
  add({.op = "BatchNorm",
       .label = "rank1_refused",
       .inputs = {ones({3}), ones({3}), ones({3}), ones({3}), ones({3})},
       .error = "rank >= 2"});
  add({.op = "BatchNorm",
       .label = "training_refused",
       .inputs = {ones({2, 3}), ones({3}), ones({3}), ones({3}), ones({3})},
       .attrs = {{"is_training", true}},
       .error = "is_training=true"});
  return cases;
}

const OpCaseTable kNn([] {
  std::vector<OpCase> cases = nn_cases();
  for (auto& c : std::vector<OpCase>{
           {.op = "ReLU6",
  .label = "both_clamps",
  .inputs = {values({-3, -0.5, 0, 0.5, 5.9, 6, 6.1, 100}, {2, 4})},
  .reference = unary_ref([](double x) { return std::clamp(x, 0.0, 6.0); })},
           {.op = "ReLU6",
           .label = "f64_random",
           .inputs = {uniform({3, 5, 7}, 61, -9, 9, DType::Float64)},
           .reference = unary_ref([](double x) { return std::clamp(x, 0.0, 6.0); })},
           {.op = "ReLU6",
           .label = "int_refused",
           .inputs = {values({1, 2}, {2}, DType::Int32)},
           .error = "dtype Int32 is not supported"},
           {.op = "HSwish",
           .label = "around_the_knees",
           .inputs = {uniform({2, 3, 4, 5}, 62, -5, 5)},
           .reference = unary_ref([](double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; })},
       })
    cases.push_back(std::move(c));
  return cases;
});

}  // namespace
}  // namespace cellar::testing
