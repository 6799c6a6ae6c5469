// Summary statistics of a tensor's values for `cellar inspect --stats`: one pass over the bytes
// (which usually are the mapped file itself), no copy and no allocation.
#pragma once

#include <cstdint>
#include <cstring>

#include "cellar/tensor.h"

namespace cellar::cli {

struct TensorStats {
  bool numeric = false;               // false for String tensors: nothing below is set
  uint64_t count = 0;                 // elements that are not NaN
  uint64_t nan_count = 0;             // NaN elements (floating dtypes only)
  double min = 0, max = 0, mean = 0;  // over the non-NaN elements; 0 when there are none
};

TensorStats tensor_stats(const Tensor& t);

}  // namespace cellar::cli

namespace cellar::cli {

// Calls `f(load)` with `load(const std::byte*) -> double` reading one element of numeric dtype
// `t` (any alignment); returns false for String, whose elements are not numbers.
template <class F>
bool with_element_loader(DType t, F&& f) {
  auto ld = [&f](auto tag, auto conv) {
    using T = decltype(tag);
    f([conv](const std::byte* p) {
      T x;
      std::memcpy(&x, p, sizeof x);
      return static_cast<double>(conv(x));
    });
  };
  auto id = [](auto x) { return x; };
  switch (t) {
    case DType::Bool:
      ld(uint8_t{}, [](uint8_t x) { return x != 0; });
      return true;
    case DType::Int8:
      ld(int8_t{}, id);
      return true;
    case DType::Int16:
      ld(int16_t{}, id);
      return true;
    case DType::Int32:
      ld(int32_t{}, id);
      return true;
    case DType::Int64:
      ld(int64_t{}, id);
      return true;
    case DType::UInt8:
      ld(uint8_t{}, id);
      return true;
    case DType::UInt16:
      ld(uint16_t{}, id);
      return true;
    case DType::UInt32:
      ld(uint32_t{}, id);
      return true;
    case DType::UInt64:
      ld(uint64_t{}, id);
      return true;
    case DType::Float16:
      ld(uint16_t{}, [](uint16_t x) { return half_to_float(x); });
      return true;
    case DType::BFloat16:
      ld(uint16_t{}, [](uint16_t x) { return bfloat16_to_float(x); });
      return true;
    case DType::Float32:
      ld(float{}, id);
      return true;
    case DType::Float64:
      ld(double{}, id);
      return true;
    case DType::String:
      return false;
  }
  return false;
}

}  // namespace cellar::cli
