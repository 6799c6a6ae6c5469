// Cases of the 3-D window rows (src/ops/nn/conv3d.cpp, max_pool3d.cpp, avg_pool3d.cpp): every
// pad mode, strides, dilations, groups, ceil_mode, the average's divisors, both dtypes, and the
// attribute and shape checks (lengths that do not match the rank, zero strides, pads too large,
// windows that do not fit).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

using I = std::vector<int64_t>;

// One spatial axis, resolved as the rows state it: output size and padding before.
struct Ax {
  int64_t in, k, s, d, before, after, out;
};

// mode "valid" | "same" | "pad" (pads head, tail, top, bottom, left, right); ceil_mode rounds
// the window count up, less a window that would start in the end padding.
std::array<Ax, 3> axes(const Shape& x, const I& k, const I& s, const I& d, const std::string& mode,
                       const I& pads, bool ceil_mode) {
  std::array<Ax, 3> a{};
  for (size_t i = 0; i < 3; ++i) {
    Ax& e = a[i];
    e = {x[2 + i], k[i], s[i], d[i], 0, 0, 0};
    const int64_t span = e.d * (e.k - 1) + 1;
    if (mode == "same") {
      e.out = (e.in + e.s - 1) / e.s;
      const int64_t need = std::max<int64_t>(0, (e.out - 1) * e.s + span - e.in);
      e.before = need / 2;
      e.after = need - need / 2;
    } else {
      if (mode == "pad") e.before = pads[2 * i], e.after = pads[2 * i + 1];
      const int64_t r = e.in + e.before + e.after - span;
      e.out = (ceil_mode ? (r + e.s - 1) / e.s : r / e.s) + 1;
      if (ceil_mode && (e.out - 1) * e.s >= e.in + e.before) --e.out;
    }
  }
  return a;
}

struct Conv3P {
  Shape x, w;
  std::string mode;
  I pads, strides, dilations;
  int64_t group;
};

// Each output is the sum over the taps inside the input (zero padding).
OpReference conv3_ref(Conv3P p) {
  return [p](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in[0]), w = as_doubles(in[1]);
    const auto a =
        axes(p.x, {p.w[2], p.w[3], p.w[4]}, p.strides, p.dilations, p.mode, p.pads, false);
    const int64_t n = p.x[0], c = p.x[1], o = p.w[0], cg = c / p.group, og = o / p.group;
    std::vector<double> y;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oc = 0; oc < o; ++oc)
        for (int64_t oz = 0; oz < a[0].out; ++oz)
          for (int64_t oy = 0; oy < a[1].out; ++oy)
            for (int64_t ox = 0; ox < a[2].out; ++ox) {
              double s = 0;
              for (int64_t ci = 0; ci < cg; ++ci)
                for (int64_t i = 0; i < a[0].k; ++i)
                  for (int64_t j = 0; j < a[1].k; ++j)
                    for (int64_t l = 0; l < a[2].k; ++l) {
                      const int64_t iz = oz * a[0].s + i * a[0].d - a[0].before;
                      const int64_t iy = oy * a[1].s + j * a[1].d - a[1].before;
                      const int64_t ix = ox * a[2].s + l * a[2].d - a[2].before;
                      if (iz < 0 || iz >= a[0].in || iy < 0 || iy >= a[1].in || ix < 0 ||
                          ix >= a[2].in)
                        continue;
                      const int64_t ch = (oc / og) * cg + ci;
                      s += x[static_cast<size_t>(
                               (((b * c + ch) * a[0].in + iz) * a[1].in + iy) * a[2].in + ix)] *
                           w[static_cast<size_t>(
                               (((oc * cg + ci) * a[0].k + i) * a[1].k + j) * a[2].k + l)];
                    }
              y.push_back(s);
            }
    return std::vector<Tensor>{
        from_doubles(y, Shape{n, o, a[0].out, a[1].out, a[2].out}, in[0].dtype())};
  };
}

