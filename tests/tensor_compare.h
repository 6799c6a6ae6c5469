// Comparing tensors in tests, one helper per question, shared by every test (each used to carry
// its own, slightly different copy):
//  - max_abs_diff: how far apart two float results are (for a tolerance against a peer's output);
//  - expect_same: exactly the same entries, for what must survive a file bit for bit.
// NaN: a NaN on one side only is always a difference. max_abs_diff counts NaN on both sides at
// the same element as equal (a NaN that both peers compute is agreement); expect_same compares
// bytes, so a NaN equals only a NaN with the very same bits.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/tensor.h"
#include "test_util.h"

namespace cellar::testing {

// The largest |a[i] - b[i]|, computed in float64. A difference of shape or dtype is a test
// failure and gives infinity, as does a NaN on one side only (NaN on both sides counts as equal),
// so that no comparison against a tolerance can pass by accident.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.dtype(), b.dtype());
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return INFINITY;
  const Tensor x = a.to(DType::Float64), y = b.to(DType::Float64);
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double u = x.data<double>()[i], v = y.data<double>()[i];
    if (std::isnan(u) || std::isnan(v)) {
      if (std::isnan(u) != std::isnan(v)) return INFINITY;
      continue;
    }
    m = std::max(m, std::fabs(u - v));
  }
  return m;
}

// The largest |t[i]|, computed in float64 (a tolerance's scale).
inline double max_abs(const Tensor& t) {
  const Tensor d = t.to(DType::Float64);
  double m = 0;
  for (int64_t i = 0; i < d.numel(); ++i) m = std::max(m, std::fabs(d.data<double>()[i]));
  return m;
}

// One tensor exactly: dtype, shape, and every byte (a String tensor by its text). Failures name
// `name`.
inline void expect_same(const Tensor& got, const Tensor& want, const std::string& name = "") {
  EXPECT_EQ(got.dtype(), want.dtype()) << name;
  EXPECT_EQ(got.shape(), want.shape()) << name;
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) return;
  if (want.dtype() == DType::String)
    EXPECT_EQ(got.string_value(), want.string_value()) << name;
  else
    EXPECT_TRUE(got.equal(want)) << name << ": " << got << " vs " << want;
}

enum class Order { kSame, kAny };

// Exactly the same entries: the same names (in the same order unless Order::kAny: a .ckpt keeps
// save order, safetensors sorts its header) and, name by name, the same tensors as above.
inline void expect_same(const ParamDict& got, const ParamDict& want, Order order = Order::kSame) {
  auto names = [&](const ParamDict& d) {
    auto k = d.keys();
    if (order == Order::kAny) std::sort(k.begin(), k.end());
    return k;
  };
  EXPECT_EQ(names(got), names(want));
  for (const std::string& name : want.keys())
    if (got.contains(name)) expect_same(got.at(name).data(), want.at(name).data(), name);
}

// The same for name → tensor lists (a format's entries), in order.
inline void expect_same(const std::vector<std::pair<std::string, Tensor>>& got,
                        const std::vector<std::pair<std::string, Tensor>>& want) {
  auto names = [](const std::vector<std::pair<std::string, Tensor>>& d) {
    std::vector<std::string> out;
    for (const auto& [n, _] : d) out.push_back(n);
    return out;
  };
  EXPECT_EQ(names(got), names(want));
  if (got.size() != want.size()) return;
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i].first == want[i].first) expect_same(got[i].second, want[i].second, want[i].first);
}

// A file of raw little-endian float32 values in C order (the .f32 fixtures), as a tensor of
// `shape`; a size that disagrees with the shape is a test failure.
inline Tensor read_f32(const std::filesystem::path& p, Shape shape) {
  const auto bytes = read_bytes(p);
  Tensor t(DType::Float32, std::move(shape));
  EXPECT_EQ(bytes.size(), t.nbytes()) << p;
  std::memcpy(t.raw_data(), bytes.data(), std::min(bytes.size(), t.nbytes()));
  return t;
}

}  // namespace cellar::testing
