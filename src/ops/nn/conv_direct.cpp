#include "ops/nn/conv_direct.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx2.h"
#include "ops/nn/activate_avx512.h"
#include "ops/nn/phase_row.h"
#include "ops/parallel.h"

namespace cellar::ops {

namespace {

// Widest vector of the kernels (AVX-512's 16 floats): the slack after a padded copy, so that a
// row's last vector may be read whole.
constexpr int64_t kMaxLanes = 16;
constexpr int64_t kMaxColumns = 256;  // (channel, tap) pairs: the offset table
// Floats of padded input copy per unit of work: a block of output rows reads it from L2.
constexpr int64_t kCopyFloats = int64_t{32} << 10;
// Multiply-adds per chunk of work handed to a worker (a wake-up costs about as much).
constexpr int64_t kMinChunkMacs = int64_t{1} << 15;

// What a kernel works from, computed once per node.
struct Plan {
  ConvGeometry g;
  bool packed = false, bias = false, residual = false;
  ConvActivation act = ConvActivation::kNone;
  int64_t kdim = 0;
  // Stride 1 and no padding: taps read the input where it lies (row stride w). Otherwise each unit
  // first copies the padded input rows it reads into its worker's scratch as cg × sh × sw phase
  // planes of `rows` × `cols` floats: padded (r, c) of a channel at phase (r mod sh, c mod sw),
  // row r / sh − oy0, column c / sw, for the unit's first output row oy0.
  bool in_place = false;
  int64_t rows_max = 0;  // output rows per unit at most
  int64_t rows = 0, cols = 0;
  // Column p of the weight (in its stored order): where its tap reads, from output (oy0, 0).
  std::vector<int64_t> off;
  int64_t off_max = 0;
};

#if defined(__x86_64__)

// One tile: R output channels × V vectors of output columns, every (channel, tap) column p of the
// weight summed in registers. src: the input at output column 0 of the tile's row; w: the first
// row's weights, row r at w + r·wrs, column p at + p·ps. store_tail: the last vector is written
// with its first `tail` lanes only (the row ends inside it); kMasked: also read with that mask
// (where a full vector would read past the input's end; elsewhere the lanes past the row's end
// read the next row or the copy's slack, and are never stored).
struct Tile {
  const float* src;
  const int64_t* off;
  int64_t np;
  const float* w;
  int64_t wrs, ps;
  int64_t tail;
  bool store_tail;
  const float* bias;  // R values or null
  ConvActivation act;
  float* y;  // output (r, column 0 of the tile) at y + r·ys
  int64_t ys;
  const float* res;  // the residual at the same offsets as y, or null
};

// The first n of eight int lanes set.
__attribute__((target("avx2,fma"))) __m256i lanes_below(int64_t n) {
  alignas(32) int lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = l < n ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
}

// The two kernels below are one algorithm on two register files; each output is the same chain of
// multiply-adds over p in order, + bias, then the activation, so both give the same bits. One flat
// array of accumulators, every loop unrolled: gcc then keeps them all in registers (a
// two-dimensional array it kept in memory too, storing each one after every multiply-add). Per
// column p, the smaller of the two operand sets is held in registers and the other streamed.

// AVX2: R·V + 1 + min(R, V) ≤ 16 ymm registers.
template <int V, bool kMasked>
__attribute__((target("avx2,fma"), always_inline)) inline __m256 load8(const float* s, int v,
                                                                       __m256i tail) {
  return kMasked && v == V - 1 ? _mm256_maskload_ps(s + v * 8, tail) : _mm256_loadu_ps(s + v * 8);
}

template <int R, int V, bool kMasked>
__attribute__((target("avx2,fma"))) void tile8(const Tile& t) {
  const __m256i tail = lanes_below(t.tail);
  __m256 acc[R * V];
#pragma GCC unroll 16
  for (int i = 0; i < R * V; ++i) acc[i] = _mm256_setzero_ps();
  const float* w = t.w;
  const int64_t wrs = t.wrs;
  for (int64_t p = 0; p < t.np; ++p, w += t.ps) {
    const float* s = t.src + t.off[p];
    if constexpr (V <= R) {
      __m256 x[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) x[v] = load8<V, kMasked>(s, v, tail);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256 wv = _mm256_broadcast_ss(w + r * wrs);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r * V + v] = _mm256_fmadd_ps(wv, x[v], acc[r * V + v]);
      }
    } else {
      __m256 wv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) wv[r] = _mm256_broadcast_ss(w + r * wrs);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        const __m256 x = load8<V, kMasked>(s, v, tail);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r * V + v] = _mm256_fmadd_ps(wv[r], x, acc[r * V + v]);
      }
    }
  }
  // The store: the last vector masked when the row ends inside it.
  const int64_t last = t.store_tail ? V - 1 : V;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m256 b = t.bias ? _mm256_broadcast_ss(t.bias + r) : _mm256_setzero_ps();
    float* dst = t.y + r * t.ys;
    const float* rs = t.res ? t.res + r * t.ys : nullptr;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __m256 s = t.bias ? _mm256_add_ps(acc[r * V + v], b) : acc[r * V + v];
      // The residual's last vector read under the store's mask (it may end the tensor).
      if (rs)
        s = _mm256_add_ps(
            s, v < last ? _mm256_loadu_ps(rs + v * 8) : _mm256_maskload_ps(rs + v * 8, tail));
      const __m256 o = activate256(s, t.act);
      if (v < last)
        _mm256_storeu_ps(dst + v * 8, o);
      else
        _mm256_maskstore_ps(dst + v * 8, tail, o);
    }
  }
}

