// ClampScalar(x; min, max): x limited to [min, max] element-wise, either bound optional (at least
// one given; a min above max gives max everywhere, as torch.clamp does), for Float32, Float64,
// Int32 and Int64; NaN stays NaN. ops.clamp / Tensor.clamp with Python numbers write it:
// MindSpore 2.x as the PRIMITIVE_FUNCTION "ClampScalar" with min and max as constant inputs,
// None when absent (ops_def clamp_scalar_op.yaml). ONNX's Clip is the same (its bounds inputs in
// x's dtype): written so; an ONNX Clip is read as Maximum/Minimum (src/formats/onnx_rules.cpp).
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "ClampScalar";

struct Bounds {
  std::optional<double> lo, hi;
};

Bounds bounds(const TensorType& x, const ir::Attrs& a) {
  require_dtype_in(kOp, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  Bounds b;
  if (has_attr(a, "min")) b.lo = attr_double(a, kOp, "min", 0);
  if (has_attr(a, "max")) b.hi = attr_double(a, kOp, "max", 0);
  if (!b.lo && !b.hi)
    throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": min and max are both None");
  if ((b.lo && std::isnan(*b.lo)) || (b.hi && std::isnan(*b.hi)))
    throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": a bound is NaN");
  return b;
}

// A bound in T: MindSpore casts the Python number to the tensor's dtype, which truncates toward
// zero; so does this (saturating at the dtype's range).
template <class T>
T as(double v) {
  if constexpr (std::is_integral_v<T>) {
    const double lim = static_cast<double>(std::numeric_limits<T>::max());
    if (v >= lim) return std::numeric_limits<T>::max();
    if (v <= -lim - 1) return std::numeric_limits<T>::lowest();
  }
  return static_cast<T>(v);
}

template <class T>
Kernel clamp_kernel(int64_t n, Bounds b) {
  const bool has_lo = b.lo.has_value(), has_hi = b.hi.has_value();
  const T lo = has_lo ? as<T>(*b.lo) : T(0), hi = has_hi ? as<T>(*b.hi) : T(0);
  return [=](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    const T* p = x[0].data<T>();
    T* q = y[0].data<T>();
    par.for_range(n, kElementGrain, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; ++i) {
        T v = p[i];
        if (has_lo && v < lo) v = lo;
        if (has_hi && v > hi) v = hi;
        q[i] = v;
      }
    });
  };
}

}  // namespace

CELLAR_REGISTER_OPS(clamp_scalar) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                bounds(in[0], attrs);
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            const int64_t n = in[0].shape.numel();
            const Bounds b = bounds(in[0], attrs);
            switch (in[0].dtype) {
              case DType::Float64:
                return clamp_kernel<double>(n, b);
              case DType::Int32:
                return clamp_kernel<int32_t>(n, b);
              case DType::Int64:
                return clamp_kernel<int64_t>(n, b);
              default:
                return clamp_kernel<float>(n, b);
            }
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"min", "max"},
                     .none_when_absent = {"min", "max"}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const Bounds bd = onnx_checked(b, n, [&] {
      const ir::ValueInfo& x = b.info(n.inputs.at(0));
      return bounds(TensorType{x.dtype, x.shape}, n.attrs);
    });
    const std::string y = b.name(n.outputs.at(0));
    const DType dt = b.info(n.inputs.at(0)).dtype;
    b.add("Clip",
          {b.name(n.inputs.at(0)), bd.lo ? b.scalar(y + "/min", *bd.lo, dt) : std::string(),
           bd.hi ? b.scalar(y + "/max", *bd.hi, dt) : std::string()},
          {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
