// Element types: every type a MindSpore checkpoint can hold, plus String for checkpoint metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string_view>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

enum class DType : uint8_t {
  Bool,
  Int8,
  Int16,
  Int32,
  Int64,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
  Float16,
  BFloat16,
  Float32,
  Float64,
  String,  // UTF-8 text held in a scalar tensor (checkpoint `str` entries)
};

inline constexpr DType bool_ = DType::Bool;
inline constexpr DType int8 = DType::Int8;
inline constexpr DType int16 = DType::Int16;
inline constexpr DType int32 = DType::Int32;
inline constexpr DType int64 = DType::Int64;
inline constexpr DType uint8 = DType::UInt8;
inline constexpr DType uint16 = DType::UInt16;
inline constexpr DType uint32 = DType::UInt32;
inline constexpr DType uint64 = DType::UInt64;
inline constexpr DType float16 = DType::Float16;
inline constexpr DType bfloat16 = DType::BFloat16;
inline constexpr DType float32 = DType::Float32;
inline constexpr DType float64 = DType::Float64;
inline constexpr DType string = DType::String;

// Bytes per element; 0 for String (its size is its text's length).
size_t itemsize(DType t);
bool is_floating(DType t);
bool is_integral(DType t);  // signed or unsigned integers (not Bool)
bool is_signed(DType t);

// MindSpore's spelling, as in checkpoint `tensor_type` and Python's `mindspore.float32`:
// "Float32", "Int64", "Bool", "str" …
std::string_view mindspore_name(DType t);
std::optional<DType> dtype_from_mindspore_name(std::string_view name);
std::ostream& operator<<(std::ostream& os, DType t);

// IEEE binary16 and bfloat16 conversions (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bfloat16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bfloat16(float f);

}  // namespace cellar

CELLAR_API_END
