// LessScalar, GreaterEqualScalar, EqScalar (input; other): y = (input < other), (input >= other),
// (input == other) as Bool, element-wise, `other` a Python number. MindSpore 2.x's less_scalar,
// greater_equal_scalar, eq_scalar: its op yaml makes each a PRIMITIVE_FUNCTION with `other` a
// constant input after the tensor. MindSpore writes LessScalar for a tensor index into a tensor,
// x[idx] (negative indices wrapped by Select(LessScalar(idx, 0), idx + n, idx) before the Gather:
// Swin V2's relative position bias table), and `x >= 0.5`, `x == 1.0`, ops.ge / ops.eq with a
// number as GreaterEqualScalar and EqScalar. For Float32, Float64, Int32 and Int64 inputs:
// a floating input is compared with `other` in its own dtype (MindSpore casts the number:
// x == 0.1 holds for float32 x = 0.1f), an integer input exactly with the number (x < o is
// x < ceil(o), x >= o is x >= ceil(o), x == o never holds for a fractional o). ONNX has no scalar
// forms: written as Less, GreaterOrEqual, Equal by a rank-0 constant of the input's dtype (the
// ceiling for integers; an EqScalar of an integer input by a fraction is refused), which read back
// as Less, GreaterEqual, Equal.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

enum class Cmp { kLess, kGreaterEqual, kEqual };

struct Spelling {
  Cmp cmp;
  const char* name;  // the row and MindSpore's primitive
  const char* onnx;  // the ONNX op written
};

constexpr Spelling kSpellings[] = {{Cmp::kLess, "LessScalar", "Less"},
                                   {Cmp::kGreaterEqual, "GreaterEqualScalar", "GreaterOrEqual"},
                                   {Cmp::kEqual, "EqScalar", "Equal"}};

// `other`, required: a number (MindSpore writes an int or a float scalar).
double other_of(const char* op, const ir::Attrs& attrs) {
  if (!has_attr(attrs, "other"))
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(op) + ": argument 'other' (a number) is required");
  const double o = attr_double(attrs, op, "other", 0);
  if (std::isnan(o))
    throw ValueError(ErrorCode::kInvalidArgument, std::string(op) + ": 'other' is NaN");
  return o;
}

template <class T>
Kernel compare_kernel(Cmp cmp, int64_t n, double other) {
  return [cmp, n, other](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* p = x[0].data<T>();
    auto* q = reinterpret_cast<uint8_t*>(y[0].raw_data());
    auto fill = [&](uint8_t v) {
      for (int64_t i = 0; i < n; ++i) q[i] = v;
    };
    if constexpr (std::is_integral_v<T>) {
      const double top = std::ldexp(1.0, std::numeric_limits<T>::digits);  // 2^31, 2^63: exact
      if (cmp == Cmp::kEqual) {
        if (other != std::floor(other) || other >= top || other < -top) return fill(0);
        const auto o = static_cast<T>(other);
        for (int64_t i = 0; i < n; ++i) q[i] = p[i] == o ? 1 : 0;
        return;
      }
      // x < o ⟺ x < ceil(o); bounds beyond T's range make every answer the same.
      const double c = std::ceil(other);
      const uint8_t less = cmp == Cmp::kLess ? 1 : 0;
      if (c >= top) return fill(less);
      if (c <= -top) return fill(1 - less);
      const auto bound = static_cast<T>(c);
      for (int64_t i = 0; i < n; ++i) q[i] = (p[i] < bound) == (less == 1) ? 1 : 0;
    } else {
      const T o = static_cast<T>(other);
      for (int64_t i = 0; i < n; ++i)
        q[i] = cmp == Cmp::kLess ? p[i] < o : cmp == Cmp::kGreaterEqual ? p[i] >= o : p[i] == o;
    }
  };
}

OpDef compare_row(const Spelling& s) {
  OpDef d;
  d.name = s.name;
  const char* op = s.name;
  d.infer = [op](std::span<const TensorType> in, const ir::Attrs& attrs) {
    other_of(op, attrs);
    require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
    return std::vector<TensorType>{{DType::Bool, in[0].shape}};
  };
  d.make_kernel = [op, cmp = s.cmp](std::span<const TensorType> in,
                                    const ir::Attrs& attrs) -> Kernel {
    const double o = other_of(op, attrs);
    const int64_t n = in[0].shape.numel();
    switch (in[0].dtype) {
      case DType::Float64:
        return compare_kernel<double>(cmp, n, o);
      case DType::Int32:
        return compare_kernel<int32_t>(cmp, n, o);
      case DType::Int64:
        return compare_kernel<int64_t>(cmp, n, o);
      default:
        return compare_kernel<float>(cmp, n, o);
    }
  };
  d.mindir.primitive = op;
  d.mindir.attr_inputs = {"other"};
  d.onnx = [s](OnnxBuilder& b, const ir::Node& n) {
    const double o = onnx_checked(b, n, [&] { return other_of(s.name, n.attrs); });
    const DType dt = b.info(n.inputs.at(0)).dtype;
    const std::string y = b.name(n.outputs.at(0));
    if (is_integral(dt) && s.cmp == Cmp::kEqual && o != std::floor(o))
      b.fail(n, "'other' (" + std::to_string(o) + ") is a fraction, which ONNX's Equal on the " +
                    std::string(mindspore_name(dt)) + " input cannot express");
    const double bound = is_integral(dt) ? std::ceil(o) : o;
    if (is_integral(dt) &&
        !(std::fabs(bound) < std::ldexp(1.0, 8 * static_cast<int>(itemsize(dt)) - 1)))
      b.fail(n, "'other' (" + std::to_string(o) + ") is beyond the range of the " +
                    std::string(mindspore_name(dt)) + " input, which ONNX's " + s.onnx +
                    " cannot compare with");
    b.add(s.onnx, {b.name(n.inputs.at(0)), b.scalar(y + "/other", bound, dt)}, {y});
  };
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(compare_scalar) {
  for (const Spelling& s : kSpellings) table.add(compare_row(s));
}

}  // namespace cellar::ops
