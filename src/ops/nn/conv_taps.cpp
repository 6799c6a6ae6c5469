// The direct convolution on column-shifted copies (ops/nn/conv_taps.h).
#include "ops/nn/conv_taps.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx2.h"
#include "ops/nn/activate_avx512.h"
#include "ops/nn/residual_fetch.h"
#include "ops/parallel.h"

namespace cellar::ops {

namespace {

static_assert(kPackRows == 8, "the kernels below have panels of 1..8 rows");

constexpr int64_t kMaxTaps = 49;  // the offset tables below (7 × 7)
// Floats of shifted copies per unit of work (640 KiB): a band's copies stay in the core's L2
// while every panel of the weight passes over them.
constexpr int64_t kBandFloats = int64_t{160} << 10;
// The same for phase planes (Plan::phased; 480 KiB): the same rows take 2/3 of the copies'
// floats, and bands of up to 640 KiB of planes were 2–3% slower (ResNet's stride-2 layers in
// gemm_bench, docs/benchmarks.md, issue 13, session 14).
constexpr int64_t kPhaseBandFloats = kBandFloats * 3 / 4;
// How far ahead the 48-position tiles fetch the weight panel they stream (2 KiB, as pointwise.cpp).
constexpr int64_t kPrefetchFloats = 512;

// What a kernel works from, computed once per node.
struct Plan {
  ConvGeometry g;
  int64_t cg = 0, og = 0, kdim = 0;
  bool bias = false, residual = false;
  ConvActivation act = ConvActivation::kNone;
  // The taps that meet the input at some output position (t = i·kw + j, in order), and for each
  // its copy (j·sh + (i·dh) mod sh) and row offset ((i·dh) / sh).
  int64_t ntaps = 0;
  int64_t tap[kMaxTaps] = {}, copy[kMaxTaps] = {}, row[kMaxTaps] = {};
  int64_t copies = 0;            // kw · sh
  bool used[kMaxTaps * 8] = {};  // copy c read by some tap (kw·sh ≤ 49 · 8)
  int64_t first[kMaxTaps] = {};  // per tap column j: output columns [first, last) inside the input
  int64_t last[kMaxTaps] = {};
  // Stride 1 across and down and rows as wide as the input's (ow = w: a 3 × 3 stride-1 layer
  // padded by 1): a copy's rows inside the input are the input's rows shifted by a few columns,
  // so a channel's band of them is one contiguous run of the input, copied as one run.
  bool flat = false;
  int64_t halo = 0;    // copy rows past a band's output rows: max (i·dh) / sh
  int64_t band = 0;    // output rows per unit at most (one worker)
  int64_t budget = 0;  // output rows whose copies fill kBandFloats (at least 1)
  // A flat plan on AVX-512 reads the input where it lies instead of copying it: tap k of output
  // position q (row-major in the image) is input element q + inoff[k], taken when bit q of the
  // tap's validity bitmap (valid + k·vstride bytes) is set and read as zero (a masked load) where
  // the tap falls in the padding: the copies' zeros, so the same multiply-adds on the same values.
  int64_t inoff[kMaxTaps] = {};
  std::vector<uint8_t> valid;
  int64_t vstride = 0;
  // A strided plan on AVX-512 (make_plan's `phased`) reads phase planes instead of copies:
  // phase (ph, pw) of input channel ci holds, at row r and column c, the input pixel
  // (r·sh + ph, c·sw + pw), in rows ow floats wide. Tap k of output (oy, ox) is phase pslot[k]'s
  // element at row oy + prow[k], column ox + pcol[k] (pcol ≥ −1 for ResNet's layers): with rows
  // ow wide, a run of output positions is again one run of a plane, read by the in-place kernels
  // under the taps' validity bitmaps (valid, as above), whose masked lanes never load. So a
  // 3 × 3 stride-2 layer de-interleaves each input row once into 4 planes (each element written
  // once, no zeros written) where it made 6 copies of 1.5 times its input, padding included.
  // Only where a column past a plane's ow never lies inside the input (plan_phases).
  bool phased = false;
  int64_t phases = 0;  // planes made: the (ph, pw) some tap reads
  int64_t phase_ph[16] = {}, phase_pw[16] = {};
  int64_t pslot[kMaxTaps] = {}, prow[kMaxTaps] = {}, pcol[kMaxTaps] = {};
  int64_t prow_min = 0;  // the band's planes start at plane row oy0 + prow_min
};

// The arguments of one panel's product over a band: n output positions (row-major from the
// band's first), the copies at `src`, tap k's run of input channel ci at
// src + boff[k] + ci·cstride; the panel's weight `a` (column p = t·cg + ci at a + p·MR).
struct Args {
  int64_t n;
  const float* src;
  const int64_t* boff;
  const int64_t* tap;
  int64_t ntaps, cg, cstride;
  const float* a;
  const float* bias;  // MR values, or null
  float* y;           // row r at y + r·ldy
  int64_t ldy;
  const float* res = nullptr;  // the residual, row r at res + r·ldy (as y), or null
  // Reading the input in place (Plan::valid): tap k's bitmap at valid + k·vstride, and the
  // image position of the band's first output, q0. Null with copies.
  const uint8_t* valid = nullptr;
  int64_t vstride = 0, q0 = 0;
};

// The validity bits of positions [q, q + 16) in a tap's bitmap (padded by 4 bytes).
inline uint32_t valid16(const uint8_t* bits, int64_t q) {
  uint32_t w;
  std::memcpy(&w, bits + (q >> 3), sizeof w);
  return (w >> (q & 7)) & 0xFFFFu;
}
// What an extra position's broadcast reads when its tap falls in the padding.
alignas(64) constexpr float kZeros[16] = {};

#if defined(__x86_64__)

// Whether a sum gets the epilogue's addition (conv2d.cpp adds 0 when there is no bias but an
// activation follows: −0 becomes +0, and the values must be the same).
template <ConvActivation kAct>
constexpr bool kAddsBias = kAct != ConvActivation::kNone;

// The epilogue on one vector of a row's sums: + the row's bias b (when `add`), + the residual's
// vector at `res` (when not null; under `mask` where the store is masked), then the activation.
template <ConvActivation kAct>
__attribute__((target("avx512f"))) inline __m512 finish512(__m512 v, float b, bool add,
                                                           const float* res,
                                                           __mmask16 mask = 0xFFFF) {
  if (add) v = _mm512_add_ps(v, _mm512_set1_ps(b));
  if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, res));
  return activate512(v, kAct);
}
template <ConvActivation kAct>
__attribute__((target("avx2,fma"))) inline __m256 finish256(__m256 v, float b, bool add,
                                                            const float* res) {
  if (add) v = _mm256_add_ps(v, _mm256_set1_ps(b));
  if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(res));
  return activate256(v, kAct);
}
template <ConvActivation kAct>
__attribute__((target("avx2,fma"))) inline __m256 finish256(__m256 v, float b, bool add,
                                                            const float* res, __m256i mask) {
  if (add) v = _mm256_add_ps(v, _mm256_set1_ps(b));
  if (res) v = _mm256_add_ps(v, _mm256_maskload_ps(res, mask));
  return activate256(v, kAct);
}

