// ReduceSum and ReduceMean (MindSpore's primitives). `axis` is a constant input (an int, a
// tuple, or () for every axis: ops.ReduceSum(keep_dims)(x, axis)); `keep_dims` is a primitive
// init argument, which MindSpore 2.x also passes as an input (ops_def/reduce_sum_op.yaml).
// ReduceSum's `skip_mode` (MindSpore 2.x) makes an empty axis mean "no reduction" instead of "every
// axis". Sums accumulate in double (floats) or int64 (ints).
#include <limits>
#include <type_traits>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr size_t kMaxRank = 16;

struct ReducePlan {
  std::vector<int64_t> out_shape;                // with or without kept 1s
  std::vector<int64_t> kept_dims, kept_strides;  // input strides of the kept axes
  std::vector<int64_t> red_dims, red_strides;    // and of the reduced ones
  int64_t red_count = 1;
};

ReducePlan reduce_plan(const std::string& op, std::span<const TensorType> in,
                       const ir::Attrs& attrs, bool is_mean) {
  if (is_mean)
    require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  else
    require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  const Shape& x = in[0].shape;
  if (x.rank() > kMaxRank) shape_error(op, "rank above 16 is not supported");
  const int64_t rank = static_cast<int64_t>(x.rank());
  const bool keep = attr_bool(attrs, op, "keep_dims", false);
  const bool skip = attr_bool(attrs, op, "skip_mode", false);
  const auto axes = attr_ints(attrs, op, "axis", {});
  std::vector<bool> reduce(x.rank(), axes.empty() && !skip);
  for (int64_t a : axes) {
    const auto k = static_cast<size_t>(normalize_axis(op, a, rank));
    if (reduce[k]) shape_error(op, "axis " + std::to_string(a) + " is given twice");
    reduce[k] = true;
  }
  ReducePlan p;
  std::vector<int64_t> strides(x.rank(), 1);
  for (size_t i = x.rank(); i-- > 1;) strides[i - 1] = strides[i] * x[i];
  for (size_t i = 0; i < x.rank(); ++i) {
    if (reduce[i]) {
      p.red_dims.push_back(x[i]);
      p.red_strides.push_back(strides[i]);
      p.red_count *= x[i];
      if (keep) p.out_shape.push_back(1);
    } else {
      p.kept_dims.push_back(x[i]);
      p.kept_strides.push_back(strides[i]);
      p.out_shape.push_back(x[i]);
    }
  }
  return p;
}

// Visits the offsets of an odometer over `dims` with `strides`; f(offset).
template <class F>
inline void walk(const std::vector<int64_t>& dims, const std::vector<int64_t>& strides, int64_t n,
                 F f) {
  int64_t idx[kMaxRank] = {0};
  int64_t off = 0;
  const size_t r = dims.size();
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (size_t d = r; d-- > 0;) {
      ++idx[d];
      off += strides[d];
      if (idx[d] < dims[d]) break;
      off -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
}

template <class T>
Kernel reduce_typed(const ReducePlan& p, bool is_mean) {
  int64_t n_out = 1;
  for (int64_t d : p.kept_dims) n_out *= d;
  return [p, is_mean, n_out](std::span<const Tensor> in, std::span<Tensor> out) {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    walk(p.kept_dims, p.kept_strides, n_out, [&](int64_t i, int64_t base) {
      Acc s = 0;
      walk(p.red_dims, p.red_strides, p.red_count,
           [&](int64_t, int64_t off) { s += static_cast<Acc>(x[base + off]); });
      if (is_mean) {
        if constexpr (std::is_floating_point_v<T>)
          s = p.red_count ? s / static_cast<double>(p.red_count)
                          : std::numeric_limits<double>::quiet_NaN();
        else  // integer mean truncates, as ONNX Runtime's does; over nothing it is 0
          s = p.red_count ? s / p.red_count : 0;
      }
      y[i] = static_cast<T>(s);
    });
  };
}

template <bool kMean>
OpDef reduce_op(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    return std::vector<TensorType>{
        {in[0].dtype, Shape(reduce_plan(name, in, attrs, kMean).out_shape)}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const ReducePlan p = reduce_plan(name, in, attrs, kMean);
    switch (in[0].dtype) {
      case DType::Float64:
        return reduce_typed<double>(p, kMean);
      case DType::Int32:
        return reduce_typed<int32_t>(p, kMean);
      case DType::Int64:
        return reduce_typed<int64_t>(p, kMean);
      default:
        return reduce_typed<float>(p, kMean);
    }
  };
  // reduce_sum_op.yaml: (x, axis, keep_dims, skip_mode); reduce_mean_op.yaml: (x, axis,
  // keep_dims). MindSpore 2.x passes them all as inputs.
  if (kMean)
    d.mindir = {.primitive = name,
                .attr_inputs = {"axis", "keep_dims"},
                .defaults = {{"axis", std::vector<int64_t>{}}, {"keep_dims", false}}};
  else
    d.mindir = {
        .primitive = name,
        .attr_inputs = {"axis", "keep_dims", "skip_mode"},
        .defaults = {{"axis", std::vector<int64_t>{}}, {"keep_dims", false}, {"skip_mode", false}}};
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(reduce_ops) {
  OpTable& t = table;
  t.add(reduce_op<false>("ReduceSum"));
  t.add(reduce_op<true>("ReduceMean"));
}

}  // namespace cellar::ops
