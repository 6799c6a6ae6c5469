#include "ops/nn/depthwise.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx2.h"
#include "ops/nn/activate_avx512.h"
#include "ops/nn/phase_row.h"
#include "ops/transpose8.h"

namespace cellar::ops {

namespace {

// The padded input's rows and columns an output reads, and the phases' row stride.
struct Padded {
  int64_t rows, cols, phase_cols;
};

Padded padded(const ConvGeometry& g) {
  const int64_t rows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const int64_t cols = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  return {rows, cols, (cols + g.sw - 1) / g.sw};
}

// Padded (r, c) = x(r − pt, c − pl), or 0 outside x, at phase c mod sw, row r, column c / sw.
void fill_phases(const ConvGeometry& g, const Padded& p, const float* x, float* scratch) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const int64_t iy = r - g.pt;
    const bool inside = iy >= 0 && iy < g.h;
    const float* src = x + iy * g.w;
    for (int64_t q = 0; q < g.sw; ++q) {
      float* dst = scratch + (q * p.rows + r) * p.phase_cols;
      if (!inside) {
        std::fill_n(dst, p.phase_cols, 0.0f);
        continue;
      }
      const auto [lo, hi] = phase_columns(g.w, g.pl, g.sw, q, p.phase_cols);
      copy_phase_row(dst, p.phase_cols, src, lo, hi, g.sw, q, g.pl);
    }
  }
}

// Each tap's offset in the scratch, from output row 0 and column 0.
constexpr int64_t kMaxTaps = 64;
void tap_offsets(const ConvGeometry& g, const Padded& p, int64_t* off) {
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t c = j * g.dw;
      off[i * g.kw + j] = ((c % g.sw) * p.rows + i * g.dh) * p.phase_cols + c / g.sw;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void depthwise_avx512(const ConvGeometry& g, const float* x,
                                                         const float* w, float* y, float* scratch) {
  const Padded p = padded(g);
  fill_phases(g, p, x, scratch);
  int64_t off[kMaxTaps];
  tap_offsets(g, p, off);
  const int64_t taps = g.kh * g.kw;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    float* yr = y + oy * g.ow;
    const float* row = scratch + oy * g.sh * p.phase_cols;
    for (int64_t ox = 0; ox < g.ow; ox += 16) {
      const auto mask = static_cast<__mmask16>((1u << std::min<int64_t>(16, g.ow - ox)) - 1);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t t = 0; t < taps; ++t)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(mask, row + off[t] + ox),
                              acc);
      _mm512_mask_storeu_ps(yr + ox, mask, acc);
    }
  }
}

__attribute__((target("avx2,fma"))) void depthwise_avx2(const ConvGeometry& g, const float* x,
                                                        const float* w, float* y, float* scratch) {
  const Padded p = padded(g);
  fill_phases(g, p, x, scratch);
  int64_t off[kMaxTaps];
  tap_offsets(g, p, off);
  const int64_t taps = g.kh * g.kw;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    float* yr = y + oy * g.ow;
    const float* row = scratch + oy * g.sh * p.phase_cols;
    for (int64_t ox = 0; ox < g.ow; ox += 8) {
      alignas(32) int lanes[8];
      for (int l = 0; l < 8; ++l) lanes[l] = ox + l < g.ow ? -1 : 0;
      const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
      __m256 acc = _mm256_setzero_ps();
      for (int64_t t = 0; t < taps; ++t)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t),
                              _mm256_maskload_ps(row + off[t] + ox, mask), acc);
      _mm256_maskstore_ps(yr + ox, mask, acc);
    }
  }
}

// The channel-blocked kernel: 8 channels at once, one per lane of an AVX2 vector (a plane of a few
// pixels fills a vector poorly; a block of channels fills it whatever the plane's size). The
// block's input goes, transposed (8 × 8 in registers) and zero-padded, into the scratch as
// [row][column][lane]; every output pixel's vector then sums its taps in a register (the same
// fused multiply-adds, in the same order, as the per-plane kernels above), gets bias and
// activation, and is stored to the scratch; the block is finally transposed back into its output
// planes. On AVX-512 CPUs, blocks of 8 or fewer channels and taps other than 3 × 3 and 5 × 5
// (depthwise_blocked16 below takes the rest: on a Zen 4, where 512-bit FMAs were split, 16 lanes
// had been slower, docs/benchmarks.md session 6; on a Zen 5 they are 1.1-1.6× faster, session 11);
// the per-plane AVX-512 kernel was 2-4× slower than this one, from 112 × 112 planes down to 2 × 2.
struct Blocked {
  int64_t rows, cols;  // the padded input's
};