// One tile of rows [R0, R1) of the panel × 48 positions from position j, and with kExtra `extra`
// (1 to 4) more: a 7 × 7 plane's positions are 48 + 1, a 14 × 14 one's 4 · 48 + 4, and such a
// last few alone as a masked tile of 16 would pass the whole weight again for a few useful lanes
// (a third of a full tile's time). The extra positions are the lanes of one more accumulator,
// lane 4·c + r for position 48 + c of row R0 + r: per column p, the panel's 4 rows (one load,
// its 128 bits repeated) times the copy's 4 values (one load, each spread over 4 lanes: a
// shuffle), one more multiply-add per 12; one extra position: lane r, the copy's value
// broadcast, no shuffle (the shuffle cost a 7 × 7 layer 12%). Hence halves of 4 rows (each reading
// the copy again, from L1): all 8 rows and the extra lanes would need 31 of the 32 registers.
template <int MR, ConvActivation kAct, bool kRes, bool kIn, bool kExtra, int R0, int R1>
__attribute__((target("avx512f"), always_inline)) inline void tile48(const Args& t, int64_t j,
                                                                     int64_t extra) {
  constexpr int kR = R1 - R0;
  const float* const res = kRes ? t.res : nullptr;  // a constant null without a residual
  static_assert(kR <= 8, "a panel's rows");
  const bool add = t.bias != nullptr || kAddsBias<kAct>;
  const int64_t cs = t.cstride;
  constexpr auto kRowLanes = static_cast<__mmask16>((1u << kR) - 1);
  const auto extra_lanes = static_cast<__mmask16>((1u << extra) - 1);
  const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 v0[kR], v1[kR], v2[kR];
#pragma GCC unroll 8
  for (int r = 0; r < kR; ++r) v0[r] = v1[r] = v2[r] = _mm512_setzero_ps();
  __m512 e = _mm512_setzero_ps();
  if (res) fetch_residual(res + R0 * t.ldy + j, t.ldy, kR, kExtra ? 4 : 3);
  for (int64_t k = 0; k < t.ntaps; ++k) {
    const float* bp = t.src + t.boff[k] + j;
    const float* ap = t.a + t.tap[k] * t.cg * MR + R0;
    // In place: the lanes whose tap falls in the padding read as zero; the one extra position
    // from a zero (not advanced) where it does.
    __mmask16 m0 = 0xFFFF, m1 = 0xFFFF, m2 = 0xFFFF, me = extra_lanes;
    const float* ep = bp + 48;
    int64_t es = cs;
    if constexpr (kIn) {
      const uint8_t* bits = t.valid + k * t.vstride;
      const int64_t q = t.q0 + j;
      m0 = static_cast<__mmask16>(valid16(bits, q));
      m1 = static_cast<__mmask16>(valid16(bits, q + 16));
      m2 = static_cast<__mmask16>(valid16(bits, q + 32));
      if constexpr (kExtra) {
        const auto ve = static_cast<__mmask16>(valid16(bits, q + 48));
        me = extra_lanes & ve;
        if ((ve & 1) == 0) ep = kZeros, es = 0;
      }
    }
    for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
      _mm_prefetch(reinterpret_cast<const char*>(ap + kPrefetchFloats), _MM_HINT_T0);
      __m512 b0, b1, b2;
      if constexpr (kIn) {
        b0 = _mm512_maskz_loadu_ps(m0, bp);
        b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
        b2 = _mm512_maskz_loadu_ps(m2, bp + 32);
      } else {
        b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16), b2 = _mm512_loadu_ps(bp + 32);
      }
#pragma GCC unroll 8
      for (int r = 0; r < kR; ++r) {
        const __m512 av = _mm512_set1_ps(ap[r]);
        v0[r] = _mm512_fmadd_ps(av, b0, v0[r]);
        v1[r] = _mm512_fmadd_ps(av, b1, v1[r]);
        v2[r] = _mm512_fmadd_ps(av, b2, v2[r]);
      }
      if constexpr (kExtra) {
        if (kR > 4 || extra == 1) {  // a whole panel's tile takes one extra position only
          // Lane r: row R0 + r (no shuffle: one more load and one multiply-add).
          const float ev = kIn ? *ep : bp[48];
          if constexpr (kIn) ep += es;
          e = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kRowLanes, ap), _mm512_set1_ps(ev), e);
        } else {
          // The 4 rows' 128 bits repeated by the load itself where the half has 4 rows.
          const __m512 a4 = kR == 4 ? _mm512_broadcast_f32x4(_mm_loadu_ps(ap))
                                    : _mm512_shuffle_f32x4(_mm512_maskz_loadu_ps(kRowLanes, ap),
                                                           _mm512_maskz_loadu_ps(kRowLanes, ap), 0);
          e = _mm512_fmadd_ps(a4, _mm512_permutexvar_ps(spread, _mm512_maskz_loadu_ps(me, bp + 48)),
                              e);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kR; ++r) {
    const float b = t.bias ? t.bias[R0 + r] : 0.0f;
    float* yr = t.y + (R0 + r) * t.ldy + j;
    const float* rr = res ? res + (R0 + r) * t.ldy + j : nullptr;
    _mm512_storeu_ps(yr, finish512<kAct>(v0[r], b, add, rr));
    _mm512_storeu_ps(yr + 16, finish512<kAct>(v1[r], b, add, rr ? rr + 16 : nullptr));
    _mm512_storeu_ps(yr + 32, finish512<kAct>(v2[r], b, add, rr ? rr + 32 : nullptr));
  }
  if constexpr (kExtra) {
    const __m512 b4 = t.bias ? _mm512_maskz_loadu_ps(kRowLanes, t.bias + R0) : _mm512_setzero_ps();
    alignas(64) float out[16];
    const int64_t lanes = extra == 1 ? 1 : 4;  // per position
    __m512 s = add ? _mm512_add_ps(e, extra == 1 ? b4 : _mm512_shuffle_f32x4(b4, b4, 0)) : e;
    if (res) {
      // The residual in the accumulator's lanes: lane lanes·c + r for position 48 + c of row
      // R0 + r.
      alignas(64) float rv[16] = {};
      for (int64_t c = 0; c < extra; ++c)
        for (int r = 0; r < kR; ++r) rv[lanes * c + r] = res[(R0 + r) * t.ldy + j + 48 + c];
      s = _mm512_add_ps(s, _mm512_load_ps(rv));
    }
    _mm512_store_ps(out, activate512(s, kAct));
    for (int64_t c = 0; c < extra; ++c)
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r) t.y[(R0 + r) * t.ldy + j + 48 + c] = out[lanes * c + r];
  }
}

