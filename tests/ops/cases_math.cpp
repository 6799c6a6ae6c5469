// Cases of the math rows (src/ops/math/, and Cast in src/ops/tensor/cast.cpp): element-wise unary
// and broadcasting binary ops, comparisons, Select, BatchMatMul, the reductions and Cast.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

using V = std::vector<int64_t>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// y = x where c else y, the three broadcast together.
std::vector<Tensor> select_ref(const std::vector<Tensor>& in, const ir::Attrs&) {
  const Shape s = broadcast_shape(broadcast_shape(in[0].shape(), in[1].shape()), in[2].shape());
  const auto c = as_doubles(in[0]), a = as_doubles(in[1]), b = as_doubles(in[2]);
  std::vector<double> y;
  for (int64_t i = 0; i < s.numel(); ++i)
    y.push_back(c[static_cast<size_t>(broadcast_index(in[0].shape(), s, i))] != 0
                    ? a[static_cast<size_t>(broadcast_index(in[1].shape(), s, i))]
                    : b[static_cast<size_t>(broadcast_index(in[2].shape(), s, i))]);
  return {from_doubles(y, s, in[1].dtype())};
}

// The reduction over `axis` (empty: all, unless skip_mode) of input 0, by definition: every
// input element added into (or compared with) the output element its kept coordinates name.
enum class Red { kSum, kMean, kMax };
OpReference reduce_ref(Red kind) {
  return [kind](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    const Shape& xs = in[0].shape();
    const auto r = static_cast<int64_t>(xs.rank());
    std::vector<int64_t> axes;
    if (auto it = attrs.find("axis"); it != attrs.end()) {
      if (const auto* one = std::get_if<int64_t>(&it->second))
        axes = {*one};
      else
        axes = std::get<std::vector<int64_t>>(it->second);
    }
    bool keep = false, skip = false;
    if (auto it = attrs.find("keep_dims"); it != attrs.end()) keep = std::get<bool>(it->second);
    if (auto it = attrs.find("skip_mode"); it != attrs.end()) skip = std::get<bool>(it->second);
    std::vector<bool> red(xs.rank(), axes.empty() && !skip);
    for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + r : a)] = true;
    std::vector<int64_t> od, kept;
    for (size_t d = 0; d < xs.rank(); ++d) {
      if (!red[d]) kept.push_back(xs[d]);
      if (!red[d] || keep) od.push_back(red[d] ? 1 : xs[d]);
    }
    const Shape out(od);
    const double init = kind == Red::kMax ? -kInf : 0.0;
    std::vector<double> acc(static_cast<size_t>(out.numel()), init);
    std::vector<int64_t> count(acc.size(), 0);
    const auto x = as_doubles(in[0]);
    for (int64_t i = 0; i < xs.numel(); ++i) {
      int64_t rest = i, o = 0, stride = 1;
      for (size_t k = xs.rank(); k-- > 0;) {
        const int64_t coord = rest % xs[k];
        rest /= xs[k];
        if (!red[k]) {
          o += coord * stride;
          stride *= xs[k];
        }
      }
      double& a = acc[static_cast<size_t>(o)];
      const double v = x[static_cast<size_t>(i)];
      if (kind == Red::kMax)
        a = std::isnan(v) || std::isnan(a) ? kNaN : std::max(a, v);
      else
        a += v;
      ++count[static_cast<size_t>(o)];
    }
    if (kind == Red::kMean)
      for (size_t k = 0; k < acc.size(); ++k)
        acc[k] = count[k] ? acc[k] / static_cast<double>(count[k]) : kNaN;
    return std::vector<Tensor>{from_doubles(acc, out, in[0].dtype())};
  };
}

// Batched a · b (each transposed first when its flag says so), batch dimensions broadcast.
std::vector<Tensor> bmm_ref(const std::vector<Tensor>& in, const ir::Attrs& attrs) {
  const bool ta = attrs.count("transpose_a") && std::get<bool>(attrs.at("transpose_a"));
  const bool tb = attrs.count("transpose_b") && std::get<bool>(attrs.at("transpose_b"));
  const Shape& as = in[0].shape();
  const Shape& bs = in[1].shape();
  const int64_t ar = as[as.rank() - 2], ac = as[as.rank() - 1];
  const int64_t br = bs[bs.rank() - 2], bc = bs[bs.rank() - 1];
  const int64_t m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  const Shape ab(std::vector<int64_t>(as.begin(), as.end() - 2));
  const Shape bb(std::vector<int64_t>(bs.begin(), bs.end() - 2));
  const Shape batch = broadcast_shape(ab, bb);
  const auto a = as_doubles(in[0]), b = as_doubles(in[1]);
  std::vector<double> y;
  for (int64_t i = 0; i < batch.numel(); ++i) {
    const int64_t oa = broadcast_index(ab, batch, i) * ar * ac;
    const int64_t ob = broadcast_index(bb, batch, i) * br * bc;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += a[static_cast<size_t>(oa + (ta ? p * ac + r : r * ac + p))] *
               b[static_cast<size_t>(ob + (tb ? c * bc + p : p * bc + c))];
        y.push_back(s);
      }
  }
  std::vector<int64_t> od = batch.dims();
  od.push_back(m);
  od.push_back(n);
  return {from_doubles(y, Shape(od), in[0].dtype())};
}

// Cast by definition: saturating float → int with NaN → 0, Bool as x ≠ 0.
OpReference cast_ref(DType to) {
  return [to](const std::vector<Tensor>& in, const ir::Attrs&) {
    auto x = as_doubles(in[0]);
    for (double& v : x) {
      if (to == DType::Bool) {
        v = v != 0 ? 1 : 0;
      } else if (to == DType::Int32) {
        v = std::isnan(v) ? 0
                          : std::clamp(std::trunc(v), double{std::numeric_limits<int32_t>::min()},
                                       double{std::numeric_limits<int32_t>::max()});
      }
    }
    return std::vector<Tensor>{from_doubles(x, in[0].shape(), to)};
  };
}

ir::Attrs cast_to(const char* name) { return {{"dst_type", std::string(name)}}; }

