// What the kernel tests under tests/ops/ share: reproducible random inputs, running a block once
// per SIMD instruction set this CPU has (each forced in turn through ops::force_isa), and the
// portable epilogue's arithmetic the convolution kernels are checked against.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "ops/isa.h"
#include "ops/nn/conv2d.h"

namespace cellar::ops {

// n floats uniform in [lo, hi), the same for the same seed.
inline std::vector<float> uniform(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// The SIMD instruction sets this CPU can run kernels of: the CPU's best one is what the executor
// picks, the others what another CPU picks.
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (cpu_has(isa)) out.push_back(isa);
  return out;
}

// Kernels chosen from `isa` while this lives (the previous choice restored after).
struct ForcedIsa {
  explicit ForcedIsa(Isa isa) : previous(force_isa(isa)) {}
  ~ForcedIsa() { force_isa(previous); }
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;
  Isa previous;
};

// The portable epilogue's arithmetic (conv2d.cpp's epilogue_row) on one sum.
inline float finish(float sum, const float* bias, int64_t r, ConvActivation act) {
  if (bias == nullptr && act == ConvActivation::kNone) return sum;
  const float v = sum + (bias ? bias[r] : 0.0f);
  auto max0 = [](float a) { return a > 0.0f ? a : 0.0f; };
  auto min6 = [](float a) { return a < 6.0f ? a : 6.0f; };
  switch (act) {
    case ConvActivation::kReLU:
      return max0(v);
    case ConvActivation::kReLU6:
      return min6(max0(v));
    case ConvActivation::kHSwish:
      return v * min6(max0(v + 3.0f)) / 6.0f;
    case ConvActivation::kHSigmoid:
      return min6(max0(v + 3.0f)) / 6.0f;
    default:
      return v;  // kNone; the e^x ones are applied to the whole row after
  }
}

}  // namespace cellar::ops
