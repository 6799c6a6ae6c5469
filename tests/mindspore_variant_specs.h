// The checkpoint entries of tests/fixtures/mindspore/2.10/variants/make_fixtures.py (SPECS,
// values() and APPEND), shared by the test that reads MindSpore's files (test_mindspore.cpp) and
// the tool that writes cellar's for MindSpore to read (tools/write_checkpoints.cpp): both sides
// must mean the very same names, dtypes, shapes and values.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cellar/cellar.h"

namespace cellar::testing::variants {

// values() of make_fixtures.py, per dtype.
template <class T>
Tensor ints(Shape shape) {
  const int64_t n = shape.numel();
  std::vector<T> v(static_cast<size_t>(n));
  if (shape.rank() == 0) return Tensor::scalar<T>(T(42));
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_unsigned_v<T>)
      v[i] = i == n - 1 ? std::numeric_limits<T>::max() : T(i * 3);
    else
      v[i] = i == 0       ? std::numeric_limits<T>::min()
             : i == n - 1 ? std::numeric_limits<T>::max()
                          : T(i - 1);
  }
  return Tensor::from_vector<T>(v, shape);
}
Tensor floats(DType t, Shape shape) {
  const int64_t n = shape.rank() ? shape.numel() : 1;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i - n / 2) / 4;
  return Tensor::from_vector<double>(v, shape).to(t);
}
Tensor bools(Shape shape) {
  const int64_t n = shape.rank() ? shape.numel() : 1;
  std::vector<bool> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i % 3 == 0;
  return Tensor::from_vector<bool>(v, shape);
}
Tensor bf16(Shape shape) {
  const int64_t n = shape.numel();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - 1.5f) * 2;
  return Tensor::from_vector<float>(v, shape).to(DType::BFloat16);
}

// SPECS of make_fixtures.py. `bf16` false: without t.bfloat16 (MindSpore's safetensors writer
// and async_save cannot save it).
ParamDict entries(bool with_bf16 = true, bool choice = false) {
  ParamDict d;
  d.set("t.int8", ints<int8_t>({2, 3}));
  d.set("t.uint8", ints<uint8_t>({4}));
  d.set("t.int16", ints<int16_t>({3}));
  d.set("t.uint16", ints<uint16_t>({3}));
  d.set("t.int32", ints<int32_t>({2, 2}));
  d.set("t.uint32", ints<uint32_t>({2}));
  d.set("t.int64", ints<int64_t>({3}));
  d.set("t.uint64", ints<uint64_t>({2}));
  d.set("t.float16", floats(DType::Float16, {2, 2}));
  d.set("t.float32", floats(DType::Float32, {2, 1, 3}));
  d.set("t.float64", floats(DType::Float64, {3}));
  d.set("t.bool", bools({5}));
  if (with_bf16) d.set("t.bfloat16", bf16({4}));
  d.set("s.float32", floats(DType::Float32, {}));
  d.set("s.int64", ints<int64_t>({}));
  d.set("s.bool", bools({}));
  if (!choice) d.set("u.big", floats(DType::Float32, {1, 2, 2, 2}));
  return d;
}

// APPEND of make_fixtures.py.
std::vector<std::pair<std::string, AppendValue>> append(bool with_strings = true) {
  std::vector<std::pair<std::string, AppendValue>> a = {{"epoch_num", int64_t{7}},
                                                        {"neg", int64_t{-3}},
                                                        {"big", int64_t{1} << 40},
                                                        {"lr", 0.125},
                                                        {"tiny", -1e-30},
                                                        {"flag", true},
                                                        {"off", false}};
  if (with_strings) {
    a.push_back({"note", std::string("héllo, 世界 ✓")});
    a.push_back({"empty", std::string()});
  }
  return a;
}

}  // namespace cellar::testing::variants
