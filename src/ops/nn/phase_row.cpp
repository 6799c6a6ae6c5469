// The stride-2 phase split of phase_row.h in SIMD lanes. A stride-2 stem (MobileNet's 3 × 3/2 on
// 224 × 224, three channels) copies 12 input floats per output pixel into its phase planes, and
// element by element that copy took as long as the convolution's 864 multiply-adds per pixel in
// AVX-512 lanes (perf of gemm_bench's "MobileNet stem": the copy ~40% of the layer).
#include "ops/nn/phase_row.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/isa.h"

namespace cellar::ops {

namespace {

#if defined(__x86_64__)
// 16 outputs from 32 inputs: the even lanes of two vectors. The last (partial) step reads through
// masks, so nothing past src[2n − 2] is touched.
__attribute__((target("avx512f"))) void gather_stride2_avx512(float* dst, int64_t n,
                                                              const float* src) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    // Inputs 2c .. 2c + 30 are needed; 2c + 31 may lie past the row's end: its lane masked off.
    const __m512 a = _mm512_loadu_ps(src + 2 * c);
    const __m512 b = _mm512_maskz_loadu_ps(0x7fff, src + 2 * c + 16);
    _mm512_storeu_ps(dst + c, _mm512_permutex2var_ps(a, even, b));
  }
  if (c < n) {
    const int64_t need = 2 * (n - c) - 1;  // inputs 2c .. 2n − 2
    const __mmask16 ma = static_cast<__mmask16>(need >= 16 ? 0xffff : (1u << need) - 1);
    const __mmask16 mb = static_cast<__mmask16>(need > 16 ? (1u << (need - 16)) - 1 : 0);
    const __m512 a = _mm512_maskz_loadu_ps(ma, src + 2 * c);
    const __m512 b = _mm512_maskz_loadu_ps(mb, src + 2 * c + 16);
    _mm512_mask_storeu_ps(dst + c, static_cast<__mmask16>((1u << (n - c)) - 1),
                          _mm512_permutex2var_ps(a, even, b));
  }
}

// 8 outputs from 16 inputs; the step that would read past src[2n − 2] and the rest element by
// element.
__attribute__((target("avx2,fma"))) void gather_stride2_avx2(float* dst, int64_t n,
                                                             const float* src) {
  int64_t c = 0;
  for (; c + 9 <= n; c += 8) {  // reads 2c .. 2c + 15 ≤ 2n − 2
    const __m256 a = _mm256_loadu_ps(src + 2 * c), b = _mm256_loadu_ps(src + 2 * c + 8);
    // a0 a2 b0 b2 a4 a6 b4 b6, then the 64-bit pairs reordered: a0 a2 a4 a6 b0 b2 b4 b6.
    const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    _mm256_storeu_ps(dst + c, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xd8)));
  }
  for (; c < n; ++c) dst[c] = src[2 * c];
}
#endif

}  // namespace

void gather_stride2(float* dst, int64_t n, const float* src) {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return gather_stride2_avx512(dst, n, src);
    case Isa::kAvx2:
      return gather_stride2_avx2(dst, n, src);
    case Isa::kNone:
      break;
  }
#endif
  for (int64_t c = 0; c < n; ++c) dst[c] = src[2 * c];
}

}  // namespace cellar::ops
