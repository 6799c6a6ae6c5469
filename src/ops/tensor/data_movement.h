// What the tensor domain's rows share (private to src/ops/tensor/): they move elements without
// looking at them, so a kernel needs only the dtype's item size, and views that keep the C-order
// bytes (Flatten, Reshape, ExpandDims, Squeeze) are one copy into the planned output.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "ops/registry.h"

namespace cellar::ops::tensor {

// The highest rank the index-walking kernels (Transpose, Tile) support.
inline constexpr size_t kMaxRank = 16;

// Data movement works on any dtype but str (whose elements are not fixed-size bytes).
inline void require_numeric(const std::string& op, DType t) {
  if (t == DType::String)
    throw ValueError(ErrorCode::kUnsupported, op + ": str tensors are not supported");
}

// y = x, byte for byte (the output has the input's element count and dtype).
inline Kernel copy_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const size_t bytes = static_cast<size_t>(in[0].shape.numel()) * itemsize(in[0].dtype);
  return [bytes](std::span<const Tensor> x, std::span<Tensor> y) {
    if (bytes && x[0].raw_data() != y[0].raw_data())
      std::memcpy(y[0].raw_data(), x[0].raw_data(), bytes);
  };
}

// make(T{}) with T an unsigned type of the dtype's item size: moving elements needs only their
// bytes.
template <class F>
Kernel by_itemsize(DType t, F make) {
  switch (itemsize(t)) {
    case 1:
      return make(uint8_t{});
    case 2:
      return make(uint16_t{});
    case 4:
      return make(uint32_t{});
    default:
      return make(uint64_t{});
  }
}

template <class T>
const T* raw(const Tensor& t) {
  return reinterpret_cast<const T*>(t.raw_data());
}
template <class T>
T* raw(Tensor& t) {
  return reinterpret_cast<T*>(t.raw_data());
}

}  // namespace cellar::ops::tensor