template <int MR, ConvActivation kAct, bool kRes, bool kIn>
__attribute__((target("avx512f"))) void panel512(const Args& t) {
  const float* const res = kRes ? t.res : nullptr;
  const bool add = t.bias != nullptr || kAddsBias<kAct>;
  const int64_t cs = t.cstride;
  int64_t j = 0;
  // 48 positions (24 accumulators: 3 loads of the copy and 8 broadcasts per 24 multiply-adds;
  // 48 + 1 to 4 at the end of a band), then 32, then 16 at a time, masked.
  for (; j + 48 <= t.n; j += 48) {
    // As many positions past the tiles of 48 as there are tiles (a 14 × 14 plane: 4 · 48 + 4):
    // tiles of 48 + 1, each a whole panel's (24 accumulators + 1 of 8 lanes). The 2 to 4 at the
    // end as halves of 4 rows instead cost 256 -> 256 at 14 a fifth of its time.
    if (const int64_t tiles = (t.n - j) / 48, rest = (t.n - j) % 48; rest > 1 && rest <= tiles) {
      tile48<MR, kAct, kRes, kIn, true, 0, MR>(t, j, 1);
      ++j;
      continue;
    }
    if (const int64_t extra = t.n - j - 48; extra == 1) {
      tile48<MR, kAct, kRes, kIn, true, 0, MR>(t, j, extra);
      j = t.n;
      break;
    } else if (extra >= 2 && extra <= 4) {
      tile48<MR, kAct, kRes, kIn, true, 0, std::min(MR, 4)>(t, j, extra);
      if constexpr (MR > 4) tile48<MR, kAct, kRes, kIn, true, 4, MR>(t, j, extra);
      j = t.n;
      break;
    }
    tile48<MR, kAct, kRes, kIn, false, 0, MR>(t, j, 0);
  }
  for (; j + 32 <= t.n; j += 32) {
    __m512 lo[MR], hi[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < t.ntaps; ++k) {
      const float* bp = t.src + t.boff[k] + j;
      const float* ap = t.a + t.tap[k] * t.cg * MR;
      __mmask16 m0 = 0xFFFF, m1 = 0xFFFF;
      if constexpr (kIn) {
        m0 = static_cast<__mmask16>(valid16(t.valid + k * t.vstride, t.q0 + j));
        m1 = static_cast<__mmask16>(valid16(t.valid + k * t.vstride, t.q0 + j + 16));
      }
      for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
        const __m512 b0 = kIn ? _mm512_maskz_loadu_ps(m0, bp) : _mm512_loadu_ps(bp);
        const __m512 b1 = kIn ? _mm512_maskz_loadu_ps(m1, bp + 16) : _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(ap[r]);
          lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
          hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
        }
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      float* yr = t.y + r * t.ldy + j;
      const float* rr = res ? res + r * t.ldy + j : nullptr;
      _mm512_storeu_ps(yr, finish512<kAct>(lo[r], t.bias ? t.bias[r] : 0.0f, add, rr));
      _mm512_storeu_ps(
          yr + 16, finish512<kAct>(hi[r], t.bias ? t.bias[r] : 0.0f, add, rr ? rr + 16 : nullptr));
    }
  }
  for (; j < t.n; j += 16) {
    const auto mask = static_cast<__mmask16>((1u << std::min<int64_t>(16, t.n - j)) - 1);
    __m512 acc[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < t.ntaps; ++k) {
      const float* bp = t.src + t.boff[k] + j;
      const float* ap = t.a + t.tap[k] * t.cg * MR;
      const auto m =
          kIn ? static_cast<__mmask16>(mask & valid16(t.valid + k * t.vstride, t.q0 + j)) : mask;
      for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m, bp);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), b0, acc[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
      _mm512_mask_storeu_ps(t.y + r * t.ldy + j, mask,
                            finish512<kAct>(acc[r], t.bias ? t.bias[r] : 0.0f, add,
                                            res ? res + r * t.ldy + j : nullptr, mask));
  }
}

// The first n of eight int lanes set.
__attribute__((target("avx2,fma"))) __m256i lanes_below(int64_t n) {
  alignas(32) int lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = l < n ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// AVX2 has 16 registers: rows [R0, R1) of the panel (at most 4) at a time, 24 positions (12
// accumulators, 3 loads of the copy and 4 broadcasts per 12 multiply-adds), then 16, then 8,
// masked.
template <int MR, ConvActivation kAct, bool kRes, int R0, int R1>
__attribute__((target("avx2,fma"))) void rows256(const Args& t) {
  constexpr int kR = R1 - R0;
  const float* const res = kRes ? t.res : nullptr;
  const bool add = t.bias != nullptr || kAddsBias<kAct>;
  const int64_t cs = t.cstride;
  int64_t j = 0;
  for (; j + 24 <= t.n; j += 24) {
    if (res) fetch_residual(res + R0 * t.ldy + j, t.ldy, kR, 2);
    __m256 v0[kR], v1[kR], v2[kR];
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) v0[r] = v1[r] = v2[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < t.ntaps; ++k) {
      const float* bp = t.src + t.boff[k] + j;
      const float* ap = t.a + t.tap[k] * t.cg * MR + R0;
      for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
        _mm_prefetch(reinterpret_cast<const char*>(ap + kPrefetchFloats), _MM_HINT_T0);
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8),
                     b2 = _mm256_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < kR; ++r) {
          const __m256 av = _mm256_broadcast_ss(ap + r);
          v0[r] = _mm256_fmadd_ps(av, b0, v0[r]);
          v1[r] = _mm256_fmadd_ps(av, b1, v1[r]);
          v2[r] = _mm256_fmadd_ps(av, b2, v2[r]);
        }
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) {
      float* yr = t.y + (R0 + r) * t.ldy + j;
      const float* rr = res ? res + (R0 + r) * t.ldy + j : nullptr;
      const float b = t.bias ? t.bias[R0 + r] : 0.0f;
      _mm256_storeu_ps(yr, finish256<kAct>(v0[r], b, add, rr));
      _mm256_storeu_ps(yr + 8, finish256<kAct>(v1[r], b, add, rr ? rr + 8 : nullptr));
      _mm256_storeu_ps(yr + 16, finish256<kAct>(v2[r], b, add, rr ? rr + 16 : nullptr));
    }
  }
  for (; j + 16 <= t.n; j += 16) {
    __m256 lo[kR], hi[kR];
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < t.ntaps; ++k) {
      const float* bp = t.src + t.boff[k] + j;
      const float* ap = t.a + t.tap[k] * t.cg * MR + R0;
      for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
        const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 8
        for (int r = 0; r < kR; ++r) {
          const __m256 av = _mm256_broadcast_ss(ap + r);
          lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
          hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
        }
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) {
      float* yr = t.y + (R0 + r) * t.ldy + j;
      const float* rr = res ? res + (R0 + r) * t.ldy + j : nullptr;
      const float b = t.bias ? t.bias[R0 + r] : 0.0f;
      _mm256_storeu_ps(yr, finish256<kAct>(lo[r], b, add, rr));
      _mm256_storeu_ps(yr + 8, finish256<kAct>(hi[r], b, add, rr ? rr + 8 : nullptr));
    }
  }
  for (; j < t.n; j += 8) {
    const __m256i mask = lanes_below(std::min<int64_t>(8, t.n - j));
    __m256 acc[kR];
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < t.ntaps; ++k) {
      const float* bp = t.src + t.boff[k] + j;
      const float* ap = t.a + t.tap[k] * t.cg * MR + R0;
      for (int64_t ci = 0; ci < t.cg; ++ci, bp += cs, ap += MR) {
        const __m256 b0 = _mm256_maskload_ps(bp, mask);
#pragma GCC unroll 8
        for (int r = 0; r < kR; ++r)
          acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + r), b0, acc[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r)
      _mm256_maskstore_ps(t.y + (R0 + r) * t.ldy + j, mask,
                          finish256<kAct>(acc[r], t.bias ? t.bias[R0 + r] : 0.0f, add,
                                          res ? res + (R0 + r) * t.ldy + j : nullptr, mask));
  }
}

