#include "cellar/dtype.h"

#include <array>
#include <bit>

namespace cellar {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view ms_name;
  size_t size;
};
// MindSpore's tensor_type spellings (checkpoint.proto writers use str(dtype) of the Tensor).
constexpr std::array<DTypeInfo, 14> kInfo{{
    {DType::Bool, "Bool", 1},
    {DType::Int8, "Int8", 1},
    {DType::Int16, "Int16", 2},
    {DType::Int32, "Int32", 4},
    {DType::Int64, "Int64", 8},
    {DType::UInt8, "UInt8", 1},
    {DType::UInt16, "UInt16", 2},
    {DType::UInt32, "UInt32", 4},
    {DType::UInt64, "UInt64", 8},
    {DType::Float16, "Float16", 2},
    {DType::BFloat16, "BFloat16", 2},
    {DType::Float32, "Float32", 4},
    {DType::Float64, "Float64", 8},
    {DType::String, "str", 0},
}};
const DTypeInfo& info(DType t) { return kInfo[static_cast<size_t>(t)]; }
}  // namespace

size_t itemsize(DType t) { return info(t).size; }

bool is_floating(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Float32 || t == DType::Float64;
}
bool is_integral(DType t) {
  switch (t) {
    case DType::Int8:
    case DType::Int16:
    case DType::Int32:
    case DType::Int64:
    case DType::UInt8:
    case DType::UInt16:
    case DType::UInt32:
    case DType::UInt64:
      return true;
    default:
      return false;
  }
}
bool is_signed(DType t) {
  return t == DType::Int8 || t == DType::Int16 || t == DType::Int32 || t == DType::Int64 ||
         is_floating(t);
}

std::string_view mindspore_name(DType t) { return info(t).ms_name; }

std::optional<DType> dtype_from_mindspore_name(std::string_view name) {
  for (const auto& i : kInfo)
    if (i.ms_name == name) return i.type;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, DType t) { return os << mindspore_name(t); }

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      mant &= 0x3ff;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) {  // inf or nan
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 | ((absx >> 13) & 0x3ff) : 0);
  }
  if (absx >= 0x477ff000) return sign | 0x7c00;  // rounds to >= 65520: inf
  if (absx < 0x38800000) {                       // below smallest normal half: subnormal or 0
    if (absx < 0x33000000) return sign;          // < 2^-25 rounds to 0
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14 + (113 - e) - ... : mantissa bits to drop
    uint32_t half_m = m >> (shift);
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_m & 1))) ++half_m;
    return sign | static_cast<uint16_t>(half_m);
  }
  uint32_t r = absx - 0x38000000;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1fff;
  r >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return sign | static_cast<uint16_t>(r);
}

uint16_t float_to_bfloat16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet nan
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace cellar
