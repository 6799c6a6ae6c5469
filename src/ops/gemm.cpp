#include "ops/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "ops/blas.h"
#include "ops/transpose_plane.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/vec_math.h"

namespace cellar::ops {

namespace {
CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }
int i32(int64_t v) { return static_cast<int>(v); }

// Narrow products (n ≤ kNarrowColumns, A not transposed): the late layers of a convolutional
// network at batch 1 (a 4×4 or 1×1 output: n = 16 or 1, A = the weights, m × k large). BLAS
// packs all of A on every call, which then costs more than the arithmetic: the weights stream
// from cache twice and through memory once. These kernels read each row of A once, straight
// from where it is, broadcast each element against a row of B (k × n, small enough to stay in
// L1/L2) and accumulate 8 (AVX-512: 16 columns) or 4 (AVX2: 8 columns) rows of C in registers.
// Each element of C is the sum over k in order. Chosen at run time from the CPU's features;
// compiled for them with target attributes (the build targets baseline x86-64).
constexpr int64_t kNarrowColumns = 32;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void narrow_avx512(int64_t m, int64_t n, int64_t k,
                                                      const float* a, int64_t lda, const float* b,
                                                      int64_t ldb, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t w = std::min<int64_t>(16, n - j0);
    const auto mask = static_cast<__mmask16>((1u << w) - 1);
    const float* bj = b + j0;
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
      __m512 acc[8];
      for (auto& r : acc) r = _mm512_setzero_ps();
      const float* ai = a + i * lda;
      for (int64_t p = 0; p < k; ++p) {
        const __m512 bv = _mm512_maskz_loadu_ps(mask, bj + p * ldb);
        for (int r = 0; r < 8; ++r)
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ai[r * lda + p]), bv, acc[r]);
      }
      for (int r = 0; r < 8; ++r) _mm512_mask_storeu_ps(c + (i + r) * ldc + j0, mask, acc[r]);
    }
    for (; i < m; ++i) {
      __m512 acc = _mm512_setzero_ps();
      const float* ai = a + i * lda;
      for (int64_t p = 0; p < k; ++p)
        acc =
            _mm512_fmadd_ps(_mm512_set1_ps(ai[p]), _mm512_maskz_loadu_ps(mask, bj + p * ldb), acc);
      _mm512_mask_storeu_ps(c + i * ldc + j0, mask, acc);
    }
  }
}

__attribute__((target("avx2,fma"))) void narrow_avx2(int64_t m, int64_t n, int64_t k,
                                                     const float* a, int64_t lda, const float* b,
                                                     int64_t ldb, float* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += 8) {
    const int64_t w = std::min<int64_t>(8, n - j0);
    alignas(32) int lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = l < w ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    const float* bj = b + j0;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      __m256 acc[4];
      for (auto& r : acc) r = _mm256_setzero_ps();
      const float* ai = a + i * lda;
      for (int64_t p = 0; p < k; ++p) {
        const __m256 bv = _mm256_maskload_ps(bj + p * ldb, mask);
        for (int r = 0; r < 4; ++r)
          acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + r * lda + p), bv, acc[r]);
      }
      for (int r = 0; r < 4; ++r) _mm256_maskstore_ps(c + (i + r) * ldc + j0, mask, acc[r]);
    }
    for (; i < m; ++i) {
      __m256 acc = _mm256_setzero_ps();
      const float* ai = a + i * lda;
      for (int64_t p = 0; p < k; ++p)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + p), _mm256_maskload_ps(bj + p * ldb, mask),
                              acc);
      _mm256_maskstore_ps(c + i * ldc + j0, mask, acc);
    }
  }
}

// One row of A (m == 1, a vector x of k): y = x · op(B). BLAS's sgemm packs all of B for it on
// every call, and what it computes for a column depends on n (OpenBLAS takes another kernel below
// a size), so that a product split over threads gave one value in the first column block and
// another in the second (the ONNX backend's light/resnet50, all of whose 1000 classes tie, came
// out of a 2-thread run with 488 of them different). Here every output element is computed the
// same way wherever it lies and however n is split:
// - B as stored (k × n): 64 columns at a time, y[j] = Σ_p x[p]·B[p, j] in order of p;
// - B transposed (n × k, a Dense/Gemm weight as ONNX stores it): 4 rows at a time, each a dot
//   product in 16 (AVX2: 8) lanes over p, the lanes then summed in a fixed order.
// The sum of a vector's 16 lanes, in a fixed order (a pairwise tree). Through memory: gcc 12
// warns (-Wmaybe-uninitialized) inside its own lane-extracting intrinsics.
__attribute__((target("avx512f"))) float sum16(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

// The sums of four vectors' lanes (a, b, c, d → y[0..3]), each in sum16's order, the four trees
// walked together in shuffled vectors (14 instructions; sum16's store and 15 scalar additions
// per row were a tenth of the batch-1 MLP's run).
__attribute__((target("avx512f"))) void sum16x4(__m512 a, __m512 b, __m512 c, __m512 d, float* y) {
  // t[i] += t[i + 8]: quarters 0, 1 of a row plus its quarters 2, 3.
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2)));
  // t[i] += t[i + 4]: one quarter a row (a, b, c, d).
  __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
  // t[i] += t[i + 2], then t[0] += t[1], within each quarter.
  s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm512_add_ps(s, _mm512_permute_ps(s, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512 first =
      _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s);
  _mm_storeu_ps(y, _mm512_castps512_ps128(first));
}

// R rows of a transposed B (each row one output: y[r] = row r · x), interleaved (independent
// chains, R streams; 8 rows measured no faster than 4 on Zen 5); each row's sum in 16 lanes over p,
// the lanes summed in sum16's order, so that a row's value depends neither on R nor on its
// neighbours.
template <int R>
__attribute__((target("avx512f"))) void dot_rows_avx512(int64_t k, const float* x, const float* b,
                                                        int64_t ldb, float* y) {
  const auto tail = static_cast<__mmask16>((1u << (k % 16)) - 1);
  const int64_t full = k - k % 16;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < full; p += 16) {
    const __m512 xv = _mm512_loadu_ps(x + p);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(b + r * ldb + p), xv, acc[r]);
  }
  if (tail) {
    const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, b + r * ldb + full), xv, acc[r]);
  }
  if constexpr (R % 4 == 0) {
    for (int r = 0; r < R; r += 4) sum16x4(acc[r], acc[r + 1], acc[r + 2], acc[r + 3], y + r);
  } else {
    for (int r = 0; r < R; ++r) y[r] = sum16(acc[r]);
  }
}

