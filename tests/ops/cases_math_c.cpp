// Cases of the element-wise rows beyond mindcv (issue 12 item 4): trigonometric and hyperbolic
// functions, log1p/expm1/erfc/rsqrt, rounding and sign, the remaining comparisons and the logical
// ops, Atan2. Each reference is the C library's double-precision function.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Along one axis of input 0 (its elements gathered per output position, in order), f(elements)
// → the output values; `keep` keeps the axis as 1. Used for ReduceMin/ReduceProd over one or
// several axes (applied one axis at a time is not the same for NaN order, so the reference walks
// every reduced axis at once).
std::vector<Tensor> reduce_axes(const Tensor& x, std::vector<int64_t> axes, bool keep,
                                const std::function<double(const std::vector<double>&)>& f) {
  const Shape& xs = x.shape();
  const auto r = static_cast<int64_t>(xs.rank());
  std::vector<bool> red(xs.rank(), axes.empty());
  for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  std::vector<int64_t> od;
  for (size_t d = 0; d < xs.rank(); ++d)
    if (!red[d] || keep) od.push_back(red[d] ? 1 : xs[d]);
  const Shape out(od);
  std::vector<std::vector<double>> groups(static_cast<size_t>(out.numel()));
  const auto v = as_doubles(x);
  for (int64_t i = 0; i < xs.numel(); ++i) {
    int64_t rest = i, o = 0, stride = 1;
    for (size_t k = xs.rank(); k-- > 0;) {
      const int64_t c = rest % xs[k];
      rest /= xs[k];
      if (!red[k]) {
        o += c * stride;
        stride *= xs[k];
      }
    }
    groups[static_cast<size_t>(o)].push_back(v[static_cast<size_t>(i)]);
  }
  std::vector<double> y;
  for (const auto& g : groups) y.push_back(f(g));
  return {from_doubles(y, out, x.dtype())};
}

OpReference reduce_ref(std::function<double(const std::vector<double>&)> f) {
  return [f](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    std::vector<int64_t> axes = std::get<std::vector<int64_t>>(attrs.at("axis"));
    bool keep = false;
    if (auto it = attrs.find("keep_dims"); it != attrs.end()) keep = std::get<bool>(it->second);
    return reduce_axes(in[0], axes, keep, f);
  };
}

double min_of(const std::vector<double>& g) {
  double m = kInf;
  for (double v : g)
    if (v < m || std::isnan(v)) {
      m = v;
      if (std::isnan(v)) break;
    }
  return m;
}

double prod_of(const std::vector<double>& g) {
  double p = 1;
  for (double v : g) p *= v;
  return p;
}

// The index of the smallest element along `axis` (first on ties, NaN wins), as `index`; with
// `value` also the element (ArgMinWithValue's pair).
OpReference argmin_ref(DType index, bool value, int64_t dflt_axis) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    int64_t axis = dflt_axis;
    if (auto it = attrs.find("axis"); it != attrs.end()) axis = std::get<int64_t>(it->second);
    bool keep = false;
    if (auto it = attrs.find("keep_dims"); it != attrs.end()) keep = std::get<bool>(it->second);
    const auto at = [](const std::vector<double>& g) {
      size_t best = 0;
      for (size_t k = 1; k < g.size(); ++k)
        if (!std::isnan(g[best]) && (std::isnan(g[k]) || g[k] < g[best])) best = k;
      return best;
    };
    auto idx = reduce_axes(in[0], {axis}, keep, [&](const auto& g) { return double(at(g)); });
    std::vector<Tensor> out = {idx[0].to(index)};
    if (value)
      out.push_back(reduce_axes(in[0], {axis}, keep, [&](const auto& g) { return g[at(g)]; })[0]);
    return out;
  };
}

OpReference fn(double (*f)(double)) {
  return unary_ref([f](double v) { return f(v); });
}