Blocked blocked(const ConvGeometry& g) {
  return {(g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1};
}

// Lanes [0, n) of a mask (n ≤ 8).
__attribute__((target("avx2,fma"))) inline __m256i lanes_below8(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Channels [0, channels ≤ 8) of x (planes h × w, one after another) into `in` as
// [row][col][lane], zero outside the input and in lanes ≥ channels; 8 columns at a time through
// transpose8, a row's last few columns through the same with masked loads. Only the padding
// border is zeroed (the rest is written once); a missing channel reads as zeros through an empty
// mask (channel 0's address, never read), so the loop has no test per channel.
__attribute__((target("avx2,fma"))) void fill_blocked8(const ConvGeometry& g, const Blocked& p,
                                                       const float* x, int64_t channels,
                                                       float* in) {
  constexpr int kLanes = 8;
  const int64_t r0 = std::max<int64_t>(0, g.pt), r1 = std::max(r0, std::min(p.rows, g.pt + g.h));
  const int64_t c0 = std::max<int64_t>(0, g.pl), c1 = std::max(c0, std::min(p.cols, g.pl + g.w));
  const int64_t row_floats = p.cols * kLanes;
  std::fill_n(in, r0 * row_floats, 0.0f);
  std::fill(in + r1 * row_floats, in + p.rows * row_floats, 0.0f);
  const int64_t plane = g.h * g.w;
  const float* src_ch[8];
  for (int64_t ch = 0; ch < 8; ++ch) src_ch[ch] = x + (ch < channels ? ch : 0) * plane;
  const __m256i all = _mm256_set1_epi32(-1), none = _mm256_setzero_si256();
  const __m256i tail = lanes_below8((c1 - c0) % 8);
  __m256i tail_ch[8];
  for (int64_t ch = 0; ch < 8; ++ch) tail_ch[ch] = ch < channels ? tail : none;
  const bool full = channels == 8;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t off = (r - g.pt) * g.w - g.pl;  // + c: padded column c of a channel's plane
    float* dst = in + r * row_floats;
    for (int64_t c = 0; c < c0; ++c) _mm256_store_ps(dst + c * kLanes, _mm256_setzero_ps());
    for (int64_t c = c1; c < p.cols; ++c) _mm256_store_ps(dst + c * kLanes, _mm256_setzero_ps());
    int64_t c = c0;
    __m256 v[8];
    for (; c + 8 <= c1; c += 8) {
      if (full) {
        for (int ch = 0; ch < 8; ++ch) v[ch] = _mm256_loadu_ps(src_ch[ch] + off + c);
      } else {
        for (int ch = 0; ch < 8; ++ch)
          v[ch] = _mm256_maskload_ps(src_ch[ch] + off + c, ch < channels ? all : none);
      }
      transpose8(v);
      for (int k = 0; k < 8; ++k) _mm256_store_ps(dst + (c + k) * kLanes, v[k]);
    }
    if (c < c1) {
      for (int ch = 0; ch < 8; ++ch) v[ch] = _mm256_maskload_ps(src_ch[ch] + off + c, tail_ch[ch]);
      transpose8(v);
      // A fixed count with a test each: a variable one became a call to memcpy (14% of the
      // kernel's time on 14 × 14 planes).
      const int64_t n = c1 - c;
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k)
        if (k < n) _mm256_store_ps(dst + (c + k) * kLanes, v[k]);
    }
  }
}

// The block's outputs ([pixel][lane] in `out`) into channels [0, channels) of y: 8 pixels at a
// time through transpose8, the last few through the same and a copy (AMD's masked stores are
// microcoded).
__attribute__((target("avx2,fma"))) void store_blocked8(const ConvGeometry& g, const float* out,
                                                        int64_t channels, float* y, int64_t ldy) {
  constexpr int kLanes = 8;
  const int64_t pixels = g.oh * g.ow;
  int64_t q = 0;
  __m256 v[8];
  if (channels == 8) {
    for (; q + 8 <= pixels; q += 8) {
      for (int k = 0; k < 8; ++k) v[k] = _mm256_load_ps(out + (q + k) * kLanes);
      transpose8(v);
      for (int ch = 0; ch < 8; ++ch) _mm256_storeu_ps(y + ch * ldy + q, v[ch]);
    }
  } else {
    for (; q + 8 <= pixels; q += 8) {
      for (int k = 0; k < 8; ++k) v[k] = _mm256_load_ps(out + (q + k) * kLanes);
      transpose8(v);
      for (int64_t ch = 0; ch < channels; ++ch) _mm256_storeu_ps(y + ch * ldy + q, v[ch]);
    }
  }
  if (q < pixels) {
    const int64_t rest = pixels - q;
    for (int k = 0; k < 8; ++k)
      v[k] = k < rest ? _mm256_load_ps(out + (q + k) * kLanes) : _mm256_setzero_ps();
    transpose8(v);
    alignas(32) float t[8];
    for (int64_t ch = 0; ch < channels; ++ch) {
      _mm256_store_ps(t, v[ch]);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k)  // not a call to memcpy (as in fill_blocked8)
        if (k < rest) y[ch * ldy + q + k] = t[k];
    }
  }
}