__attribute__((target("avx512f"))) void row_avx512(bool trans_b, int64_t n, int64_t k,
                                                   const float* x, const float* b, int64_t ldb,
                                                   float* y) {
  if (!trans_b) {
    for (int64_t j0 = 0; j0 < n; j0 += 64) {
      __mmask16 mask[4];
      for (int t = 0; t < 4; ++t) {
        const int64_t w = std::clamp<int64_t>(n - j0 - 16 * t, 0, 16);
        mask[t] = static_cast<__mmask16>((1u << w) - 1);
      }
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      const float* bp = b + j0;
      for (int64_t p = 0; p < k; ++p, bp += ldb) {
        const __m512 xv = _mm512_set1_ps(x[p]);
        for (int t = 0; t < 4; ++t)
          acc[t] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mask[t], bp + 16 * t), acc[t]);
      }
      for (int t = 0; t < 4; ++t) _mm512_mask_storeu_ps(y + j0 + 16 * t, mask[t], acc[t]);
    }
    return;
  }
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) dot_rows_avx512<4>(k, x, b + j * ldb, ldb, y + j);
  for (; j < n; ++j) dot_rows_avx512<1>(k, x, b + j * ldb, ldb, y + j);
}

// A group of R rows stored interleaved (gemm.h interleave_rows: per 16 columns p, the rows' 16
// floats one after another; the last chunk t = k mod 16 wide, row r's t floats at r·t): each row's
// arithmetic that of dot_rows_avx512 (16 lanes over p, the tail masked, sum16's order), its
// weights read from one stream. kPrefetch: each line also prefetched kPrefetchFloats ahead, for a
// product on one core (the hardware's prefetch alone kept the MLP's read ~10% under a plain read
// loop's speed; 1 to 8 KiB ahead measured alike); not where two cores read at once (the two
// halves' streams then share L3's bandwidth, and the prefetches made the MLP 4-6% slower).
constexpr int64_t kPrefetchFloats = 512;
template <int R, bool kPrefetch>
__attribute__((target("avx512f"))) void dot_group_avx512(int64_t k, const float* x, const float* g,
                                                         float* y) {
  static_assert(R % 4 == 0);
  const int64_t t = k % 16, full = k - t;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < full; p += 16, g += R * 16) {
    if (kPrefetch)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchFloats + r * 16), _MM_HINT_T0);
    const __m512 xv = _mm512_loadu_ps(x + p);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(g + r * 16), xv, acc[r]);
  }
  if (t) {
    const auto tail = static_cast<__mmask16>((1u << t) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, g + r * t), xv, acc[r]);
  }
  for (int r = 0; r < R; r += 4) sum16x4(acc[r], acc[r + 1], acc[r + 2], acc[r + 3], y + r);
}

// Rows [j0, j1) of an interleaved Bᵀ (n × k) times x into y[j0, j1); j0 and j1 are multiples of
// kInterleaveRows or n (whole groups). `prefetch`: the product runs on this core alone.
__attribute__((target("avx512f"))) void rows_interleaved_avx512(int64_t j0, int64_t j1, int64_t n,
                                                                int64_t k, const float* x,
                                                                const float* w, float* y,
                                                                bool prefetch) {
  const int64_t grouped = std::min(j1, n - n % kInterleaveRows);
  int64_t j = j0;
  for (; j < grouped; j += kInterleaveRows)
    if (prefetch)
      dot_group_avx512<kInterleaveRows, true>(k, x, w + j * k, y + j);
    else
      dot_group_avx512<kInterleaveRows, false>(k, x, w + j * k, y + j);
  for (; j + 4 <= j1; j += 4) dot_rows_avx512<4>(k, x, w + j * k, k, y + j);
  for (; j < j1; ++j) dot_rows_avx512<1>(k, x, w + j * k, k, y + j);
}

// The sum of a vector's 8 lanes, in a fixed order.
__attribute__((target("avx2,fma"))) float sum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

__attribute__((target("avx2,fma"))) __m256i lanes_below(int64_t w) {
  alignas(32) int lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = l < w ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// R rows of a transposed B (each row one output: y[r] = row r · x), each row's sum in two chains
// of 8 lanes (p mod 16 below 8 and from 8), the chains added and the lanes summed in a fixed order.
// Two multiply-adds in flight per row and four rows' streams at once: a one-row Dense layer (batch
// 1) reads its weight as it is stored, [out, in], at 1.5-2x the speed of the 32-column walk down
// B's rows above, whose every row is a cache line 2 KiB from the last (docs/benchmarks.md, Session
// 8). A row's arithmetic does not depend on R or on its neighbours, so neither does its value.
template <int R>
__attribute__((target("avx2,fma"))) void dot_rows_avx2(int64_t k, const float* x, const float* b,
                                                       int64_t ldb, float* y) {
  __m256 lo[R], hi[R];
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
    for (int r = 0; r < R; ++r) {
      lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(b + r * ldb + p), x0, lo[r]);
      hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(b + r * ldb + p + 8), x1, hi[r]);
    }
  }
  if (p + 8 <= k) {
    const __m256 x0 = _mm256_loadu_ps(x + p);
    for (int r = 0; r < R; ++r)
      lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(b + r * ldb + p), x0, lo[r]);
    p += 8;
  }
  if (p < k) {
    const __m256i tail = lanes_below(k - p);
    const __m256 x1 = _mm256_maskload_ps(x + p, tail);
    for (int r = 0; r < R; ++r)
      hi[r] = _mm256_fmadd_ps(_mm256_maskload_ps(b + r * ldb + p, tail), x1, hi[r]);
  }
  for (int r = 0; r < R; ++r) y[r] = sum8(_mm256_add_ps(lo[r], hi[r]));
}

