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

// The portable epilogue's activations (conv2d.cpp's epilogue_row) on one value; the e^x ones are
// applied to the whole row afterwards, so they leave v as it is here.
template <class T>
T activate_as_epilogue(T v, ConvActivation act) {
  auto max0 = [](T a) { return a > T(0) ? a : T(0); };
  auto min6 = [](T a) { return a < T(6) ? a : T(6); };
  switch (act) {
    case ConvActivation::kReLU:
      return max0(v);
    case ConvActivation::kReLU6:
      return min6(max0(v));
    case ConvActivation::kHSwish:
      return v * min6(max0(v + T(3))) / T(6);
    case ConvActivation::kHSigmoid:
      return min6(max0(v + T(3))) / T(6);
    default:
      return v;  // kNone; the e^x ones
  }
}

// The portable epilogue's arithmetic on one sum: + bias, then the activation.
inline float finish(float sum, const float* bias, int64_t r, ConvActivation act) {
  if (bias == nullptr && act == ConvActivation::kNone) return sum;
  return activate_as_epilogue(sum + (bias ? bias[r] : 0.0f), act);
}

}  // namespace cellar::ops