__attribute__((target("avx2,fma"))) void depthwise_blocked_avx2(const ConvGeometry& g,
                                                                const float* x, int64_t channels,
                                                                const float* w, const float* bias,
                                                                ConvActivation act, float* y,
                                                                int64_t ldy, float* scratch) {
  constexpr int kLanes = 8;
  const Blocked p = blocked(g);
  float* in = scratch;
  float* out = scratch + p.rows * p.cols * kLanes;
  fill_blocked8(g, p, x, channels, in);
  const int64_t taps = g.kh * g.kw;
  alignas(32) float lane_w[kMaxTaps][kLanes];  // the taps' rows only, not all 64 (2 KiB)
  int64_t off[kMaxTaps];
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t ch = 0; ch < kLanes; ++ch) lane_w[t][ch] = ch < channels ? w[ch * taps + t] : 0.0f;
    off[t] = ((t / g.kw) * g.dh * p.cols + (t % g.kw) * g.dw) * kLanes;
  }
  // (a masked load: a copy into a lane array became a call to memcpy)
  const __m256 b = bias ? _mm256_maskload_ps(bias, lanes_below8(channels)) : _mm256_setzero_ps();
  const bool add_bias = bias != nullptr;
  const int64_t pixels = g.oh * g.ow;
  if (taps >= 25 && pixels >= 8 && pixels <= 256) {
    // 5 × 5 taps on small planes: the block's output pixels in row-major order, 8 at a time
    // whatever rows they are on (8 independent sums), transposed in registers straight into the
    // 8 output planes (no output scratch and second pass: store_blocked8); the last 8 end at the
    // last pixel (recomputing a few, the same bits). Measured on a Zen 5 (docs/benchmarks.md,
    // session 10): 1.1-1.25× faster than the loop below with 5 × 5 taps on 7 × 7 and 14 × 14
    // outputs (576 channels at 7 × 7: 40.0 → 32.1 µs), 3-10% slower on 28 × 28 and larger and
    // with 3 × 3 taps (the 8 pixels' set-up weighs more beside 9 taps).
    const int64_t step = g.sw * kLanes, row_step = g.sh * p.cols * kLanes;
    int64_t oy = 0, ox = 0;  // pixel q0's
    for (int64_t q0 = 0;; q0 += 8) {
      if (q0 > pixels - 8) q0 = pixels - 8, oy = q0 / g.ow, ox = q0 % g.ow;
      const float* base[8];
      const float* row = in + oy * row_step;
      for (int i = 0; i < 8; ++i) {
        base[i] = row + ox * step;
        if (++ox == g.ow) ox = 0, ++oy, row += row_step;
      }
      __m256 a[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
      for (int64_t t = 0; t < taps; ++t) {
        const __m256 wt = _mm256_load_ps(lane_w[t]);
        const int64_t ot = off[t];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) a[i] = _mm256_fmadd_ps(wt, _mm256_load_ps(base[i] + ot), a[i]);
      }
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) a[i] = activate256(add_bias ? _mm256_add_ps(a[i], b) : a[i], act);
      transpose8(a);
      for (int64_t ch = 0; ch < channels; ++ch) _mm256_storeu_ps(y + ch * ldy + q0, a[ch]);
      if (q0 == pixels - 8) break;
    }
    return;
  }
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const float* row = in + oy * g.sh * p.cols * kLanes;
    float* o = out + oy * g.ow * kLanes;
    int64_t ox = 0;
    for (; ox + 4 <= g.ow; ox += 4) {
      const float* base = row + ox * g.sw * kLanes;
      const int64_t step = g.sw * kLanes;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t t = 0; t < taps; ++t) {
        const float* q = base + off[t];
        const __m256 wt = _mm256_load_ps(lane_w[t]);
        a0 = _mm256_fmadd_ps(wt, _mm256_load_ps(q), a0);
        a1 = _mm256_fmadd_ps(wt, _mm256_load_ps(q + step), a1);
        a2 = _mm256_fmadd_ps(wt, _mm256_load_ps(q + 2 * step), a2);
        a3 = _mm256_fmadd_ps(wt, _mm256_load_ps(q + 3 * step), a3);
      }
      if (add_bias) {
        a0 = _mm256_add_ps(a0, b), a1 = _mm256_add_ps(a1, b);
        a2 = _mm256_add_ps(a2, b), a3 = _mm256_add_ps(a3, b);
      }
      _mm256_store_ps(o + ox * kLanes, activate256(a0, act));
      _mm256_store_ps(o + (ox + 1) * kLanes, activate256(a1, act));
      _mm256_store_ps(o + (ox + 2) * kLanes, activate256(a2, act));
      _mm256_store_ps(o + (ox + 3) * kLanes, activate256(a3, act));
    }
    for (; ox < g.ow; ++ox) {
      const float* base = row + ox * g.sw * kLanes;
      __m256 a0 = _mm256_setzero_ps();
      for (int64_t t = 0; t < taps; ++t)
        a0 = _mm256_fmadd_ps(_mm256_load_ps(lane_w[t]), _mm256_load_ps(base + off[t]), a0);
      if (add_bias) a0 = _mm256_add_ps(a0, b);
      _mm256_store_ps(o + ox * kLanes, activate256(a0, act));
    }
  }
  store_blocked8(g, out, channels, y, ldy);
}

// The channel-blocked kernel on AVX-512: 16 channels at once, one per lane of a 512-bit vector
// (Zen 5 runs 512-bit fused multiply-adds at full width; Zen 4 split them, where this lost to the
// 8-lane kernel). Square 3 × 3 and 5 × 5 taps without dilation, any stride and padding, blocks of
// 9 to 16 channels (8 or fewer go to the 8-lane kernel: half the lanes would idle). The block's
// input goes, transposed (two 8 × 8 transposes per 8 columns: channels 0-7 into lanes 0-7, 8-15
// into lanes 8-15) and zero-padded, into the scratch as [row][column][lane], a band of output rows
// at a time (the band's input rows at most kBand16Floats: the stride-2 112 × 112 layers' whole
// padded block would be 0.8 MiB); each band's output pixels then go 8 at a time in row-major order
// (8 independent sums, the last 8 of a band ending at its last pixel, recomputing a few: the same
// bits), each summing its taps in order from zero (fused multiply-adds: the 8-lane kernel's and
// the direct kernel's order, so the same bits), + bias, the activation, and are transposed in
// registers straight into the 16 output planes (no output scratch, no second pass).
constexpr int64_t kBand16Floats = int64_t{32} << 10;  // 128 KiB of input rows