__attribute__((target("avx2,fma"))) void row_avx2(bool trans_b, int64_t n, int64_t k,
                                                  const float* x, const float* b, int64_t ldb,
                                                  float* y) {
  if (!trans_b) {
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
      __m256i mask[4];
      for (int t = 0; t < 4; ++t) mask[t] = lanes_below(std::clamp<int64_t>(n - j0 - 8 * t, 0, 8));
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
      const float* bp = b + j0;
      for (int64_t p = 0; p < k; ++p, bp += ldb) {
        const __m256 xv = _mm256_broadcast_ss(x + p);
        for (int t = 0; t < 4; ++t)
          acc[t] = _mm256_fmadd_ps(xv, _mm256_maskload_ps(bp + 8 * t, mask[t]), acc[t]);
      }
      for (int t = 0; t < 4; ++t) _mm256_maskstore_ps(y + j0 + 8 * t, mask[t], acc[t]);
    }
    return;
  }
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) dot_rows_avx2<4>(k, x, b + j * ldb, ldb, y + j);
  for (; j < n; ++j) dot_rows_avx2<1>(k, x, b + j * ldb, ldb, y + j);
}

// dot_rows_avx2's arithmetic on a group of R interleaved rows (as dot_group_avx512 reads them,
// prefetched alike): per chunk of 16 columns, its first 8 into a row's `lo` sums, the rest into
// `hi`; a last chunk of t < 16 columns as dot_rows_avx2 takes its last t columns (8 into lo when
// t ≥ 8, the rest masked into hi).
template <int R, bool kPrefetch>
__attribute__((target("avx2,fma"))) void dot_group_avx2(int64_t k, const float* x, const float* g,
                                                        float* y) {
  __m256 lo[R], hi[R];
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16, g += R * 16) {
    if (kPrefetch)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchFloats + r * 16), _MM_HINT_T0);
    const __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
    for (int r = 0; r < R; ++r) {
      lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(g + r * 16), x0, lo[r]);
      hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(g + r * 16 + 8), x1, hi[r]);
    }
  }
  const int64_t t = k - p;
  int64_t at = 0;  // where the rest of a row's last chunk starts in it
  if (t >= 8) {
    const __m256 x0 = _mm256_loadu_ps(x + p);
    for (int r = 0; r < R; ++r) lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(g + r * t), x0, lo[r]);
    at = 8;
  }
  if (t > at) {
    const __m256i tail = lanes_below(t - at);
    const __m256 x1 = _mm256_maskload_ps(x + p + at, tail);
    for (int r = 0; r < R; ++r)
      hi[r] = _mm256_fmadd_ps(_mm256_maskload_ps(g + r * t + at, tail), x1, hi[r]);
  }
  for (int r = 0; r < R; ++r) y[r] = sum8(_mm256_add_ps(lo[r], hi[r]));
}

__attribute__((target("avx2,fma"))) void rows_interleaved_avx2(int64_t j0, int64_t j1, int64_t n,
                                                               int64_t k, const float* x,
                                                               const float* w, float* y,
                                                               bool prefetch) {
  const int64_t grouped = std::min(j1, n - n % kInterleaveRows);
  int64_t j = j0;
  for (; j < grouped; j += kInterleaveRows)
    if (prefetch)
      dot_group_avx2<kInterleaveRows, true>(k, x, w + j * k, y + j);
    else
      dot_group_avx2<kInterleaveRows, false>(k, x, w + j * k, y + j);
  for (; j + 4 <= j1; j += 4) dot_rows_avx2<4>(k, x, w + j * k, k, y + j);
  for (; j < j1; ++j) dot_rows_avx2<1>(k, x, w + j * k, k, y + j);
}

// The epilogue (gemm.h) on one vector of C whose first column is `j`: bias, then activation, in
// registers, before the store. max(v, 0) gives 0 for NaN (the second operand), as ReLU does.
__attribute__((target("avx512f"))) inline __m512 finish512(__m512 v, const Epilogue& ep,
                                                           int64_t j) {
  if (ep.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(ep.bias + j));
  if (ep.act == GemmActivation::kReLU) v = _mm512_max_ps(v, _mm512_setzero_ps());
  return v;
}
__attribute__((target("avx512f"))) inline __m512 finish512(__m512 v, const Epilogue& ep, int64_t j,
                                                           __mmask16 mask) {
  if (ep.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, ep.bias + j));
  if (ep.act == GemmActivation::kReLU) v = _mm512_max_ps(v, _mm512_setzero_ps());
  return v;
}
__attribute__((target("avx2,fma"))) inline __m256 finish256(__m256 v, const Epilogue& ep,
                                                            int64_t j) {
  if (ep.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(ep.bias + j));
  if (ep.act == GemmActivation::kReLU) v = _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}
__attribute__((target("avx2,fma"))) inline __m256 finish256(__m256 v, const Epilogue& ep, int64_t j,
                                                            __m256i mask) {
  if (ep.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(ep.bias + j, mask));
  if (ep.act == GemmActivation::kReLU) v = _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}

// The packed kernels: MR rows of one panel (its row stride MR) × n columns of B, in tiles of 32
// columns (AVX2: 16), the last tile masked.
template <int MR, bool kPacked>
__attribute__((target("avx512f"))) void panel_avx512(int64_t n, const KRange* ranges,
                                                     int64_t nranges, const float* a, int64_t lda,
                                                     const float* b, int64_t ldb, float* c,
                                                     int64_t ldc, Epilogue ep, bool accumulate) {
  // A's element (row r, column p): a packed panel's a[p·MR + r], or a[r·lda + p] as stored.
  constexpr int64_t kStep = kPacked ? MR : 1;
  const int64_t rs = kPacked ? 1 : lda;
  int64_t j = 0;
  // 48 columns (24 accumulators for 8 rows: 3 loads of B and 8 broadcasts per 24 FMAs), then 32,
  // then 16 at a time, masked; every element the same sum in the same order.
  for (; j + 48 <= n; j += 48) {
    __m512 v0[MR], v1[MR], v2[MR];
    for (int r = 0; r < MR; ++r) {
      v0[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + j) : _mm512_setzero_ps();
      v1[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + j + 16) : _mm512_setzero_ps();
      v2[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + j + 32) : _mm512_setzero_ps();
    }
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16),
                     b2 = _mm512_loadu_ps(bp + 32);
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(ap[r * rs]);
          v0[r] = _mm512_fmadd_ps(av, b0, v0[r]);
          v1[r] = _mm512_fmadd_ps(av, b1, v1[r]);
          v2[r] = _mm512_fmadd_ps(av, b2, v2[r]);
        }
      }
    }
    for (int r = 0; r < MR; ++r) {
      _mm512_storeu_ps(c + r * ldc + j, finish512(v0[r], ep, j));
      _mm512_storeu_ps(c + r * ldc + j + 16, finish512(v1[r], ep, j + 16));
      _mm512_storeu_ps(c + r * ldc + j + 32, finish512(v2[r], ep, j + 32));
    }
  }
  for (; j + 32 <= n; j += 32) {
    __m512 lo[MR], hi[MR];
    for (int r = 0; r < MR; ++r) {
      lo[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + j) : _mm512_setzero_ps();
      hi[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + j + 16) : _mm512_setzero_ps();
    }
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(ap[r * rs]);
          lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
          hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
        }
      }
    }
    for (int r = 0; r < MR; ++r) {
      _mm512_storeu_ps(c + r * ldc + j, finish512(lo[r], ep, j));
      _mm512_storeu_ps(c + r * ldc + j + 16, finish512(hi[r], ep, j + 16));
    }
  }
  for (; j < n; j += 16) {
    const auto mask = static_cast<__mmask16>((1u << std::min<int64_t>(16, n - j)) - 1);
    __m512 acc[MR];
    for (int r = 0; r < MR; ++r)
      acc[r] = accumulate ? _mm512_maskz_loadu_ps(mask, c + r * ldc + j) : _mm512_setzero_ps();
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m512 b0 = _mm512_maskz_loadu_ps(mask, bp);
        for (int r = 0; r < MR; ++r)
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r * rs]), b0, acc[r]);
      }
    }
    for (int r = 0; r < MR; ++r)
      _mm512_mask_storeu_ps(c + r * ldc + j, mask, finish512(acc[r], ep, j, mask));
  }
}