template <int MR, ConvActivation kAct, bool kRes>
void panel256(const Args& t) {
  rows256<MR, kAct, kRes, 0, std::min(MR, 4)>(t);
  if constexpr (MR > 4) rows256<MR, kAct, kRes, 4, MR>(t);
}

using PanelFn = void (*)(const Args&);

// The panel kernels for an activation, with or without a residual (a template argument: the
// kernels without one are compiled as before it existed; a run-time test in each store cost 3% of
// resnet50 at batch 8).
// kIn: the AVX-512 kernels reading the input in place (Plan::valid); AVX2 always reads copies.
template <ConvActivation kAct, bool kRes, bool kIn>
const PanelFn* panels(bool wide) {
  static const PanelFn k512[] = {panel512<1, kAct, kRes, kIn>, panel512<2, kAct, kRes, kIn>,
                                 panel512<3, kAct, kRes, kIn>, panel512<4, kAct, kRes, kIn>,
                                 panel512<5, kAct, kRes, kIn>, panel512<6, kAct, kRes, kIn>,
                                 panel512<7, kAct, kRes, kIn>, panel512<8, kAct, kRes, kIn>};
  if constexpr (kIn) {
    return k512;
  } else {
    static const PanelFn k256[] = {panel256<1, kAct, kRes>, panel256<2, kAct, kRes>,
                                   panel256<3, kAct, kRes>, panel256<4, kAct, kRes>,
                                   panel256<5, kAct, kRes>, panel256<6, kAct, kRes>,
                                   panel256<7, kAct, kRes>, panel256<8, kAct, kRes>};
    return wide ? k512 : k256;
  }
}

template <bool kRes, bool kIn>
const PanelFn* panels_for(ConvActivation act, bool wide) {
  switch (act) {
    case ConvActivation::kReLU:
      return panels<ConvActivation::kReLU, kRes, kIn>(wide);
    case ConvActivation::kReLU6:
      return panels<ConvActivation::kReLU6, kRes, kIn>(wide);
    case ConvActivation::kHSwish:
      return panels<ConvActivation::kHSwish, kRes, kIn>(wide);
    case ConvActivation::kHSigmoid:
      return panels<ConvActivation::kHSigmoid, kRes, kIn>(wide);
    default:
      return panels<ConvActivation::kNone, kRes, kIn>(wide);
  }
}

// dst[0, n) = src[0, n), eight floats at a time, then four, then one by one (no call to memmove
// per row of 7 to 56 floats, and no masked store: AMD's vmaskmovps store is microcoded, and with
// it the copies were 7% of resnet18).
__attribute__((target("avx2,fma"))) void copy_run(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  if (i + 4 <= n) {
    _mm_storeu_ps(dst + i, _mm_loadu_ps(src + i));
    i += 4;
  }
  if (i < n) dst[i] = src[i];
  if (i + 1 < n) dst[i + 1] = src[i + 1];
  if (i + 2 < n) dst[i + 2] = src[i + 2];
}

// dst[0, n) = src[0], src[2], …, src[2·(n − 1)]: eight at a time from two loads of eight, as
// long as they stay inside [0, 2n − 1); the rest one by one.
__attribute__((target("avx2,fma"))) void copy_even(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 < n; i += 8) {
    const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
    // a0 a2 b0 b2 | a4 a6 b4 b6 → a0 a2 a4 a6 b0 b2 b4 b6
    const __m256 s = _mm256_shuffle_ps(a, b, 0x88);
    _mm256_storeu_ps(dst + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8)));
  }
  for (; i < n; ++i) dst[i] = src[2 * i];
}

// dst[0, n) = 0, the same way (a padding column is one float: not a call to memset).
__attribute__((target("avx2,fma"))) void zero_run(int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_setzero_ps());
  if (i + 4 <= n) {
    _mm_storeu_ps(dst + i, _mm_setzero_ps());
    i += 4;
  }
  if (i < n) dst[i] = 0.0f;
  if (i + 1 < n) dst[i + 1] = 0.0f;
  if (i + 2 < n) dst[i + 2] = 0.0f;
}

// AVX-512's runs: sixteen floats at a time, the last few under a mask (a masked store is one
// instruction here, unlike AVX2's vmaskmovps).
__attribute__((target("avx512f"))) inline void copy_run512(const float* src, int64_t n,
                                                           float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
}
__attribute__((target("avx512f"))) inline void zero_run512(int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
  if (i < n)
    _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>((1u << (n - i)) - 1),
                          _mm512_setzero_ps());
}
// dst[0, n) = src[0], src[2], …: sixteen from two loads of sixteen while they stay inside
// [0, 2n − 1), then the last 1 to 16 the same way from masked loads of src[2i, 2n − 1) (one by
// one, a stride-2 layer's rows of 28, 14 and 7 were mostly scalar stores).
__attribute__((target("avx512f"))) inline void copy_even512(const float* src, int64_t n,
                                                            float* dst) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  int64_t i = 0;
  for (; i + 16 < n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * i), even,
                                                     _mm512_loadu_ps(src + 2 * i + 16)));
  if (i < n) {
    const int64_t span = 2 * (n - i) - 1;  // source floats from src + 2i: 1 to 31
    const auto lo = static_cast<__mmask16>((1u << std::min<int64_t>(span, 16)) - 1);
    const auto hi = static_cast<__mmask16>((1u << std::max<int64_t>(span - 16, 0)) - 1);
    _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>((1u << (n - i)) - 1),
                          _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, src + 2 * i), even,
                                                 _mm512_maskz_loadu_ps(hi, src + 2 * i + 16)));
  }
}

