#include "ops/vec_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/parallel.h"

namespace cellar::ops {

namespace {

// e^x in vector lanes, from x·log₂e = k + f: AVX-512 takes k to sixteenths (k = m + j/16,
// |r| ≤ ln 2 / 32 with r = x − k·ln 2), e^x = 2^m · 2^(j/16) · e^r, 2^(j/16) from a 16-entry
// table in one register (vpermps), e^r by a cubic, 2^m by vscalefps (which gives +∞, the
// denormals and 0 where the float result is one of them): within 1.007 ulp of e^x (every float
// of |x| ≤ 105 checked once). AVX2 takes k to
// integers (|r| ≤ ½ ln 2), e^r by a polynomial of degree 6 (exp: within 2 ulp) or 5 (the
// logistic functions: 2e-7 relative), 2^m through the exponent bits, so that its results stop at
// the normal floats: +∞ above 88.376, 0 below −87.68 (where e^x is a denormal); within 0.98 ulp
// in between. k comes from
// one multiply-add: adding 1.5·2^19 (2^23) rounds x·log₂e to sixteenths (integers) and leaves j
// (m + 127) in the sum's low bits. ln 2 is taken in two parts, so that r is exact to a few ulp.
// x is first clamped (NaN kept: max and min return their second operand when one is NaN), so that
// ±∞ and huge |x| give the float limits, not the NaN of ∞ − ∞: SiLU and Sigmoid then give
// std::exp's formulas' values at ±∞ (SiLU(−∞) = −∞/∞ = NaN, Sigmoid(−∞) = 0). The coefficients
// are near-minimax for the relative error of e^r with c₀ = c₁ = 1 (Chebyshev interpolation of
// (e^r − 1)/r; relative error 2.3e-9 for the cubic, 2.0e-7 for degree 5, 5e-9 for degree 6).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;

#if defined(__x86_64__)
// AVX-512: below −110 the result rounds to 0, above 100 it is +∞ (2^144 and more).
constexpr float kExp512Lo = -110.0f, kExp512Hi = 100.0f;
constexpr float kSixteenths = 0x1.8p19f;  // 1.5·2^19: its ulp is 1/16
constexpr float kT2 = 0x1.0001ecp-1f, kT3 = 0x1.5556dep-3f;

// e^x, or e^−x for kNeg (the logistic functions' e^−v without a negation).
template <bool kNeg>
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 x) {
  x = kNeg ? _mm512_min_ps(_mm512_set1_ps(-kExp512Lo), _mm512_max_ps(_mm512_set1_ps(-kExp512Hi), x))
           : _mm512_min_ps(_mm512_set1_ps(kExp512Hi), _mm512_max_ps(_mm512_set1_ps(kExp512Lo), x));
  const __m512 magic = _mm512_set1_ps(kSixteenths);
  const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(kNeg ? -kLog2e : kLog2e), magic);
  const __m512 k = _mm512_sub_ps(t, magic);
  // r = ±x − k·ln 2
  __m512 r = kNeg ? _mm512_fnmsub_ps(k, _mm512_set1_ps(kLn2Hi), x)
                  : _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Lo), r);
  // 2^(j/16), j = t's low 4 bits (vpermps reads only those), correctly rounded.
  const __m512 table = _mm512_setr_ps(
      0x1p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fe0p+0f, 0x1.3dea64p+0f,
      0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f,
      0x1.9c4918p+0f, 0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f);
  const __m512 s = _mm512_permutexvar_ps(_mm512_castps_si512(t), table);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kT3), r, _mm512_set1_ps(kT2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_mul_ps(p, r);                               // e^r − 1
  return _mm512_scalef_ps(_mm512_fmadd_ps(p, s, s), k);  // 2^⌊k⌋ · s · e^r
}