// AVX2 has 16 registers: rows [R0, R1) of the panel (at most 4) at a time.
template <int MR, bool kPacked, int R0, int R1>
__attribute__((target("avx2,fma"))) void panel_rows_avx2(int64_t n, const KRange* ranges,
                                                         int64_t nranges, const float* a,
                                                         int64_t lda, const float* b, int64_t ldb,
                                                         float* c, int64_t ldc, Epilogue ep,
                                                         bool accumulate) {
  constexpr int kR = R1 - R0;
  constexpr int64_t kStep = kPacked ? MR : 1;
  const int64_t rs = kPacked ? 1 : lda;
  int64_t j = 0;
  // 24 columns (12 accumulators for 4 rows, 3 loads of B and 4 broadcasts per 12 FMAs: all 16
  // registers), then 16, then 8 at a time, masked; every element the same sum in the same order.
  for (; j + 24 <= n; j += 24) {
    __m256 v0[kR], v1[kR], v2[kR];
    for (int r = 0; r < kR; ++r) {
      const float* cr = c + (R0 + r) * ldc + j;
      v0[r] = accumulate ? _mm256_loadu_ps(cr) : _mm256_setzero_ps();
      v1[r] = accumulate ? _mm256_loadu_ps(cr + 8) : _mm256_setzero_ps();
      v2[r] = accumulate ? _mm256_loadu_ps(cr + 16) : _mm256_setzero_ps();
    }
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep + R0 * rs;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8),
                     b2 = _mm256_loadu_ps(bp + 16);
        for (int r = 0; r < kR; ++r) {
          const __m256 av = _mm256_broadcast_ss(ap + r * rs);
          v0[r] = _mm256_fmadd_ps(av, b0, v0[r]);
          v1[r] = _mm256_fmadd_ps(av, b1, v1[r]);
          v2[r] = _mm256_fmadd_ps(av, b2, v2[r]);
        }
      }
    }
    for (int r = 0; r < kR; ++r) {
      _mm256_storeu_ps(c + (R0 + r) * ldc + j, finish256(v0[r], ep, j));
      _mm256_storeu_ps(c + (R0 + r) * ldc + j + 8, finish256(v1[r], ep, j + 8));
      _mm256_storeu_ps(c + (R0 + r) * ldc + j + 16, finish256(v2[r], ep, j + 16));
    }
  }
  for (; j + 16 <= n; j += 16) {
    __m256 lo[kR], hi[kR];
    for (int r = 0; r < kR; ++r) {
      const float* cr = c + (R0 + r) * ldc + j;
      lo[r] = accumulate ? _mm256_loadu_ps(cr) : _mm256_setzero_ps();
      hi[r] = accumulate ? _mm256_loadu_ps(cr + 8) : _mm256_setzero_ps();
    }
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep + R0 * rs;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        for (int r = 0; r < kR; ++r) {
          const __m256 av = _mm256_broadcast_ss(ap + r * rs);
          lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
          hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
        }
      }
    }
    for (int r = 0; r < kR; ++r) {
      _mm256_storeu_ps(c + (R0 + r) * ldc + j, finish256(lo[r], ep, j));
      _mm256_storeu_ps(c + (R0 + r) * ldc + j + 8, finish256(hi[r], ep, j + 8));
    }
  }
  for (; j < n; j += 8) {
    const __m256i mask = lanes_below(std::min<int64_t>(8, n - j));
    __m256 acc[kR];
    for (int r = 0; r < kR; ++r)
      acc[r] = accumulate ? _mm256_maskload_ps(c + (R0 + r) * ldc + j, mask) : _mm256_setzero_ps();
    const float* bp = b + j;
    for (int64_t q = 0; q < nranges; ++q) {
      const float* ap = a + ranges[q].begin * kStep + R0 * rs;
      for (int64_t p = ranges[q].begin; p < ranges[q].end; ++p, bp += ldb, ap += kStep) {
        const __m256 b0 = _mm256_maskload_ps(bp, mask);
        for (int r = 0; r < kR; ++r)
          acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + r * rs), b0, acc[r]);
      }
    }
    for (int r = 0; r < kR; ++r)
      _mm256_maskstore_ps(c + (R0 + r) * ldc + j, mask, finish256(acc[r], ep, j, mask));
  }
}

template <int MR, bool kPacked>
void panel_avx2(int64_t n, const KRange* ranges, int64_t nranges, const float* a, int64_t lda,
                const float* b, int64_t ldb, float* c, int64_t ldc, Epilogue ep, bool accumulate) {
  panel_rows_avx2<MR, kPacked, 0, std::min(MR, 4)>(n, ranges, nranges, a, lda, b, ldb, c, ldc, ep,
                                                   accumulate);
  if constexpr (MR > 4)
    panel_rows_avx2<MR, kPacked, 4, MR>(n, ranges, nranges, a, lda, b, ldb, c, ldc, ep, accumulate);
}