// The band's copies (output rows [oy0, oy0 + rows), `height` copy rows) of one image-group's
// input channels xg into buf: copy c of channel ci at buf + (c·cg + ci)·cstride. Channel by
// channel (its band of input rows, a few KiB, stays in L1 while every copy reads it), copy by
// copy: the rows above and below the input one zero run each; the rows inside it, when the plan
// is flat, one run of the input from the band's first row (the copy's row r, column ox is input
// element (iy0 + r)·w + ox + off), then zeros over the few columns of each row that lie in the
// padding (the run put the neighbouring row's last or first values there); otherwise row by row.
// (Row by row, each input row into every copy, the copies were 6.1% of resnet18's samples at
// batch 1: a few stores per call, per row of 7 to 56 floats.) Compiled into each instruction
// set's function below (the AVX2 one must not contain AVX-512 instructions).
template <bool kWide>
__attribute__((always_inline)) inline void make_copies(const Plan& pl, const float* xg, int64_t oy0,
                                                       int64_t height, float* buf) {
  const ConvGeometry& g = pl.g;
  const int64_t cstride = height * g.ow;
  auto zero = [&](int64_t n, float* dst) {
    if constexpr (kWide)
      zero_run512(n, dst);
    else
      zero_run(n, dst);
  };
  auto copy = [&](const float* src, int64_t n, float* dst) {
    if constexpr (kWide)
      copy_run512(src, n, dst);
    else
      copy_run(src, n, dst);
  };
  // The input rows the band reads: [iy0, iy1).
  const int64_t iy0 = std::clamp<int64_t>(oy0 * g.sh - g.pt, 0, g.h);
  const int64_t iy1 = std::clamp<int64_t>((oy0 + height) * g.sh - g.pt, iy0, g.h);
  const int64_t fetch_bytes = (iy1 - iy0) * g.w * static_cast<int64_t>(sizeof(float));
  for (int64_t ci = 0; ci < pl.cg; ++ci) {
    const float* plane = xg + ci * g.h * g.w;
    // The next channel's rows, asked for now: a batch's activations come from L3 or memory, and
    // a band's few KiB per channel, a plane apart, are too short a stream for the hardware's
    // prefetcher (the copies were 12% of resnet18 at batch 8).
    if (ci + 1 < pl.cg) {
      const char* next = reinterpret_cast<const char*>(plane + g.h * g.w + iy0 * g.w);
      for (int64_t b = 0; b < fetch_bytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
    }
    for (int64_t c = 0; c < pl.copies; ++c) {
      if (!pl.used[c]) continue;
      const int64_t j = c / g.sh, ph = c % g.sh;
      const int64_t off = j * g.dw - g.pl;  // input column of output column 0
      const int64_t lo = pl.first[j], hi = pl.last[j];
      float* dst = buf + (c * pl.cg + ci) * cstride;
      // Copy rows [r0, r1) lie inside the input: (oy0 + r)·sh + ph − pt in [0, h).
      const int64_t top = oy0 * g.sh + ph - g.pt;  // input row of copy row 0
      const int64_t r0 = std::clamp<int64_t>(top >= 0 ? 0 : (g.sh - 1 - top) / g.sh, 0, height);
      const int64_t r1 =
          g.h - 1 - top < 0 ? r0 : std::clamp<int64_t>((g.h - 1 - top) / g.sh + 1, r0, height);
      if (r0 > 0) zero(r0 * g.ow, dst);
      if (r1 < height) zero((height - r1) * g.ow, dst + r1 * g.ow);
      if (r1 == r0) continue;
      // Copy row r0's column lo: input column lo·sw + off (≥ 0) of row top + r0·sh.
      const float* src = plane + (top + r0 * g.sh) * g.w + lo * g.sw + off;
      float* d = dst + r0 * g.ow;
      if (pl.flat) {
        copy(src, (r1 - r0 - 1) * g.ow + hi - lo, d + lo);
        for (int64_t r = 0; r < r1 - r0; ++r, d += g.ow) {
          for (int64_t ox = 0; ox < lo; ++ox) d[ox] = 0.0f;
          for (int64_t ox = hi; ox < g.ow; ++ox) d[ox] = 0.0f;
        }
        continue;
      }
      for (int64_t r = r0; r < r1; ++r, src += g.sh * g.w, d += g.ow) {
        if (lo > 0) zero(lo, d);
        if (g.sw == 1) {
          copy(src, hi - lo, d + lo);
        } else if (g.sw == 2) {
          if constexpr (kWide)
            copy_even512(src, hi - lo, d + lo);
          else
            copy_even(src, hi - lo, d + lo);
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) d[ox] = src[(ox - lo) * g.sw];
        }
        if (hi < g.ow) zero(g.ow - hi, d + hi);
      }
    }
  }
}

__attribute__((target("avx512f"))) void make_copies512(const Plan& pl, const float* xg, int64_t oy0,
                                                       int64_t height, float* buf) {
  make_copies<true>(pl, xg, oy0, height, buf);
}
__attribute__((target("avx2,fma"))) void make_copies256(const Plan& pl, const float* xg,
                                                        int64_t oy0, int64_t height, float* buf) {
  make_copies<false>(pl, xg, oy0, height, buf);
}

// dst0[0, n0) = src[0], src[2], …; dst1[0, n1) = src[1], src[3], … (a null one not wanted),
// reading src[0, len) only: per 16 of each, two loads of 16 (masked at the row's end) and a
// permute per output.
__attribute__((target("avx512f"))) inline void split_even_odd512(const float* src, int64_t len,
                                                                 float* dst0, int64_t n0,
                                                                 float* dst1, int64_t n1) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  if (!dst0) n0 = 0;
  if (!dst1) n1 = 0;
  const int64_t n = std::max(n0, n1);
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t span = len - 2 * i;  // source floats left from src + 2i (≥ 1)
    __m512 lo, hi;
    if (span >= 32) {
      lo = _mm512_loadu_ps(src + 2 * i), hi = _mm512_loadu_ps(src + 2 * i + 16);
    } else {
      lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << std::min<int64_t>(span, 16)) - 1),
                                 src + 2 * i);
      hi = _mm512_maskz_loadu_ps(
          static_cast<__mmask16>((1u << std::max<int64_t>(span - 16, 0)) - 1), src + 2 * i + 16);
    }
    if (i + 16 <= n0)
      _mm512_storeu_ps(dst0 + i, _mm512_permutex2var_ps(lo, even, hi));
    else if (i < n0)
      _mm512_mask_storeu_ps(dst0 + i, static_cast<__mmask16>((1u << (n0 - i)) - 1),
                            _mm512_permutex2var_ps(lo, even, hi));
    if (i + 16 <= n1)
      _mm512_storeu_ps(dst1 + i, _mm512_permutex2var_ps(lo, odd, hi));
    else if (i < n1)
      _mm512_mask_storeu_ps(dst1 + i, static_cast<__mmask16>((1u << (n1 - i)) - 1),
                            _mm512_permutex2var_ps(lo, odd, hi));
  }
}