// Output rows per band (whole planes narrower than 8 outputs: their groups of 8 pixels span rows).
int64_t band16_rows(const ConvGeometry& g, const Blocked& p) {
  if (g.ow < 8) return g.oh;
  const int64_t in_rows = kBand16Floats / (p.cols * 16);
  return std::clamp<int64_t>((in_rows - g.kh) / g.sh + 1, 1, g.oh);
}

// Floats of scratch the 16-lane kernel needs (its band of padded input rows).
size_t blocked16_scratch(const ConvGeometry& g) {
  const Blocked p = blocked(g);
  const int64_t band = band16_rows(g, p);
  const int64_t rows = std::min(p.rows, (band - 1) * g.sh + (g.kh - 1) * g.dh + 1);
  return static_cast<size_t>(rows * p.cols * 16);
}

bool blocked16_fits(const ConvGeometry& g) {
  return g.kh == g.kw && (g.kh == 3 || g.kh == 5) && g.dh == 1 && g.dw == 1;
}

// Whether blocks of 9 to 16 channels go to the 16-lane kernel: where it fits, except 3 × 3 taps
// the direct kernel takes (measured on a Zen 5, docs/benchmarks.md session 11: the direct kernel
// 1.15× faster with 32 channels of 112 × 112, level on 56 × 56 and 28 × 28; with 5 × 5 taps the
// 16-lane kernel 1.1-1.3× faster on 28 × 28 and 14 × 14).
bool direct_fits(const ConvGeometry& g, bool avx512);  // (below)
bool blocked16_takes(const ConvGeometry& g) {
  return blocked16_fits(g) && !(g.kh == 3 && direct_fits(g, true));
}

// Padded rows [rlo, rhi) of channels [0, channels), 8 < channels ≤ 16, of x into `in` as
// [row − rlo][col][lane], zero outside the input and in lanes ≥ channels (fill_blocked8's method
// on each half of the lanes).
__attribute__((target("avx512f,avx2,fma"))) void fill_blocked16(const ConvGeometry& g,
                                                                const Blocked& p, const float* x,
                                                                int64_t channels, int64_t rlo,
                                                                int64_t rhi, float* in) {
  constexpr int kLanes = 16;
  const int64_t r0 = std::clamp<int64_t>(g.pt, rlo, rhi);
  const int64_t r1 = std::clamp<int64_t>(g.pt + g.h, r0, rhi);
  const int64_t c0 = std::max<int64_t>(0, g.pl), c1 = std::max(c0, std::min(p.cols, g.pl + g.w));
  const int64_t row_floats = p.cols * kLanes;
  std::fill(in, in + (r0 - rlo) * row_floats, 0.0f);
  std::fill(in + (r1 - rlo) * row_floats, in + (rhi - rlo) * row_floats, 0.0f);
  const int64_t plane = g.h * g.w;
  const float* src_ch[16];
  for (int64_t ch = 0; ch < 16; ++ch) src_ch[ch] = x + (ch < channels ? ch : 0) * plane;
  const __m256i all = _mm256_set1_epi32(-1), none = _mm256_setzero_si256();
  const __m256i tail = lanes_below8((c1 - c0) % 8);
  __m256i body_ch[8], tail_ch[16];
  for (int64_t ch = 0; ch < 8; ++ch) body_ch[ch] = 8 + ch < channels ? all : none;
  for (int64_t ch = 0; ch < 16; ++ch) tail_ch[ch] = ch < channels ? tail : none;
  const bool full = channels == 16;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t off = (r - g.pt) * g.w - g.pl;  // + c: padded column c of a channel's plane
    float* dst = in + (r - rlo) * row_floats;
    for (int64_t c = 0; c < c0; ++c) _mm512_store_ps(dst + c * kLanes, _mm512_setzero_ps());
    for (int64_t c = c1; c < p.cols; ++c) _mm512_store_ps(dst + c * kLanes, _mm512_setzero_ps());
    int64_t c = c0;
    __m256 v[8];
    if (full) {
      // Each channel's address from the row's (16 pointers kept in registers spilled: 1.2×).
      const float* src = x + off;
      for (; c + 8 <= c1; c += 8) {
        for (int ch = 0; ch < 8; ++ch) v[ch] = _mm256_loadu_ps(src + ch * plane + c);
        transpose8(v);
        for (int k = 0; k < 8; ++k) _mm256_store_ps(dst + (c + k) * kLanes, v[k]);
        for (int ch = 0; ch < 8; ++ch) v[ch] = _mm256_loadu_ps(src + (8 + ch) * plane + c);
        transpose8(v);
        for (int k = 0; k < 8; ++k) _mm256_store_ps(dst + (c + k) * kLanes + 8, v[k]);
      }
    } else {
      for (; c + 8 <= c1; c += 8) {
        for (int ch = 0; ch < 8; ++ch) v[ch] = _mm256_loadu_ps(src_ch[ch] + off + c);
        transpose8(v);
        for (int k = 0; k < 8; ++k) _mm256_store_ps(dst + (c + k) * kLanes, v[k]);
        for (int ch = 0; ch < 8; ++ch)
          v[ch] = _mm256_maskload_ps(src_ch[8 + ch] + off + c, body_ch[ch]);
        transpose8(v);
        for (int k = 0; k < 8; ++k) _mm256_store_ps(dst + (c + k) * kLanes + 8, v[k]);
      }
    }
    if (c < c1) {
      const int64_t n = c1 - c;
      for (int half = 0; half < 2; ++half) {
        for (int ch = 0; ch < 8; ++ch)
          v[ch] = _mm256_maskload_ps(src_ch[8 * half + ch] + off + c, tail_ch[8 * half + ch]);
        transpose8(v);
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k)  // a fixed count: not a call to memcpy (as in fill_blocked8)
          if (k < n) _mm256_store_ps(dst + (c + k) * kLanes + 8 * half, v[k]);
      }
    }
  }
}