// Few columns (n = N ≤ 4: the late layers of a network at batch 1, a 2×2 or 1×1 output): the
// kernels above would broadcast every weight for one to four useful lanes. Here a panel's 8 rows
// are the 8 lanes: per p, one load of the panel's column p and N broadcasts of B's row p. P
// partial sums per column (p mod P) keep enough FMAs in flight; they are added in a fixed order at
// the end. Each row is a lane doing the same arithmetic as every other row (a short last panel
// is read with a mask).
template <int N, int P>
__attribute__((target("avx2,fma"))) void few_avx2(int64_t m, int64_t k, const KRange* ranges,
                                                  int64_t nranges, const float* packed,
                                                  const float* b, int64_t ldb, float* c,
                                                  int64_t ldc) {
  for (int64_t r0 = 0; r0 < m; r0 += 8) {
    const int64_t rows = std::min<int64_t>(8, m - r0);
    const float* a = packed + r0 * k;
    const __m256i mask = lanes_below(rows);
    __m256 acc[P][N];
    for (int q = 0; q < P; ++q)
      for (int j = 0; j < N; ++j) acc[q][j] = _mm256_setzero_ps();
    const float* bp = b;  // B's row for the p being read
    for (int64_t range = 0; range < nranges; ++range) {
      int64_t p = ranges[range].begin;
      const int64_t end = ranges[range].end;
      if (rows == 8) {
        for (; p + P <= end; p += P, bp += P * ldb)
          for (int q = 0; q < P; ++q) {
            const __m256 av = _mm256_loadu_ps(a + (p + q) * 8);
            for (int j = 0; j < N; ++j)
              acc[q][j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + q * ldb + j), acc[q][j]);
          }
      } else {
        for (; p + P <= end; p += P, bp += P * ldb)
          for (int q = 0; q < P; ++q) {
            const __m256 av = _mm256_maskload_ps(a + (p + q) * rows, mask);
            for (int j = 0; j < N; ++j)
              acc[q][j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + q * ldb + j), acc[q][j]);
          }
      }
      // The range's last (end − begin) mod P, into the first sums (fixed indices: registers).
      for (; p < end; ++p, bp += ldb) {
        const __m256 av = _mm256_maskload_ps(a + p * rows, mask);
        for (int j = 0; j < N; ++j)
          acc[0][j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + j), acc[0][j]);
      }
    }
    for (int j = 0; j < N; ++j) {
      __m256 sum = acc[0][j];
      for (int q = 1; q < P; ++q) sum = _mm256_add_ps(sum, acc[q][j]);
      alignas(32) float lane[8];
      _mm256_store_ps(lane, sum);
      for (int64_t r = 0; r < rows; ++r) c[(r0 + r) * ldc + j] = lane[r];
    }
  }
}
#endif

using PanelFn = void (*)(int64_t, const KRange*, int64_t, const float*, int64_t, const float*,
                         int64_t, float*, int64_t, Epilogue, bool);

// The panel kernels for 1..8 rows, A packed (kPacked) or as stored, or null.
template <bool kPacked>
const PanelFn* panel_kernels() {
#if defined(__x86_64__)
  static const PanelFn k512[] = {panel_avx512<1, kPacked>, panel_avx512<2, kPacked>,
                                 panel_avx512<3, kPacked>, panel_avx512<4, kPacked>,
                                 panel_avx512<5, kPacked>, panel_avx512<6, kPacked>,
                                 panel_avx512<7, kPacked>, panel_avx512<8, kPacked>};
  static const PanelFn k256[] = {panel_avx2<1, kPacked>, panel_avx2<2, kPacked>,
                                 panel_avx2<3, kPacked>, panel_avx2<4, kPacked>,
                                 panel_avx2<5, kPacked>, panel_avx2<6, kPacked>,
                                 panel_avx2<7, kPacked>, panel_avx2<8, kPacked>};
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return k512;
    case Isa::kAvx2:
      return k256;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}
static_assert(kPackRows == 8, "panel_kernels() has kernels for 1..8 rows");

using RowFn = void (*)(bool, int64_t, int64_t, const float*, const float*, int64_t, float*);

RowFn row_kernel() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &row_avx512;
    case Isa::kAvx2:
      return &row_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

using InterleavedFn = void (*)(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                               float*, bool);

InterleavedFn interleaved_kernel() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &rows_interleaved_avx512;
    case Isa::kAvx2:
      return &rows_interleaved_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

using NarrowFn = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                          float*, int64_t);

// The narrow kernel for the kernels' instruction set (ops/isa.h), or null (BLAS then does all
// products).
NarrowFn narrow_kernel() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &narrow_avx512;
    case Isa::kAvx2:
      return &narrow_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

// C = epilogue(A · B) over the panel kernels `kernels` (A packed, its panels at a + r0·k, with
// panel_kernels<true>; as stored otherwise, row stride lda): see its definition below.
void panel_product(const PanelFn* kernels, bool a_packed, int64_t m, int64_t n, int64_t k,
                   std::span<const KRange> ranges, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc, const Epilogue& ep);

}  // namespace

bool packed_kernels() { return panel_kernels<true>() != nullptr; }

void pack_rows(int64_t m, int64_t k, const float* a, int64_t lda, float* out) {
  for (int64_t r0 = 0; r0 < m; r0 += kPackRows) {
    const int64_t rows = std::min(kPackRows, m - r0);
    float* panel = out + r0 * k;
    for (int64_t p = 0; p < k; ++p)
      for (int64_t r = 0; r < rows; ++r) panel[p * rows + r] = a[(r0 + r) * lda + p];
  }
}

void gemm_packed(int64_t m, int64_t n, int64_t k, const float* packed, const float* b, int64_t ldb,
                 float* c, int64_t ldc) {
  const KRange all{0, k};
  gemm_packed(m, n, k, std::span<const KRange>(&all, 1), packed, b, ldb, c, ldc);
}

void gemm_packed(int64_t m, int64_t n, int64_t k, std::span<const KRange> ranges,
                 const float* packed, const float* b, int64_t ldb, float* c, int64_t ldc) {
  const PanelFn* kernels = panel_kernels<true>();
  if (kernels == nullptr) throw std::logic_error("gemm_packed: this CPU has no packed kernels");
  if (m <= 0 || n <= 0) return;
  int64_t used = 0;
  for (const KRange& r : ranges) used += r.end - r.begin;
  if (used == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0f);
    return;
  }
  const auto nranges = static_cast<int64_t>(ranges.size());
