// The 1 × 1 convolution's kernels (ops/nn/pointwise.h): a panel of up to 8 output channels
// (pack_conv_weight's panels, kPackRows) × a tile of columns in registers, every input channel's
// row of x multiplied in, then bias and activation, then one store.
#include "ops/nn/pointwise.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx2.h"
#include "ops/nn/activate_avx512.h"
#include "ops/nn/residual_fetch.h"

namespace cellar::ops {

namespace {

static_assert(kPackRows == 8, "the kernels below have tiles of 1..8 rows");

// Bytes of x's rows one column chunk reads (k rows × the chunk's columns): kept in L1 (or, with a
// weight too large to stay in L2 from one chunk to the next, in L2) while each panel of the weight
// passes over the chunk, so that x is read from further out once per chunk.
constexpr int64_t kChunkL1Bytes = int64_t{24} << 10;
constexpr int64_t kChunkL2Bytes = int64_t{256} << 10;
constexpr int64_t kWeightInL2Floats = int64_t{64} << 10;  // 256 KiB
constexpr int64_t kTile = 48;                             // the kernels' widest tile
constexpr int64_t kPrefetchFloats = 512;  // how far ahead a weight panel is fetched (2 KiB)

#if defined(__x86_64__)

// Whether a sum gets the epilogue's addition: the bias, or 0 when there is none but an activation
// follows (conv2d.cpp's epilogue adds 0 then: −0 becomes +0, and the values must be the same).
template <ConvActivation kAct>
constexpr bool kAddsBias = kAct != ConvActivation::kNone;

// The epilogue on one vector of a row's sums: + the row's bias (`add`), + the residual's vector at
// `res` (when not null; under `mask` where the store is masked), then the activation.
template <ConvActivation kAct>
__attribute__((target("avx512f"))) inline __m512 finish512(__m512 v, __m512 bias, bool add,
                                                           const float* res,
                                                           __mmask16 mask = 0xFFFF) {
  if (add) v = _mm512_add_ps(v, bias);
  if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, res));
  return activate512(v, kAct);
}
// finish512 for a tile's whole vectors: the residual (kRes) by a plain load. The tiles' epilogues
// call it with every row loop unrolled and the bias broadcast from memory per row, so that the 24
// accumulators stay in registers: with finish512's pointer test and bias vectors kept in an array,
// gcc put the residual kernels' accumulators and bias vectors on the stack and stored each
// residual vector there too (resnet50's fused expansions ran 20–30% slower than the same layer
// without a residual, their data warm in L3).
template <ConvActivation kAct, bool kRes>
__attribute__((target("avx512f"), always_inline)) inline __m512 done512(__m512 v, const float* bias,
                                                                        bool add,
                                                                        const float* res) {
  if (add) v = _mm512_add_ps(v, _mm512_set1_ps(*bias));
  if constexpr (kRes) v = _mm512_add_ps(v, _mm512_loadu_ps(res));
  return activate512(v, kAct);
}

// Zeros for the bias's place when there is none (the epilogue then adds 0: kAddsBias).
alignas(64) constexpr float kNoBias[kPackRows] = {};

template <ConvActivation kAct>
__attribute__((target("avx2,fma"))) inline __m256 finish256(__m256 v, __m256 bias, bool add,
                                                            const float* res) {
  if (add) v = _mm256_add_ps(v, bias);
  if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res));
  return activate256(v, kAct);
}

// The residual's values at res[r·ld] for rows r < n (the lanes of a column's accumulator), the
// other lanes 0.
template <int kLanes>
inline void gather_column(const float* res, int64_t ld, int n, float* out) {
  for (int r = 0; r < kLanes; ++r) out[r] = r < n ? res[r * ld] : 0.0f;
}

