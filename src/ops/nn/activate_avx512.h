// The fused activation of a convolution (ConvActivation) on sixteen float lanes: activate256's
// formulas (activate_avx2.h) lane for lane, so an AVX-512 kernel gives the AVX2 kernel's bits.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

__attribute__((target("avx512f"))) inline __m512 activate512(__m512 v, ConvActivation act) {
  const __m512 zero = _mm512_setzero_ps(), three = _mm512_set1_ps(3.0f), six = _mm512_set1_ps(6.0f);
  // max(v, 0) with v first: a NaN gives the second operand, 0, as _mm256_max_ps does.
  switch (act) {
    case ConvActivation::kNone:
      return v;
    case ConvActivation::kReLU:
      return _mm512_max_ps(v, zero);
    case ConvActivation::kReLU6:
      return _mm512_min_ps(_mm512_max_ps(v, zero), six);
    case ConvActivation::kHSwish:
      return _mm512_div_ps(
          _mm512_mul_ps(v, _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, three), zero), six)), six);
    case ConvActivation::kHSigmoid:
      return _mm512_div_ps(_mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, three), zero), six), six);
    case ConvActivation::kSiLU:
    case ConvActivation::kXSigmoid:
      return v;  // applied to the stored block (conv_activate_exp)
  }
  return v;
}

}  // namespace cellar::ops
#endif