#if defined(__x86_64__)
  if (n <= 4) {
    // Both CPU kinds with packed kernels have AVX2 + FMA.
    switch (n) {
      case 1:
        return few_avx2<1, 8>(m, k, ranges.data(), nranges, packed, b, ldb, c, ldc);
      case 2:
        return few_avx2<2, 4>(m, k, ranges.data(), nranges, packed, b, ldb, c, ldc);
      case 3:
        return few_avx2<3, 2>(m, k, ranges.data(), nranges, packed, b, ldb, c, ldc);
      default:
        return few_avx2<4, 2>(m, k, ranges.data(), nranges, packed, b, ldb, c, ldc);
    }
  }
#endif
  panel_product(kernels, true, m, n, k, ranges, packed, 0, b, ldb, c, ldc, Epilogue{});
}

namespace {
// GeLU (tanh form) over m rows of n elements of C, in place.
void gelu_rows(int64_t m, int64_t n, float* c, int64_t ldc) {
  const VecFn f = gelu_simd();
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (f) {
      f(row, row, n);
      continue;
    }
    for (int64_t j = 0; j < n; ++j) {
      const float v = row[j];
      row[j] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
  }
}

// The epilogue over m rows of C already computed (the paths whose kernels store plain sums): each
// row right after its product, while it is in cache.
void apply_epilogue(int64_t m, int64_t n, float* c, int64_t ldc, const Epilogue& ep) {
  if (ep.empty()) return;
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (ep.bias)
      for (int64_t j = 0; j < n; ++j) row[j] += ep.bias[j];
    if (ep.act == GemmActivation::kReLU)
      for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
  }
  if (ep.act == GemmActivation::kGeLU) gelu_rows(m, n, c, ldc);
}
// How the panel kernels' products are blocked, per instruction set (measured on a Zen 4 core,
// docs/benchmarks.md, issue 13, session 9):
// - AVX2: B's used rows (p in the ranges, in order) in blocks of kAvx2BlockRows, B's columns in
//   tiles of kPackCols (wider when the block has fewer rows); each tile's block of rows (128 × 48
//   floats, 24 KiB) stays in L1 while every panel of A passes over it. The 4-row × 24-column
//   kernel reads each tile twice per panel (16 registers hold no more), and streaming it from L2
//   each time held it at 50–75% of the FMA peak; from L1, 76–89%. A tile whose rows lie apart
//   (B as stored: a MatMul's rows a few KiB apart, which share L1's sets) is first copied into a
//   contiguous one on the stack, when A has enough rows to pay for the copy.
// - AVX-512: the 8 × 48 kernel reads B once per panel, a stream the prefetchers keep ahead of:
//   no blocks and no copy (both cost it 5–20%: 98% of peak without, 80–94% with); columns in
//   blocks whose rows of B stay in L2 (256 KiB).
// A block after the first starts from the sums in C (the kernels' `accumulate`): every element is
// still one chain of multiply-adds over p in order, whichever blocks, tiles or panels there are.
// Bias and ReLU are applied in registers in the last block, GeLU to each tile once it is final.
constexpr int64_t kAvx2BlockRows = 128;
constexpr int64_t kCopyMinRows = 16;        // rows of A below which B is read where it lies
constexpr int64_t kAFitsFloats = 64 << 10;  // A (256 KiB) stays in L2 while the tiles pass
constexpr int kMaxBlockRanges = 16;         // pieces of the ranges per block (one ends early)
constexpr int64_t kBlockFloats = 64 << 10;  // AVX-512: B's rows of a call's columns, in L2

// rows × w floats from rows ldb apart into `out`, row after row: SSE copies (every x86-64 CPU
// has them) inline, not a call to glibc's memmove per row of 48 floats (slower).
void copy_tile(int64_t rows, int64_t w, const float* b, int64_t ldb, float* out) {
  for (int64_t p = 0; p < rows; ++p, b += ldb, out += w) {
    int64_t j = 0;
#if defined(__x86_64__)
    for (; j + 4 <= w; j += 4) _mm_storeu_ps(out + j, _mm_loadu_ps(b + j));
#endif
    for (; j < w; ++j) out[j] = b[j];
  }
}

// Calls fn(block, pieces, before, rows) for consecutive blocks of at most `block_rows` of the used
// rows of B: the block's pieces of the ranges, the used rows before it and in it.
template <class F>
void for_blocks(std::span<const KRange> ranges, int64_t block_rows, F&& fn) {
  KRange block[kMaxBlockRanges];
  int pieces = 0;
  int64_t rows = 0, before = 0;
  for (const KRange& r : ranges)
    for (int64_t p = r.begin; p < r.end;) {
      const int64_t take = std::min(r.end - p, block_rows - rows);
      block[pieces++] = {p, p + take};
      rows += take;
      p += take;
      if (rows == block_rows || pieces == kMaxBlockRanges) {
        fn(static_cast<const KRange*>(block), pieces, before, rows);
        before += rows;
        rows = 0;
        pieces = 0;
      }
    }
  if (pieces > 0) fn(static_cast<const KRange*>(block), pieces, before, rows);
}