// One tile of MR rows × 49 columns from column j, AVX-512: 48 in 24 accumulators as panel512's
// tiles, the 49th in the lanes of one more (lane r: row r), so that a 7 × 7 plane (49) or a
// 14 × 14 one (4 · 49) is one pass of the weight per 49 columns with no column left over: per p,
// the panel's MR values (the packed weight holds them side by side) times x's 49th value
// broadcast, one more multiply-add per 24 (the tail kernels it replaces ran those columns at a
// quarter of the tiles' speed: 4% of resnet50's 1 × 1 time for 1% of its multiply-adds). 24 + 6
// registers: every row loop unrolled, or gcc keeps the accumulators in memory.
template <int MR, ConvActivation kAct, bool kRes>
__attribute__((target("avx512f,fma"), always_inline)) inline void tile49(
    int64_t k, const float* a, const float* x, int64_t ldx, const float* bias, const float* res_in,
    float* y, int64_t ldy, bool fetch_x) {
  const float* const res = kRes ? res_in : nullptr;  // a constant null without a residual
  const bool add = bias != nullptr || kAddsBias<kAct>;
  constexpr auto kRowLanes = static_cast<__mmask16>((1u << MR) - 1);
  __m512 v0[MR], v1[MR], v2[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) v0[r] = v1[r] = v2[r] = _mm512_setzero_ps();
  // The 49th column's sums: a whole panel's 8 in one 256-bit vector (its weight load folded into
  // the multiply-add), a partial panel's MR in masked 512-bit lanes (the last panel may end the
  // packed weight; no AVX-512 VL needed).
  __m256 e8 = _mm256_setzero_ps();
  if (res) fetch_residual(res, ldy, MR, 4);
  __m512 e16 = _mm512_setzero_ps();
  const float* xp = x;
  const float* ap = a;
  for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
    _mm_prefetch(reinterpret_cast<const char*>(ap + kPrefetchFloats), _MM_HINT_T0);
    if (fetch_x) {
      _mm_prefetch(reinterpret_cast<const char*>(xp + 49), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(xp + 65), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(xp + 81), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(xp + 97), _MM_HINT_T0);
    }
    const __m512 b0 = _mm512_loadu_ps(xp), b1 = _mm512_loadu_ps(xp + 16),
                 b2 = _mm512_loadu_ps(xp + 32);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r]);
      v0[r] = _mm512_fmadd_ps(av, b0, v0[r]);
      v1[r] = _mm512_fmadd_ps(av, b1, v1[r]);
      v2[r] = _mm512_fmadd_ps(av, b2, v2[r]);
    }
    if constexpr (MR == 8)
      e8 = _mm256_fmadd_ps(_mm256_loadu_ps(ap), _mm256_broadcast_ss(xp + 48), e8);
    else
      e16 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kRowLanes, ap), _mm512_set1_ps(xp[48]), e16);
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m512 bv = _mm512_set1_ps(bias ? bias[r] : 0.0f);
    float* yr = y + r * ldy;
    const float* rr = res ? res + r * ldy : nullptr;
    _mm512_storeu_ps(yr, finish512<kAct>(v0[r], bv, add, rr));
    _mm512_storeu_ps(yr + 16, finish512<kAct>(v1[r], bv, add, rr ? rr + 16 : nullptr));
    _mm512_storeu_ps(yr + 32, finish512<kAct>(v2[r], bv, add, rr ? rr + 32 : nullptr));
  }
  alignas(64) float out[16];
  alignas(64) float rv[16];  // the 49th column's residual, lane r row r
  if (res) gather_column<16>(res + 48, ldy, MR, rv);
  if constexpr (MR == 8) {
    const __m256 b8 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 s = add ? _mm256_add_ps(e8, b8) : e8;
    if (res) s = _mm256_add_ps(s, _mm256_load_ps(rv));
    _mm256_store_ps(out, activate256(s, kAct));
  } else {
    const __m512 b16 = bias ? _mm512_maskz_loadu_ps(kRowLanes, bias) : _mm512_setzero_ps();
    __m512 s = add ? _mm512_add_ps(e16, b16) : e16;
    if (res) s = _mm512_add_ps(s, _mm512_load_ps(rv));
    _mm512_store_ps(out, activate512(s, kAct));
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) y[r * ldy + 48] = out[r];
}

