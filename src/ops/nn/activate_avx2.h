// The fused activation of a convolution (ConvActivation) on eight float lanes, for the AVX2
// kernels that apply it in registers before the store: depthwise.cpp and conv_direct.cpp.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

__attribute__((target("avx2,fma"))) inline __m256 activate256(__m256 v, ConvActivation act) {
  const __m256 zero = _mm256_setzero_ps(), three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
  switch (act) {
    case ConvActivation::kNone:
      return v;
    case ConvActivation::kReLU:
      return _mm256_max_ps(v, zero);
    case ConvActivation::kReLU6:
      return _mm256_min_ps(_mm256_max_ps(v, zero), six);
    case ConvActivation::kHSwish:
      return _mm256_div_ps(
          _mm256_mul_ps(v, _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, three), zero), six)), six);
    case ConvActivation::kHSigmoid:
      return _mm256_div_ps(_mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, three), zero), six), six);
    case ConvActivation::kSiLU:
    case ConvActivation::kXSigmoid:
      return v;  // applied to the stored block (conv_activate_exp)
  }
  return v;
}

}  // namespace cellar::ops
#endif