void panel_product(const PanelFn* kernels, bool a_packed, int64_t m, int64_t n, int64_t k,
                   std::span<const KRange> ranges, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc, const Epilogue& ep) {
  int64_t used = 0;
  for (const KRange& r : ranges) used += r.end - r.begin;
  const bool blocked = kernel_isa() == Isa::kAvx2;
  const int64_t block_rows = blocked ? kAvx2BlockRows : std::max<int64_t>(used, 1);
  // Columns per kernel call: whole tiles, as many as the copy holds (AVX2) or as keep B's rows of
  // them in L2 (AVX-512, 256 KiB). With few rows of B a 48-column call is a few hundred
  // multiply-adds, and the calls' own cost showed (1 × 1 convolutions of 16 to 64 channels).
  const int64_t fewest = std::max<int64_t>(1, std::min(block_rows, used));
  const int64_t width = std::max(kPackCols, (blocked ? kAvx2BlockRows * kPackCols : kBlockFloats) /
                                                fewest / kPackCols * kPackCols);
  // B's rows already one after another (a convolution's tiled im2col): read in place.
  const bool copy = blocked && m >= kCopyMinRows && !(n <= width && ldb == n);
  alignas(64) float tile[kAvx2BlockRows * kPackCols];
  // Columns [j0, j0 + w) of rows [i0, i1) of C over one block of B's rows.
  auto run = [&](int64_t i0, int64_t i1, int64_t j0, int64_t w, const KRange* block, int pieces,
                 int64_t before, int64_t rows_in) {
    const bool first = before == 0, last = before + rows_in == used;
    Epilogue in_registers{};
    if (last) {
      in_registers = ep.from_column(j0);
      if (ep.act == GemmActivation::kGeLU) in_registers.act = GemmActivation::kNone;
    }
    const float* bt = b + before * ldb + j0;
    int64_t ldt = ldb;
    if (copy) {
      copy_tile(rows_in, w, bt, ldb, tile);
      bt = tile;
      ldt = w;
    }
    for (int64_t r0 = i0; r0 < i1; r0 += kPackRows) {
      const int64_t rows = std::min(kPackRows, m - r0);
      kernels[rows - 1](w, block, pieces, a_packed ? a + r0 * k : a + r0 * lda, lda, bt, ldt,
                        c + r0 * ldc + j0, ldc, in_registers, !first);
      if (last && ep.act == GemmActivation::kGeLU) gelu_rows(rows, w, c + r0 * ldc + j0, ldc);
    }
  };
  if (m * used <= kAFitsFloats) {
    // A stays in L2: each tile of C through all blocks before the next (C's tile stays in L1).
    for (int64_t j0 = 0; j0 < n; j0 += width)
      for_blocks(ranges, block_rows,
                 [&](const KRange* block, int pieces, int64_t before, int64_t rows_in) {
                   run(0, m, j0, std::min(width, n - j0), block, pieces, before, rows_in);
                 });
    return;
  }
  // Otherwise each block of A's columns in L2 while every tile passes, in groups of rows small
  // enough to stay there.
  const int64_t group = std::max<int64_t>(
      kPackRows, kAFitsFloats / std::min(block_rows, used) / kPackRows * kPackRows);
  for_blocks(ranges, block_rows,
             [&](const KRange* block, int pieces, int64_t before, int64_t rows_in) {
               for (int64_t i0 = 0; i0 < m; i0 += group)
                 for (int64_t j0 = 0; j0 < n; j0 += width)
                   run(i0, std::min(m, i0 + group), j0, std::min(width, n - j0), block, pieces,
                       before, rows_in);
             });
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc) {
  gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, Epilogue{});
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc, const Epilogue& ep) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0f);
    apply_epilogue(m, n, c, ldc, ep);
    return;
  }
  if (m == 1 && !trans_a) {
    if (const RowFn f = row_kernel()) {
      f(trans_b, n, k, a, b, ldb, c);
      apply_epilogue(1, n, c, ldc, ep);
      return;
    }
  }
  if (!trans_a && !trans_b && n <= kNarrowColumns && m >= 8) {
    if (const NarrowFn f = narrow_kernel()) {
      f(m, n, k, a, lda, b, ldb, c, ldc);
      apply_epilogue(m, n, c, ldc, ep);
      return;
    }
  }
  // The rest with neither operand transposed (MatMul after the optimiser has turned a constant
  // transposed B around, an unpacked convolution; also a few rows by fewer than 16 columns, a
  // small batch's last Dense layer): the panel kernels with A's rows read where they lie, the
  // last columns masked; BLAS would pack both operands on every call (and be loaded for it).
  if (!trans_a && !trans_b) {
    if (const PanelFn* kernels = panel_kernels<false>()) {
      const KRange all{0, k};
      panel_product(kernels, false, m, n, k, std::span<const KRange>(&all, 1), a, lda, b, ldb, c,
                    ldc, ep);
      return;
    }
  }
  blas::sgemm(CblasRowMajor, op(trans_a), op(trans_b), i32(m), i32(n), i32(k), 1.0f, a, i32(lda), b,
              i32(ldb), 0.0f, c, i32(ldc));
  apply_epilogue(m, n, c, ldc, ep);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0);
    return;
  }
  blas::dgemm(CblasRowMajor, op(trans_a), op(trans_b), i32(m), i32(n), i32(k), 1.0, a, i32(lda), b,
              i32(ldb), 0.0, c, i32(ldc));
}

namespace {

// Below this many multiply-adds a product stays on one thread: waking a worker costs about as much.
constexpr int64_t kMinParallelMacs = 1 << 15;
constexpr int64_t kColumnBlock = 16;  // split n at multiples of this (the SIMD kernels' width)

// One single-threaded piece of a split product: columns from j0 of C (the epilogue's bias moves
// with them); double products have no epilogue.
void gemm_piece(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, float* c, int64_t ldc, const Epilogue& ep,
                int64_t j0) {
  gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, ep.from_column(j0));
}
void gemm_piece(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
                const double* b, int64_t ldb, double* c, int64_t ldc, const Epilogue&, int64_t) {
  gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}

template <class T>
void gemm_split(Parallel& par, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a,
                int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, const Epilogue& ep) {
  if (par.threads() == 1 || m * n * k < kMinParallelMacs) {
    gemm_piece(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, ep, 0);
    return;
  }
  const int64_t col_blocks = (n + kColumnBlock - 1) / kColumnBlock;
  if (col_blocks >= par.threads()) {
    par.for_range(col_blocks, 1, [&](int64_t begin, int64_t end, int) {
      const int64_t j0 = begin * kColumnBlock, j1 = std::min(n, end * kColumnBlock);
      gemm_piece(ta, tb, m, j1 - j0, k, a, lda, tb ? b + j0 * ldb : b + j0, ldb, c + j0, ldc, ep,
                 j0);
    });
    return;
  }
  par.for_range(m, 1, [&](int64_t i0, int64_t i1, int) {
    gemm_piece(ta, tb, i1 - i0, n, k, ta ? a + i0 : a + i0 * lda, lda, b, ldb, c + i0 * ldc, ldc,
               ep, 0);
  });
}

}  // namespace

void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  gemm_split(par, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, Epilogue{});
}
void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& ep) {
  gemm_split(par, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, ep);
}
void pack_columns(int64_t k, int64_t n, const void* b, int64_t ldb, float* out) {
  const auto* src = static_cast<const std::byte*>(b);
  constexpr int64_t f = sizeof(float);
  for (int64_t j0 = 0; j0 < n; j0 += kPackCols) {
    const int64_t w = std::min(kPackCols, n - j0);
    float* tile = out + j0 * k;
    for (int64_t p = 0; p < k; ++p)
      std::memcpy(tile + p * w, src + (p * ldb + j0) * f, static_cast<size_t>(w * f));
  }
}