// MR rows (one panel, row stride MR in the packed weight) × n columns, AVX-512: with `t49` (n a
// multiple of 49), tiles of 49 (tile49); otherwise 48 columns at a time (24 accumulators: 3 loads
// of x and 8 broadcasts per 24 multiply-adds), then 32, then 16, masked.
template <int MR, ConvActivation kAct, bool kRes>
__attribute__((target("avx512f,fma"))) void panel512(int64_t n, int64_t k, const float* a,
                                                     const float* x, int64_t ldx, const float* bias,
                                                     const float* res_in, float* y, int64_t ldy,
                                                     bool fetch_x, bool t49) {
  const float* const res = kRes ? res_in : nullptr;
  if (t49) {
    for (int64_t j = 0; j + 49 <= n; j += 49)
      tile49<MR, kAct, kRes>(k, a, x + j, ldx, bias, res ? res + j : nullptr, y + j, ldy, fetch_x);
    return;
  }
  const bool add = bias != nullptr || kAddsBias<kAct>;
  const float* const bs = bias ? bias : kNoBias;
  int64_t j = 0;
  for (; j + 48 <= n; j += 48) {
    if (res) fetch_residual(res + j, ldy, MR, 3);
    __m512 v0[MR], v1[MR], v2[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) v0[r] = v1[r] = v2[r] = _mm512_setzero_ps();
    const float* xp = x + j;
    const float* ap = a;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      _mm_prefetch(reinterpret_cast<const char*>(ap + kPrefetchFloats), _MM_HINT_T0);
      if (fetch_x) {
        _mm_prefetch(reinterpret_cast<const char*>(xp + 48), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(xp + 64), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(xp + 80), _MM_HINT_T0);
      }
      const __m512 b0 = _mm512_loadu_ps(xp), b1 = _mm512_loadu_ps(xp + 16),
                   b2 = _mm512_loadu_ps(xp + 32);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(ap[r]);
        v0[r] = _mm512_fmadd_ps(av, b0, v0[r]);
        v1[r] = _mm512_fmadd_ps(av, b1, v1[r]);
        v2[r] = _mm512_fmadd_ps(av, b2, v2[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      float* yr = y + r * ldy + j;
      // Without a residual done512 reads nothing at rr (y's row here: not null, so that rr + 16
      // is defined).
      const float* rr = kRes ? res + r * ldy + j : yr;
      _mm512_storeu_ps(yr, done512<kAct, kRes>(v0[r], bs + r, add, rr));
      _mm512_storeu_ps(yr + 16, done512<kAct, kRes>(v1[r], bs + r, add, rr + 16));
      _mm512_storeu_ps(yr + 32, done512<kAct, kRes>(v2[r], bs + r, add, rr + 32));
    }
  }
  for (; j + 32 <= n; j += 32) {
    __m512 v0[MR], v1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) v0[r] = v1[r] = _mm512_setzero_ps();
    const float* xp = x + j;
    const float* ap = a;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      const __m512 b0 = _mm512_loadu_ps(xp), b1 = _mm512_loadu_ps(xp + 16);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(ap[r]);
        v0[r] = _mm512_fmadd_ps(av, b0, v0[r]);
        v1[r] = _mm512_fmadd_ps(av, b1, v1[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      float* yr = y + r * ldy + j;
      // Without a residual done512 reads nothing at rr (y's row here: not null, so that rr + 16
      // is defined).
      const float* rr = kRes ? res + r * ldy + j : yr;
      _mm512_storeu_ps(yr, done512<kAct, kRes>(v0[r], bs + r, add, rr));
      _mm512_storeu_ps(yr + 16, done512<kAct, kRes>(v1[r], bs + r, add, rr + 16));
    }
  }
  for (; j < n; j += 16) {
    const auto mask = static_cast<__mmask16>((1u << std::min<int64_t>(16, n - j)) - 1);
    __m512 v0[MR];
    for (int r = 0; r < MR; ++r) v0[r] = _mm512_setzero_ps();
    const float* xp = x + j;
    const float* ap = a;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      const __m512 b0 = _mm512_maskz_loadu_ps(mask, xp);
      for (int r = 0; r < MR; ++r) v0[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), b0, v0[r]);
    }
    for (int r = 0; r < MR; ++r)
      _mm512_mask_storeu_ps(y + r * ldy + j, mask,
                            finish512<kAct>(v0[r], _mm512_set1_ps(bs[r]), add,
                                            res ? res + r * ldy + j : nullptr, mask));
  }
}

