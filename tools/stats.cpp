#include "stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace cellar::cli {

namespace {

// Elements are read with memcpy (plain loads after optimisation), so any alignment is fine.
template <class T>
T load(const std::byte* p) {
  T x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// Integers and Bool: exact min/max, sum in double.
template <class T>
TensorStats int_stats(const std::byte* p, size_t n) {
  TensorStats s;
  s.numeric = true;
  s.count = n;
  if (n == 0) return s;
  T mn = load<T>(p), mx = mn;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const T x = load<T>(p + i * sizeof(T));
    mn = std::min(mn, x);
    mx = std::max(mx, x);
    sum += static_cast<double>(x);
  }
  s.min = static_cast<double>(mn);
  s.max = static_cast<double>(mx);
  s.mean = sum / static_cast<double>(n);
  return s;
}

// Floating types, converted to float/double by `get`. Four independent accumulators per
// quantity keep the loop free of a serial dependency; a block of 4096 elements is summed in the
// element type's precision widened to double, so the mean of a large tensor stays accurate.
template <class F, class Get>
TensorStats float_stats(const std::byte* p, size_t n, size_t item, Get get) {
  TensorStats s;
  s.numeric = true;
  double mn = std::numeric_limits<double>::infinity(), mx = -mn, sum = 0;
  uint64_t nans = 0;
  size_t i = 0;
  constexpr size_t kLanes = 4;
  for (; i + kLanes <= n; i += kLanes) {
    F v[kLanes];
    for (size_t k = 0; k < kLanes; ++k) v[k] = get(p + (i + k) * item);
    for (size_t k = 0; k < kLanes; ++k) {
      const bool nan = v[k] != v[k];
      nans += nan;
      const double d = nan ? 0.0 : static_cast<double>(v[k]);
      sum += d;
      if (!nan) {
        mn = d < mn ? d : mn;
        mx = d > mx ? d : mx;
      }
    }
  }
  for (; i < n; ++i) {
    const F x = get(p + i * item);
    if (x != x) {
      ++nans;
      continue;
    }
    sum += static_cast<double>(x);
    mn = std::min(mn, static_cast<double>(x));
    mx = std::max(mx, static_cast<double>(x));
  }
  s.nan_count = nans;
  s.count = n - nans;
  if (s.count) {
    s.min = mn;
    s.max = mx;
    s.mean = sum / static_cast<double>(s.count);
  }
  return s;
}

}  // namespace

TensorStats tensor_stats(const Tensor& t) {
  if (t.dtype() == DType::String) return {};
  const std::byte* p = t.raw_data();
  const size_t n = static_cast<size_t>(t.numel());
  switch (t.dtype()) {
    case DType::Bool:
      return int_stats<uint8_t>(p, n);
    case DType::Int8:
      return int_stats<int8_t>(p, n);
    case DType::Int16:
      return int_stats<int16_t>(p, n);
    case DType::Int32:
      return int_stats<int32_t>(p, n);
    case DType::Int64:
      return int_stats<int64_t>(p, n);
    case DType::UInt8:
      return int_stats<uint8_t>(p, n);
    case DType::UInt16:
      return int_stats<uint16_t>(p, n);
    case DType::UInt32:
      return int_stats<uint32_t>(p, n);
    case DType::UInt64:
      return int_stats<uint64_t>(p, n);
    case DType::Float16:
      return float_stats<float>(
          p, n, 2, [](const std::byte* q) { return half_to_float(load<uint16_t>(q)); });
    case DType::BFloat16:
      return float_stats<float>(
          p, n, 2, [](const std::byte* q) { return bfloat16_to_float(load<uint16_t>(q)); });
    case DType::Float32:
      return float_stats<float>(p, n, 4, [](const std::byte* q) { return load<float>(q); });
    case DType::Float64:
      return float_stats<double>(p, n, 8, [](const std::byte* q) { return load<double>(q); });
    case DType::String:
      break;
  }
  return {};
}

}  // namespace cellar::cli