void pack_columns_transposed(int64_t k, int64_t n, const void* bt, int64_t ldbt, float* out) {
  const auto* src = static_cast<const std::byte*>(bt);
  for (int64_t j0 = 0; j0 < n; j0 += kPackCols) {
    const int64_t w = std::min(kPackCols, n - j0);
    // Rows [j0, j0 + w) of Bᵀ (w × k) become the tile's k rows of w.
    transpose_plane32(src + j0 * ldbt * int64_t{sizeof(float)}, w, k, ldbt, out + j0 * k, w);
  }
}

void gemm_packed_b(Parallel& par, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                   const float* packed, float* c, int64_t ldc, const Epilogue& ep) {
  if (m <= 0 || n <= 0) return;
  const int64_t tiles = (n + kPackCols - 1) / kPackCols;
  // Tiles [t0, t1) over rows [i0, i1): each tile one product whose B is contiguous.
  auto run = [&](int64_t t0, int64_t t1, int64_t i0, int64_t i1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t j0 = t * kPackCols, w = std::min(kPackCols, n - j0);
      gemm(false, false, i1 - i0, w, k, a + i0 * lda, lda, packed + j0 * k, w, c + i0 * ldc + j0,
           ldc, ep.from_column(j0));
    }
  };
  if (par.threads() == 1 || m * n * k < kMinParallelMacs) {
    run(0, tiles, 0, m);
    return;
  }
  // By tiles, or by rows in whole panels of the kernels where there are enough (each thread then
  // reads all of B, but once per panel of its own, so that B is read as often in all as when
  // split by tiles): whichever gives the largest chunk less work (rows × columns; tiles on a
  // tie). The tutorial MLP at batch 64 has 11 tiles in its 512 columns, 6 and 5 on two threads
  // (288 and 224 columns), where its 64 rows split 32 and 32 (docs/benchmarks.md, Session 11).
  // Fewer rows are split one by one only when there are fewer tiles than threads: a part of a
  // panel would read all of B for fewer rows.
  const int64_t threads = par.threads();
  const int64_t unit = m >= 8 * threads ? 8 : 1, units = (m + unit - 1) / unit;
  const int64_t most_cols = std::min(n, (tiles + threads - 1) / threads * kPackCols);
  const int64_t most_rows = std::min(m, (units + threads - 1) / threads * unit);
  if (tiles >= threads && (unit == 1 || most_cols * m <= most_rows * n)) {
    par.for_range(tiles, 1, [&](int64_t t0, int64_t t1, int) { run(t0, t1, 0, m); });
  } else {
    par.for_range(units, 1, [&](int64_t u0, int64_t u1, int) {
      run(0, tiles, u0 * unit, std::min(m, u1 * unit));
    });
  }
}

void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const double* a, int64_t lda, const double* b, int64_t ldb, double* c, int64_t ldc) {
  gemm_split(par, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, Epilogue{});
}

void interleave_rows(int64_t n, int64_t k, const void* bt, int64_t ldbt, float* out) {
  const auto* src = static_cast<const std::byte*>(bt);
  constexpr int64_t f = sizeof(float);
  const int64_t grouped = n - n % kInterleaveRows;
  for (int64_t j0 = 0; j0 < grouped; j0 += kInterleaveRows) {
    float* group = out + j0 * k;
    for (int64_t p = 0; p < k; p += 16) {
      const int64_t w = std::min<int64_t>(16, k - p);
      for (int64_t r = 0; r < kInterleaveRows; ++r)
        std::memcpy(group + p * kInterleaveRows + r * w, src + ((j0 + r) * ldbt + p) * f,
                    static_cast<size_t>(w * f));
    }
  }
  for (int64_t j = grouped; j < n; ++j)
    std::memcpy(out + j * k, src + j * ldbt * f, static_cast<size_t>(k * f));
}

namespace {
// Row j of an interleaved Bᵀ, element p (the portable path's reading of the layout).
float interleaved_at(int64_t n, int64_t k, const float* w, int64_t j, int64_t p) {
  if (j >= n - n % kInterleaveRows) return w[j * k + p];
  const int64_t j0 = j - j % kInterleaveRows, p0 = p - p % 16;
  const int64_t width = std::min<int64_t>(16, k - p0);
  return w[j0 * k + p0 * kInterleaveRows + (j - j0) * width + (p - p0)];
}
}  // namespace

void gemm_interleaved_b(Parallel& par, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* w, float* c, int64_t ldc, const Epilogue& ep) {
  static_assert(kColumnBlock % kInterleaveRows == 0, "column blocks hold whole groups");
  if (m <= 0 || n <= 0) return;
  const InterleavedFn f = interleaved_kernel();
  // Columns [j0, j1) of rows [i0, i1) of C.
  auto run = [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool prefetch) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* x = a + i * lda;
      float* y = c + i * ldc;
      if (k == 0) {
        std::fill(y + j0, y + j1, 0.0f);
      } else if (f) {
        f(j0, j1, n, k, x, w, y, prefetch);
      } else {
        for (int64_t j = j0; j < j1; ++j) {
          float s = 0.0f;
          for (int64_t p = 0; p < k; ++p) s += x[p] * interleaved_at(n, k, w, j, p);
          y[j] = s;
        }
      }
      apply_epilogue(1, j1 - j0, y + j0, ldc, ep.from_column(j0));
    }
  };
  if (par.threads() == 1 || m * n * k < kMinParallelMacs) {
    run(0, m, 0, n, true);
    return;
  }
  // As gemm_split: column blocks when there are enough, rows otherwise; no software prefetch
  // (dot_group_avx512).
  const int64_t col_blocks = (n + kColumnBlock - 1) / kColumnBlock;
  if (col_blocks >= par.threads()) {
    par.for_range(col_blocks, 1, [&](int64_t b0, int64_t b1, int) {
      run(0, m, b0 * kColumnBlock, std::min(n, b1 * kColumnBlock), false);
    });
    return;
  }
  par.for_range(m, 1, [&](int64_t i0, int64_t i1, int) { run(i0, i1, 0, n, false); });
}

}  // namespace cellar::ops