// Rows [R0, R1) (at most 4) of an MR-row panel × n columns, AVX2 (16 registers): 24 columns at a
// time (12 accumulators), then 16, then 8; the last columns through a masked load and a copy out of
// a register (AMD's masked stores are microcoded).
template <int MR, int R0, int R1, ConvActivation kAct, bool kRes>
__attribute__((target("avx2,fma"))) void rows256(int64_t n, int64_t k, const float* a,
                                                 const float* x, int64_t ldx, const float* bias,
                                                 const float* res_in, float* y, int64_t ldy) {
  const float* const res = kRes ? res_in : nullptr;
  constexpr int R = R1 - R0;
  __m256 bv[R];
  const bool add = bias != nullptr || kAddsBias<kAct>;
  for (int r = 0; r < R; ++r) bv[r] = _mm256_set1_ps(bias ? bias[R0 + r] : 0.0f);
  int64_t j = 0;
  for (; j + 24 <= n; j += 24) {
    if (res) fetch_residual(res + R0 * ldy + j, ldy, R, 2);
    __m256 v0[R], v1[R], v2[R];
    for (int r = 0; r < R; ++r) v0[r] = v1[r] = v2[r] = _mm256_setzero_ps();
    const float* xp = x + j;
    const float* ap = a + R0;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      // The panel's weight ahead (by the first half of the panel's rows: the second finds it in
      // L1 or L2): a 7 × 7 layer's 1–4 MiB weight comes from L3 or memory once per image.
      if constexpr (R0 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(ap + kPrefetchFloats), _MM_HINT_T0);
      const __m256 b0 = _mm256_loadu_ps(xp), b1 = _mm256_loadu_ps(xp + 8),
                   b2 = _mm256_loadu_ps(xp + 16);
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(ap + r);
        v0[r] = _mm256_fmadd_ps(av, b0, v0[r]);
        v1[r] = _mm256_fmadd_ps(av, b1, v1[r]);
        v2[r] = _mm256_fmadd_ps(av, b2, v2[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      float* yr = y + (R0 + r) * ldy + j;
      const float* rr = res ? res + (R0 + r) * ldy + j : nullptr;
      _mm256_storeu_ps(yr, finish256<kAct>(v0[r], bv[r], add, rr));
      _mm256_storeu_ps(yr + 8, finish256<kAct>(v1[r], bv[r], add, rr ? rr + 8 : nullptr));
      _mm256_storeu_ps(yr + 16, finish256<kAct>(v2[r], bv[r], add, rr ? rr + 16 : nullptr));
    }
  }
  for (; j + 16 <= n; j += 16) {
    __m256 v0[R], v1[R];
    for (int r = 0; r < R; ++r) v0[r] = v1[r] = _mm256_setzero_ps();
    const float* xp = x + j;
    const float* ap = a + R0;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      const __m256 b0 = _mm256_loadu_ps(xp), b1 = _mm256_loadu_ps(xp + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(ap + r);
        v0[r] = _mm256_fmadd_ps(av, b0, v0[r]);
        v1[r] = _mm256_fmadd_ps(av, b1, v1[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      float* yr = y + (R0 + r) * ldy + j;
      const float* rr = res ? res + (R0 + r) * ldy + j : nullptr;
      _mm256_storeu_ps(yr, finish256<kAct>(v0[r], bv[r], add, rr));
      _mm256_storeu_ps(yr + 8, finish256<kAct>(v1[r], bv[r], add, rr ? rr + 8 : nullptr));
    }
  }
  for (; j < n; j += 8) {
    const int64_t w = std::min<int64_t>(8, n - j);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(w)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 v0[R];
    for (int r = 0; r < R; ++r) v0[r] = _mm256_setzero_ps();
    const float* xp = x + j;
    const float* ap = a + R0;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += MR) {
      const __m256 b0 = w == 8 ? _mm256_loadu_ps(xp) : _mm256_maskload_ps(xp, mask);
      for (int r = 0; r < R; ++r) v0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + r), b0, v0[r]);
    }
    for (int r = 0; r < R; ++r) {
      float* yr = y + (R0 + r) * ldy + j;
      __m256 v;
      if (res && w < 8) {
        // The residual's last few values through a register copy as the store does (the row
        // may end the tensor).
        alignas(32) float rl[8] = {};
        std::copy_n(res + (R0 + r) * ldy + j, w, rl);
        v = finish256<kAct>(v0[r], bv[r], add, rl);
      } else {
        v = finish256<kAct>(v0[r], bv[r], add, res ? res + (R0 + r) * ldy + j : nullptr);
      }
      if (w == 8) {
        _mm256_storeu_ps(yr, v);
      } else {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, v);
        std::copy_n(lanes, w, yr);
      }
    }
  }
}