// AVX-512: 32 zmm registers, R·V ≤ 24 accumulators. Measured on a Zen 5 (full-width 512-bit
// FMAs): the AVX2 tile ran MobileNetV3's 3-channel stem at half of what this one does.
template <int V, bool kMasked>
__attribute__((target("avx512f"), always_inline)) inline __m512 load16(const float* s, int v,
                                                                       __mmask16 tail) {
  return kMasked && v == V - 1 ? _mm512_maskz_loadu_ps(tail, s + v * 16)
                               : _mm512_loadu_ps(s + v * 16);
}

template <int R, int V, bool kMasked>
__attribute__((target("avx512f"))) void tile16(const Tile& t) {
  const __mmask16 tail = static_cast<__mmask16>((1u << t.tail) - 1);
  __m512 acc[R * V];
#pragma GCC unroll 24
  for (int i = 0; i < R * V; ++i) acc[i] = _mm512_setzero_ps();
  const float* w = t.w;
  const int64_t wrs = t.wrs;
  for (int64_t p = 0; p < t.np; ++p, w += t.ps) {
    const float* s = t.src + t.off[p];
    if constexpr (V <= R) {
      __m512 x[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) x[v] = load16<V, kMasked>(s, v, tail);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_set1_ps(w[r * wrs]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r * V + v] = _mm512_fmadd_ps(wv, x[v], acc[r * V + v]);
      }
    } else {
      __m512 wv[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) wv[r] = _mm512_set1_ps(w[r * wrs]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        const __m512 x = load16<V, kMasked>(s, v, tail);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r * V + v] = _mm512_fmadd_ps(wv[r], x, acc[r * V + v]);
      }
    }
  }
  const int64_t last = t.store_tail ? V - 1 : V;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 b = t.bias ? _mm512_set1_ps(t.bias[r]) : _mm512_setzero_ps();
    float* dst = t.y + r * t.ys;
    const float* rs = t.res ? t.res + r * t.ys : nullptr;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      __m512 s = t.bias ? _mm512_add_ps(acc[r * V + v], b) : acc[r * V + v];
      if (rs)
        s = _mm512_add_ps(
            s, v < last ? _mm512_loadu_ps(rs + v * 16) : _mm512_maskz_loadu_ps(tail, rs + v * 16));
      const __m512 o = activate512(s, t.act);
      if (v < last)
        _mm512_storeu_ps(dst + v * 16, o);
      else
        _mm512_mask_storeu_ps(dst + v * 16, tail, o);
    }
  }
}

using TileFn = void (*)(const Tile&);
constexpr int kMaxR = 8, kMaxV = 4;

// Output channels per tile for V vectors. AVX2: 12 accumulators at most (with V inputs and a
// broadcast weight, the 16 ymm registers). AVX-512: 24, a whole packed panel of 8 output channels
// × up to 3 vectors of 16 (no tile of 4 vectors).
template <bool kWide>
constexpr int max_rows(int v) {
  if constexpr (kWide) return v <= 3 ? 8 : 0;
  return v <= 2 ? 6 : v == 3 ? 4 : 3;
}

// One instruction set's tiles: [V − 1][R − 1][masked] for R ≤ max_rows(V) (null beyond: never
// instantiated), and how a row's vectors are split into tiles: a row of at most max_v vectors in
// one, else `chunk` at a time.
struct Tiles {
  int64_t lanes;
  int max_v, chunk;
  std::array<int, kMaxV> max_rows;
  std::array<std::array<std::array<TileFn, 2>, kMaxR>, kMaxV> fn;
};