// y[0, n) = Op::f(x[0, n)), two vectors a step (independent chains: 1.25× one a step for the
// logistic functions on Zen 5), the last ≤ 16 lanes masked.
template <class Op>
__attribute__((target("avx512f"))) void map512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = Op::f(_mm512_loadu_ps(x + i)), b = Op::f(_mm512_loadu_ps(x + i + 16));
    _mm512_storeu_ps(y + i, a);
    _mm512_storeu_ps(y + i + 16, b);
  }
  for (; i < n; i += 16) {
    const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, mask, Op::f(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

// kKind: 0 Sigmoid 1 / (1 + e^−x), 1 SiLU x / (1 + e^−x), 2 x · Sigmoid(x) (Mul(x, Sigmoid(x)):
// the product of the two ops' values, bit for bit).
template <int kKind>
struct Logistic512 {
  __attribute__((target("avx512f"))) static __m512 f(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 q = _mm512_div_ps(kKind == 1 ? v : one, _mm512_add_ps(one, exp512<true>(v)));
    return kKind == 2 ? _mm512_mul_ps(v, q) : q;
  }
};

struct Exp512 {
  __attribute__((target("avx512f"))) static __m512 f(__m512 v) { return exp512<false>(v); }
};

template <int kKind>
__attribute__((target("avx512f"))) void logistic_avx512(const float* x, float* y, int64_t n) {
  map512<Logistic512<kKind>>(x, y, n);
}

__attribute__((target("avx512f"))) void exp_avx512(const float* x, float* y, int64_t n) {
  map512<Exp512>(x, y, n);
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
    const __m512 d = _mm512_add_ps(one, exp512<false>(_mm512_mul_ps(m2c, inner)));
    _mm512_mask_storeu_ps(y + i, mask, _mm512_div_ps(v, d));
  }
}

// AVX2: 2^m through the exponent bits, x clamped to ±88.376 (m from −127, which gives 0, to 127);
// +∞ above. kDegree 6 (exp) or 5 (the logistic functions).
constexpr float kExp256Hi = 88.3762626647949f;
constexpr float kUnits = 0x1.8p23f + 127.0f;  // rounds to integers, m + 127 in the low bits
constexpr float kE5[4] = {0x1.fffe5ap-2f, 0x1.5554dep-3f, 0x1.570b98p-5f, 0x1.120b62p-7f};
constexpr float kE6[5] = {0x1p-1f, 0x1.55547cp-3f, 0x1.5554eap-5f, 0x1.123d82p-7f, 0x1.6d4316p-10f};

template <bool kNeg, int kDegree>
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(kExp256Hi);
  const __m256 over = kNeg ? _mm256_cmp_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), hi), _CMP_LT_OQ)
                           : _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  x = _mm256_min_ps(hi, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), hi), x));
  const __m256 magic = _mm256_set1_ps(kUnits);
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(kNeg ? -kLog2e : kLog2e), magic);
  const __m256 k = _mm256_sub_ps(t, magic);
  __m256 r = kNeg ? _mm256_fnmsub_ps(k, _mm256_set1_ps(kLn2Hi), x)
                  : _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  const float* c = kDegree == 6 ? kE6 : kE5;
  __m256 p = _mm256_set1_ps(c[kDegree - 2]);
  for (int i = kDegree - 3; i >= 0; --i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c[i]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  return _mm256_blendv_ps(_mm256_mul_ps(p, scale), _mm256_set1_ps(__builtin_inff()), over);
}

// y[0, n) = Op::f(x[0, n)), two vectors a step, the last < 8 through a stack lane (AMD's masked
// stores are microcoded).
template <class Op>
__attribute__((target("avx2,fma"))) void map256(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = Op::f(_mm256_loadu_ps(x + i)), b = Op::f(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, a);
    _mm256_storeu_ps(y + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Op::f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float lane[8] = {};
    for (int64_t k = i; k < n; ++k) lane[k - i] = x[k];
    _mm256_store_ps(lane, Op::f(_mm256_load_ps(lane)));
    for (int64_t k = i; k < n; ++k) y[k] = lane[k - i];
  }
}

template <int kKind>
struct Logistic256 {
  __attribute__((target("avx2,fma"))) static __m256 f(__m256 v) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 q = _mm256_div_ps(kKind == 1 ? v : one, _mm256_add_ps(one, exp256<true, 5>(v)));
    return kKind == 2 ? _mm256_mul_ps(v, q) : q;
  }
};

struct Exp256 {
  __attribute__((target("avx2,fma"))) static __m256 f(__m256 v) { return exp256<false, 6>(v); }
};

template <int kKind>
__attribute__((target("avx2,fma"))) void logistic_avx2(const float* x, float* y, int64_t n) {
  map256<Logistic256<kKind>>(x, y, n);
}

__attribute__((target("avx2,fma"))) void exp_avx2(const float* x, float* y, int64_t n) {
  map256<Exp256>(x, y, n);
}

__attribute__((target("avx2,fma"))) inline __m256 gelu256(__m256 v) {
  const __m256 inner =
      _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(kGeluA), v), _mm256_mul_ps(v, v), v);
  const __m256 d = _mm256_add_ps(
      _mm256_set1_ps(1.0f), exp256<false, 5>(_mm256_mul_ps(_mm256_set1_ps(-2.0f * kGeluC), inner)));
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