template <int MR, ConvActivation kAct, bool kRes>
void panel256(int64_t n, int64_t k, const float* a, const float* x, int64_t ldx, const float* bias,
              const float* res, float* y, int64_t ldy, bool /*fetch_x*/, bool /*t49*/) {
  rows256<MR, 0, std::min(MR, 4), kAct, kRes>(n, k, a, x, ldx, bias, res, y, ldy);
  if constexpr (MR > 4) rows256<MR, 4, MR, kAct, kRes>(n, k, a, x, ldx, bias, res, y, ldy);
}

// The last few columns of a chunk (fewer than the panel kernels' vector: a 7 × 7 plane's 49th),
// which the panel kernels would compute in a masked vector per row, 1 lane of 16 used (a fifth of
// a 7 × 7 layer's multiply-adds), with a panel's 8 rows in one vector instead (the packed weight
// holds them side by side): G panels × one column at a time, G accumulators, each one chain over
// p. The results go through a small buffer (the e^x activations run over it at once) to y.
inline constexpr int kTailPanels = 8;
inline constexpr int64_t kTailMaxColumns = 7;
template <int G, ConvActivation kAct, bool kRes>
__attribute__((target("avx2,fma"))) void tail256(int64_t cols, int64_t k, const float* a,
                                                 const float* x, int64_t ldx, const float* bias,
                                                 const float* res_in, float* y, int64_t ldy) {
  const float* const res = kRes ? res_in : nullptr;
  alignas(32) float out[kTailMaxColumns * G * kPackRows];
  const bool add = bias != nullptr || kAddsBias<kAct>;
  const int64_t stride = kPackRows * k;  // from one panel to the next
  for (int64_t c = 0; c < cols; ++c) {
    __m256 acc[G];
    for (int q = 0; q < G; ++q) acc[q] = _mm256_setzero_ps();
    const float* xp = x + c;
    const float* ap = a;
    for (int64_t p = 0; p < k; ++p, xp += ldx, ap += kPackRows) {
      const __m256 xb = _mm256_broadcast_ss(xp);
      for (int q = 0; q < G; ++q)
        acc[q] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + q * stride), xb, acc[q]);
    }
    for (int q = 0; q < G; ++q) {
      const __m256 b = bias ? _mm256_loadu_ps(bias + q * kPackRows) : _mm256_setzero_ps();
      __m256 s = add ? _mm256_add_ps(acc[q], b) : acc[q];
      if (res) {
        alignas(32) float rv[kPackRows];
        gather_column<kPackRows>(res + q * kPackRows * ldy + c, ldy, kPackRows, rv);
        s = _mm256_add_ps(s, _mm256_load_ps(rv));
      }
      _mm256_store_ps(out + (c * G + q) * kPackRows, activate256(s, kAct));
    }
  }
  if constexpr (conv_activation_exp(kAct)) conv_activate_exp(kAct, out, cols * G * kPackRows);
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < G * kPackRows; ++r) y[r * ldy + c] = out[(c * G) * kPackRows + r];
}