template <bool kWide, int R, int V>
constexpr std::array<TileFn, 2> tile_pair() {
  if constexpr (R > max_rows<kWide>(V))
    return {nullptr, nullptr};
  else if constexpr (kWide)
    return {&tile16<R, V, false>, &tile16<R, V, true>};
  else
    return {&tile8<R, V, false>, &tile8<R, V, true>};
}
template <bool kWide, int V, int... Rs>
constexpr std::array<std::array<TileFn, 2>, kMaxR> tiles_for(std::integer_sequence<int, Rs...>) {
  return {tile_pair<kWide, Rs + 1, V>()...};
}
template <bool kWide>
constexpr Tiles make_tiles() {
  constexpr auto rs = std::make_integer_sequence<int, kMaxR>{};
  return {kWide ? 16 : 8,
          kWide ? 3 : 4,
          3,
          {max_rows<kWide>(1), max_rows<kWide>(2), max_rows<kWide>(3), max_rows<kWide>(4)},
          {tiles_for<kWide, 1>(rs), tiles_for<kWide, 2>(rs), tiles_for<kWide, 3>(rs),
           tiles_for<kWide, 4>(rs)}};
}
const Tiles kTiles8 = make_tiles<false>();
const Tiles kTiles16 = make_tiles<true>();

// The padded input rows that output rows [oy0, oy0 + n) read, of image x, as the plan's phase
// planes, into `buf`.
void copy_rows(const Plan& pl, const float* x, int64_t oy0, int64_t n, float* buf) {
  const ConvGeometry& g = pl.g;
  const int64_t cg = g.c;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t ph = 0; ph < g.sh; ++ph)
      for (int64_t q = 0; q < g.sw; ++q) {
        float* plane = buf + ((ci * g.sh + ph) * g.sw + q) * pl.rows * pl.cols;
        const auto [lo, hi] = phase_columns(g.w, g.pl, g.sw, q, pl.cols);
        const int64_t nrows = std::min(pl.rows, n + (g.kh - 1) * g.dh / g.sh);
        for (int64_t r = 0; r < nrows; ++r) {
          float* dst = plane + r * pl.cols;
          const int64_t iy = (oy0 + r) * g.sh + ph - g.pt;
          if (iy < 0 || iy >= g.h) {
            std::fill_n(dst, pl.cols, 0.0f);
            continue;
          }
          copy_phase_row(dst, pl.cols, x + (ci * g.h + iy) * g.w, lo, hi, g.sw, q, g.pl);
        }
      }
}

// Output rows [oy0, oy1) of one image on `ts`'s tiles: src is its input (in place) or the unit's
// copy, readable up to src_end.
void run_rows(const Tiles& ts, const Plan& pl, const float* src, const float* src_end, int64_t rs,
              int64_t oy0, int64_t oy1, const float* w, const float* bias, const float* res,
              float* y) {
  const ConvGeometry& g = pl.g;
  const int64_t spatial = g.oh * g.ow;
  const int64_t lanes = ts.lanes, max_v = ts.max_v, chunk = ts.chunk;
  const int64_t nv = (g.ow + lanes - 1) / lanes;
  const int64_t rem = g.ow % lanes;
  const int64_t panel = pl.packed ? kPackRows : g.o;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    const float* row = src + (pl.in_place ? oy : oy - oy0) * rs;
    // Column tiles: the whole row when it has at most max_v vectors, else `chunk` at a time, the
    // last chunk + 1 as two even tiles rather than chunk + 1.
    for (int64_t v0 = 0; v0 < nv;) {
      const int64_t rest = nv - v0;
      const int64_t v = rest <= max_v && (v0 == 0 || rest <= chunk) ? rest
                        : rest == chunk + 1                         ? rest / 2
                                                                    : chunk;
      const bool store_tail = v0 + v == nv && rem != 0;
      const int64_t ox0 = v0 * lanes;
      // Full vectors would read past the end (the input's last rows, in place): masked loads.
      const bool masked = store_tail && row + ox0 + pl.off_max + v * lanes > src_end;
      const int rmax = ts.max_rows[static_cast<size_t>(v - 1)];
      for (int64_t p0 = 0; p0 < g.o; p0 += panel) {
        const int64_t prows = std::min(panel, g.o - p0);
        for (int64_t r0 = 0; r0 < prows; r0 += rmax) {
          const int64_t rn = std::min<int64_t>(rmax, prows - r0);
          Tile t;
          t.src = row + ox0;
          t.off = pl.off.data();
          t.np = pl.kdim;
          if (pl.packed) {
            t.w = w + p0 * pl.kdim + r0, t.wrs = 1, t.ps = prows;
          } else {
            t.w = w + (p0 + r0) * pl.kdim, t.wrs = pl.kdim, t.ps = 1;
          }
          t.tail = store_tail ? rem : lanes;
          t.store_tail = store_tail;
          t.bias = bias ? bias + p0 + r0 : nullptr;
          t.act = pl.act;
          t.y = y + (p0 + r0) * spatial + oy * g.ow + ox0;
          t.ys = spatial;
          t.res = res ? res + (p0 + r0) * spatial + oy * g.ow + ox0 : nullptr;
          ts.fn[static_cast<size_t>(v - 1)][static_cast<size_t>(rn - 1)][masked ? 1 : 0](t);
        }
      }
      v0 += v;
    }
  }
}
#endif

