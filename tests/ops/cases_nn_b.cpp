// Cases of the normalisation and activation rows of issue 12 (src/ops/nn/): SiLU, HSigmoid,
// Softsign, Mish, SeLU, Elu, LeakyReLU, Softplus, PReLU, LayerNorm, GroupNorm.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

double softplus(double v) { return std::log(1 + std::exp(v)); }

// y = x ≥ 0 ? x : w[c] · x along dimension 1 (one shared weight when w has one element).
OpReference prelu_ref() {
  return [](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    auto x = as_doubles(in[0]);
    const auto w = as_doubles(in[1]);
    int64_t inner = 1;
    for (size_t i = 2; i < s.rank(); ++i) inner *= s[i];
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c =
          w.size() == 1 ? 0 : (i / static_cast<size_t>(inner)) % static_cast<size_t>(s[1]);
      if (x[i] < 0) x[i] *= w[c];
    }
    return std::vector<Tensor>{from_doubles(x, s, in[0].dtype())};
  };
}

// Mean and biased variance over the trailing `cols` elements of each row; gamma/beta over the
// trailing elements from begin_params_axis.
OpReference layer_norm_ref(int64_t norm_axis, int64_t params_axis, double eps) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]), g = as_doubles(in[1]), b = as_doubles(in[2]);
    const int64_t r = static_cast<int64_t>(s.rank());
    const int64_t na = norm_axis < 0 ? norm_axis + r : norm_axis;
    (void)params_axis;
    int64_t cols = 1;
    for (int64_t i = na; i < r; ++i) cols *= s[static_cast<size_t>(i)];
    const int64_t rows = s.numel() / cols;
    std::vector<double> y(x.size()), mean(static_cast<size_t>(rows)), var(mean.size());
    for (int64_t i = 0; i < rows; ++i) {
      double m = 0, v = 0;
      for (int64_t k = 0; k < cols; ++k) m += x[static_cast<size_t>(i * cols + k)];
      m /= static_cast<double>(cols);
      for (int64_t k = 0; k < cols; ++k) {
        const double d = x[static_cast<size_t>(i * cols + k)] - m;
        v += d * d;
      }
      v /= static_cast<double>(cols);
      for (int64_t k = 0; k < cols; ++k) {
        const size_t at = static_cast<size_t>(i * cols + k);
        y[at] = (x[at] - m) / std::sqrt(v + eps) * g[at % g.size()] + b[at % b.size()];
      }
      mean[static_cast<size_t>(i)] = m;
      var[static_cast<size_t>(i)] = v;
    }
    std::vector<int64_t> stat = s.dims();
    for (int64_t i = na; i < r; ++i) stat[static_cast<size_t>(i)] = 1;
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype()),
                               from_doubles(mean, Shape(stat), in[0].dtype()),
                               from_doubles(var, Shape(stat), in[0].dtype())};
  };
}

OpReference group_norm_ref(int64_t groups, double eps) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]), w = as_doubles(in[1]), b = as_doubles(in[2]);
    const int64_t n = s[0], c = s[1], inner = s.numel() / (n * c), cg = c / groups;
    std::vector<double> y(x.size()), mean(static_cast<size_t>(n * groups)), rstd(mean.size());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < groups; ++j) {
        const int64_t base = (i * c + j * cg) * inner, len = cg * inner;
        double m = 0, v = 0;
        for (int64_t k = 0; k < len; ++k) m += x[static_cast<size_t>(base + k)];
        m /= static_cast<double>(len);
        for (int64_t k = 0; k < len; ++k) v += std::pow(x[static_cast<size_t>(base + k)] - m, 2);
        v /= static_cast<double>(len);
        for (int64_t k = 0; k < len; ++k) {
          const size_t at = static_cast<size_t>(base + k);
          const size_t ch = static_cast<size_t>(j * cg + k / inner);
          y[at] = (x[at] - m) / std::sqrt(v + eps) * w[ch] + b[ch];
        }
        mean[static_cast<size_t>(i * groups + j)] = m;
        rstd[static_cast<size_t>(i * groups + j)] = 1 / std::sqrt(v + eps);
      }
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype()),
                               from_doubles(mean, Shape{n, groups}, in[0].dtype()),
                               from_doubles(rstd, Shape{n, groups}, in[0].dtype())};
  };
}