// filled: x is already the block's padded rows [0, p.rows) as fill_blocked16 would leave them (the
// expansion of FusedPointwiseDepthwise writes them so); one band then, no scratch.
template <int K>
__attribute__((target("avx512f,avx2,fma"))) void depthwise_blocked16(
    const ConvGeometry& g, const float* x, int64_t channels, const float* w, const float* bias,
    ConvActivation act, float* y, int64_t ldy, float* scratch, bool filled) {
  constexpr int kLanes = 16, kTaps = K * K;
  const Blocked p = blocked(g);
  alignas(64) float lane_w[kTaps][kLanes];
  for (int t = 0; t < kTaps; ++t)
    for (int64_t ch = 0; ch < kLanes; ++ch)
      lane_w[t][ch] = ch < channels ? w[ch * kTaps + t] : 0.0f;
  int64_t off[kTaps];
  for (int t = 0; t < kTaps; ++t) off[t] = ((t / K) * p.cols + t % K) * kLanes;
  const auto ch_mask = static_cast<__mmask16>((1u << channels) - 1);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(ch_mask, bias) : _mm512_setzero_ps();
  const bool add_bias = bias != nullptr;
  const int64_t band = filled ? g.oh : band16_rows(g, p);
  const int64_t step = g.sw * kLanes, row_step = g.sh * p.cols * kLanes;
  for (int64_t oy0 = 0; oy0 < g.oh; oy0 += band) {
    const int64_t oy1 = std::min(g.oh, oy0 + band);
    if (!filled) fill_blocked16(g, p, x, channels, oy0 * g.sh, (oy1 - 1) * g.sh + K, scratch);
    const float* const in = filled ? x : scratch;  // the band's padded rows, blocked
    const int64_t n = (oy1 - oy0) * g.ow;          // the band's pixels
    float* yb = y + oy0 * g.ow;
    int64_t oy = 0, ox = 0;  // pixel q0's, in the band
    for (int64_t q0 = 0;; q0 += 8) {
      if (q0 > n - 8) q0 = std::max<int64_t>(0, n - 8), oy = q0 / g.ow, ox = q0 % g.ow;
      const float* base[8];
      const float* row = in + oy * row_step;
      for (int i = 0; i < 8; ++i) {
        base[i] = row + ox * step;
        // (a plane of under 8 pixels: its last pixel again, not stored)
        if (q0 + i + 1 < n && ++ox == g.ow) ox = 0, ++oy, row += row_step;
      }
      __m512 a[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) a[i] = _mm512_setzero_ps();
#pragma GCC unroll 25
      for (int t = 0; t < kTaps; ++t) {
        const __m512 wt = _mm512_load_ps(lane_w[t]);
        const int64_t ot = off[t];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) a[i] = _mm512_fmadd_ps(wt, _mm512_load_ps(base[i] + ot), a[i]);
      }
      __m256 lo[8], hi[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512 v = activate512(add_bias ? _mm512_add_ps(a[i], b) : a[i], act);
        lo[i] = _mm512_castps512_ps256(v);
        hi[i] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
      }
      transpose8(lo);
      transpose8(hi);
      if (n >= 8) {
        float* yq = yb + q0;
        for (int ch = 0; ch < 8; ++ch) _mm256_storeu_ps(yq + ch * ldy, lo[ch]);
        for (int64_t ch = 8; ch < channels; ++ch) _mm256_storeu_ps(yq + ch * ldy, hi[ch - 8]);
      } else {
        alignas(32) float t[8];
        for (int64_t ch = 0; ch < channels; ++ch) {
          _mm256_store_ps(t, ch < 8 ? lo[ch] : hi[ch - 8]);
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k)  // not a call to memcpy (as in fill_blocked8)
            if (k < n) yb[ch * ldy + k] = t[k];
        }
        break;
      }
      if (q0 == n - 8) break;
    }
  }
}
#endif  // __x86_64__