// float_sum_simd's sums: s[0, 32) added pairwise into s[0].
double tree32(double* s) {
  for (int w = 16; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) s[i] += s[i + w];
  return s[0];
}

double sum_portable(const float* x, int64_t n) {
  double s[32] = {};
  int64_t k = 0;
  for (; k + 32 <= n; k += 32)
    for (int l = 0; l < 32; ++l) s[l] += x[k + l];
  for (int l = 0; k + l < n; ++l) s[l] += x[k + l];
  return tree32(s);
}

#if defined(__x86_64__)
// The last block's missing elements read as +0.0, which leaves a sum as it is (a running sum
// that starts at +0 is never −0 in round-to-nearest): the portable loop's values.
__attribute__((target("avx512f"))) inline void add32_avx512(__m512d* acc, __m512 lo, __m512 hi) {
  const __m512 halves[2] = {lo, hi};
  for (int h = 0; h < 2; ++h) {
    const __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(halves[h]), 1));
    acc[2 * h] = _mm512_add_pd(acc[2 * h], _mm512_cvtps_pd(_mm512_castps512_ps256(halves[h])));
    acc[2 * h + 1] = _mm512_add_pd(acc[2 * h + 1], _mm512_cvtps_pd(upper));
  }
}

__attribute__((target("avx512f"))) double sum_avx512(const float* x, int64_t n) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd()};
  int64_t k = 0;
  for (; k + 32 <= n; k += 32)
    add32_avx512(acc, _mm512_loadu_ps(x + k), _mm512_loadu_ps(x + k + 16));
  if (k < n) {
    const int64_t rest = n - k;
    const auto lo = static_cast<__mmask16>(rest >= 16 ? 0xFFFF : (1u << rest) - 1);
    const auto hi = static_cast<__mmask16>(rest <= 16 ? 0 : (1u << (rest - 16)) - 1);
    add32_avx512(acc, _mm512_maskz_loadu_ps(lo, x + k), _mm512_maskz_loadu_ps(hi, x + k + 16));
  }
  // tree32's additions in registers, pair for pair (acc[v] holds s[8v, 8v + 8)): with short
  // runs (a squeeze-excitation's 4 × 4 mean) the stores and 31 scalar additions were most of it
  const __m512d s8 = _mm512_add_pd(_mm512_add_pd(acc[0], acc[2]), _mm512_add_pd(acc[1], acc[3]));
  // lane i of s4, s2, s1 (i below 4, 2, 1): s[i] + s[i + 4], then + 2, then + 1 (the maskz forms:
  // GCC 12 warns of the plain ones' undefined pass-through)
  const __m512d s4 =
      _mm512_add_pd(s8, _mm512_maskz_shuffle_f64x2(0xFF, s8, s8, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512d s2 = _mm512_add_pd(s4, _mm512_maskz_permutex_pd(0xFF, s4, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512d s1 = _mm512_add_pd(s2, _mm512_maskz_permute_pd(0xFF, s2, 0x55));
  return _mm512_cvtsd_f64(s1);
}

__attribute__((target("avx2,fma"))) inline void add32_avx2(__m256d* acc, const float* p) {
  for (int v = 0; v < 8; ++v)
    acc[v] = _mm256_add_pd(acc[v], _mm256_cvtps_pd(_mm_loadu_ps(p + 4 * v)));
}

__attribute__((target("avx2,fma"))) double sum_avx2(const float* x, int64_t n) {
  __m256d acc[8];
  for (auto& a : acc) a = _mm256_setzero_pd();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) add32_avx2(acc, x + k);
  if (k < n) {
    alignas(32) float lane[32] = {};
    for (int64_t i = k; i < n; ++i) lane[i - k] = x[i];
    add32_avx2(acc, lane);
  }
  // tree32's additions in registers, pair for pair (acc[v] holds s[4v, 4v + 4))
  for (int v = 0; v < 4; ++v) acc[v] = _mm256_add_pd(acc[v], acc[v + 4]);
  for (int v = 0; v < 2; ++v) acc[v] = _mm256_add_pd(acc[v], acc[v + 2]);
  const __m256d s4 = _mm256_add_pd(acc[0], acc[1]);
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
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

SumFn float_sum_simd() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &sum_avx512;
    case Isa::kAvx2:
      return &sum_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return &sum_portable;
}

VecFn silu_simd() { return logistic<1>(); }
VecFn sigmoid_simd() { return logistic<0>(); }
VecFn x_sigmoid_simd() { return logistic<2>(); }

}  // namespace cellar::ops