// The p-norm over `axes` (sorted, non-negative) of x, max(norm, eps) (p = 0: the non-zero count).
OpReference lp_norm_ref(std::vector<int64_t> axes, int64_t p, bool keep, double eps) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]);
    std::vector<int64_t> out_dims, kept;
    for (size_t i = 0; i < s.rank(); ++i) {
      const bool red = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
      if (!red)
        out_dims.push_back(s[i]), kept.push_back(int64_t(i));
      else if (keep)
        out_dims.push_back(1);
    }
    int64_t out_n = 1;
    for (int64_t i : kept) out_n *= s[static_cast<size_t>(i)];
    std::vector<double> acc(static_cast<size_t>(out_n), 0.0);
    for (int64_t f = 0; f < s.numel(); ++f) {
      int64_t rem = f, o = 0;
      std::vector<int64_t> idx(s.rank());
      for (size_t i = s.rank(); i-- > 0;) idx[i] = rem % s[i], rem /= s[i];
      for (int64_t i : kept) o = o * s[static_cast<size_t>(i)] + idx[static_cast<size_t>(i)];
      const double v = std::abs(x[static_cast<size_t>(f)]);
      acc[static_cast<size_t>(o)] += p == 0 ? (v != 0) : std::pow(v, double(p));
    }
    for (double& a : acc) a = p == 0 ? a : std::max(std::pow(a, 1.0 / double(p)), eps);
    return std::vector<Tensor>{from_doubles(acc, Shape(out_dims), in[0].dtype())};
  };
}

// x / sqrt(max(Σ x² over the axes, eps)).
OpReference l2_normalize_ref(std::vector<int64_t> axes, double eps) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs& a) {
    const auto sums = lp_norm_ref(axes, 2, true, 0)(in, a)[0];
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]), n = as_doubles(sums);
    std::vector<double> y(x.size());
    for (int64_t f = 0; f < s.numel(); ++f) {
      const int64_t o = broadcast_index(sums.shape(), s, f);
      const double sq = n[static_cast<size_t>(o)] * n[static_cast<size_t>(o)];
      y[static_cast<size_t>(f)] = x[static_cast<size_t>(f)] / std::sqrt(std::max(sq, eps));
    }
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype())};
  };
}

// TensorFlow's resize rules, one output element at a time (ops/nn/resize.h states them).
double resize_scale_ref(int64_t in, int64_t out, bool ac) {
  return ac && out > 1 ? double(in - 1) / double(out - 1) : double(in) / double(out);
}

OpReference resize_ref(bool bilinear, int64_t oh, int64_t ow, bool ac, bool hp) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]);
    const int64_t planes = s[0] * s[1], ih = s[2], iw = s[3];
    auto at = [&](int64_t p, int64_t i, int64_t j) {
      return x[static_cast<size_t>((p * ih + i) * iw + j)];
    };
    std::vector<double> y;
    const double sh = resize_scale_ref(ih, oh, ac), sw = resize_scale_ref(iw, ow, ac);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          if (!bilinear) {
            auto src = [&](int64_t o, double sc, int64_t n) {
              const double v = (double(o) + (hp ? 0.5 : 0)) * sc;
              return std::min<int64_t>(int64_t(ac ? std::round(v) : std::floor(v)), n - 1);
            };
            y.push_back(at(p, src(i, sh, ih), src(j, sw, iw)));
            continue;
          }
          const double fy = hp ? (double(i) + 0.5) * sh - 0.5 : double(i) * sh;
          const double fx = hp ? (double(j) + 0.5) * sw - 0.5 : double(j) * sw;
          const int64_t y0 = std::max<int64_t>(int64_t(std::floor(fy)), 0),
                        y1 = std::min<int64_t>(int64_t(std::ceil(fy)), ih - 1),
                        x0 = std::max<int64_t>(int64_t(std::floor(fx)), 0),
                        x1 = std::min<int64_t>(int64_t(std::ceil(fx)), iw - 1);
          const double dy = fy - std::floor(fy), dx = fx - std::floor(fx);
          y.push_back(at(p, y0, x0) * (1 - dy) * (1 - dx) + at(p, y0, x1) * (1 - dy) * dx +
                      at(p, y1, x0) * dy * (1 - dx) + at(p, y1, x1) * dy * dx);
        }
    return std::vector<Tensor>{from_doubles(y, Shape{s[0], s[1], oh, ow}, in[0].dtype())};
  };
}