// The direct kernel: channel by channel on the NCHW planes themselves, the vector along a row's
// output columns, no transposes (in mindcv's mobilenets they were about half of the blocked
// kernel's time on 112 × 112 and 56 × 56 planes). Every tap of a vector of outputs is one load
// from an input row (masked at the row's edges), R = 4 output rows are computed together so that
// each loaded vector feeds every output row whose taps read it, and a row's last vector is the
// one ending at its last column (overlapping the one before it, whose outputs it computes again
// with the same bits: no masked stores, which AMD microcodes). Each output sums its taps in the
// blocked kernel's order (row by row, column by column, one fused multiply-add each from zero),
// then bias, then the activation: the same bits as the blocked kernel. Square 3 × 3 (and 5 × 5 on
// AVX-512) kernels, stride 1, no dilation, rows of at least 16 outputs (AVX-512) or 48 (AVX2).
// Measured on a Zen 5 EPYC (docs/benchmarks.md, session 10): AVX-512 1.2-1.6× faster than the
// blocked kernel from 112 × 112 down to 16 × 16; AVX2 faster only from 56 × 56 up and slower
// with 5 × 5 taps; at stride 2 a phase-split copy of each row cost more than the transposes.
constexpr int kDirectRows = 4;

bool direct_fits(const ConvGeometry& g, bool avx512) {
  if (g.o != g.c || g.kh != g.kw || g.sh != 1 || g.sw != 1 || g.dh != 1 || g.dw != 1) return false;
  if (avx512) return (g.kh == 3 || g.kh == 5) && g.ow >= (g.kh == 5 ? 12 : 16);
  return g.kh == 3 && g.ow >= 48;
}

// Floats of scratch: a zero row (columns [−32, w + 32)) for the rows in the padding.
size_t direct_scratch(const ConvGeometry& g) { return static_cast<size_t>(g.w + 64); }

#if defined(__x86_64__)
// The taps of R output rows × C column vectors (R·C independent sums: the fused multiply-adds'
// latency hidden) from input rows in[0, R + K − 1): unmasked inside the row, masked (zero
// outside [0, w): AMD's masked loads are cheap, unlike its masked stores) at its edges. x0: the
// input column of the first output's first tap. Each sum takes its taps row by row, column by
// column (r ascending, then j), the blocked kernel's order.
template <int K, int R, int C, bool kEdge>
__attribute__((target("avx512f"), always_inline)) inline void taps512(const float* const* in,
                                                                      const __m512* wv, int64_t x0,
                                                                      int64_t w,
                                                                      __m512 (&acc)[R][C]) {
  constexpr int kIn = R + K - 1;
  // Each tap's mask, the same on every row (worked out once: per load, it doubled the time).
  __mmask16 mask[K][C];
  if constexpr (kEdge) {
    for (int j = 0; j < K; ++j)
      for (int c = 0; c < C; ++c) {
        // lanes l with 0 ≤ col + l < w
        const int64_t col = x0 + j + 16 * c;
        const auto lo = static_cast<unsigned>(std::clamp<int64_t>(-col, 0, 16));
        const auto hi = static_cast<unsigned>(std::clamp<int64_t>(w - col, 0, 16));
        mask[j][c] = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
      }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kIn; ++r) {
#pragma GCC unroll 5
    for (int j = 0; j < K; ++j) {
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) {
        const int64_t col = x0 + j + 16 * c;
        __m512 v;
        if constexpr (kEdge) {
          v = _mm512_maskz_loadu_ps(mask[j][c], in[r] + col);
        } else {
          v = _mm512_loadu_ps(in[r] + col);
        }
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
          const int i = r - k;
          if (i >= 0 && i < K) acc[k][c] = _mm512_fmadd_ps(wv[i * K + j], v, acc[k][c]);
        }
      }
    }
  }
}

// Output rows [oy, oy + R) of a plane (y: row oy, rows ow apart) from input rows in[0, R + K − 1)
// (w columns each, padded by pl on the left), taps wt (K × K), C column vectors at a time, the
// last C ending at the row's last column.
template <int K, int R, int C, bool kNarrow = false>
__attribute__((target("avx512f"))) void direct_s1_512(const float* const* in, int64_t w, int64_t pl,
                                                      const float* wt, const float* bias,
                                                      ConvActivation act, float* y, int64_t ow,
                                                      bool plane_end) {
  constexpr int kStep = 16 * C;
  __m512 wv[K * K];
#pragma GCC unroll 25
  for (int t = 0; t < K * K; ++t) wv[t] = _mm512_set1_ps(wt[t]);
  const __m512 b = _mm512_set1_ps(bias ? *bias : 0.0f);
  // kNarrow: rows narrower than a vector (12 to 15 outputs: 14 × 14 planes), one vector each, whose
  // last lanes spill into the next row's first columns, which the next row's store then
  // overwrites; only the plane's last row is stored masked (once per plane).
  static_assert(!kNarrow || C == 1);
  for (int64_t ox = 0;; ox += kStep) {
    ox = kNarrow ? 0 : std::min(ox, ow - kStep);
    __m512 acc[R][C];
#pragma GCC unroll 4
    for (int k = 0; k < R; ++k)
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[k][c] = _mm512_setzero_ps();
    const int64_t x0 = ox - pl;
    if (x0 >= 0 && x0 + kStep + K - 1 <= w)
      taps512<K, R, C, false>(in, wv, x0, w, acc);
    else
      taps512<K, R, C, true>(in, wv, x0, w, acc);
#pragma GCC unroll 4
    for (int k = 0; k < R; ++k)
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) {
        __m512 a = acc[k][c];
        if (bias) a = _mm512_add_ps(a, b);
        a = activate512(a, act);
        if (kNarrow && plane_end && k == R - 1)
          _mm512_mask_storeu_ps(y + k * ow, static_cast<__mmask16>((1u << ow) - 1), a);
        else
          _mm512_storeu_ps(y + k * ow + ox + 16 * c, a);
      }
    if (kNarrow || ox == ow - kStep) break;
  }
}