using PanelFn = void (*)(int64_t n, int64_t k, const float* a, const float* x, int64_t ldx,
                         const float* bias, const float* res, float* y, int64_t ldy, bool fetch_x,
                         bool t49);
using TailFn = void (*)(int64_t cols, int64_t k, const float* a, const float* x, int64_t ldx,
                        const float* bias, const float* res, float* y, int64_t ldy);

// The product over all panels, column chunk by column chunk, each chunk's columns of x in cache
// while every panel passes over them: in L1 when the weight is small enough to stay in L2 across
// the chunks (the early layers: 16 to 144 input channels), otherwise in L2, so that a weight of
// 0.5 to 1.6 MiB (a 7 × 7 layer's 960 × 160 … 1280 × 320) is read from L3 once rather than once
// per 48 columns. A last chunk narrower than a kernel tile is taken into the one before it (49
// columns: one chunk of 48 + 1, not a second pass over the weight for one column). A chunk's last
// columns past a multiple of the vector (kLanes), when there are at most kTailMaxColumns, go to
// the tail kernels, kTailPanels full panels at a time, right after those panels' other columns
// (their weights still in L2). With k49 (AVX-512), columns a multiple of 49 but not of 16 (7 × 7
// and 14 × 14 planes) go in tiles of 49 instead (tile49), chunks of whole tiles, no tail. The e^x
// activations over each panel's tile right after it is stored.
template <ConvActivation kAct, const PanelFn* kPanels, const TailFn* kTails, int64_t kLanes,
          bool k49>
void pointwise(int64_t m, int64_t n, int64_t k, const float* packed, const float* x, int64_t ldx,
               const float* bias, const float* res, float* y, int64_t ldy) {
  if (m <= 0 || n <= 0) return;
  const int64_t kk = std::max<int64_t>(k, 1);
  const bool t49 = k49 && n % 49 == 0 && n % 16 != 0;
  const int64_t tile = t49 ? 49 : kTile;
  const int64_t floats = (m * kk <= kWeightInL2Floats ? kChunkL1Bytes : kChunkL2Bytes) /
                         static_cast<int64_t>(sizeof(float));
  const int64_t chunk = std::max<int64_t>(tile, floats / kk / tile * tile);
  constexpr int64_t kGroupRows = kTailPanels * kPackRows;
  for (int64_t j0 = 0; j0 < n;) {
    const int64_t w = t49 ? std::min(chunk, n - j0) : n - j0 < chunk + kTile ? n - j0 : chunk;
    const int64_t rem = !t49 && w % kLanes <= kTailMaxColumns ? w % kLanes : 0;
    for (int64_t g0 = 0; g0 < m; g0 += kGroupRows) {
      const int64_t g1 = std::min(m, g0 + kGroupRows);
      const int64_t full = (g1 - g0) / kPackRows;  // full panels in the group
      for (int64_t r0 = g0; r0 < g1; r0 += kPackRows) {
        const int64_t rows = std::min(kPackRows, m - r0);
        // A partial panel (its rows side by side in fewer than 8 floats) takes every column.
        const int64_t cols = rows == kPackRows ? w - rem : w;
        float* yt = y + r0 * ldy + j0;
        if (res && r0 + kPackRows < m) {
          // The next panel's residual and output lines into L2 while this panel computes. The
          // output's too: resnet50's fused 1 × 1 expansions at 56 × 56 and 28 × 28 (3.2 and 1.6
          // MB written, as much of shortcut read) took 21% and 14% less time with it, one panel
          // ahead (two: slower); without a residual no change, so not there (docs/benchmarks.md,
          // "Session 13: ResNet's 3 × 3 input read in place, 1 × 1 outputs fetched ahead").
          const int64_t next = std::min(kPackRows, m - r0 - kPackRows);
          fetch_residual_l2(res + (r0 + kPackRows) * ldy + j0, ldy, next, w);
          fetch_residual_l2(y + (r0 + kPackRows) * ldy + j0, ldy, next, w);
        }
        if (cols > 0)
          kPanels[rows - 1](cols, k, packed + r0 * k, x + j0, ldx, bias ? bias + r0 : nullptr,
                            res ? res + r0 * ldy + j0 : nullptr, yt, ldy, r0 == 0, t49);
        if constexpr (conv_activation_exp(kAct))
          for (int64_t r = 0; r < rows; ++r) conv_activate_exp(kAct, yt + r * ldy, cols);
      }
      if (rem > 0 && full > 0)
        kTails[full - 1](rem, k, packed + g0 * k, x + j0 + w - rem, ldx, bias ? bias + g0 : nullptr,
                         res ? res + g0 * ldy + j0 + w - rem : nullptr, y + g0 * ldy + j0 + w - rem,
                         ldy);
    }
    j0 += w;
  }
}