const auto kErf = [](double x) { return std::erf(x); };
const auto kSqrt = [](double x) { return std::sqrt(x); };
const auto kExp = [](double x) { return std::exp(x); };
const auto kLog = [](double x) { return std::log(x); };
const auto kRecip = [](double x) { return 1 / x; };
const auto kNeg = [](double x) { return -x; };
const auto kAdd = [](double a, double b) { return a + b; };
const auto kMul = [](double a, double b) { return a * b; };
const auto kSub = [](double a, double b) { return a - b; };
const auto kDiv = [](double a, double b) { return a / b; };
const auto kPow = [](double a, double b) { return std::pow(a, b); };
const auto kMin = [](double a, double b) { return b < a ? b : a; };
const auto kMax = [](double a, double b) { return a < b ? b : a; };

const OpCaseTable kMath([] {
  const Tensor x34 = uniform({3, 4}, 1), pos34 = uniform({3, 4}, 2, 0.1, 3.0);
  const Tensor special = values({0, -0.0, 1, -1, kInf, -kInf, kNaN, 1e-30}, {8});
  const Tensor a214 = uniform({2, 1, 4}, 10), b31 = uniform({3, 1}, 11);
  const Tensor x234 = uniform({2, 3, 4}, 1300),
               x234d = uniform({2, 3, 4}, 1301, -2, 2, DType::Float64);
  const Tensor i22 = values({1, 2, 3, 4}, {2, 2}, DType::Int32);
  std::vector<OpCase> c = {
      // ---- unary
      {.op = "Erf", .label = "f32", .inputs = {x34}, .reference = unary_ref(kErf)},
      {.op = "Erf", .label = "special", .inputs = {special}, .reference = unary_ref(kErf)},
      {.op = "Erf",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int32)},
       .error = "dtype Int32 is not supported"},
      {.op = "Sqrt", .label = "positive", .inputs = {pos34}, .reference = unary_ref(kSqrt)},
      {.op = "Sqrt",
       .label = "special_f64",
       .inputs = {values({0, 4, -1, kInf, kNaN}, {5}, DType::Float64)},
       .reference = unary_ref(kSqrt)},
      {.op = "Sqrt",
       .label = "int_refused",
       .inputs = {values({3, -4, 0}, {3}, DType::Int64)},
       .error = "dtype Int64 is not supported"},
      {.op = "Exp", .label = "f32", .inputs = {x34}, .reference = unary_ref(kExp)},
      {.op = "Exp",
       .label = "special",
       .inputs = {values({0, -kInf, kInf, kNaN, 100}, {5})},
       .reference = unary_ref(kExp)},
      {.op = "Log", .label = "positive", .inputs = {pos34}, .reference = unary_ref(kLog)},
      {.op = "Log",
       .label = "zero_and_negative",
       .inputs = {values({0, -1, 1, kInf}, {4})},
       .reference = unary_ref(kLog)},
      {.op = "Reciprocal", .label = "positive", .inputs = {pos34}, .reference = unary_ref(kRecip)},
      {.op = "Reciprocal",
       .label = "signed_zero_f64",
       .inputs = {values({0, -0.0, kInf, 4}, {4}, DType::Float64)},
       .reference = unary_ref(kRecip)},
      {.op = "Neg", .label = "f32", .inputs = {x34}, .reference = unary_ref(kNeg)},
      {.op = "Neg",
       .label = "int64",
       .inputs = {values({3, -4, 0}, {3}, DType::Int64)},
       .reference = unary_ref(kNeg)},
      {.op = "Neg",
       .label = "int8",
       .inputs = {values({3, -4, 0, 127}, {4}, DType::Int8)},
       .reference = unary_ref(kNeg)},
      {.op = "Neg", .label = "empty", .inputs = {values({}, {0, 3})}, .reference = unary_ref(kNeg)},
      {.op = "Neg",
       .label = "bool_refused",
       .inputs = {values({1}, {1}, DType::Bool)},
       .error = "dtype Bool is not supported"},

      // ---- arithmetic, broadcast
      {.op = "Add", .label = "broadcast", .inputs = {a214, b31}, .reference = binary_ref(kAdd)},
      // Over 2 × 16384 elements: split over the executor's workers, each chunk's broadcast walk
      // starting mid-way.
      {.op = "Add",
       .label = "broadcast_split",
       .inputs = {uniform({3, 7, 40, 41}, 15), uniform({7, 1, 41}, 16)},
       .reference = binary_ref(kAdd)},
      {.op = "Add",
       .label = "int64_scalar",
       .inputs = {values({1, 2}, {2}, DType::Int64), values({5}, {}, DType::Int64)},
       .reference = binary_ref(kAdd)},
      {.op = "Add",
       .label = "same_shape_f64",
       .inputs = {uniform({5, 6}, 12, -2, 2, DType::Float64),
                  uniform({5, 6}, 13, -2, 2, DType::Float64)},
       .reference = binary_ref(kAdd)},
      {.op = "Add",
       .label = "empty",
       .inputs = {values({}, {0, 4}), uniform({4}, 14)},
       .reference = binary_ref(kAdd)},
      {.op = "Add",
       .label = "no_broadcast",
       .inputs = {uniform({2, 3}, 1), uniform({3, 2}, 2)},
       .error = "do not broadcast"},
      {.op = "Add",
       .label = "dtypes_differ",
       .inputs = {uniform({2}, 1), uniform({2}, 2, -2, 2, DType::Float64)},
       .error = "different dtypes"},
      {.op = "Mul", .label = "broadcast", .inputs = {a214, b31}, .reference = binary_ref(kMul)},
      // The walk by runs along the last dimension (binary.h), split over the workers: one operand
      // constant along each run (a squeeze-excitation scale), the other one, and both.
      {.op = "Mul",
       .label = "channel_scale_split",
       .inputs = {uniform({2, 40, 20, 21}, 17), uniform({2, 40, 1, 1}, 18)},
       .reference = binary_ref(kMul)},
      {.op = "Sub",
       .label = "first_constant_along_runs_split",
       .inputs = {uniform({3, 60, 1}, 19), uniform({1, 1, 400}, 20)},
       .reference = binary_ref(kSub)},
      // The walk merges neighbouring dimensions that every operand steps through as one and
      // drops extents of 1 (broadcast.h): planes of a scale with unit axes between, outer
      // dimensions merged but not the inner one, a walk of one element.
      {.op = "Mul",
       .label = "merged_planes_unit_axes",
       .inputs = {uniform({2, 1, 3, 4, 5}, 23), uniform({2, 1, 3, 1, 1}, 24)},
       .reference = binary_ref(kMul)},
      {.op = "Sub",
       .label = "merged_outer_dimensions",
       .inputs = {uniform({3, 4, 1}, 25), uniform({3, 4, 6}, 26)},
       .reference = binary_ref(kSub)},
      {.op = "Add",
       .label = "one_element_of_unit_axes",
       .inputs = {uniform({1, 1, 1}, 27), uniform({1}, 28)},
       .reference = binary_ref(kAdd)},
      {.op = "Add",
       .label = "unit_last_dimension",
       .inputs = {uniform({6, 1}, 21), uniform({1, 1}, 22)},
       .reference = binary_ref(kAdd)},
      {.op = "Mul",
       .label = "int32",
       .inputs = {values({1, -2, 3}, {3}, DType::Int32), values({4}, {1}, DType::Int32)},
       .reference = binary_ref(kMul)},
      {.op = "Sub",
       .label = "broadcast_f32",
       .inputs = {uniform({2, 1, 4}, 600), uniform({3, 1}, 601)},
       .reference = binary_ref(kSub)},
      {.op = "Sub",
       .label = "broadcast_f64",
       .inputs = {uniform({2, 1, 4}, 600, -2, 2, DType::Float64),
                  uniform({3, 1}, 601, -2, 2, DType::Float64)},
       .reference = binary_ref(kSub)},
      {.op = "Sub",
       .label = "int64_scalar",
       .inputs = {values({5, 7}, {2}, DType::Int64), values({2}, {}, DType::Int64)},
       .reference = binary_ref(kSub)},
      {.op = "Sub",
       .label = "no_broadcast",
       .inputs = {uniform({2, 3}, 1), uniform({3, 2}, 2)},
       .error = "do not broadcast"},
      {.op = "Div",
       .label = "broadcast_f32",
       .inputs = {uniform({2, 1, 4}, 600), uniform({3, 1}, 602, 0.5, 2.0)},
       .reference = binary_ref(kDiv)},
      {.op = "Div",
       .label = "broadcast_f64",
       .inputs = {uniform({2, 1, 4}, 600, -2, 2, DType::Float64),
                  uniform({3, 1}, 602, 0.5, 2.0, DType::Float64)},
       .reference = binary_ref(kDiv)},
      {.op = "Div",
       .label = "by_zero",
       .inputs = {values({1, -1, 0}, {3}), values({0}, {1})},
       .reference = binary_ref(kDiv)},
      {.op = "Div",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int32), values({1}, {1}, DType::Int32)},
       .error = "dtype Int32 is not supported"},
      {.op = "Pow",
       .label = "broadcast",
       .inputs = {uniform({2, 3, 4}, 3, 0.2, 2.0), uniform({3, 1}, 4)},
       .reference = binary_ref(kPow)},
      {.op = "Pow",
       .label = "negative_base",
       .inputs = {values({-2, -2, 0, 4}, {4}, DType::Float64),
                  values({2, 0.5, -1, 0.5}, {4}, DType::Float64)},
       .reference = binary_ref(kPow)},
      {.op = "Pow",
       .label = "int_refused",
       .inputs = {values({2}, {1}, DType::Int64), values({2}, {1}, DType::Int64)},
       .error = "dtype Int64 is not supported"},
      {.op = "Minimum",
       .label = "broadcast",
       .inputs = {uniform({2, 3, 4}, 3, 0.2, 2.0), uniform({3, 1}, 4)},
       .reference = binary_ref(kMin)},
      {.op = "Minimum",
       .label = "int32",
       .inputs = {values({1, -5, 7}, {3}, DType::Int32), values({0}, {}, DType::Int32)},
       .reference = binary_ref(kMin)},
      {.op = "Maximum",
       .label = "broadcast",
       .inputs = {uniform({2, 3, 4}, 3, 0.2, 2.0), uniform({3, 1}, 4)},
       .reference = binary_ref(kMax)},
      {.op = "Maximum",
       .label = "int64",
       .inputs = {values({1, -5, 7}, {3}, DType::Int64), values({0}, {}, DType::Int64)},
       .reference = binary_ref(kMax)},

      // ---- comparisons: Bool results
      {.op = "Equal",
       .label = "broadcast",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}), values({2, 5, 3}, {3})},
       .reference = binary_ref([](double a, double b) { return a == b; }, DType::Bool)},
      {.op = "Equal",
       .label = "nan_equals_nothing",
       .inputs = {values({kNaN, 1}, {2}), values({kNaN, 1}, {2})},
       .reference = binary_ref([](double a, double b) { return a == b; }, DType::Bool)},
      {.op = "Equal",
       .label = "bool",
       .inputs = {values({1, 0, 1, 0}, {4}, DType::Bool), values({1, 1, 0, 0}, {4}, DType::Bool)},
       .reference = binary_ref([](double a, double b) { return a == b; }, DType::Bool)},
      {.op = "Greater",
       .label = "broadcast",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}), values({2, 5, 3}, {3})},
       .reference = binary_ref([](double a, double b) { return a > b; }, DType::Bool)},
      {.op = "Greater",
       .label = "int64",
       .inputs = {values({-1, 0, 1}, {3, 1}, DType::Int64), values({0, 1}, {2}, DType::Int64)},
       .reference = binary_ref([](double a, double b) { return a > b; }, DType::Bool)},
      {.op = "Greater",
       .label = "dtypes_differ",
       .inputs = {values({1, 2, 3}, {3}), values({2, 5, 3}, {3}, DType::Float64)},
       .error = "different dtypes"},
      {.op = "Greater",
       .label = "bool_refused",
       .inputs = {values({1}, {1}, DType::Bool), values({0}, {1}, DType::Bool)},
       .error = "dtype Bool is not supported"},
      {.op = "Less",
       .label = "broadcast",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}), values({2, 5, 3}, {3})},
       .reference = binary_ref([](double a, double b) { return a < b; }, DType::Bool)},
      {.op = "Less",
       .label = "f64",
       .inputs = {uniform({4, 5}, 20, -2, 2, DType::Float64),
                  uniform({5}, 21, -2, 2, DType::Float64)},
       .reference = binary_ref([](double a, double b) { return a < b; }, DType::Bool)},

      // ---- Select
      {.op = "Select",
       .label = "broadcast_all_three",
       .inputs = {values({1, 0, 0, 1}, {4, 1}, DType::Bool), uniform({4, 3}, 5), uniform({3}, 6)},
       .reference = select_ref},
      {.op = "Select",
       .label = "int64",
       .inputs = {values({1, 0}, {2}, DType::Bool), values({1, 2}, {2}, DType::Int64),
                  values({-1}, {}, DType::Int64)},
       .reference = select_ref},
      {.op = "Select",
       .label = "condition_not_bool",
       .inputs = {uniform({4, 3}, 5), uniform({4, 3}, 5), uniform({3}, 6)},
       .error = "the condition must be Bool"},

      // ---- BatchMatMul
      {.op = "BatchMatMul",
       .label = "f64_same_batch",
       .inputs = {uniform({2, 3, 4}, 1, -2, 2, DType::Float64),
                  uniform({2, 4, 5}, 2, -2, 2, DType::Float64)},
       .reference = bmm_ref},
      {.op = "BatchMatMul",
       .label = "inner_differ",
       .inputs = {uniform({2, 3, 4}, 1), uniform({2, 3, 4}, 2)},
       .error = "inner dimensions differ"},
      {.op = "BatchMatMul",
       .label = "batch_no_broadcast",
       .inputs = {uniform({2, 3, 4}, 1), uniform({3, 4, 5}, 2)},
       .error = "do not broadcast"},
      {.op = "BatchMatMul",
       .label = "rank_1",
       .inputs = {uniform({4}, 1), uniform({4, 5}, 2)},
       .error = "rank >= 2"},
      {.op = "BatchMatMul",
       .label = "int_refused",
       .inputs = {values({1}, {1, 1}, DType::Int32), values({1}, {1, 1}, DType::Int32)},
       .error = "dtype Int32 is not supported"},

      // ---- reductions (one plan: reduce.h)
      {.op = "ReduceSum",
       .label = "int32_axis0",
       .inputs = {i22},
       .attrs = {{"axis", V{0}}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceSum",
       .label = "axis_as_int",
       .inputs = {i22},
       .attrs = {{"axis", int64_t{1}}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceSum",
       .label = "skip_mode_no_axis",
       .inputs = {i22},
       .attrs = {{"axis", V{}}, {"skip_mode", true}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceSum",
       .label = "int64_all_keep",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Int64)},
       .attrs = {{"axis", V{}}, {"keep_dims", true}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceSum",
       .label = "empty_axis_is_zero",
       .inputs = {values({}, {2, 0})},
       .attrs = {{"axis", V{1}}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceSum",
       .label = "axis_out_of_range",
       .inputs = {i22},
       .attrs = {{"axis", V{2}}},
       .error = "out of range"},
      {.op = "ReduceSum",
       .label = "repeated_axis",
       .inputs = {i22},
       .attrs = {{"axis", V{0, -2}}},
       .error = "given twice"},
      // Float32 over trailing axes (a global pool): the contiguous-run path, with a tail.
      {.op = "ReduceMean",
       .label = "trailing_hw_keep",
       .inputs = {uniform({2, 3, 5, 7}, 9)},
       .attrs = {{"axis", V{2, 3}}, {"keep_dims", true}},
       .reference = reduce_ref(Red::kMean)},
      {.op = "ReduceSum",
       .label = "trailing_all",
       .inputs = {uniform({4, 9}, 10)},
       .attrs = {{"axis", V{}}},
       .reference = reduce_ref(Red::kSum)},
      // Runs too short for the SIMD sums (a squeeze-excitation's mean over 2 × 2 and 1 × 3): the
      // plain loops over contiguous runs, one running sum per output.
      {.op = "ReduceMean",
       .label = "trailing_2x2",
       .inputs = {uniform({2, 6, 2, 2}, 14)},
       .attrs = {{"axis", V{2, 3}}, {"keep_dims", true}},
       .reference = reduce_ref(Red::kMean)},
      {.op = "ReduceSum",
       .label = "trailing_1x3",
       .inputs = {uniform({5, 1, 3}, 15)},
       .attrs = {{"axis", V{1, 2}}},
       .reference = reduce_ref(Red::kSum)},
      // Runs long enough for the SIMD sums (chains of 32 and 16 floats, then 8 and 4, then one by
      // one): 49, 135 and 1,003 elements, on every instruction set the CPU has.
      {.op = "ReduceMean",
       .label = "trailing_7x7",
       .inputs = {uniform({2, 3, 7, 7}, 11)},
       .attrs = {{"axis", V{2, 3}}, {"keep_dims", true}},
       .reference = reduce_ref(Red::kMean)},
      {.op = "ReduceMean",
       .label = "trailing_9x15",
       .inputs = {uniform({1, 2, 9, 15}, 12)},
       .attrs = {{"axis", V{-2, -1}}, {"keep_dims", false}},
       .reference = reduce_ref(Red::kMean)},
      {.op = "ReduceSum",
       .label = "trailing_1003",
       .inputs = {uniform({3, 1003}, 13)},
       .attrs = {{"axis", V{1}}},
       .reference = reduce_ref(Red::kSum)},
      {.op = "ReduceMean",
       .label = "int_refused",
       .inputs = {i22},
       .attrs = {{"axis", V{0}}},
       .error = "dtype Int32 is not supported"},
      {.op = "ReduceMean",
       .label = "repeated_axis",
       .inputs = {x234},
       .attrs = {{"axis", V{1, 1}}},
       .error = "given twice"},
      {.op = "ReduceMean",
       .label = "empty_axis_is_nan",
       .inputs = {values({}, {0, 2})},
       .attrs = {{"axis", V{0}}},
       .reference = reduce_ref(Red::kMean)},
      {.op = "ReduceMax",
       .label = "axes_0_2",
       .inputs = {uniform({2, 3, 4}, 7)},
       .attrs = {{"axis", V{0, 2}}, {"keep_dims", false}},
       .reference = reduce_ref(Red::kMax)},
      {.op = "ReduceMax",
       .label = "all_keep",
       .inputs = {uniform({2, 3, 4}, 7)},
       .attrs = {{"axis", V{}}, {"keep_dims", true}},
       .reference = reduce_ref(Red::kMax)},
      {.op = "ReduceMax",
       .label = "negative_axis_int32",
       .inputs = {uniform({3, 5}, 8, -50, 50, DType::Int32)},
       .attrs = {{"axis", V{-1}}},
       .reference = reduce_ref(Red::kMax)},
      {.op = "ReduceMax",
       .label = "int64_lowest",
       .inputs = {values({-9e18, -9e18, 3, 4}, {2, 2}, DType::Int64)},
       .attrs = {{"axis", V{1}}},
       .reference = reduce_ref(Red::kMax)},
      {.op = "ReduceMax",
       .label = "nan_propagates",
       .inputs = {values({1, kNaN, 3, -kInf, -kInf, 2}, {2, 3})},
       .attrs = {{"axis", V{1}}},
       .reference = reduce_ref(Red::kMax)},
      {.op = "ReduceMax",
       .label = "axis_out_of_range",
       .inputs = {uniform({2, 3, 4}, 7)},
       .attrs = {{"axis", V{3}}},
       .error = "out of range"},
      {.op = "ReduceMax",
       .label = "repeated_axis",
       .inputs = {uniform({2, 3, 4}, 7)},
       .attrs = {{"axis", V{2, -1}}},
       .error = "given twice"},
      {.op = "ReduceMax",
       .label = "empty_axis",
       .inputs = {values({}, {2, 0})},
       .attrs = {{"axis", V{1}}},
       .error = "cannot reduce an empty axis"},
      {.op = "ReduceMax",
       .label = "axis_required",
       .inputs = {uniform({2, 3}, 7)},
       .error = "axis"},

      // ---- Cast
      {.op = "Cast",
       .label = "f32_to_int32_saturates",
       .inputs = {values({1.75, -2.5, 0, kNaN, 1e20, -1e20}, {6})},
       .attrs = cast_to("Int32"),
       .reference = cast_ref(DType::Int32)},
      {.op = "Cast",
       .label = "f32_to_bool",
       .inputs = {values({1.75, -2.5, 0, kNaN, 1e20, -1e20}, {6})},
       .attrs = cast_to("Bool"),
       .reference = cast_ref(DType::Bool)},
      {.op = "Cast",
       .label = "bool_to_f64",
       .inputs = {values({1, 0, 1}, {3}, DType::Bool)},
       .attrs = cast_to("Float64"),
       .reference = cast_ref(DType::Float64)},
      {.op = "Cast",
       .label = "int64_to_f32",
       .inputs = {values({-3, 0, 1 << 20}, {3}, DType::Int64)},
       .attrs = cast_to("Float32"),
       .reference = cast_ref(DType::Float32)},
      {.op = "Cast",
       .label = "to_complex_refused",
       .inputs = {uniform({2}, 1)},
       .attrs = cast_to("Complex64"),
       .error = "is not supported"},
      {.op = "Cast", .label = "no_dst_type", .inputs = {uniform({2}, 1)}, .error = "dst_type"},
  };
  // ReduceSum and ReduceMean over float dtypes, keep_dims, negative and empty axis lists.
  const std::vector<std::pair<V, bool>> axes = {
      {{1}, false}, {{0, 2}, true}, {{-1}, false}, {{}, false}, {{}, true}};
  for (const auto& [x, dt] : {std::pair{x234, "f32"}, std::pair{x234d, "f64"}})
    for (const auto& [ax, keep] : axes) {
      std::string label = std::string(dt) + "_axis";
      for (int64_t a : ax) label += a < 0 ? "_m" + std::to_string(-a) : "_" + std::to_string(a);
      if (ax.empty()) label += "_all";
      if (keep) label += "_keep";
      const ir::Attrs attrs{{"axis", ax}, {"keep_dims", keep}};
      c.push_back({.op = "ReduceSum",
                   .label = label,
                   .inputs = {x},
                   .attrs = attrs,
                   .reference = reduce_ref(Red::kSum)});
      c.push_back({.op = "ReduceMean",
                   .label = label,
                   .inputs = {x},
                   .attrs = attrs,
                   .reference = reduce_ref(Red::kMean)});
    }
  // BatchMatMul shaped as attention's Q·Kᵀ and P·V (heads as batches, split over workers; Kᵀ
  // turned into rows for the panel kernels), and one batch entry split inside the product.
  c.push_back({.op = "BatchMatMul",
               .label = "attention_qk",
               .inputs = {uniform(Shape{2, 3, 21, 16}, 710), uniform(Shape{2, 3, 19, 16}, 711)},
               .attrs = {{"transpose_a", false}, {"transpose_b", true}},
               .reference = bmm_ref});
  c.push_back({.op = "BatchMatMul",
               .label = "attention_pv",
               .inputs = {uniform(Shape{2, 3, 21, 19}, 712), uniform(Shape{2, 3, 19, 40}, 713)},
               .attrs = {{"transpose_a", false}, {"transpose_b", false}},
               .reference = bmm_ref});
  c.push_back({.op = "BatchMatMul",
               .label = "one_batch_entry",
               .inputs = {uniform(Shape{1, 30, 50}, 714), uniform(Shape{1, 70, 50}, 715)},
               .attrs = {{"transpose_a", false}, {"transpose_b", true}},
               .reference = bmm_ref});
  // BatchMatMul: batch dimensions broadcast, every pair of transpose flags.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 3, k = 4, n = 2;
      c.push_back(
          {.op = "BatchMatMul",
           .label = std::string("broadcast_ta") + (ta ? "1" : "0") + "_tb" + (tb ? "1" : "0"),
           .inputs = {uniform(ta ? Shape{2, 1, k, m} : Shape{2, 1, m, k}, 700),
                      uniform(tb ? Shape{3, n, k} : Shape{3, k, n}, 701)},
           .attrs = {{"transpose_a", ta}, {"transpose_b", tb}},
           .reference = bmm_ref});
    }
  return c;
});

