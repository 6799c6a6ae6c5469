// NumPy broadcasting for elementwise binary ops (private to src/ops). A binary row is built by
// binary_op<F>(name, dtypes): its shape rule broadcasts the two shapes, its kernel walks the
// output with an odometer over per-operand strides that are 0 along broadcast dimensions.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace cellar::ops {

inline Shape broadcast_shape(const std::string& op, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.rank() ? 1 : a[i - (r - a.rank())];
    const int64_t db = i < r - b.rank() ? 1 : b[i - (r - b.rank())];
    if (da != db && da != 1 && db != 1)
      shape_error(op, "shapes " + a.str() + " and " + b.str() + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

// Element strides of `s` aligned right to `out`'s rank, 0 along broadcast dimensions.
inline std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  const size_t r = out.rank();
  std::vector<int64_t> st(r, 0);
  int64_t acc = 1;
  for (size_t i = s.rank(); i-- > 0;) {
    const size_t o = i + (r - s.rank());
    st[o] = s[i] == 1 ? 0 : acc;
    acc *= s[i];
  }
  return st;
}

inline constexpr size_t kMaxBroadcastRank = 16;

template <class T, class F>
Kernel binary_typed(const Shape& a, const Shape& b, const Shape& out, F f) {
  const int64_t n = out.numel();
  if (a == out && b == out) {
    return [n, f](std::span<const Tensor> x, std::span<Tensor> y) {
      const T* p = x[0].data<T>();
      const T* q = x[1].data<T>();
      T* o = y[0].data<T>();
      for (int64_t i = 0; i < n; ++i) o[i] = f(p[i], q[i]);
    };
  }
  const auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  const std::vector<int64_t> dims = out.dims();
  return [n, f, sa, sb, dims](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* p = x[0].data<T>();
    const T* q = x[1].data<T>();
    T* o = y[0].data<T>();
    const size_t r = dims.size();
    // An odometer over the output index; its state lives on the stack (rank ≤ 16, checked by
    // the shape rule), so the kernel can run concurrently on distinct buffers.
    int64_t idx[kMaxBroadcastRank] = {0};
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < n; ++i) {
      o[i] = f(p[ia], q[ib]);
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        ia += sa[d];
        ib += sb[d];
        if (idx[d] < dims[d]) break;
        ia -= sa[d] * dims[d];
        ib -= sb[d] * dims[d];
        idx[d] = 0;
      }
    }
  };
}

// A two-input elementwise row named `name` (also its MindIR primitive) computing F<T>()(a, b)
// for T in `dtypes` (a subset of Float32, Float64, Int32, Int64).
template <template <class> class F>
OpDef binary_op(const std::string& name,
                std::initializer_list<DType> dtypes = {DType::Float32, DType::Float64, DType::Int32,
                                                       DType::Int64}) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  const std::vector<DType> allowed(dtypes);
  d.infer = [name, allowed](std::span<const TensorType> in, const ir::Attrs&) {
    require_same_dtype(name, in);
    bool ok = false;
    for (DType t : allowed) ok |= t == in[0].dtype;
    if (!ok) {
      std::string list;
      for (DType t : allowed) list += (list.empty() ? "" : ", ") + std::string(mindspore_name(t));
      throw ValueError(ErrorCode::kUnsupported, name + ": dtype " +
                                                    std::string(mindspore_name(in[0].dtype)) +
                                                    " is not supported (supported: " + list + ")");
    }
    const Shape out = broadcast_shape(name, in[0].shape, in[1].shape);
    if (out.rank() > kMaxBroadcastRank) shape_error(name, "rank above 16 is not supported");
    return std::vector<TensorType>{{in[0].dtype, out}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const Shape out = broadcast_shape(name, in[0].shape, in[1].shape);
    switch (in[0].dtype) {
      case DType::Float64:
        return binary_typed<double>(in[0].shape, in[1].shape, out, F<double>());
      case DType::Int32:
        return binary_typed<int32_t>(in[0].shape, in[1].shape, out, F<int32_t>());
      case DType::Int64:
        return binary_typed<int64_t>(in[0].shape, in[1].shape, out, F<int64_t>());
      default:
        return binary_typed<float>(in[0].shape, in[1].shape, out, F<float>());
    }
  };
  d.mindir.primitive = name;
  return d;
}

}  // namespace cellar::ops