// With or without a residual (a template argument: the kernels without one are compiled as before
// it existed; a run-time test in each store cost 3% of resnet50 at batch 8).
template <ConvActivation kAct, bool kRes>
constexpr PanelFn kPanels512[] = {panel512<1, kAct, kRes>, panel512<2, kAct, kRes>,
                                  panel512<3, kAct, kRes>, panel512<4, kAct, kRes>,
                                  panel512<5, kAct, kRes>, panel512<6, kAct, kRes>,
                                  panel512<7, kAct, kRes>, panel512<8, kAct, kRes>};
template <ConvActivation kAct, bool kRes>
constexpr PanelFn kPanels256[] = {panel256<1, kAct, kRes>, panel256<2, kAct, kRes>,
                                  panel256<3, kAct, kRes>, panel256<4, kAct, kRes>,
                                  panel256<5, kAct, kRes>, panel256<6, kAct, kRes>,
                                  panel256<7, kAct, kRes>, panel256<8, kAct, kRes>};

template <ConvActivation kAct, bool kRes>
constexpr TailFn kTails256[] = {
    tail256<1, kAct, kRes>, tail256<2, kAct, kRes>, tail256<3, kAct, kRes>, tail256<4, kAct, kRes>,
    tail256<5, kAct, kRes>, tail256<6, kAct, kRes>, tail256<7, kAct, kRes>, tail256<8, kAct, kRes>};
static_assert(kTailPanels == 8, "kTails256 has kernels for 1..8 panels");

template <ConvActivation kAct, bool kRes>
PointwiseFn for_isa_res(Isa isa) {
  if (isa == Isa::kAvx512)
    return pointwise<kAct, kPanels512<kAct, kRes>, kTails256<kAct, kRes>, 16, true>;
  if (isa == Isa::kAvx2)
    return pointwise<kAct, kPanels256<kAct, kRes>, kTails256<kAct, kRes>, 8, false>;
  return nullptr;
}
template <ConvActivation kAct>
PointwiseFn for_isa(Isa isa, bool residual) {
  return residual ? for_isa_res<kAct, true>(isa) : for_isa_res<kAct, false>(isa);
}
#endif

}  // namespace

PointwiseFn pointwise_kernel(ConvActivation act, bool residual) {
#if defined(__x86_64__)
  const Isa isa = kernel_isa();
  switch (act) {
    case ConvActivation::kNone:
      return for_isa<ConvActivation::kNone>(isa, residual);
    case ConvActivation::kReLU:
      return for_isa<ConvActivation::kReLU>(isa, residual);
    case ConvActivation::kReLU6:
      return for_isa<ConvActivation::kReLU6>(isa, residual);
    case ConvActivation::kHSwish:
      return for_isa<ConvActivation::kHSwish>(isa, residual);
    case ConvActivation::kHSigmoid:
      return for_isa<ConvActivation::kHSigmoid>(isa, residual);
    case ConvActivation::kSiLU:
      return for_isa<ConvActivation::kSiLU>(isa, residual);
    case ConvActivation::kXSigmoid:
      return for_isa<ConvActivation::kXSigmoid>(isa, residual);
  }
#else
  (void)act;
  (void)residual;
#endif
  return nullptr;
}

}  // namespace cellar::ops
