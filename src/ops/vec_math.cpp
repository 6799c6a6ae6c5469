#include "ops/vec_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/isa.h"
#include "ops/parallel.h"

// gcc 12 warns (-Wmaybe-uninitialized) inside its own AVX-512 intrinsics (_mm512_max_ps and
// others pass an `__Y = __Y` undefined vector as the unused masked-off operand) once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cellar::ops {

namespace {

// e^x = 2^n · e^r, n = ⌊x·log₂e + ½⌋, r = x − n·ln 2 (ln 2 in two parts, so that r is exact to
// a few ulp), e^r ≈ 1 + r + r²·P(r) on |r| ≤ ½ ln 2 (Cephes's expf coefficients). x is first
// clamped to ±88.376 (2^n then a normal float) with NaN kept (max and min return their second
// operand when one is NaN); below, e^x comes out 0 (as libm's, but for denormals), above +∞ (libm's
// is finite up to 88.72: the logistic functions here do not tell the difference), so that SiLU
// and Sigmoid give std::exp's formulas' values at ±∞ (SiLU(−∞) = −∞/∞ = NaN, Sigmoid(−∞) = 0).
constexpr float kExpHi = 88.3762626647949f, kExpLo = -88.3762626647949f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 x) {
  const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpHi), _CMP_GT_OQ);
  x = _mm512_min_ps(_mm512_set1_ps(kExpHi), _mm512_max_ps(_mm512_set1_ps(kExpLo), x));
  const __m512 n =
      _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), _mm512_set1_ps(0.5f)),
                           _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mask_blend_ps(over, _mm512_mul_ps(y, _mm512_castsi512_ps(e)),
                              _mm512_set1_ps(__builtin_inff()));
}

// kKind: 0 Sigmoid 1 / (1 + e^−x), 1 SiLU x / (1 + e^−x), 2 x · Sigmoid(x) (Mul(x, Sigmoid(x)):
// the product of the two ops' values, bit for bit).
template <int kKind>
__attribute__((target("avx512f"))) void logistic_avx512(const float* x, float* y, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    const __m512 d = _mm512_add_ps(one, exp512(_mm512_sub_ps(zero, v)));
    const __m512 q = _mm512_div_ps(kKind == 1 ? v : one, d);
    _mm512_mask_storeu_ps(y + i, mask, kKind == 2 ? _mm512_mul_ps(v, q) : q);
  }
}

__attribute__((target("avx512f"))) void exp_avx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, mask, exp512(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

// GeLU's tanh form, 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as
// x / (1 + e^(−2u)) (the same function: 1 + tanh(u) = 2 / (1 + e^(−2u))), which needs one e^x and
// no cancellation where tanh(u) is near −1. Its values at ±∞ and NaN are the formula's: +∞, NaN
// (−∞/∞), NaN.
constexpr float kGeluC = 0.7978845608028654f, kGeluA = 0.044715f;

__attribute__((target("avx512f"))) void gelu_avx512(const float* x, float* y, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), m2c = _mm512_set1_ps(-2.0f * kGeluC),
               a = _mm512_set1_ps(kGeluA);
  for (int64_t i = 0; i < n; i += 16) {
    const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(a, v), _mm512_mul_ps(v, v), v);
    const __m512 d = _mm512_add_ps(one, exp512(_mm512_mul_ps(m2c, inner)));
    _mm512_mask_storeu_ps(y + i, mask, _mm512_div_ps(v, d));
  }
}

__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(kExpHi), _CMP_GT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(kExpHi), _mm256_max_ps(_mm256_set1_ps(kExpLo), x));
  const __m256 n =
      _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_blendv_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(e)),
                          _mm256_set1_ps(__builtin_inff()), over);
}

template <int kKind>
__attribute__((target("avx2,fma"))) inline __m256 logistic256(__m256 v) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 d = _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), v)));
  const __m256 q = _mm256_div_ps(kKind == 1 ? v : one, d);
  return kKind == 2 ? _mm256_mul_ps(v, q) : q;
}

template <int kKind>
__attribute__((target("avx2,fma"))) void logistic_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, logistic256<kKind>(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float lane[8] = {};
    for (int64_t k = i; k < n; ++k) lane[k - i] = x[k];
    _mm256_store_ps(lane, logistic256<kKind>(_mm256_load_ps(lane)));
    for (int64_t k = i; k < n; ++k) y[k] = lane[k - i];
  }
}

__attribute__((target("avx2,fma"))) void exp_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float lane[8] = {};
    for (int64_t k = i; k < n; ++k) lane[k - i] = x[k];
    _mm256_store_ps(lane, exp256(_mm256_load_ps(lane)));
    for (int64_t k = i; k < n; ++k) y[k] = lane[k - i];
  }
}

__attribute__((target("avx2,fma"))) inline __m256 gelu256(__m256 v) {
  const __m256 inner =
      _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(kGeluA), v), _mm256_mul_ps(v, v), v);
  const __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f),
                                 exp256(_mm256_mul_ps(_mm256_set1_ps(-2.0f * kGeluC), inner)));
  return _mm256_div_ps(v, d);
}

__attribute__((target("avx2,fma"))) void gelu_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float lane[8] = {};
    for (int64_t k = i; k < n; ++k) lane[k - i] = x[k];
    _mm256_store_ps(lane, gelu256(_mm256_load_ps(lane)));
    for (int64_t k = i; k < n; ++k) y[k] = lane[k - i];
  }
}
#endif

template <int kKind>
VecFn logistic() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &logistic_avx512<kKind>;
    case Isa::kAvx2:
      return &logistic_avx2<kKind>;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

}  // namespace

MakeKernel vec_make_kernel(VecFn (*choose)(), MakeKernel generic) {
  return [choose, generic](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    if (in[0].dtype != DType::Float32) return generic(in, attrs);
    const Kernel portable = generic(in, attrs);
    const int64_t n = in[0].shape.numel();
    return [n, choose, portable](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      const VecFn f = choose();
      if (f == nullptr) {
        portable(x, y, par);
        return;
      }
      const float* p = x[0].data<float>();
      float* q = y[0].data<float>();
      par.for_range(n, kElementGrain,
                    [&](int64_t i0, int64_t i1, int) { f(p + i0, q + i0, i1 - i0); });
    };
  };
}

VecFn exp_simd() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &exp_avx512;
    case Isa::kAvx2:
      return &exp_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

VecFn gelu_simd() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &gelu_avx512;
    case Isa::kAvx2:
      return &gelu_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

VecFn silu_simd() { return logistic<1>(); }
VecFn sigmoid_simd() { return logistic<0>(); }
VecFn x_sigmoid_simd() { return logistic<2>(); }

}  // namespace cellar::ops
