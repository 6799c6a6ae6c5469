// RemainderTensorScalar(input; other): input − floor(input / other) · other element-wise, the sign
// of the divisor (Python's %), `other` a number. MindSpore 2.x writes `x % 4` and ops.remainder
// with a number as the PRIMITIVE_FUNCTION "RemainderTensorScalar" with `other` a constant input
// (ops_def remainder_tensor_scalar_op.yaml). For Float32 and Float64 inputs, and for Int32 and
// Int64 inputs by an integer (a fraction would make MindSpore's result a float: refused); an
// integer remainder by 0 gives 0 (as FloorMod, src/ops/math/mod.cpp). ONNX: Mod with fmod = 0 by
// a constant for integers; for floats, which ONNX's Mod takes only with fmod = 1, the formula
// itself (Div, Floor, Mul, Sub).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "RemainderTensorScalar";

double other_of(const TensorType& x, const ir::Attrs& a) {
  require_dtype_in(kOp, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  if (!has_attr(a, "other"))
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": argument 'other' (a number) is required");
  const double o = attr_double(a, kOp, "other", 0);
  if (std::isnan(o))
    throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": 'other' is NaN");
  if (is_integral(x.dtype) &&
      (o != std::floor(o) ||
       std::fabs(o) >= std::ldexp(1.0, 8 * static_cast<int>(itemsize(x.dtype)) - 1)))
    throw ValueError(ErrorCode::kUnsupported,
                     std::string(kOp) + ": an integer input by " + std::to_string(o) +
                         " (not an integer of its dtype: MindSpore's result would be a float)");
  return o;
}

template <class T>
Kernel kernel(int64_t n, double other) {
  return [n, other](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    const auto b = static_cast<T>(other);
    for (int64_t i = 0; i < n; ++i) {
      const T a = x[i];
      if constexpr (std::is_floating_point_v<T>) {
        const T r = std::fmod(a, b);
        y[i] = (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      } else {
        if (b == 0 || b == -1) {
          y[i] = 0;
          continue;
        }
        const T r = a % b;
        y[i] = (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      }
    }
  };
}

}  // namespace

CELLAR_REGISTER_OPS(remainder_scalar) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                other_of(in[0], attrs);
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            const double o = other_of(in[0], attrs);
            const int64_t n = in[0].shape.numel();
            switch (in[0].dtype) {
              case DType::Float64:
                return kernel<double>(n, o);
              case DType::Int32:
                return kernel<int32_t>(n, o);
              case DType::Int64:
                return kernel<int64_t>(n, o);
              default:
                return kernel<float>(n, o);
            }
          },
          .mindir = {.primitive = kOp, .attr_inputs = {"other"}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const ir::ValueInfo& x = b.info(n.inputs.at(0));
    const double o = onnx_checked(b, n, [&] { return other_of({x.dtype, x.shape}, n.attrs); });
    const std::string y = b.name(n.outputs.at(0)), in = b.name(n.inputs[0]);
    const std::string c = b.scalar(y + "/other", o, x.dtype);
    if (is_integral(x.dtype)) {
      if (o == 0 || o == -1) b.fail(n, "a remainder by " + std::to_string(o) + " (cellar gives 0)");
      b.add("Mod", {in, c}, {y}, {{"fmod", int64_t{0}}});
      return;
    }
    const std::string q = b.fresh(y + "/quotient"), f = b.fresh(y + "/floor"),
                      m = b.fresh(y + "/multiple");
    b.add("Div", {in, c}, {q});
    b.add("Floor", {q}, {f});
    b.add("Mul", {f, c}, {m});
    b.add("Sub", {in, m}, {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