// ---- the ops mindcv's networks need (issue 12) ----

// y = x + sign·alpha·b, broadcast.
OpReference alpha_ref(double sign) {
  return [sign](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    double alpha = 1;
    if (auto it = attrs.find("alpha"); it != attrs.end())
      alpha = std::holds_alternative<double>(it->second)
                  ? std::get<double>(it->second)
                  : static_cast<double>(std::get<int64_t>(it->second));
    return binary_ref([sign, alpha](double a, double b) { return a + sign * alpha * b; })(in,
                                                                                          attrs);
  };
}

// y = f(x, other) with the scalar attribute `other`.
OpReference scalar_ref(std::function<double(double, double)> f) {
  return [f](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    const double s = std::get<double>(attrs.at("other"));
    return unary_ref([f, s](double v) { return f(v, s); })(in, attrs);
  };
}

// LessScalar, GreaterEqualScalar, EqScalar: cmp(input, other) as Bool, `other` an int or a float
// attribute; a floating input compares with `other` rounded to its dtype.
OpReference compare_scalar_ref(std::function<bool(double, double)> cmp) {
  return [cmp](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    const auto& o = attrs.at("other");
    double s = std::holds_alternative<int64_t>(o) ? static_cast<double>(std::get<int64_t>(o))
                                                  : std::get<double>(o);
    if (in[0].dtype() == DType::Float32) s = static_cast<float>(s);
    std::vector<double> y;
    for (double v : as_doubles(in[0])) y.push_back(cmp(v, s) ? 1 : 0);
    return std::vector<Tensor>{from_doubles(y, in[0].shape(), DType::Bool)};
  };
}
const OpReference less_scalar_ref = compare_scalar_ref([](double a, double b) { return a < b; });