const OpCaseTable kMathC([] {
  const Tensor x = uniform({3, 4}, 3001), unit = uniform({2, 5}, 3002, -0.99, 0.99);
  const Tensor big = uniform({2, 3}, 3003, 1.0, 5.0), pos = uniform({3, 3}, 3004, 0.05, 4.0);
  const Tensor special = values({0, -0.0, 1, -1, kInf, -kInf, kNaN, 1e-8}, {8});
  const Tensor ints = values({-3, 0, 7, -1, 2, 5}, {2, 3}, DType::Int32);
  const Tensor halves = values({0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 3.7, kNaN}, {9});
  const Tensor b1 = values({1, 0, 1, 0, 1, 1}, {2, 3}, DType::Bool);
  const Tensor b2 = values({1, 1, 0}, {3}, DType::Bool);
  const auto half_even = [](double v) { return std::nearbyint(v); };
  std::vector<OpCase> c = {
      {.op = "Tan", .label = "f32", .inputs = {unit}, .reference = fn(std::tan)},
      {.op = "Tan", .label = "f64", .inputs = {x.to(DType::Float64)}, .reference = fn(std::tan)},
      {.op = "Asin", .label = "f32", .inputs = {unit}, .reference = fn(std::asin)},
      {.op = "Asin",
       .label = "outside_is_nan",
       .inputs = {values({2, -1.5}, {2})},
       .reference = fn(std::asin)},
      {.op = "ACos", .label = "f32", .inputs = {unit}, .reference = fn(std::acos)},
      {.op = "ACos", .label = "special", .inputs = {special}, .reference = fn(std::acos)},
      {.op = "Atan", .label = "special", .inputs = {special}, .reference = fn(std::atan)},
      {.op = "Sinh", .label = "f32", .inputs = {x}, .reference = fn(std::sinh)},
      {.op = "Cosh", .label = "f32", .inputs = {x}, .reference = fn(std::cosh)},
      {.op = "Asinh", .label = "special", .inputs = {special}, .reference = fn(std::asinh)},
      {.op = "Acosh", .label = "f32", .inputs = {big}, .reference = fn(std::acosh)},
      {.op = "Acosh",
       .label = "below_one_is_nan",
       .inputs = {values({0.5, 1}, {2})},
       .reference = fn(std::acosh)},
      {.op = "Atanh", .label = "f32", .inputs = {unit}, .reference = fn(std::atanh)},
      {.op = "Atanh",
       .label = "ends",
       .inputs = {values({1, -1, 2}, {3})},
       .reference = fn(std::atanh)},
      {.op = "Log1p",
       .label = "small",
       .inputs = {values({1e-10, -1e-7, 0.5, -1, -2}, {5})},
       .reference = fn(std::log1p)},
      {.op = "Expm1",
       .label = "small",
       .inputs = {values({1e-10, -1e-7, 0.5, -30, kInf}, {5})},
       .reference = fn(std::expm1)},
      {.op = "Erfc",
       .label = "tails",
       .inputs = {values({-3, 0, 1, 4, 9, kInf}, {6})},
       .reference = fn(std::erfc)},
      {.op = "Rsqrt", .label = "f32", .inputs = {pos}, .reference = unary_ref([](double v) {
                                                         return 1 / std::sqrt(v);
                                                       })},
      {.op = "Rsqrt",
       .label = "zero_and_negative",
       .inputs = {values({0, -1}, {2})},
       .reference = unary_ref([](double v) { return 1 / std::sqrt(v); })},
      {.op = "Ceil",
       .label = "special",
       .inputs = {values({-1.5, -0.5, 0.5, 2, kInf, kNaN}, {6})},
       .reference = fn(std::ceil)},
      {.op = "Ceil",
       .label = "int_refused",
       .inputs = {ints},
       .error = "dtype Int32 is not supported"},
      {.op = "Square", .label = "f32", .inputs = {x}, .reference = unary_ref([](double v) {
                                                        return v * v;
                                                      })},
      {.op = "Square",
       .label = "int32",
       .inputs = {ints},
       .reference = unary_ref([](double v) { return v * v; }),
       .no_onnx = "ONNX Runtime's Mul has int32 kernels, but the round trip is checked on floats"},
      {.op = "Sign", .label = "f32", .inputs = {x}, .reference = unary_ref([](double v) {
                                                      return double((v > 0) - (v < 0));
                                                    })},
      {.op = "Sign",
       .label = "nan_and_zeros",
       .inputs = {values({kNaN, -0.0, 0, -kInf}, {4})},
       .reference = unary_ref([](double v) { return double((v > 0) - (v < 0)); })},
      {.op = "Sign", .label = "int32", .inputs = {ints}, .reference = unary_ref([](double v) {
                                                           return double((v > 0) - (v < 0));
                                                         })},
      {.op = "Round",
       .label = "halves_to_even",
       .inputs = {halves},
       .reference = unary_ref(half_even)},
      {.op = "Round",
       .label = "decimals_2",
       .inputs = {values({1.234, -5.678, 0.125, 10}, {4})},
       .attrs = {{"decimals", int64_t{2}}},
       .reference = unary_ref([](double v) { return std::nearbyint(v * 100) / 100; }),
       .tol = 1e-6,
       .no_onnx = "ONNX's Round has no decimals"},
      {.op = "Round",
       .label = "int64_unchanged",
       .inputs = {ints.to(DType::Int64)},
       .reference = unary_ref([](double v) { return v; })},
      {.op = "Round",
       .label = "decimals_out_of_range",
       .inputs = {x},
       .attrs = {{"decimals", int64_t{400}}},
       .error = "outside [-30, 30]"},
      // ---- ClampScalar
      {.op = "ClampScalar",
       .label = "both",
       .inputs = {x},
       .attrs = {{"min", -0.5}, {"max", 0.75}},
       .reference = unary_ref([](double v) { return std::min(std::max(v, -0.5), 0.75); })},
      {.op = "ClampScalar",
       .label = "min_only_nan",
       .inputs = {values({-3, 0, kNaN, 2}, {4})},
       .attrs = {{"min", -1.0}},
       .reference = unary_ref([](double v) { return std::isnan(v) ? v : std::max(v, -1.0); })},
      {.op = "ClampScalar",
       .label = "max_only_int32",
       .inputs = {ints},
       .attrs = {{"max", int64_t{2}}},
       .reference = unary_ref([](double v) { return std::min(v, 2.0); })},
      {.op = "ClampScalar",
       .label = "min_above_max",
       .inputs = {x},
       .attrs = {{"min", 1.0}, {"max", 0.0}},
       .reference = unary_ref([](double) { return 0.0; })},
      {.op = "ClampScalar", .label = "no_bounds", .inputs = {x}, .error = "both None"},
      // ---- RemainderTensorScalar (Python's %: the sign of the divisor)
      {.op = "RemainderTensorScalar",
       .label = "f32_by_positive",
       .inputs = {values({-3.5, -1, 0, 5.25, 2.75}, {5})},
       .attrs = {{"other", 2.0}},
       .reference = unary_ref([](double v) { return v - std::floor(v / 2.0) * 2.0; })},
      {.op = "RemainderTensorScalar",
       .label = "f64_by_negative",
       .inputs = {values({-3.5, 1.25, 4}, {3}, DType::Float64)},
       .attrs = {{"other", -1.5}},
       .reference = unary_ref([](double v) { return v - std::floor(v / -1.5) * -1.5; })},
      {.op = "RemainderTensorScalar",
       .label = "int64_by_int",
       .inputs = {values({-7, -4, 0, 5, 9}, {5}, DType::Int64)},
       .attrs = {{"other", int64_t{4}}},
       .reference = unary_ref([](double v) { return v - std::floor(v / 4) * 4; })},
      {.op = "RemainderTensorScalar",
       .label = "int32_by_negative",
       .inputs = {values({-7, 3, 8}, {3}, DType::Int32)},
       .attrs = {{"other", int64_t{-3}}},
       .reference = unary_ref([](double v) { return v - std::floor(v / -3) * -3; })},
      {.op = "RemainderTensorScalar",
       .label = "int_by_fraction",
       .inputs = {values({1, 2}, {2}, DType::Int32)},
       .attrs = {{"other", 2.5}},
       .error = "MindSpore's result would be a float"},
      {.op = "RemainderTensorScalar",
       .label = "needs_other",
       .inputs = {values({1, 2}, {2})},
       .error = "'other' (a number) is required"},
      // ---- reductions and arg-min
      {.op = "ReduceMin",
       .label = "axes_0_2",
       .inputs = {uniform({2, 3, 4}, 3201)},
       .attrs = {{"axis", std::vector<int64_t>{0, 2}}, {"keep_dims", false}},
       .reference = reduce_ref(min_of)},
      {.op = "ReduceMin",
       .label = "all_keep_int32",
       .inputs = {uniform({3, 5}, 3202, -50, 50, DType::Int32)},
       .attrs = {{"axis", std::vector<int64_t>{}}, {"keep_dims", true}},
       .reference = reduce_ref(min_of)},
      {.op = "ReduceMin",
       .label = "nan_propagates",
       .inputs = {values({1, kNaN, -3, kInf, kInf, 2}, {2, 3})},
       .attrs = {{"axis", std::vector<int64_t>{1}}},
       .reference = reduce_ref(min_of)},
      {.op = "ReduceMin",
       .label = "empty_axis_refused",
       .inputs = {Tensor(DType::Float32, Shape{2, 0})},
       .attrs = {{"axis", std::vector<int64_t>{1}}},
       .error = "empty axis"},
      {.op = "ReduceProd",
       .label = "axis1_keep",
       .inputs = {uniform({2, 3, 4}, 3203, 0.5, 1.5)},
       .attrs = {{"axis", std::vector<int64_t>{1}}, {"keep_dims", true}},
       .reference = reduce_ref(prod_of)},
      {.op = "ReduceProd",
       .label = "int64_all",
       .inputs = {values({2, -3, 4, 5}, {2, 2}, DType::Int64)},
       .attrs = {{"axis", std::vector<int64_t>{}}},
       .reference = reduce_ref(prod_of)},
      {.op = "ReduceProd",
       .label = "empty_is_one",
       .inputs = {Tensor(DType::Float32, Shape{2, 0})},
       .attrs = {{"axis", std::vector<int64_t>{1}}},
       .reference = reduce_ref(prod_of)},
      {.op = "Argmin",
       .label = "default_last_axis_int32",
       .inputs = {uniform({2, 3, 4}, 3204)},
       .reference = argmin_ref(DType::Int32, false, -1)},
      {.op = "Argmin",
       .label = "ties_and_nan_int64",
       .inputs = {values({1, 0, 0, 3, 2, kNaN, -1, -1}, {2, 4})},
       .attrs = {{"axis", int64_t{1}}, {"output_type", int64_t{35}}},
       .reference = argmin_ref(DType::Int64, false, -1)},
      {.op = "Argmin",
       .label = "bad_output_type",
       .inputs = {uniform({2, 3}, 3205)},
       .attrs = {{"output_type", int64_t{43}}},
       .error = "output_type 43"},
      {.op = "ArgMinWithValue",
       .label = "axis0",
       .inputs = {uniform({2, 3, 4}, 3206)},
       .reference = argmin_ref(DType::Int64, true, 0)},
      {.op = "ArgMinWithValue",
       .label = "axis_last_keep",
       .inputs = {uniform({2, 3, 4}, 3207)},
       .attrs = {{"axis", int64_t{-1}}, {"keep_dims", true}},
       .reference = argmin_ref(DType::Int64, true, 0)},
      // ---- comparisons and logical ops: Bool results
      {.op = "GreaterEqual",
       .label = "broadcast",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}), values({2, 5, 3}, {3})},
       .reference = binary_ref([](double a, double b) { return a >= b; }, DType::Bool)},
      {.op = "GreaterEqual",
       .label = "nan",
       .inputs = {values({kNaN, 1}, {2}), values({kNaN, 1}, {2})},
       .reference = binary_ref([](double a, double b) { return a >= b; }, DType::Bool)},
      {.op = "LessEqual",
       .label = "int64",
       .inputs = {values({-1, 0, 1}, {3, 1}, DType::Int64), values({0, 1}, {2}, DType::Int64)},
       .reference = binary_ref([](double a, double b) { return a <= b; }, DType::Bool)},
      {.op = "LessEqual",
       .label = "bool_refused",
       .inputs = {b2, b2},
       .error = "dtype Bool is not supported"},
      {.op = "NotEqual",
       .label = "broadcast_nan",
       .inputs = {values({1, kNaN, 3, 4, 5, 6}, {2, 3}), values({2, kNaN, 3}, {3})},
       .reference = binary_ref([](double a, double b) { return a != b; }, DType::Bool)},
      {.op = "NotEqual",
       .label = "bool",
       .inputs = {b1, b2},
       .reference = binary_ref([](double a, double b) { return a != b; }, DType::Bool)},
      {.op = "LogicalAnd",
       .label = "broadcast",
       .inputs = {b1, b2},
       .reference = binary_ref([](double a, double b) { return a != 0 && b != 0; }, DType::Bool)},
      {.op = "LogicalAnd",
       .label = "float_refused",
       .inputs = {x, x},
       .error = "dtype Float32 is not supported"},
      {.op = "LogicalOr",
       .label = "broadcast",
       .inputs = {b1, b2},
       .reference = binary_ref([](double a, double b) { return a != 0 || b != 0; }, DType::Bool)},
      {.op = "LogicalXor",
       .label = "broadcast",
       .inputs = {b1, b2},
       .reference =
           binary_ref([](double a, double b) { return (a != 0) != (b != 0); }, DType::Bool)},
      {.op = "Atan2",
       .label = "quadrants",
       .inputs = {values({1, 1, -1, -1, 0, 0}, {6}), values({1, -1, 1, -1, 0, -1}, {6})},
       .reference = binary_ref([](double a, double b) { return std::atan2(a, b); })},
      {.op = "Atan2",
       .label = "broadcast_f64",
       .inputs = {uniform({2, 3}, 3005, -2, 2, DType::Float64),
                  uniform({3}, 3006, -2, 2, DType::Float64)},
       .reference = binary_ref([](double a, double b) { return std::atan2(a, b); })},
      {.op = "Atan2Ext",
       .label = "f32",
       .inputs = {x, uniform({4}, 3007)},
       .reference = binary_ref([](double a, double b) { return std::atan2(a, b); })},
  };
  return c;
});

}  // namespace
}  // namespace cellar::testing