// A band's phase planes (Plan::phased: plane rows [oy0 + prow_min, + height) of every used phase)
// of one image-group's input channels xg into buf: phase slot s of channel ci at
// buf + (s·cg + ci)·height·ow. Only what lies inside the input is written (the kernels' masks
// never read the rest); each input row read once, a stride-2 row split into both its column
// phases at once.
__attribute__((target("avx512f"))) void make_phases512(const Plan& pl, const float* xg, int64_t oy0,
                                                       int64_t height, float* buf) {
  const ConvGeometry& g = pl.g;
  const int64_t cstride = height * g.ow, top = oy0 + pl.prow_min;
  // Per phase slot: the row phase, and its columns inside the input (c·sw + pw < w).
  int64_t cols[16];
  for (int64_t s = 0; s < pl.phases; ++s)
    cols[s] = std::clamp<int64_t>((g.w - pl.phase_pw[s] + g.sw - 1) / g.sw, 0, g.ow);
  const int64_t iy0 = std::clamp<int64_t>(top * g.sh, 0, g.h);
  const int64_t iy1 = std::clamp<int64_t>((top + height) * g.sh, iy0, g.h);
  const int64_t fetch_bytes = (iy1 - iy0) * g.w * static_cast<int64_t>(sizeof(float));
  for (int64_t ci = 0; ci < pl.cg; ++ci) {
    const float* plane = xg + ci * g.h * g.w;
    if (ci + 1 < pl.cg) {  // as make_copies: the next channel's rows
      const char* next = reinterpret_cast<const char*>(plane + g.h * g.w + iy0 * g.w);
      for (int64_t b = 0; b < fetch_bytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
    }
    for (int64_t ph = 0; ph < g.sh; ++ph) {
      // The slots of row phase ph: at most sw, in column-phase order.
      int64_t slot[4] = {-1, -1, -1, -1};
      bool any = false;
      for (int64_t s = 0; s < pl.phases; ++s)
        if (pl.phase_ph[s] == ph) slot[pl.phase_pw[s]] = s, any = true;
      if (!any) continue;
      auto dst = [&](int64_t s, int64_t r) {
        return s < 0 ? nullptr : buf + (s * pl.cg + ci) * cstride + r * g.ow;
      };
      for (int64_t r = 0; r < height; ++r) {
        const int64_t iy = (top + r) * g.sh + ph;
        if (iy < 0 || iy >= g.h) continue;
        const float* src = plane + iy * g.w;
        if (g.sw == 2) {
          split_even_odd512(src, g.w, dst(slot[0], r), slot[0] < 0 ? 0 : cols[slot[0]],
                            dst(slot[1], r), slot[1] < 0 ? 0 : cols[slot[1]]);
          continue;
        }
        for (int64_t pw = 0; pw < g.sw; ++pw) {
          if (slot[pw] < 0) continue;
          float* d = dst(slot[pw], r);
          if (g.sw == 1)
            copy_run512(src, cols[slot[pw]], d);
          else
            for (int64_t c = 0; c < cols[slot[pw]]; ++c) d[c] = src[c * g.sw + pw];
        }
      }
    }
  }
}

#endif  // __x86_64__

// The kernels' cost of n positions, in passes of 16 lanes per column of the weight: tiles of 48
// (3), its last 1 to 4 positions taken in (1/4), or up to one more per tile (1/8 each), other
// remainders in vectors of 16.
double tile_cost(int64_t n) {
  const int64_t full = n / 48, rest = n % 48;
  if (rest == 0) return 3.0 * static_cast<double>(full);
  if (rest <= 4 && full > 0) return 3.0 * static_cast<double>(full) + 0.25;
  if (rest <= full) return 3.0 * static_cast<double>(full) + 0.125 * static_cast<double>(rest);
  return 3.0 * static_cast<double>(full) + static_cast<double>((rest + 15) / 16);
}

// The tiles' cost of a plane in bands of b rows (the last one what is left), per position.
double band_cost(const ConvGeometry& g, int64_t b) {
  const int64_t bands = (g.oh + b - 1) / b, last = g.oh - (bands - 1) * b;
  return (static_cast<double>(bands - 1) * tile_cost(b * g.ow) + tile_cost(last * g.ow)) /
         static_cast<double>(g.oh * g.ow);
}

// Output rows per band, at most `budget` (at least 1) and at least half of it: the count whose
// positions cost the least per position (56 wide: 12 rows, 14 tiles; 28 wide: 12), then the
// largest.
int64_t choose_band(const ConvGeometry& g, int64_t budget) {
  budget = std::clamp<int64_t>(budget, 1, g.oh);
  int64_t best = budget;
  double best_cost = 1e300;
  for (int64_t b = budget; b >= std::max<int64_t>(1, budget / 2); --b) {
    const double cost = band_cost(g, b);
    if (cost < best_cost - 1e-9) best = b, best_cost = cost;
  }
  return best;
}

// Whether, and how, a strided layer reads phase planes (Plan::phased); fills its fields.
bool plan_phases(Plan& pl) {
  const ConvGeometry& g = pl.g;
  // A strided 1 × 1 layer keeps its one copy (its phase plane is the same floats; on it the
  // masked kernels and longer bands were 2–5% slower).
  if (pl.flat || (g.sh == 1 && g.sw == 1) || g.sh > 4 || g.sw > 4 || g.kh * g.kw == 1 ||
      pl.ntaps == 0)
    return false;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  int64_t slot_of[16];
  std::fill_n(slot_of, 16, -1);
  int64_t lo = 0, hi = 0;
  for (int64_t k = 0; k < pl.ntaps; ++k) {
    const int64_t e = (pl.tap[k] / g.kw) * g.dh - g.pt, d = (pl.tap[k] % g.kw) * g.dw - g.pl;
    const int64_t a = floor_div(e, g.sh), b = floor_div(d, g.sw);
    const int64_t ph = e - a * g.sh, pw = d - b * g.sw;
    // A column past the plane's ow inside the input would be read as the next row's first.
    if (b > 0 && g.ow * g.sw + pw < g.w) return false;
    int64_t& s = slot_of[ph * g.sw + pw];
    if (s < 0) {
      s = pl.phases++;
      pl.phase_ph[s] = ph, pl.phase_pw[s] = pw;
    }
    pl.pslot[k] = s, pl.prow[k] = a, pl.pcol[k] = b;
    lo = k == 0 ? a : std::min(lo, a);
    hi = k == 0 ? a : std::max(hi, a);
  }
  pl.prow_min = lo;
  pl.halo = hi - lo;
  // The taps' validity bits per output position, as the flat plan's.
  const int64_t positions = g.oh * g.ow;
  pl.vstride = (positions + 7) / 8 + 4;
  pl.valid.assign(static_cast<size_t>(pl.ntaps * pl.vstride), 0);
  for (int64_t k = 0; k < pl.ntaps; ++k) {
    const int64_t e = (pl.tap[k] / g.kw) * g.dh - g.pt, d = (pl.tap[k] % g.kw) * g.dw - g.pl;
    uint8_t* bits = pl.valid.data() + k * pl.vstride;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t iy = oy * g.sh + e, ix = ox * g.sw + d;
        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) {
          const int64_t q = oy * g.ow + ox;
          bits[q >> 3] = static_cast<uint8_t>(bits[q >> 3] | (1u << (q & 7)));
        }
      }
  }
  pl.phased = true;
  return true;
}