template <int K, int R, int C, bool kEdge>
__attribute__((target("avx2,fma"), always_inline)) inline void taps256(const float* const* in,
                                                                       const float* wt, int64_t x0,
                                                                       int64_t w,
                                                                       __m256 (&acc)[R][C]) {
  constexpr int kIn = R + K - 1;
  __m256i mask[K][C];
  if constexpr (kEdge) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int j = 0; j < K; ++j)
      for (int c = 0; c < C; ++c) {
        // lanes l with 0 ≤ col + l < w: −col ≤ l < w − col
        const int64_t col = x0 + j + 8 * c;
        const auto lo = static_cast<int>(std::clamp<int64_t>(-col, 0, 8));
        const auto hi = static_cast<int>(std::clamp<int64_t>(w - col, 0, 8));
        mask[j][c] = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), lane),
                                         _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
      }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kIn; ++r) {
#pragma GCC unroll 5
    for (int j = 0; j < K; ++j) {
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) {
        const int64_t col = x0 + j + 8 * c;
        __m256 v;
        if constexpr (kEdge) {
          v = _mm256_maskload_ps(in[r] + col, mask[j][c]);
        } else {
          v = _mm256_loadu_ps(in[r] + col);
        }
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
          const int i = r - k;
          if (i >= 0 && i < K)
            acc[k][c] = _mm256_fmadd_ps(_mm256_broadcast_ss(wt + i * K + j), v, acc[k][c]);
        }
      }
    }
  }
}

template <int K, int R, int C>
__attribute__((target("avx2,fma"))) void direct_s1_256(const float* const* in, int64_t w,
                                                       int64_t pl, const float* wt,
                                                       const float* bias, ConvActivation act,
                                                       float* y, int64_t ow, bool) {
  constexpr int kStep = 8 * C;
  const __m256 b = _mm256_set1_ps(bias ? *bias : 0.0f);
  for (int64_t ox = 0;; ox += kStep) {
    ox = std::min(ox, ow - kStep);
    __m256 acc[R][C];
#pragma GCC unroll 4
    for (int k = 0; k < R; ++k)
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[k][c] = _mm256_setzero_ps();
    const int64_t x0 = ox - pl;
    if (x0 >= 0 && x0 + kStep + K - 1 <= w)
      taps256<K, R, C, false>(in, wt, x0, w, acc);
    else
      taps256<K, R, C, true>(in, wt, x0, w, acc);
#pragma GCC unroll 4
    for (int k = 0; k < R; ++k)
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) {
        __m256 a = acc[k][c];
        if (bias) a = _mm256_add_ps(a, b);
        _mm256_storeu_ps(y + k * ow + ox + 8 * c, activate256(a, act));
      }
    if (ox == ow - kStep) break;
  }
}

// plane_end: the block ends at the plane's last row.
using DirectS1Fn = void (*)(const float* const* in, int64_t w, int64_t pl, const float* wt,
                            const float* bias, ConvActivation act, float* y, int64_t ow,
                            bool plane_end);

// C = 0: AVX-512's rows narrower than a vector.
template <int K, int C>
std::pair<DirectS1Fn, DirectS1Fn> direct_s1_fns(bool avx512) {
  if constexpr (C == 0) {
    return {&direct_s1_512<K, kDirectRows, 1, true>, &direct_s1_512<K, 1, 1, true>};
  } else {
    if (avx512) return {&direct_s1_512<K, kDirectRows, C>, &direct_s1_512<K, 1, C>};
    return {&direct_s1_256<K, kDirectRows, C>, &direct_s1_256<K, 1, C>};
  }
}

template <int K>
std::pair<DirectS1Fn, DirectS1Fn> direct_s1_fns(const ConvGeometry& g, bool avx512) {
  if (g.ow >= (avx512 ? 32 : 16)) return direct_s1_fns<K, 2>(avx512);
  if (avx512 && g.ow < 16) return direct_s1_fns<K, 0>(true);
  return direct_s1_fns<K, 1>(avx512);
}

// Channels [0, channels) of x into y (direct_fits).
void depthwise_direct(const ConvGeometry& g, bool avx512, const float* x, int64_t channels,
                      const float* w, const float* bias, ConvActivation act, float* y, int64_t ldy,
                      float* scratch) {
  const auto [block, single] =
      g.kh == 3 ? direct_s1_fns<3>(g, avx512) : direct_s1_fns<5>(g, avx512);
  // A zero row for the padding rows, read where the input rows are (columns [0, w)).
  std::fill_n(scratch, g.w + 64, 0.0f);
  const float* zero = scratch + 32;
  const int64_t taps = g.kh * g.kw;
  const float* in[kDirectRows + 4];
  for (int64_t ch = 0; ch < channels; ++ch) {
    const float* plane = x + ch * g.h * g.w;
    float* out = y + ch * ldy;
    // Blocks of 4 rows, the last one ending at the plane's last row (recomputing a few rows, the
    // same bits: single rows, one chain of taps per vector, cost 3% on 14 × 14 planes); planes of
    // under 4 rows one row at a time.
    for (int64_t oy = 0; oy < g.oh;) {
      const int64_t r = g.oh >= kDirectRows ? kDirectRows : 1;
      if (r == kDirectRows) oy = std::min(oy, g.oh - kDirectRows);
      for (int64_t i = 0; i < r + g.kh - 1; ++i) {
        const int64_t iy = oy + i - g.pt;
        in[i] = iy < 0 || iy >= g.h ? zero : plane + iy * g.w;
      }
      (r == kDirectRows ? block : single)(in, g.w, g.pl, w + ch * taps, bias ? bias + ch : nullptr,
                                          act, out + oy * g.ow, g.ow, oy + r == g.oh);
      oy += r;
    }
  }
}

