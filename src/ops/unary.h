// The row of an element-wise unary op (y = f(x), same dtype and shape), shared by every such op's
// file: the op's file gives its name, its dtypes and `F`, a functor with a templated
// `T operator()(T) const`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace cellar::ops {

template <class T, class F>
Kernel unary_kernel(int64_t n) {
  return [n](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    const T* p = x[0].data<T>();
    T* q = y[0].data<T>();
    par.for_range(n, kElementGrain, [&](int64_t i0, int64_t i1, int) {
      const F f;
      for (int64_t i = i0; i < i1; ++i) q[i] = f(p[i]);
    });
  };
}

// The dtypes a unary row takes (and the kernels it instantiates).
enum class UnaryDTypes {
  kFloat,    // Float32, Float64
  kNumeric,  // and Int8, Int16, Int32, Int64
};

template <class F, UnaryDTypes kDTypes = UnaryDTypes::kFloat>
OpDef unary_row(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs&) {
    const std::vector<DType> allowed =
        kDTypes == UnaryDTypes::kNumeric
            ? std::vector<DType>{DType::Float32, DType::Float64, DType::Int8,
                                 DType::Int16,   DType::Int32,   DType::Int64}
            : std::vector<DType>{DType::Float32, DType::Float64};
    bool ok = false;
    for (DType t : allowed) ok |= t == in[0].dtype;
    if (!ok) {
      std::string list;
      for (DType t : allowed) list += (list.empty() ? "" : ", ") + std::string(mindspore_name(t));
      throw ValueError(ErrorCode::kUnsupported, name + ": dtype " +
                                                    std::string(mindspore_name(in[0].dtype)) +
                                                    " is not supported (supported: " + list + ")");
    }
    return std::vector<TensorType>{in[0]};
  };
  d.make_kernel = [](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
    const int64_t n = in[0].shape.numel();
    if (in[0].dtype == DType::Float64) return unary_kernel<double, F>(n);
    if constexpr (kDTypes == UnaryDTypes::kNumeric) {
      switch (in[0].dtype) {
        case DType::Int8:
          return unary_kernel<int8_t, F>(n);
        case DType::Int16:
          return unary_kernel<int16_t, F>(n);
        case DType::Int32:
          return unary_kernel<int32_t, F>(n);
        case DType::Int64:
          return unary_kernel<int64_t, F>(n);
        default:
          break;
      }
    }
    return unary_kernel<float, F>(n);
  };
  d.mindir.primitive = name;
  return d;
}

}  // namespace cellar::ops