// `phases`: plan phase planes where the geometry allows (AVX-512's kernels only).
Plan make_plan(const ConvGeometry& g, bool bias, ConvActivation act, bool residual,
               bool phases = false) {
  Plan pl;
  pl.g = g;
  pl.cg = g.c / g.group;
  pl.og = g.o / g.group;
  pl.kdim = pl.cg * g.kh * g.kw;
  pl.bias = bias;
  pl.residual = residual;
  pl.act = act;
  pl.copies = g.kw * g.sh;
  pl.flat = g.sh == 1 && g.sw == 1 && g.w == g.ow;
  for (int64_t j = 0; j < g.kw; ++j) {
    // Input column ox·sw + off lies in [0, w) for ox in [first, last).
    const int64_t off = j * g.dw - g.pl;
    const int64_t first = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
    const int64_t last = g.w - off > 0 ? (g.w - off - 1) / g.sw + 1 : 0;
    pl.first[j] = std::min(first, g.ow);
    pl.last[j] = std::clamp(last, pl.first[j], g.ow);
  }
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      // conv2d.cpp's rule: a tap that meets the input at no output position is left out.
      bool rows_in = false;
      for (int64_t oy = 0; oy < g.oh && !rows_in; ++oy) {
        const int64_t iy = oy * g.sh + i * g.dh - g.pt;
        rows_in = iy >= 0 && iy < g.h;
      }
      if (!rows_in || pl.last[j] <= pl.first[j]) continue;
      const int64_t k = pl.ntaps++;
      pl.tap[k] = i * g.kw + j;
      pl.copy[k] = j * g.sh + (i * g.dh) % g.sh;
      pl.row[k] = (i * g.dh) / g.sh;
      pl.used[pl.copy[k]] = true;
      pl.halo = std::max(pl.halo, pl.row[k]);
    }
  if (pl.flat) {
    // Tap k's validity bit per output position; 4 bytes of slack for valid16's read.
    const int64_t positions = g.oh * g.ow;
    pl.vstride = (positions + 7) / 8 + 4;
    pl.valid.assign(static_cast<size_t>(pl.ntaps * pl.vstride), 0);
    for (int64_t k = 0; k < pl.ntaps; ++k) {
      const int64_t di = (pl.tap[k] / g.kw) * g.dh - g.pt, dj = (pl.tap[k] % g.kw) * g.dw - g.pl;
      pl.inoff[k] = di * g.w + dj;
      uint8_t* bits = pl.valid.data() + k * pl.vstride;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          if (oy + di >= 0 && oy + di < g.h && ox + dj >= 0 && ox + dj < g.w) {
            const int64_t q = oy * g.ow + ox;
            bits[q >> 3] = static_cast<uint8_t>(bits[q >> 3] | (1u << (q & 7)));
          }
    }
  }
  if (phases) plan_phases(pl);
  const int64_t per_row = std::max<int64_t>(1, (pl.phased ? pl.phases : pl.copies) * pl.cg * g.ow);
  // The whole plane when its copies fit 1.25 × the budget (a 14 × 14 plane: 196 positions, not
  // 2 × 98, each band's last 2 a pass of its own).
  const int64_t floats = pl.phased ? kPhaseBandFloats : kBandFloats;
  pl.budget = std::max<int64_t>(1, floats / per_row - pl.halo);
  pl.band = (g.oh + pl.halo) * per_row <= floats * 5 / 4 ? g.oh : choose_band(g, pl.budget);
  return pl;
}

// Output rows per band on `workers` workers: the plan's band, or, where the plane is already
// cut in bands whose count does not divide over the workers (resnet18 at batch 1 on 2 workers:
// 56 × 56 in 5 bands of 12 rows, 28 × 28 in 12 + 12 + 4), a band of half the budget to the
// plan's band that gives each worker's contiguous share of the units at most 3% more tiles' cost
// than half of the plan's (56 × 56 and 28 × 28: bands of 7 rows, 8 · 48 + 8 and 4 · 48 + 4
// positions). Otherwise the units are split by blocks of output channels too, and every worker
// copies every band; bands spread over the workers are each copied once. (Bands of up to 1.25 ×
// the budget, 56 × 56 in 4 of 14 rows, made the tiles slower: 774 KiB of copies with the
// weight and the output band overflow the 1 MiB L2.)
int64_t band_for(const Plan& pl, int64_t images, int64_t workers) {
  const ConvGeometry& g = pl.g;
  const int64_t bands = (g.oh + pl.band - 1) / pl.band;
  if (workers <= 1 || bands < 2 || images * bands % workers == 0) return pl.band;
  // The largest share of b-row bands' tile cost a worker gets (for_range's contiguous chunks).
  auto busiest = [&](int64_t b) {
    const int64_t n = (g.oh + b - 1) / b, last = g.oh - (n - 1) * b, units = images * n;
    const int64_t chunks = std::min(units, workers);
    double most = 0;
    for (int64_t c = 0, u = 0; c < chunks; ++c) {
      double cost = 0;
      for (const int64_t end = u + units / chunks + (c < units % chunks ? 1 : 0); u < end; ++u)
        cost += tile_cost((u % n == n - 1 ? last : b) * g.ow);
      most = std::max(most, cost);
    }
    return most;
  };
  const double even = band_cost(g, pl.band) * static_cast<double>(images * g.oh * g.ow) /
                      static_cast<double>(workers) * 1.03;
  int64_t best = pl.band;
  double best_cost = even;
  for (int64_t b = std::min(g.oh - 1, pl.band); b >= std::max<int64_t>(1, pl.budget / 2); --b)
    if (const double cost = busiest(b); cost < best_cost - 1e-9) best = b, best_cost = cost;
  return best;
}

}  // namespace

bool conv_taps_fits(const ConvGeometry& g, ConvActivation act) {
#if defined(__x86_64__)
  if (kernel_isa() == Isa::kNone || conv_activation_exp(act)) return false;
  // A 1 × 1 kernel only strided (ResNet's stride-2 shortcuts; unstrided ones are pointwise.h's).
  const bool one_tap = g.kh * g.kw == 1;
  return conv_uses_gemm(g) && g.kh * g.kw <= kMaxTaps && g.sh <= 8 &&
         (!one_tap || g.sh > 1 || g.sw > 1);
#else
  (void)g;
  (void)act;
  return false;
#endif
}