OpCase conv3_case(std::string label, Conv3P p, DType dt, uint64_t seed) {
  const I s5 = {1, 1, p.strides[0], p.strides[1], p.strides[2]};
  const I d5 = {1, 1, p.dilations[0], p.dilations[1], p.dilations[2]};
  // As ops.Conv3D writes it (strides/dilations as five values, groups, format NCDHW).
  return {.op = "Conv3D",
          .label = std::move(label),
          .inputs = {uniform(p.x, seed, -2, 2, dt), uniform(p.w, seed + 1, -2, 2, dt)},
          .attrs = {{"out_channel", p.w[0]},
                    {"kernel_size", I{p.w[2], p.w[3], p.w[4]}},
                    {"mode", int64_t{1}},
                    {"pad_mode", p.mode},
                    {"pad", p.mode == "pad" ? p.pads : I(6, 0)},
                    {"strides", s5},
                    {"dilations", d5},
                    {"groups", p.group},
                    {"data_format", std::string("NCDHW")}},
          .reference = conv3_ref(p),
          .tol = 1e-4};
}

struct Pool3P {
  Shape x;
  I k, s;
  std::string mode;  // valid | same | pad
  I pads;
  bool ceil_mode = false;
  bool include_pad = true;
  int64_t divisor = 0;
};

// Max over the window's taps inside the input; the mean divides by divisor_override, else the
// window's extent within the padded input (count_include_pad), else the taps inside the input.
OpReference pool3_ref(bool is_max, Pool3P p) {
  return [is_max, p](const std::vector<Tensor>& in, const ir::Attrs&) {
    const auto x = as_doubles(in[0]);
    const auto a = axes(p.x, p.k, p.s, {1, 1, 1}, p.mode, p.pads, p.ceil_mode);
    std::vector<double> y;
    for (int64_t pl = 0; pl < p.x[0] * p.x[1]; ++pl)
      for (int64_t oz = 0; oz < a[0].out; ++oz)
        for (int64_t oy = 0; oy < a[1].out; ++oy)
          for (int64_t ox = 0; ox < a[2].out; ++ox) {
            double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
            int64_t inside = 0, padded = 0;
            const int64_t o[3] = {oz, oy, ox};
            for (int64_t i = 0; i < a[0].k; ++i)
              for (int64_t j = 0; j < a[1].k; ++j)
                for (int64_t l = 0; l < a[2].k; ++l) {
                  const int64_t t[3] = {i, j, l};
                  bool in_input = true, in_padded = true;
                  int64_t idx[3];
                  for (size_t q = 0; q < 3; ++q) {
                    idx[q] = o[q] * a[q].s + t[q] - a[q].before;
                    in_input = in_input && idx[q] >= 0 && idx[q] < a[q].in;
                    in_padded =
                        in_padded && idx[q] >= -a[q].before && idx[q] < a[q].in + a[q].after;
                  }
                  padded += in_padded;
                  if (!in_input) continue;
                  ++inside;
                  const double v = x[static_cast<size_t>(
                      ((pl * a[0].in + idx[0]) * a[1].in + idx[1]) * a[2].in + idx[2])];
                  acc = is_max ? std::max(acc, v) : acc + v;
                }
            if (!is_max) {
              const int64_t div = p.divisor > 0 ? p.divisor : p.include_pad ? padded : inside;
              acc = div > 0 ? acc / static_cast<double>(div) : 0.0;
            }
            y.push_back(acc);
          }
    return std::vector<Tensor>{
        from_doubles(y, Shape{p.x[0], p.x[1], a[0].out, a[1].out, a[2].out}, in[0].dtype())};
  };
}

// As ops.MaxPool3D / ops.AvgPool3D write them.
OpCase pool3_case(bool is_max, std::string label, Pool3P p, DType dt, uint64_t seed) {
  std::string mode = p.mode == "pad" ? (is_max ? "CALCULATED" : "PAD") : p.mode;
  std::transform(mode.begin(), mode.end(), mode.begin(), ::toupper);
  ir::Attrs attrs = {{"kernel_size", I{1, 1, p.k[0], p.k[1], p.k[2]}},
                     {"strides", I{1, 1, p.s[0], p.s[1], p.s[2]}},
                     {"pad_mode", mode},
                     {"pad_list", p.mode == "pad" ? p.pads : I(6, 0)},
                     {"ceil_mode", int64_t{p.ceil_mode ? 1 : 0}},
                     {"data_format", std::string("NCDHW")}};
  if (!is_max) {
    attrs["pad"] = p.mode == "pad" ? p.pads : I(6, 0);
    attrs["ceil_mode"] = p.ceil_mode;  // bools, as MindSpore writes AvgPool3D's flags
    attrs["count_include_pad"] = p.include_pad;
    attrs["divisor_override"] = p.divisor;
  }
  OpCase c{.op = is_max ? "MaxPool3D" : "AvgPool3D",
           .label = std::move(label),
           .inputs = {uniform(p.x, seed, -2, 2, dt)},
           .attrs = attrs,
           .reference = pool3_ref(is_max, p)};
  if (p.divisor > 0) c.no_onnx = "ONNX AveragePool has no divisor_override";
  return c;
}