// NumPy's matmul: 1-D operands promoted to a row (a) or column (b), then bmm_ref, the added
// dimensions dropped again.
std::vector<Tensor> matmul_ext_ref(const std::vector<Tensor>& in, const ir::Attrs& attrs) {
  const bool va = in[0].shape().rank() == 1, vb = in[1].shape().rank() == 1;
  const Tensor a = va ? in[0].reshape({1, in[0].shape()[0]}) : in[0];
  const Tensor b = vb ? in[1].reshape({in[1].shape()[0], 1}) : in[1];
  Tensor y = bmm_ref({a, b}, attrs)[0];
  std::vector<int64_t> d = y.shape().dims();
  if (vb) d.erase(d.end() - 1);
  if (va) d.erase(d.end() - (vb ? 1 : 2));
  return {y.reshape(Shape(d))};
}

// Running sums along `axis` by definition: y[.., j, ..] = Σ x[.., k, ..] over the k that j's
// direction and exclusivity admit.
std::vector<Tensor> cumsum_ref(const std::vector<Tensor>& in, const ir::Attrs& attrs) {
  const Shape& s = in[0].shape();
  const auto r = static_cast<int64_t>(s.rank());
  int64_t axis = std::get<int64_t>(attrs.at("axis"));
  if (axis < 0) axis += r;
  const bool excl = attrs.count("exclusive") && std::get<bool>(attrs.at("exclusive"));
  const bool rev = attrs.count("reverse") && std::get<bool>(attrs.at("reverse"));
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < r; ++d) inner *= s[static_cast<size_t>(d)];
  const int64_t len = s[static_cast<size_t>(axis)];
  const auto x = as_doubles(in[0]);
  std::vector<double> y(x.size(), 0);
  for (int64_t i = 0; i < s.numel(); ++i) {
    const int64_t j = i / inner % len, base = i - j * inner;
    for (int64_t k = 0; k < len; ++k) {
      const bool take = rev ? (excl ? k > j : k >= j) : (excl ? k < j : k <= j);
      if (take) y[static_cast<size_t>(i)] += x[static_cast<size_t>(base + k * inner)];
    }
  }
  return {from_doubles(y, s, in[0].dtype())};
}