bool conv_taps_pays(const ConvGeometry& g) { return kernel_isa() == Isa::kAvx512 || g.ow >= 28; }

Kernel conv_taps_kernel(const ConvGeometry& geo, bool has_bias, ConvActivation act, bool residual) {
  auto plan = std::make_shared<const Plan>(make_plan(geo, has_bias, act, residual));
  // A strided layer's phase planes (Plan::phased), for AVX-512; its bands are its own.
  std::shared_ptr<const Plan> phase_plan;
  if (Plan p = make_plan(geo, has_bias, act, residual, true); p.phased)
    phase_plan = std::make_shared<const Plan>(std::move(p));
  return [plan, phase_plan](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
#if defined(__x86_64__)
    const bool wide = kernel_isa() == Isa::kAvx512;
    const Plan& pl = wide && phase_plan ? *phase_plan : *plan;
    const ConvGeometry& g = pl.g;
    const float* x = in[0].data<float>();
    const float* w = in[1].data<float>();
    const float* bias = pl.bias ? in[2].data<float>() : nullptr;
    const float* res = pl.residual ? in[pl.bias ? 3 : 2].data<float>() : nullptr;
    float* y = out[0].data<float>();
    if (out[0].numel() == 0) return;
    const int64_t spatial = g.oh * g.ow, images = g.n * g.group;
    // Units: (image-group, band of output rows, block of output channels). When the units do not
    // split evenly over the workers (a batch-1 plane of 1 band on 2 workers, or of bands no
    // count of which divides evenly at the same tiles' cost), blocks of the output channels too,
    // each unit making its own copies: thinner bands would end in remainders the tiles take badly.
    const int64_t band = band_for(pl, images, par.threads()), bands = (g.oh + band - 1) / band;
    const int64_t units = images * bands, workers = par.threads();
    int64_t row_blocks = 1;
    if (workers > 1 && units % workers != 0 && units < 8 * workers && pl.og >= 16)
      row_blocks = std::min<int64_t>(workers, pl.og / 8);
    int64_t rows = (pl.og + row_blocks - 1) / row_blocks;
    rows = (rows + kPackRows - 1) / kPackRows * kPackRows;
    row_blocks = (pl.og + rows - 1) / rows;
    // AVX-512 reads a flat plan's input where it lies (masked loads), a strided one's phase
    // planes the same way; AVX2 copies it (its masked loads, vmaskmovps, are microcoded on AMD).
    const bool in_place = wide && pl.flat, phased = pl.phased;
    const size_t copy_floats = in_place ? 0
                                        : static_cast<size_t>((phased ? pl.phases : pl.copies) *
                                                              pl.cg * (band + pl.halo) * g.ow);
    const PanelFn* kernels = in_place || phased
                                 ? (pl.residual ? panels_for<true, true>(pl.act, wide)
                                                : panels_for<false, true>(pl.act, wide))
                                 : (pl.residual ? panels_for<true, false>(pl.act, wide)
                                                : panels_for<false, false>(pl.act, wide));
    if (pl.ntaps == 0) {
      // Every tap only meets padding: the sums are zero (gemm_packed's zeros, then the epilogue).
      par.for_range(images, 1, [&](int64_t u0, int64_t u1, int) {
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t b = u / g.group, gr = u % g.group;
          for (int64_t r = 0; r < pl.og; r += kPackRows) {
            const int64_t m = std::min(kPackRows, pl.og - r);
            Args a{spatial,
                   nullptr,
                   nullptr,
                   nullptr,
                   0,
                   pl.cg,
                   0,
                   w,
                   bias ? bias + gr * pl.og + r : nullptr,
                   y + (b * g.o + gr * pl.og + r) * spatial,
                   spatial,
                   res ? res + (b * g.o + gr * pl.og + r) * spatial : nullptr};
            kernels[m - 1](a);
          }
        }
      });
      return;
    }
    par.for_range(images * bands * row_blocks, 1, [&](int64_t u0, int64_t u1, int worker) {
      float* buf = in_place ? nullptr : par.scratch<float>(worker, copy_floats);
      int64_t boff[kMaxTaps];
      for (int64_t u = u0; u < u1; ++u) {
        // The row block outermost: each worker's contiguous chunk is then every band of its own
        // output channels (innermost, bands of 12, 12 and 4 rows over 2 workers went 36 : 20;
        // the mt helper's measurement, resnet18 at 2 threads 9.38 -> 8.76 ms).
        const int64_t rb = u / (images * bands), ib = u % (images * bands);
        const int64_t ig = ib / bands, oy0 = (ib % bands) * band;
        const int64_t oy1 = std::min(g.oh, oy0 + band);
        const int64_t b = ig / g.group, gr = ig % g.group;
        const int64_t height = oy1 - oy0 + pl.halo;
        const int64_t cstride = in_place ? g.h * g.w : height * g.ow;
        const float* xg = x + (b * g.c + gr * pl.cg) * g.h * g.w;
        const float* src = buf;
        if (in_place) {
          src = xg + oy0 * g.ow;
          for (int64_t k = 0; k < pl.ntaps; ++k) boff[k] = pl.inoff[k];
        } else if (phased) {
          make_phases512(pl, xg, oy0, height, buf);
          for (int64_t k = 0; k < pl.ntaps; ++k)
            boff[k] =
                pl.pslot[k] * pl.cg * cstride + (pl.prow[k] - pl.prow_min) * g.ow + pl.pcol[k];
        } else {
          if (wide)
            make_copies512(pl, xg, oy0, height, buf);
          else
            make_copies256(pl, xg, oy0, height, buf);
          for (int64_t k = 0; k < pl.ntaps; ++k)
            boff[k] = pl.copy[k] * pl.cg * cstride + pl.row[k] * g.ow;
        }
        const int64_t r0 = rb * rows, r1 = std::min(pl.og, r0 + rows);
        for (int64_t r = r0; r < r1; r += kPackRows) {
          const int64_t m = std::min(kPackRows, r1 - r);
          const int64_t oc = gr * pl.og + r;
          Args a{(oy1 - oy0) * g.ow,
                 src,
                 boff,
                 pl.tap,
                 pl.ntaps,
                 pl.cg,
                 cstride,
                 w + oc * pl.kdim,
                 bias ? bias + oc : nullptr,
                 y + (b * g.o + oc) * spatial + oy0 * g.ow,
                 spatial,
                 res ? res + (b * g.o + oc) * spatial + oy0 * g.ow : nullptr,
                 in_place || phased ? pl.valid.data() : nullptr,
                 pl.vstride,
                 oy0 * g.ow};
          if (res && r + kPackRows < r1)
            fetch_residual_l2(a.res + kPackRows * spatial, spatial,
                              std::min(kPackRows, r1 - r - kPackRows), a.n);
          kernels[m - 1](a);
        }
      }
    });
#else
    (void)in;
    (void)out;
    (void)par;
#endif
  };
}

}  // namespace cellar::ops