OpCase refused(const std::string& op, std::string label, std::vector<Tensor> in, ir::Attrs attrs,
               std::string error) {
  return {.op = op,
          .label = std::move(label),
          .inputs = std::move(in),
          .attrs = std::move(attrs),
          .error = std::move(error)};
}

const OpCaseTable kWindow3d([] {
  const DType f32 = DType::Float32, f64 = DType::Float64;
  std::vector<OpCase> cases = {
      conv3_case("valid", {{1, 2, 4, 5, 6}, {3, 2, 2, 3, 2}, "valid", {}, {1, 1, 1}, {1, 1, 1}, 1},
                 f32, 300),
      conv3_case(
          "pad_asymmetric_strided_dilated",
          {{2, 3, 5, 6, 7}, {4, 3, 3, 2, 3}, "pad", {1, 0, 2, 1, 0, 2}, {1, 2, 1}, {2, 1, 1}, 1},
          f32, 302),
      conv3_case("same_stride2",
                 {{1, 2, 5, 6, 7}, {2, 2, 3, 3, 3}, "same", {}, {2, 2, 2}, {1, 1, 1}, 1}, f32, 304),
      conv3_case("groups2",
                 {{1, 4, 3, 4, 5}, {6, 2, 2, 2, 2}, "valid", {}, {1, 1, 2}, {1, 1, 1}, 2}, f32,
                 306),
      conv3_case(
          "depthwise_f64",
          {{1, 3, 4, 4, 4}, {3, 1, 3, 3, 3}, "pad", {1, 1, 1, 1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 3},
          f64, 308),
      conv3_case("pointwise",
                 {{2, 3, 2, 3, 4}, {5, 3, 1, 1, 1}, "valid", {}, {1, 1, 1}, {1, 1, 1}, 1}, f32,
                 310),
      pool3_case(true, "valid_k2_s2", {{1, 2, 4, 5, 6}, {2, 2, 2}, {2, 2, 2}, "valid", {}}, f32,
                 320),
      pool3_case(true, "same", {{1, 2, 5, 6, 7}, {3, 2, 3}, {2, 1, 2}, "same", {}}, f32, 321),
      pool3_case(true, "pad_ceil",
                 {{2, 1, 5, 6, 7}, {3, 3, 3}, {2, 2, 2}, "pad", {1, 0, 1, 1, 0, 1}, true}, f64,
                 322),
      pool3_case(false, "valid", {{1, 2, 4, 5, 6}, {2, 2, 2}, {1, 2, 2}, "valid", {}}, f32, 323),
      pool3_case(false, "same_include_pad", {{1, 2, 5, 6, 7}, {3, 3, 3}, {2, 2, 2}, "same", {}},
                 f32, 324),
      pool3_case(false, "pad_exclude",
                 {{1, 2, 5, 6, 7}, {3, 3, 3}, {2, 2, 2}, "pad", {1, 0, 1, 1, 0, 1}, false, false},
                 f32, 325),
      pool3_case(false, "pad_include_ceil",
                 {{1, 2, 5, 6, 7}, {2, 3, 3}, {2, 2, 2}, "pad", I(6, 1), true, true}, f64, 326),
      pool3_case(false, "divisor_override",
                 {{1, 2, 5, 6, 7}, {2, 2, 2}, {2, 2, 2}, "pad", I(6, 1), false, true, 3}, f32, 327),
  };
  // The checks: lengths that do not match the rank, zero strides, pads out of range, windows
  // that do not fit, ranks and channels that disagree, other dtypes.
  const Tensor x = uniform({1, 2, 4, 4, 4}, 330), w = uniform({2, 2, 2, 2, 2}, 331);
  const ir::Attrs conv = {{"pad_mode", std::string("valid")}};
  auto with = [](ir::Attrs a, const std::string& k, ir::Attr v) {
    a[k] = std::move(v);
    return a;
  };
  const std::vector<OpCase> refusals = {
      refused("Conv3D", "stride_zero", {x, w}, with(conv, "strides", I{1, 1, 1, 0, 1}),
              "must be positive"),
      refused("Conv3D", "stride_two_values", {x, w}, with(conv, "strides", I{1, 2}), "1, 3 or 5"),
      refused("Conv3D", "dilation_four_values", {x, w}, with(conv, "dilations", I{1, 1, 1, 1}),
              "1, 3 or 5"),
      refused("Conv3D", "pad_four_values", {x, w},
              {{"pad_mode", std::string("pad")}, {"pad", I{1, 1, 1, 1}}}, "1 or 6 values"),
      refused("Conv3D", "pad_negative", {x, w},
              {{"pad_mode", std::string("pad")}, {"pad", I{0, 0, -1, 0, 0, 0}}}, "non-negative"),
      refused("Conv3D", "pad_overflow", {x, w},
              {{"pad_mode", std::string("pad")}, {"pad", I{int64_t{1} << 62, 0, 0, 0, 0, 0}}},
              "below 2^31"),
      refused("Conv3D", "pad_in_valid_mode", {x, w},
              {{"pad_mode", std::string("valid")}, {"pad", I{1, 1, 1, 1, 1, 1}}}, "must be zero"),
      refused("Conv3D", "kernel_too_large", {x, uniform({2, 2, 5, 2, 2}, 332)}, conv,
              "does not fit"),
      refused("Conv3D", "dilation_too_large", {x, w}, with(conv, "dilations", I{1, 1, 4, 1, 1}),
              "does not fit"),
      refused("Conv3D", "stride_overflow", {x, w}, with(conv, "strides", I{int64_t{1} << 40}),
              "below 2^31"),
      refused("Conv3D", "weight_rank4", {x, uniform({2, 2, 2, 2}, 333)}, conv, "weight must be"),
      refused("Conv3D", "input_rank4", {uniform({1, 2, 4, 4}, 334), w}, conv, "NCDHW (rank 5)"),
      refused("Conv3D", "channels_disagree", {x, uniform({2, 3, 2, 2, 2}, 335)}, conv,
              "input channels"),
      refused("Conv3D", "group_does_not_divide", {uniform({1, 3, 4, 4, 4}, 336), w},
              with(conv, "groups", int64_t{2}), "divisible by group"),
      refused("Conv3D", "kernel_size_disagrees", {x, w}, with(conv, "kernel_size", I{3, 3, 3}),
              "differs from the weight"),
      refused("Conv3D", "nhwc_refused", {x, w}, with(conv, "data_format", std::string("NDHWC")),
              "NCDHW"),
      refused("Conv3D", "int32_refused", {x.to(DType::Int32), w.to(DType::Int32)}, conv, "Int32"),
      refused("MaxPool3D", "kernel_two_values", {x}, {{"kernel_size", I{2, 2}}}, "1, 3 or 5"),
      refused("MaxPool3D", "stride_zero", {x}, {{"kernel_size", I{2}}, {"strides", I{0, 1, 1}}},
              "must be positive"),
      refused("MaxPool3D", "window_too_large", {x}, {{"kernel_size", I{5, 1, 1}}}, "does not fit"),
      refused("MaxPool3D", "pad_not_below_kernel", {x},
              {{"kernel_size", I{2}},
               {"pad_mode", std::string("CALCULATED")},
               {"pad_list", I{2, 0, 0, 0, 0, 0}}},
              "smaller than the kernel"),
      refused("AvgPool3D", "input_rank4", {uniform({1, 2, 4, 4}, 337)}, {{"kernel_size", I{2}}},
              "NCDHW (rank 5)"),
      refused("AvgPool3D", "divisor_negative", {x},
              {{"kernel_size", I{2}}, {"divisor_override", int64_t{-1}}}, "non-negative"),
      refused("AvgPool3D", "pad_mode_unknown", {x},
              {{"kernel_size", I{2}}, {"pad_mode", std::string("REFLECT")}}, "pad_mode"),
  };
  cases.insert(cases.end(), refusals.begin(), refusals.end());
  return cases;
});

}  // namespace
}  // namespace cellar::testing
