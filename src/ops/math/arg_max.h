// What Argmax, Argmin, ArgMaxWithValue and ArgMinWithValue share (private to src/ops/math/): the
// index of the largest (smallest) element along one axis (the first one on ties; a NaN counts as
// the extreme, as in NumPy), and that element.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace cellar::ops {

struct ArgMaxPlan {
  size_t axis = 0;
  int64_t outer = 1, len = 1, inner = 1;
  Shape out;  // without the axis, or with it as 1 (keep_dims)
};

inline ArgMaxPlan arg_max_plan(const std::string& op, const TensorType& x, const ir::Attrs& a,
                               bool keep_dims, int64_t dflt_axis) {
  require_dtype_in(op, x.dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  if (x.shape.rank() == 0) shape_error(op, "input must have rank >= 1");
  ArgMaxPlan p;
  p.axis = static_cast<size_t>(
      normalize_axis(op, attr_int(a, op, "axis", dflt_axis), static_cast<int64_t>(x.shape.rank())));
  std::vector<int64_t> out;
  for (size_t d = 0; d < x.shape.rank(); ++d) {
    (d < p.axis ? p.outer : d == p.axis ? p.len : p.inner) *= x.shape[d];
    if (d != p.axis)
      out.push_back(x.shape[d]);
    else if (keep_dims)
      out.push_back(1);
  }
  if (p.len == 0) shape_error(op, "the reduced axis is empty");
  p.out = Shape(out);
  return p;
}

// Calls emit(o, best index, best value) for each output position o: the largest element, or
// with kMin the smallest (Argmin, ArgMinWithValue; a NaN still wins, as in NumPy).
template <class T, bool kMin = false, class Emit>
void arg_max_run(const ArgMaxPlan& p, const T* x, Emit emit) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* base = x + o * p.len * p.inner + i;
      int64_t best = 0;
      T v = base[0];
      for (int64_t k = 1; k < p.len; ++k) {
        const T c = base[k * p.inner];
        bool nan_v = false, nan_c = false;
        if constexpr (std::is_floating_point_v<T>) nan_v = std::isnan(v), nan_c = std::isnan(c);
        if (!nan_v && (nan_c || (kMin ? c < v : c > v))) best = k, v = c;
      }
      emit(o * p.inner + i, best, v);
    }
}

// The index dtype `output_type` names: MindSpore's type id (2.x writes the number: 34 Int32, 35
// Int64, mindspore/core/include/ir/dtype/type_id.h) or the dtype's name (1.x's type attribute,
// as the reader gives it).
inline DType index_dtype(const std::string& op, const ir::Attrs& a) {
  auto it = a.find("output_type");
  if (it == a.end()) return DType::Int32;
  if (const auto* s = std::get_if<std::string>(&it->second)) {
    if (*s == "Int32") return DType::Int32;
    if (*s == "Int64") return DType::Int64;
    throw ValueError(ErrorCode::kUnsupported,
                     op + ": output_type " + *s + " is not Int32 or Int64");
  }
  const int64_t type_id = attr_int(a, op, "output_type");
  if (type_id == 34) return DType::Int32;
  if (type_id == 35) return DType::Int64;
  throw ValueError(ErrorCode::kUnsupported, op + ": output_type " + std::to_string(type_id) +
                                                " is not Int32 (34) or Int64 (35)");
}

}  // namespace cellar::ops