// The kernel's run: units of (image, block of output rows), at least one per worker where the
// rows allow, each on the worker's own copy of the padded rows it reads.
void run(const Plan& pl, std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
#if defined(__x86_64__)
  const ConvGeometry& g = pl.g;
  const float* x = in[0].data<float>();
  const float* w = in[1].data<float>();
  const float* bias = pl.bias ? in[2].data<float>() : nullptr;
  const float* res = pl.residual ? in[pl.bias ? 3 : 2].data<float>() : nullptr;
  float* y = out[0].data<float>();
  if (out[0].numel() == 0) return;
  const int64_t per_image = std::clamp<int64_t>((par.threads() + g.n - 1) / g.n,
                                                (g.oh + pl.rows_max - 1) / pl.rows_max, g.oh);
  const int64_t rows = (g.oh + per_image - 1) / per_image;
  const int64_t blocks = (g.oh + rows - 1) / rows;
  const int64_t unit_macs = std::max<int64_t>(1, rows * g.ow * g.o * pl.kdim);
  const int64_t grain = std::max<int64_t>(1, kMinChunkMacs / unit_macs);
  // The copy, and a vector's slack after it for the tail vectors' full loads.
  const size_t copy =
      pl.in_place ? 0 : static_cast<size_t>(g.c * g.sh * g.sw * pl.rows * pl.cols + kMaxLanes);
  const Tiles& ts = kernel_isa() == Isa::kAvx512 ? kTiles16 : kTiles8;
  par.for_range(g.n * blocks, grain, [&](int64_t u0, int64_t u1, int worker) {
    float* buf = copy ? par.scratch<float>(worker, copy) : nullptr;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t b = u / blocks, oy0 = (u % blocks) * rows;
      const int64_t oy1 = std::min(g.oh, oy0 + rows);
      const float* xb = x + b * g.c * g.h * g.w;
      float* yb = y + b * g.o * g.oh * g.ow;
      const float* rb = res ? res + b * g.o * g.oh * g.ow : nullptr;
      if (pl.in_place) {
        run_rows(ts, pl, xb, x + g.n * g.c * g.h * g.w, g.w, oy0, oy1, w, bias, rb, yb);
      } else {
        copy_rows(pl, xb, oy0, oy1 - oy0, buf);
        run_rows(ts, pl, buf, buf + copy, pl.cols, oy0, oy1, w, bias, rb, yb);
      }
    }
  });
#else
  (void)in, (void)out, (void)par;
#endif
}

}  // namespace

bool conv_direct_fits(const ConvGeometry& g) {
  return kernel_isa() != Isa::kNone && g.group == 1 && g.c <= kDirectMaxChannels &&
         g.c * g.kh * g.kw <= kMaxColumns && g.c * g.kh * g.kw > 0;
}

Kernel conv_direct_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool packed_weight,
                          bool residual) {
  Plan pl;
  pl.g = g;
  pl.packed = packed_weight;
  pl.bias = bias;
  pl.residual = residual;
  pl.act = act;
  pl.kdim = g.c * g.kh * g.kw;
  pl.in_place = g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 && g.pl == 0 && g.pr == 0;
  const int64_t taps = g.kh * g.kw;
  if (pl.in_place) {
    pl.rows_max = g.oh;
  } else {
    pl.cols = g.ow + (g.kw - 1) * g.dw / g.sw;
    const int64_t halo = (g.kh - 1) * g.dh / g.sh;
    const int64_t per_row = g.c * g.sh * g.sw * pl.cols;
    pl.rows_max = std::clamp<int64_t>(kCopyFloats / per_row - halo, 1, g.oh);
    pl.rows = pl.rows_max + halo;
  }
  pl.off.resize(static_cast<size_t>(pl.kdim));
  for (int64_t ci = 0; ci < g.c; ++ci)
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t i = t / g.kw, j = t % g.kw;
      const int64_t p = packed_weight ? t * g.c + ci : ci * taps + t;
      if (pl.in_place) {
        pl.off[static_cast<size_t>(p)] = (ci * g.h + i * g.dh) * g.w + j * g.dw;
      } else {
        const int64_t ph = i * g.dh % g.sh, q = j * g.dw % g.sw;
        pl.off[static_cast<size_t>(p)] = ((ci * g.sh + ph) * g.sw + q) * pl.rows * pl.cols +
                                         (i * g.dh / g.sh) * pl.cols + j * g.dw / g.sw;
      }
    }
  pl.off_max = *std::max_element(pl.off.begin(), pl.off.end());
  return [pl](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
    run(pl, in, out, par);
  };
}

}  // namespace cellar::ops