// The first index of the largest element along `axis` (NaN the largest), as `index`, and with
// `values` that element too; the axis dropped, or kept as 1.
OpReference argmax_ref(DType index, bool values, int64_t dflt_axis) {
  return [index, values, dflt_axis](const std::vector<Tensor>& in, const ir::Attrs& attrs) {
    const Shape& s = in[0].shape();
    const auto r = static_cast<int64_t>(s.rank());
    int64_t axis = attrs.count("axis") ? std::get<int64_t>(attrs.at("axis")) : dflt_axis;
    if (axis < 0) axis += r;
    const bool keep = attrs.count("keep_dims") && std::get<bool>(attrs.at("keep_dims"));
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < r; ++d) inner *= s[static_cast<size_t>(d)];
    const int64_t len = s[static_cast<size_t>(axis)];
    const auto x = as_doubles(in[0]);
    std::vector<double> idx, val;
    for (int64_t o = 0; o < s.numel() / len; ++o) {
      const int64_t base = o / inner * len * inner + o % inner;
      int64_t best = 0;
      for (int64_t k = 1; k < len; ++k) {
        const double v = x[static_cast<size_t>(base + best * inner)];
        const double c = x[static_cast<size_t>(base + k * inner)];
        if (!std::isnan(v) && (std::isnan(c) || c > v)) best = k;
      }
      idx.push_back(static_cast<double>(best));
      val.push_back(x[static_cast<size_t>(base + best * inner)]);
    }
    std::vector<int64_t> od;
    for (int64_t d = 0; d < r; ++d)
      if (d != axis || keep) od.push_back(d == axis ? 1 : s[static_cast<size_t>(d)]);
    std::vector<Tensor> out = {from_doubles(idx, Shape(od), index)};
    if (values) out.push_back(from_doubles(val, Shape(od), in[0].dtype()));
    return out;
  };
}

