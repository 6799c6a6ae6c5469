// Comparing tensors in tests: one strict max_abs_diff and a raw float32 file reader, shared by the
// model, MindIR, ONNX and CLI tests (each used to carry its own, slightly different copy).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

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