OpCase resize_case(bool bilinear, const std::string& label, int64_t oh, int64_t ow, bool ac,
                   bool hp, uint64_t seed) {
  return {.op = bilinear ? "ResizeBilinearV2" : "ResizeNearestNeighbor",
          .label = label,
          .inputs = {uniform({2, 3, 4, 5}, seed)},
          .attrs = {{"size", std::vector<int64_t>{oh, ow}},
                    {"align_corners", ac},
                    {"half_pixel_centers", hp}},
          .reference = resize_ref(bilinear, oh, ow, ac, hp)};
}

const OpCaseTable kNnB([] {
  std::vector<OpCase> cases;
  for (auto& c : std::vector<OpCase>{
           {.op = "SiLU",
  .label = "random",
  .inputs = {uniform({2, 3, 4}, 101, -8, 8)},
  .reference = unary_ref([](double x) { return x / (1 + std::exp(-x)); })},
           {.op = "SiLU",
           .label = "wide_split",  // SIMD lanes (ops/vec_math.h) over the executor's workers
            .inputs = {uniform({3, 20000}, 103, -100, 100)},
           .reference = unary_ref([](double x) { return x / (1 + std::exp(-x)); })},
           {.op = "SiLU",
           .label = "f64",
           .inputs = {uniform({5}, 102, -30, 30, DType::Float64)},
           .reference = unary_ref([](double x) { return x / (1 + std::exp(-x)); })},
           {.op = "HSigmoid",
           .label = "around_the_knees",
           .inputs = {values({-4, -3, -1.5, 0, 1.5, 3, 4}, {7})},
           .reference = unary_ref([](double x) { return std::clamp(x + 3, 0.0, 6.0) / 6; })},
           {.op = "HSigmoid",
           .label = "int_refused",
           .inputs = {values({1, 2}, {2}, DType::Int32)},
           .error = "dtype Int32 is not supported"},
           {.op = "Softsign",
           .label = "random",
           .inputs = {uniform({3, 4}, 103, -10, 10)},
           .reference = unary_ref([](double x) { return x / (1 + std::abs(x)); })},
           {.op = "Mish",
           .label = "wide_range",
           .inputs = {values({-100, -20, -3, -0.5, 0, 0.5, 3, 20, 100}, {9})},
           .reference = unary_ref([](double x) { return x * std::tanh(std::log1p(std::exp(x))); })},
           {.op = "Mish",
           .label = "random",
           .inputs = {uniform({2, 3, 5}, 104, -6, 6)},
           .reference = unary_ref([](double x) { return x * std::tanh(softplus(x)); })},
           {.op = "SeLU",
           .label = "random",
           .inputs = {uniform({4, 5}, 105, -4, 4)},
           .reference = unary_ref(
               [](double x) { return kSeluScale * (x > 0 ? x : kSeluAlpha * (std::exp(x) - 1)); })},
           {.op = "Elu",
           .label = "alpha_default",
           .inputs = {uniform({3, 4}, 106, -4, 4)},
           .reference = unary_ref([](double x) { return x > 0 ? x : std::exp(x) - 1; })},
           {.op = "Elu",
           .label = "alpha_0_7",
           .inputs = {uniform({2, 6}, 107, -4, 4)},
           .attrs = {{"alpha", 0.7}},
           .reference = unary_ref([](double x) { return x > 0 ? x : 0.7 * (std::exp(x) - 1); })},
           {.op = "Elu",
           .label = "alpha_nan_refused",
           .inputs = {uniform({2}, 108)},
           .attrs = {{"alpha", std::nan("")}},
           .error = "alpha"},
           {.op = "LeakyReLU",
           .label = "default_slope",
           .inputs = {uniform({3, 4}, 109, -3, 3)},
           .reference = unary_ref([](double x) { return x >= 0 ? x : 0.01 * x; })},
           {.op = "LeakyReLU",
           .label = "slope_0_2",
           .inputs = {uniform({2, 3, 2}, 110, -3, 3)},
           .attrs = {{"negative_slope", 0.2}},
           .reference = unary_ref([](double x) { return x >= 0 ? x : 0.2 * x; })},
           {.op = "Softplus",
           .label = "defaults",
           .inputs = {values({-30, -2, 0, 2, 19, 21, 50}, {7})},
           .reference = unary_ref([](double x) { return x > 20 ? x : softplus(x); })},
           {.op = "Softplus",
           .label = "beta_threshold",
           .inputs = {uniform({3, 5}, 111, -4, 4)},
           .attrs = {{"beta", 2.0}, {"threshold", 3.0}},
           .reference = unary_ref([](double x) { return 2 * x > 3 ? x : softplus(2 * x) / 2; })},
           {.op = "Softplus",
           .label = "beta_zero_refused",
           .inputs = {uniform({2}, 112)},
           .attrs = {{"beta", 0.0}},
           .error = "beta"},
           {.op = "PReLU",
           .label = "per_channel",
           .inputs = {uniform({2, 3, 4, 5}, 113), values({0.1, -0.2, 0.3}, {3})},
           .reference = prelu_ref()},
           {.op = "PReLU",
           .label = "shared_weight",
           .inputs = {uniform({2, 4, 3}, 114), values({0.25}, {1})},
           .reference = prelu_ref()},
           {.op = "PReLU",
           .label = "rank1_shared",
           .inputs = {uniform({6}, 115), values({0.5}, {1})},
           .reference = prelu_ref()},
           {.op = "PReLU",
           .label = "wrong_weight_refused",
           .inputs = {uniform({2, 3, 4}, 116), values({0.1, 0.2}, {2})},
           .error = "one per channel"},
           {.op = "LayerNorm",
           .label = "last_axis",
           .inputs = {uniform({2, 3, 5}, 117), uniform({5}, 118), uniform({5}, 119)},
           .attrs = {{"begin_norm_axis", int64_t{-1}},
                     {"begin_params_axis", int64_t{-1}},
                     {"epsilon", 1e-5}},
           .reference = layer_norm_ref(-1, -1, 1e-5),
           .tol = 1e-4},
           {.op = "LayerNorm",
           .label = "two_axes_f64",
           .inputs = {uniform({2, 3, 4, 5}, 120, -2, 2, DType::Float64),
                      uniform({4, 5}, 121, -2, 2, DType::Float64),
                      uniform({4, 5}, 122, -2, 2, DType::Float64)},
           .attrs = {{"begin_norm_axis", int64_t{2}},
                     {"begin_params_axis", int64_t{2}},
                     {"epsilon", 1e-7}},
           .reference = layer_norm_ref(2, 2, 1e-7)},
           {.op = "LayerNorm",
           .label = "params_after_norm_axis",
           .inputs = {uniform({2, 3, 4}, 123), uniform({4}, 124), uniform({4}, 125)},
           .attrs = {{"begin_norm_axis", int64_t{1}},
                     {"begin_params_axis", int64_t{2}},
                     {"epsilon", 1e-5}},
           .reference = layer_norm_ref(1, 2, 1e-5),
           .tol = 1e-4},
           {.op = "LayerNorm",
           .label = "gamma_mismatch_refused",
           .inputs = {uniform({2, 3}, 126), uniform({2}, 127), uniform({3}, 128)},
           .attrs = {{"begin_norm_axis", int64_t{-1}}, {"begin_params_axis", int64_t{-1}}},
           .error = "gamma (2,)"},
           {.op = "LayerNorm",
           .label = "axis_out_of_range_refused",
           .inputs = {uniform({2, 3}, 129), uniform({3}, 130), uniform({3}, 131)},
           .attrs = {{"begin_norm_axis", int64_t{2}}, {"begin_params_axis", int64_t{-1}}},
           .error = "axis"},
           {.op = "GroupNorm",
           .label = "three_groups",
           .inputs = {uniform({2, 6, 3, 4}, 132), uniform({6}, 133), uniform({6}, 134)},
           .attrs = {{"num_groups", int64_t{3}}, {"eps", 1e-5}},
           .reference = group_norm_ref(3, 1e-5),
           .tol = 1e-4},
           {.op = "GroupNorm",
           .label = "one_group_rank3_f64",
           .inputs = {uniform({2, 4, 5}, 135, -2, 2, DType::Float64),
                      uniform({4}, 136, -2, 2, DType::Float64),
                      uniform({4}, 137, -2, 2, DType::Float64)},
           .attrs = {{"num_groups", int64_t{1}}},
           .reference = group_norm_ref(1, 1e-5)},
           {.op = "GroupNorm",
           .label = "groups_not_dividing_refused",
           .inputs = {uniform({1, 6, 2}, 138), uniform({6}, 139), uniform({6}, 140)},
           .attrs = {{"num_groups", int64_t{4}}},
           .error = "not divisible"},
           {.op = "GroupNorm",
           .label = "zero_groups_refused",
           .inputs = {uniform({1, 6, 2}, 141), uniform({6}, 142), uniform({6}, 143)},
           .attrs = {{"num_groups", int64_t{0}}},
           .error = "num_groups"},
           {.op = "LpNorm",
           .label = "p2_axis1",
           .inputs = {uniform({2, 3, 4}, 144)},
           .attrs = {{"axis", std::vector<int64_t>{1}}, {"p", int64_t{2}}},
           .reference = lp_norm_ref({1}, 2, false, 1e-12)},
           {.op = "LpNorm",
           .label = "p1_two_axes_keep",
           .inputs = {uniform({2, 3, 4}, 145)},
           .attrs = {{"axis", std::vector<int64_t>{0, -1}}, {"p", int64_t{1}}, {"keep_dims", true}},
           .reference = lp_norm_ref({0, 2}, 1, true, 1e-12)},
           {.op = "LpNorm",
           .label = "p3_eps_floor",
           .inputs = {values({0.01, -0.02, 0.03, 1, 2, -3}, {2, 3})},
           .attrs = {{"axis", int64_t{-1}}, {"p", int64_t{3}}, {"epsilon", 0.5}},
           .reference = lp_norm_ref({1}, 3, false, 0.5)},
           {.op = "LpNorm",
           .label = "p0_counts",
           .inputs = {values({0, 1, 0, 2, 0, 0}, {2, 3})},
           .attrs = {{"axis", int64_t{1}}, {"p", int64_t{0}}},
           .reference = lp_norm_ref({1}, 0, false, 0),
           .no_onnx = "ONNX has no count-of-non-zeros reduction"},
           {.op = "LpNorm",
           .label = "axis_repeated_refused",
           .inputs = {uniform({2, 3}, 146)},
           .attrs = {{"axis", std::vector<int64_t>{1, -1}}},
           .error = "repeats"},
           {.op = "L2Normalize",
           .label = "axis1",
           .inputs = {uniform({2, 3, 4}, 147)},
           .attrs = {{"axis", int64_t{1}}, {"epsilon", 1e-4}},
           .reference = l2_normalize_ref({1}, 1e-4)},
           {.op = "L2Normalize",
           .label = "eps_floor_last_axis",
           .inputs = {values({0.01, -0.02, 0.03, 1, 2, -3}, {2, 3})},
           .attrs = {{"axis", std::vector<int64_t>{-1}}, {"epsilon", 0.5}},
           .reference = l2_normalize_ref({1}, 0.5)},
           {.op = "L2Normalize",
           .label = "axis_out_of_range_refused",
           .inputs = {uniform({2, 3}, 148)},
           .attrs = {{"axis", int64_t{2}}},
           .error = "axis"},
           resize_case(true, "up_align_corners", 7, 9, true, false, 149),
           resize_case(true, "up_half_pixel", 7, 9, false, true, 150),
           resize_case(true, "up_asymmetric", 7, 9, false, false, 151),
           resize_case(true, "down_half_pixel", 3, 2, false, true, 152),
           resize_case(true, "to_one_row_align_corners", 1, 3, true, false, 153),
           resize_case(false, "up_align_corners", 7, 9, true, false, 154),
           resize_case(false, "up_half_pixel", 7, 9, false, true, 155),
           resize_case(false, "down_asymmetric", 3, 2, false, false, 156),
           {.op = "ResizeBilinearV2",
           .label = "both_modes_refused",
           .inputs = {uniform({1, 1, 2, 2}, 157)},
           .attrs = {{"size", std::vector<int64_t>{3, 3}},
                     {"align_corners", true},
                     {"half_pixel_centers", true}},
           .error = "cannot both be true"},
           {.op = "ResizeNearestNeighbor",
           .label = "rank3_refused",
           .inputs = {uniform({1, 2, 2}, 158)},
           .attrs = {{"size", std::vector<int64_t>{3, 3}}},
           .error = "(N, C, H, W)"},
           {.op = "ResizeNearestNeighbor",
           .label = "zero_size_refused",
           .inputs = {uniform({1, 1, 2, 2}, 159)},
           .attrs = {{"size", std::vector<int64_t>{0, 3}}},
           .error = "positive"},
       })
    cases.push_back(std::move(c));
  return cases;
});

}  // namespace
}  // namespace cellar::testing