const OpCaseTable kMathForModels([] {
  const Tensor x34 = uniform({3, 4}, 2001), x234 = uniform({2, 3, 4}, 2002);
  const Tensor special = values({0, -0.0, 1, -1, kInf, -kInf, kNaN, 1e4}, {8});
  const Tensor i8 = values({7, -7, 7, -7, 0, 5, -6, 9}, {8}, DType::Int32);
  const Tensor d8 = values({2, 2, -2, -2, 3, 0, 4, -1}, {8}, DType::Int32);
  const auto floor_div = [](double a, double b) { return std::floor(a / b); };
  return std::vector<OpCase>{
      {.op = "Cos", .label = "f32", .inputs = {x34}, .reference = unary_ref(::cosf)},
      {.op = "Cos",
       .label = "special_f64",
       .inputs = {special.to(DType::Float64)},
       .reference = unary_ref([](double v) { return std::cos(v); })},
      {.op = "Sin", .label = "f32", .inputs = {x34}, .reference = unary_ref(::sinf)},
      {.op = "Sin", .label = "special", .inputs = {special}, .reference = unary_ref(::sinf)},
      {.op = "Sin",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int32)},
       .error = "dtype Int32 is not supported"},
      {.op = "Floor",
       .label = "special",
       .inputs = {values({-1.5, -0.5, 0.5, 2, -0.0, kInf, -kInf, kNaN}, {8})},
       .reference = unary_ref([](double v) { return std::floor(v); })},
      {.op = "FloorDiv",
       .label = "broadcast",
       .inputs = {uniform({2, 1, 4}, 2003, -5, 5), uniform({3, 1}, 2004, 0.5, 2)},
       .reference = binary_ref(floor_div)},
      {.op = "FloorDiv",
       .label = "negative_divisor_f64",
       .inputs = {uniform({5}, 2005, -5, 5, DType::Float64), values({-0.7}, {1}, DType::Float64)},
       .reference = binary_ref(floor_div)},
      // Python's // on ints: toward −∞; by 0 gives 0 here (MindSpore's CPU kernel too).
      {.op = "FloorDiv",
       .label = "int32_toward_minus_infinity",
       .inputs = {i8, d8},
       .reference = binary_ref([](double a, double b) { return b == 0 ? 0 : std::floor(a / b); }),
       .no_onnx = "ONNX has no integer floor division"},
      {.op = "LogicalNot",
       .label = "bool",
       .inputs = {values({1, 0, 0, 1, 1, 0}, {2, 3}, DType::Bool)},
       .reference = unary_ref([](double v) { return v != 0 ? 0.0 : 1.0; })},
      {.op = "LogicalNot",
       .label = "float_refused",
       .inputs = {x34},
       .error = "dtype Float32 is not supported"},
      {.op = "Muls",
       .label = "f32",
       .inputs = {x234},
       .attrs = {{"other", 0.5}},
       .reference = scalar_ref([](double a, double b) { return a * b; })},
      {.op = "Muls",
       .label = "int64",
       .inputs = {values({1, -2, 3}, {3}, DType::Int64)},
       .attrs = {{"other", 3.0}},
       .reference = scalar_ref([](double a, double b) { return a * b; })},
      {.op = "Muls", .label = "needs_other", .inputs = {x34}, .error = "'other' is required"},
      {.op = "LessScalar",
       .label = "f32_by_half",
       .inputs = {x234},
       .attrs = {{"other", 0.5}},
       .reference = less_scalar_ref},
      {.op = "LessScalar",
       .label = "int32_by_fraction",
       .inputs = {values({-3, -2, -1, 0, 1}, {5}, DType::Int32)},
       .attrs = {{"other", -1.5}},
       .reference = less_scalar_ref},
      {.op = "LessScalar",
       .label = "int64_by_int",
       .inputs = {values({-2, 1, -1, 0}, {2, 2}, DType::Int64)},
       .attrs = {{"other", int64_t{0}}},
       .reference = less_scalar_ref},
      {.op = "LessScalar",
       .label = "int32_beyond_range",
       .inputs = {values({-5, 2147483647}, {2}, DType::Int32)},
       .attrs = {{"other", 1e10}},
       .reference = less_scalar_ref,
       .no_onnx =
           "ONNX's Less compares with a constant of the input's dtype, which 1e10 is beyond"},
      {.op = "LessScalar",
       .label = "empty",
       .inputs = {values({}, {0, 3})},
       .attrs = {{"other", 1.0}},
       .reference = less_scalar_ref},
      {.op = "LessScalar",
       .label = "bool_refused",
       .inputs = {values({1, 0}, {2}, DType::Bool)},
       .attrs = {{"other", 1.0}},
       .error = "dtype Bool is not supported"},
      {.op = "LessScalar",
       .label = "needs_other",
       .inputs = {x34},
       .error = "'other' (a number) is required"},
      {.op = "GreaterEqualScalar",
       .label = "f32_by_half",
       .inputs = {values({0.25, 0.5, 0.75, -1}, {2, 2})},
       .attrs = {{"other", 0.5}},
       .reference = compare_scalar_ref([](double a, double b) { return a >= b; })},
      {.op = "GreaterEqualScalar",
       .label = "f32_cast_bound",
       .inputs = {values({0.1, 0.2, 0.0999}, {3})},
       .attrs = {{"other", 0.1}},
       .reference = compare_scalar_ref([](double a, double b) { return a >= b; })},
      {.op = "GreaterEqualScalar",
       .label = "int32_by_fraction",
       .inputs = {values({-3, -2, -1, 0, 1}, {5}, DType::Int32)},
       .attrs = {{"other", -1.5}},
       .reference = compare_scalar_ref([](double a, double b) { return a >= b; })},
      {.op = "GreaterEqualScalar",
       .label = "int64_beyond_range",
       .inputs = {values({-5, 7}, {2}, DType::Int64)},
       .attrs = {{"other", -1e30}},
       .reference = compare_scalar_ref([](double a, double b) { return a >= b; }),
       .no_onnx = "ONNX's GreaterOrEqual compares with a constant of the input's dtype"},
      {.op = "GreaterEqualScalar",
       .label = "needs_other",
       .inputs = {x34},
       .error = "'other' (a number) is required"},
      {.op = "EqScalar",
       .label = "f32_cast_bound",
       .inputs = {values({0.1, 0.2, 1.0}, {3})},
       .attrs = {{"other", 0.1}},
       .reference = compare_scalar_ref([](double a, double b) { return a == b; })},
      {.op = "EqScalar",
       .label = "int64_by_int",
       .inputs = {values({-2, 1, -1, 1}, {2, 2}, DType::Int64)},
       .attrs = {{"other", int64_t{1}}},
       .reference = compare_scalar_ref([](double a, double b) { return a == b; })},
      {.op = "EqScalar",
       .label = "int32_by_fraction",
       .inputs = {values({1, 2, 3}, {3}, DType::Int32)},
       .attrs = {{"other", 2.5}},
       .reference = compare_scalar_ref([](double a, double b) { return a == b; }),
       .no_onnx = "ONNX's Equal on integers cannot compare with a fraction"},
      {.op = "EqScalar",
       .label = "nan_refused",
       .inputs = {x34},
       .attrs = {{"other", std::nan("")}},
       .error = "'other' is NaN"},
      {.op = "Divs",
       .label = "f32",
       .inputs = {x234},
       .attrs = {{"other", 3.0}},
       .reference = scalar_ref([](double a, double b) { return a / b; })},
      {.op = "Divs",
       .label = "int_refused",
       .inputs = {values({1}, {1}, DType::Int32)},
       .attrs = {{"other", 3.0}},
       .error = "dtype Int32 is not supported"},
      {.op = "AddExt",
       .label = "alpha_broadcast",
       .inputs = {x234, uniform({3, 1}, 2006)},
       .attrs = {{"alpha", 2.5}},
       .reference = alpha_ref(1)},
      // Large enough to be split over the workers (run_graph's three): same shapes, and a
      // per-row operand (inner stride 0).
      {.op = "AddExt",
       .label = "split_same_shape",
       .inputs = {uniform({2, 64, 300}, 2008), uniform({2, 64, 300}, 2009)},
       .reference = alpha_ref(1)},
      {.op = "AddExt",
       .label = "split_row_broadcast",
       .inputs = {uniform({2, 64, 300}, 2008), uniform({64, 1}, 2009)},
       .attrs = {{"alpha", -1.5}},
       .reference = alpha_ref(1)},
      {.op = "AddExt",
       .label = "default_alpha_int32",
       .inputs = {values({1, 2, 3}, {3}, DType::Int32), values({10}, {1}, DType::Int32)},
       .reference = alpha_ref(1)},
      {.op = "SubExt",
       .label = "alpha",
       .inputs = {x234, uniform({2, 3, 4}, 2007)},
       .attrs = {{"alpha", 0.5}},
       .reference = alpha_ref(-1)},
      {.op = "SubExt",
       .label = "dtype_mismatch",
       .inputs = {x34, values({1}, {1}, DType::Int32)},
       .error = "dtype"},
      {.op = "MatMulExt",
       .label = "matrices",
       .inputs = {uniform({3, 4}, 2010), uniform({4, 5}, 2011)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "batch_by_matrix",
       .inputs = {uniform({2, 3, 2, 4}, 2012), uniform({4, 5}, 2013)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "broadcast_batches_f64",
       .inputs = {uniform({2, 1, 3, 4}, 2014, -2, 2, DType::Float64),
                  uniform({3, 4, 2}, 2015, -2, 2, DType::Float64)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "vector_by_batch",
       .inputs = {uniform({4}, 2016), uniform({2, 4, 3}, 2017)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "matrix_by_vector",
       .inputs = {uniform({3, 4}, 2018), uniform({4}, 2019)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "dot",
       .inputs = {uniform({4}, 2020), uniform({4}, 2021)},
       .reference = matmul_ext_ref},
      {.op = "MatMulExt",
       .label = "inner_mismatch",
       .inputs = {uniform({3, 4}, 2022), uniform({3, 4}, 2023)},
       .error = "cannot multiply"},
      {.op = "CumSum",
       .label = "axis1",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{1}}},
       .reference = cumsum_ref},
      {.op = "CumSum",
       .label = "exclusive_reverse_last",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{-1}}, {"exclusive", true}, {"reverse", true}},
       .reference = cumsum_ref},
      {.op = "CumSum",
       .label = "exclusive_int64",
       .inputs = {values({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Int64)},
       .attrs = {{"axis", int64_t{0}}, {"exclusive", true}},
       .reference = cumsum_ref},
      {.op = "CumSum",
       .label = "reverse_f64",
       .inputs = {uniform({5}, 2024, -2, 2, DType::Float64)},
       .attrs = {{"axis", int64_t{0}}, {"reverse", true}},
       .reference = cumsum_ref},
      {.op = "CumSum",
       .label = "axis_out_of_range",
       .inputs = {x34},
       .attrs = {{"axis", int64_t{2}}},
       .error = "axis"},
      {.op = "Argmax",
       .label = "default_last_axis_int32",
       .inputs = {x234},
       .reference = argmax_ref(DType::Int32, false, -1)},
      {.op = "Argmax",
       .label = "axis1_int64",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{1}}, {"output_type", int64_t{35}}},
       .reference = argmax_ref(DType::Int64, false, -1)},
      {.op = "Argmax",
       .label = "ties_and_nan",
       .inputs = {values({1, 3, 3, 0, kNaN, 2, 5, 5}, {2, 4})},
       .attrs = {{"axis", int64_t{1}}},
       .reference = argmax_ref(DType::Int32, false, -1)},
      {.op = "Argmax",
       .label = "int64_input",
       .inputs = {values({4, -1, 9, 9, 0, 2}, {3, 2}, DType::Int64)},
       .attrs = {{"axis", int64_t{0}}, {"output_type", int64_t{35}}},
       .reference = argmax_ref(DType::Int64, false, -1)},
      {.op = "Argmax",
       .label = "output_type_by_name",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{0}}, {"output_type", std::string("Int64")}},
       .reference = argmax_ref(DType::Int64, false, -1)},
      {.op = "Argmax",
       .label = "bad_output_type",
       .inputs = {x34},
       .attrs = {{"output_type", int64_t{43}}},
       .error = "output_type 43"},
      {.op = "ArgMaxWithValue",
       .label = "axis0",
       .inputs = {x234},
       .reference = argmax_ref(DType::Int64, true, 0)},
      {.op = "ArgMaxWithValue",
       .label = "keep_dims_axis2",
       .inputs = {x234},
       .attrs = {{"axis", int64_t{2}}, {"keep_dims", true}},
       .reference = argmax_ref(DType::Int64, true, 0)},
      {.op = "ArgMaxWithValue",
       .label = "empty_axis_refused",
       .inputs = {values({}, {2, 0})},
       .attrs = {{"axis", int64_t{1}}},
       .error = "axis is empty"},
  };
});

}  // namespace
}  // namespace cellar::testing