// The blocked-kernel entry points (DepthwiseBlockedFn): the direct kernel where it takes the
// geometry, the blocked one otherwise.
void depthwise_auto_avx512(const ConvGeometry& g, const float* x, int64_t channels, const float* w,
                           const float* bias, ConvActivation act, float* y, int64_t ldy,
                           float* scratch) {
  if (channels > 8 && blocked16_takes(g))
    return (g.kh == 3 ? &depthwise_blocked16<3> : &depthwise_blocked16<5>)(g, x, channels, w, bias,
                                                                           act, y, ldy, scratch,
                                                                           false);
  if (direct_fits(g, true))
    return depthwise_direct(g, true, x, channels, w, bias, act, y, ldy, scratch);
  // 8 channels at a time (a block of 8 or fewer, or taps the 16-lane kernel does not take).
  for (int64_t c0 = 0; c0 < channels; c0 += 8)
    depthwise_blocked_avx2(g, x + c0 * g.h * g.w, std::min<int64_t>(8, channels - c0),
                           w + c0 * g.kh * g.kw, bias ? bias + c0 : nullptr, act, y + c0 * ldy, ldy,
                           scratch);
}

void depthwise_auto_avx2(const ConvGeometry& g, const float* x, int64_t channels, const float* w,
                         const float* bias, ConvActivation act, float* y, int64_t ldy,
                         float* scratch) {
  if (direct_fits(g, false))
    return depthwise_direct(g, false, x, channels, w, bias, act, y, ldy, scratch);
  depthwise_blocked_avx2(g, x, channels, w, bias, act, y, ldy, scratch);
}
#endif

}  // namespace

bool depthwise_fits(const ConvGeometry& g) { return g.kh * g.kw <= kMaxTaps; }

size_t depthwise_scratch(const ConvGeometry& g) {
  const Padded p = padded(g);
  return static_cast<size_t>(g.sw * p.rows * p.phase_cols);
}

bool depthwise_blocked_fits(const ConvGeometry& g) { return g.o == g.c && g.kh * g.kw <= kMaxTaps; }

size_t depthwise_blocked_scratch(const ConvGeometry& g) {
  // Whichever kernel the instruction set picks.
  const bool direct512 = direct_fits(g, true), direct256 = direct_fits(g, false);
  const Blocked p = blocked(g);
  const auto blocked8 = static_cast<size_t>((p.rows * p.cols + g.oh * g.ow) * 8);
  size_t floats = direct512 || direct256 ? direct_scratch(g) : 0;
  if (!direct256) floats = std::max(floats, blocked8);
  if (!direct512) {
    floats = std::max(floats, blocked8);  // blocks of 8 or fewer channels, other taps
#if defined(__x86_64__)
#endif
  }
#if defined(__x86_64__)
  if (blocked16_takes(g)) floats = std::max(floats, blocked16_scratch(g));
#endif
  return floats;
}

int64_t depthwise_lanes() {
#if defined(__x86_64__)
  if (kernel_isa() == Isa::kAvx512) return 16;
#endif
  return 8;
}

bool depthwise_takes_filled16(const ConvGeometry& g, int64_t channels) {
#if defined(__x86_64__)
  return kernel_isa() == Isa::kAvx512 && channels > 8 && channels <= 16 &&
         depthwise_blocked_fits(g) && blocked16_takes(g);
#else
  (void)g;
  (void)channels;
  return false;
#endif
}

int64_t depthwise_filled16_cols(const ConvGeometry& g) { return blocked(g).cols; }

void depthwise_filled16(const ConvGeometry& g, const float* in, int64_t channels, const float* w,
                        const float* bias, ConvActivation act, float* y, int64_t ldy) {
#if defined(__x86_64__)
  (g.kh == 3 ? &depthwise_blocked16<3> : &depthwise_blocked16<5>)(g, in, channels, w, bias, act, y,
                                                                  ldy, nullptr, true);
#else
  (void)g, (void)in, (void)channels, (void)w, (void)bias, (void)act, (void)y, (void)ldy;
#endif
}

DepthwiseBlockedFn depthwise_blocked() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &depthwise_auto_avx512;
    case Isa::kAvx2:
      return &depthwise_auto_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

DepthwiseFn depthwise_simd() {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::kAvx512:
      return &depthwise_avx512;
    case Isa::kAvx2:
      return &depthwise_avx2;
    case Isa::kNone:
      break;
  }
#endif
  return nullptr;
}

}  // namespace cellar::ops
