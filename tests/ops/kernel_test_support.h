// What the kernel tests under tests/ops/ share: reproducible random inputs and running a block
// once per SIMD instruction set this CPU has (each forced in turn through ops::force_isa).
#pragma once

#include <random>
#include <vector>

#include "ops/isa.h"

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

}  // namespace cellar::ops
