// Winograd F(2 × 2, 3 × 3) (ops/nn/conv_winograd.h). A unit of work is one image's chunk of 49
// tiles (4 × 4 inputs, 2 × 2 outputs each) against a range of panels of 8 output channels: the
// chunk's 16 transformed input planes V[ξ][c][tile] are made once into the worker's scratch, then
// for each panel the 16 products M[ξ] = U[ξ] V[ξ] (8 × c by c × 49, in registers) and the output
// transform Aᵀ M A with bias, residual and activation as the 2 × 2 blocks are stored.
#include "ops/nn/conv_winograd.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cellar/error.h"
#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx512.h"
#include "ops/parallel.h"

namespace cellar::ops {

namespace {

constexpr int64_t kChunk = 49;

struct Plan {
  ConvGeometry g;
  bool bias = false, residual = false, packed = false;
  ConvActivation act = ConvActivation::kNone;
  int64_t tw = 0, tiles = 0, chunks = 0, panels = 0;
};

#if defined(__x86_64__)

// Panel pn's U[ξ][c][8] (into ub) from pack_conv_weight's panel (column t·C + c of 8 floats): the
// arithmetic of conv_winograd_transform lane for lane, so the same bits.
__attribute__((target("avx512f"))) void transform_panel(const Plan& p, const float* packed,
                                                        int64_t pn, float* ub) {
  const int64_t c_in = p.g.c;
  const float* panel = packed + pn * 8 * c_in * 9;
  const __m256 half = _mm256_set1_ps(0.5f);
  for (int64_t c = 0; c < c_in; ++c) {
    __m256 g[9];
    for (int t = 0; t < 9; ++t) g[t] = _mm256_loadu_ps(panel + (t * c_in + c) * 8);
    __m256 t3[4][3];
    for (int j = 0; j < 3; ++j) {
      t3[0][j] = g[j];
      t3[1][j] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_add_ps(g[j], g[3 + j]), g[6 + j]));
      t3[2][j] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_sub_ps(g[j], g[3 + j]), g[6 + j]));
      t3[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; ++i) {
      const __m256 v[4] = {
          t3[i][0], _mm256_mul_ps(half, _mm256_add_ps(_mm256_add_ps(t3[i][0], t3[i][1]), t3[i][2])),
          _mm256_mul_ps(half, _mm256_add_ps(_mm256_sub_ps(t3[i][0], t3[i][1]), t3[i][2])),
          t3[i][2]};
      for (int j = 0; j < 4; ++j) _mm256_storeu_ps(ub + ((i * 4 + j) * c_in + c) * 8, v[j]);
    }
  }
}
__attribute__((target("avx512f"))) inline __m512 row16(const float* row, int64_t lo, int64_t w) {
  if (lo >= 0 && lo + 16 <= w) return _mm512_loadu_ps(row + lo);
  uint32_t m = 0xFFFFu;
  if (lo < 0) m &= 0xFFFFu << (-lo);
  if (lo + 16 > w) m &= w - lo <= 0 ? 0u : 0xFFFFu >> (16 - (w - lo));
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), row + lo);
}

__attribute__((target("avx512f"))) inline void input16(const float* plane, int64_t h, int64_t w,
                                                       int64_t ty, int64_t tx0, __m512 v[16]) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  __m512 d[4][4];
  for (int r = 0; r < 4; ++r) {
    const int64_t iy = 2 * ty - 1 + r;
    if (iy < 0 || iy >= h) {
      for (auto& k : d[r]) k = _mm512_setzero_ps();
      continue;
    }
    const float* row = plane + iy * w;
    const int64_t base = 2 * tx0 - 1;
    const __m512 a = row16(row, base, w), b = row16(row, base + 16, w),
                 c = row16(row, base + 32, w);
    d[r][0] = _mm512_permutex2var_ps(a, even, b);
    d[r][1] = _mm512_permutex2var_ps(a, odd, b);
    const __m512 a2 =
        _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 2));
    const __m512 b2 =
        _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(c), _mm512_castps_si512(b), 2));
    d[r][2] = _mm512_permutex2var_ps(a2, even, b2);
    d[r][3] = _mm512_permutex2var_ps(a2, odd, b2);
  }
  __m512 t[4][4];
  for (int k = 0; k < 4; ++k) {
    t[0][k] = _mm512_sub_ps(d[0][k], d[2][k]);
    t[1][k] = _mm512_add_ps(d[1][k], d[2][k]);
    t[2][k] = _mm512_sub_ps(d[2][k], d[1][k]);
    t[3][k] = _mm512_sub_ps(d[1][k], d[3][k]);
  }
  for (int i = 0; i < 4; ++i) {
    v[i * 4 + 0] = _mm512_sub_ps(t[i][0], t[i][2]);
    v[i * 4 + 1] = _mm512_add_ps(t[i][1], t[i][2]);
    v[i * 4 + 2] = _mm512_sub_ps(t[i][2], t[i][1]);
    v[i * 4 + 3] = _mm512_sub_ps(t[i][1], t[i][3]);
  }
}

__attribute__((target("avx512f"))) void input_chunk(const Plan& p, const float* x, int64_t t0,
                                                    int64_t n, float* v) {
  const int64_t h = p.g.h, w = p.g.w, tw = p.tw, c_in = p.g.c;
  const int64_t ty0 = t0 / tw, ty1 = (t0 + n - 1) / tw;
  const int64_t r0 = std::max<int64_t>(0, 2 * ty0 - 1), r1 = std::min(h, 2 * ty1 + 3);
  for (int64_t c = 0; c < c_in; ++c) {
    const float* plane = x + c * h * w;
    if (c + 1 < c_in) {
      const char* next = reinterpret_cast<const char*>(plane + h * w + r0 * w);
      for (int64_t b = 0; b < (r1 - r0) * w * 4; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
    }
    for (int64_t k = 0; k < n;) {
      const int64_t t = t0 + k, ty = t / tw, tx = t % tw;
      const int64_t run = std::min({int64_t{16}, tw - tx, n - k});
      __m512 tv[16];
      input16(plane, h, w, ty, tx, tv);
      const auto mask = static_cast<__mmask16>((1u << run) - 1);
      for (int xi = 0; xi < 16; ++xi)
        _mm512_mask_storeu_ps(v + (xi * c_in + c) * kChunk + k, mask, tv[xi]);
      k += run;
    }
  }
}

template <int NV, bool kExtra>
__attribute__((target("avx512f"))) void products(int64_t c_in, const float* up, int64_t ustride,
                                                 const float* v, float* m) {
  for (int xi = 0; xi < 16; ++xi) {
    __m512 acc[8][NV];
    __m512 e = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
#pragma GCC unroll 3
      for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_setzero_ps();
    const float* ap = up + xi * ustride;
    const float* bp = v + xi * c_in * kChunk;
    for (int64_t c = 0; c < c_in; ++c, ap += 8, bp += kChunk) {
      _mm_prefetch(reinterpret_cast<const char*>(ap + 512), _MM_HINT_T0);
      __m512 b[NV];
#pragma GCC unroll 3
      for (int k = 0; k < NV; ++k) b[k] = _mm512_loadu_ps(bp + 16 * k);
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) {
        const __m512 a = _mm512_set1_ps(ap[r]);
#pragma GCC unroll 3
        for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_fmadd_ps(a, b[k], acc[r][k]);
      }
      if constexpr (kExtra)
        e = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(0xFF, ap), _mm512_set1_ps(bp[48]), e);
    }
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
#pragma GCC unroll 3
      for (int k = 0; k < NV; ++k) _mm512_storeu_ps(m + (xi * 8 + r) * 64 + 16 * k, acc[r][k]);
    if constexpr (kExtra) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, e);
      for (int r = 0; r < 8; ++r) m[(xi * 8 + r) * 64 + 48] = lanes[r];
    }
  }
}

// Aᵀ M A of row r's n tiles, then + bias, + residual, activation, into output plane y.
__attribute__((target("avx512f"))) void output_chunk(const Plan& p, int r, int64_t t0, int64_t n,
                                                     float bias, const float* m, float* y,
                                                     const float* res) {
  const int64_t h = p.g.h, w = p.g.w, tw = p.tw;
  alignas(64) float out[4][64];
  for (int64_t k = 0; k < (n + 15) / 16; ++k) {
    __m512 mv[16];
    for (int xi = 0; xi < 16; ++xi) mv[xi] = _mm512_loadu_ps(m + (xi * 8 + r) * 64 + 16 * k);
    __m512 s[2][4];
    for (int j = 0; j < 4; ++j) {
      s[0][j] = _mm512_add_ps(_mm512_add_ps(mv[j], mv[4 + j]), mv[8 + j]);
      s[1][j] = _mm512_sub_ps(_mm512_sub_ps(mv[4 + j], mv[8 + j]), mv[12 + j]);
    }
    for (int a = 0; a < 2; ++a) {
      _mm512_store_ps(out[2 * a] + 16 * k, _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]));
      _mm512_store_ps(out[2 * a + 1] + 16 * k,
                      _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]));
    }
  }
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512 bv = _mm512_set1_ps(bias);
  const bool add = p.bias || p.act != ConvActivation::kNone;
  for (int64_t k = 0; k < n;) {
    const int64_t t = t0 + k, ty = t / tw, tx = t % tw;
    const int64_t run = std::min({int64_t{16}, tw - tx, n - k});
    for (int a = 0; a < 2 && 2 * ty + a < h; ++a) {
      const __m512 y0 = _mm512_loadu_ps(out[2 * a] + k), y1 = _mm512_loadu_ps(out[2 * a + 1] + k);
      const int64_t at = (2 * ty + a) * w + 2 * tx;
      const int64_t cols = std::min(2 * run, w - 2 * tx);
      const auto m0 = static_cast<__mmask16>((1u << std::min<int64_t>(cols, 16)) - 1);
      const auto m1 = static_cast<__mmask16>(cols > 16 ? (1u << (cols - 16)) - 1 : 0u);
      __m512 v0 = _mm512_permutex2var_ps(y0, lo, y1), v1 = _mm512_permutex2var_ps(y0, hi, y1);
      if (add) v0 = _mm512_add_ps(v0, bv), v1 = _mm512_add_ps(v1, bv);
      if (res) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, res + at));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, res + at + 16));
      }
      _mm512_mask_storeu_ps(y + at, m0, activate512(v0, p.act));
      if (m1) _mm512_mask_storeu_ps(y + at + 16, m1, activate512(v1, p.act));
      // SiLU / x·sigmoid(x): over the stored values (activate512 passed them through).
      if (conv_activation_exp(p.act)) conv_activate_exp(p.act, y + at, cols);
    }
    k += run;
  }
}

__attribute__((target("avx512f"))) void run_unit(const Plan& p, const float* x, const float* u,
                                                 const float* bias, const float* res, float* y,
                                                 int64_t t0, int64_t pn0, int64_t pn1, float* v,
                                                 float* m, float* ub) {
  const int64_t c_in = p.g.c, spatial = p.g.h * p.g.w;
  const int64_t ustride = p.packed ? c_in * 8 : p.panels * c_in * 8;
  const int64_t n = std::min(kChunk, p.tiles - t0);
  input_chunk(p, x, t0, n, v);
  for (int64_t pn = pn0; pn < pn1; ++pn) {
    const float* up = u + pn * c_in * 8;
    if (p.packed) {
      transform_panel(p, u, pn, ub);
      up = ub;
    }
    if (n > 48)
      products<3, true>(c_in, up, ustride, v, m);
    else if (n > 32)
      products<3, false>(c_in, up, ustride, v, m);
    else if (n > 16)
      products<2, false>(c_in, up, ustride, v, m);
    else
      products<1, false>(c_in, up, ustride, v, m);
    for (int r = 0; r < 8; ++r) {
      const int64_t o = pn * 8 + r;
      output_chunk(p, r, t0, n, bias ? bias[o] : 0.0f, m, y + o * spatial,
                   res ? res + o * spatial : nullptr);
    }
  }
}

#endif  // __x86_64__

}  // namespace

// U[ξ][o / 8][c][o % 8] = (G g Gᵀ)[ξ] of the 3 × 3 weight g of (o, c).
void conv_winograd_transform(int64_t o_out, int64_t c_in, const void* w, float* u) {
  const auto* bytes = static_cast<const std::byte*>(w);
  const int64_t panels = o_out / 8;
  for (int64_t o = 0; o < o_out; ++o)
    for (int64_t c = 0; c < c_in; ++c) {
      float g[9];
      std::memcpy(g, bytes + (o * c_in + c) * 9 * sizeof(float), sizeof g);
      float t3[4][3];
      for (int j = 0; j < 3; ++j) {
        t3[0][j] = g[j];
        t3[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t3[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t3[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {
        const float v[4] = {t3[i][0], 0.5f * (t3[i][0] + t3[i][1] + t3[i][2]),
                            0.5f * (t3[i][0] - t3[i][1] + t3[i][2]), t3[i][2]};
        for (int j = 0; j < 4; ++j)
          u[static_cast<size_t>((((i * 4 + j) * panels + o / 8) * c_in + c) * 8 + o % 8)] = v[j];
      }
    }
}

Tensor conv_winograd_weight(const Tensor& w) {
  Tensor u(DType::Float32, Shape{w.shape()[0], w.shape()[1], 4, 4});
  conv_winograd_transform(w.shape()[0], w.shape()[1], w.raw_data(), u.data<float>());
  return u;
}

bool conv_winograd_geometry(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.pt == 1 &&
         g.pb == 1 && g.pl == 1 && g.pr == 1 && g.group == 1 && g.oh == g.h && g.ow == g.w &&
         g.o % 8 == 0 && g.c > 0 && g.h > 0 && g.w > 0;
}

bool conv_winograd_from_packed(const ConvGeometry& g) {
  return (g.w + 1) / 2 * ((g.h + 1) / 2) <= kChunk;
}

bool conv_winograd_pays(const ConvGeometry& g) {
#if defined(__x86_64__)
  static const bool off = std::getenv("CELLAR_NO_WINOGRAD") != nullptr;
  return !off && kernel_isa() == Isa::kAvx512 && conv_winograd_geometry(g) && g.h >= 14 &&
         g.w >= 14;
#else
  (void)g;
  return false;
#endif
}

Kernel conv_winograd_kernel(const ConvGeometry& geo, bool bias, ConvActivation act, bool residual,
                            bool packed_weight) {
  if (kernel_isa() != Isa::kAvx512)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "a Winograd convolution weight needs a CPU running AVX-512 kernels");
  if (!conv_winograd_geometry(geo))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "a Winograd convolution weight needs a 3 x 3 stride-1 pad-1 convolution of "
                     "group 1 whose output channels are a multiple of 8");
  auto plan = std::make_shared<Plan>();
  plan->g = geo, plan->bias = bias, plan->residual = residual, plan->act = act;
  plan->packed = packed_weight;
  plan->tw = (geo.w + 1) / 2;
  plan->tiles = plan->tw * ((geo.h + 1) / 2);
  plan->chunks = (plan->tiles + kChunk - 1) / kChunk;
  plan->panels = geo.o / 8;
  return [plan](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
#if defined(__x86_64__)
    const Plan& p = *plan;
    const ConvGeometry& g = p.g;
    const float* uw = in[1].data<float>();
    const float* x = in[0].data<float>();
    const float* b = p.bias ? in[2].data<float>() : nullptr;
    const float* res = p.residual ? in[p.bias ? 3 : 2].data<float>() : nullptr;
    float* y = out[0].data<float>();
    const int64_t spatial = g.h * g.w, units = g.n * p.chunks, workers = par.threads();
    const int64_t blocks = workers > 1 && units % workers != 0 ? std::min(workers, p.panels) : 1;
    const size_t floats =
        static_cast<size_t>(16 * g.c * kChunk + 16 + 16 * 8 * 64 + (p.packed ? 16 * g.c * 8 : 0));
    par.for_range(blocks * units, 1, [&](int64_t u0, int64_t u1, int worker) {
      float* v = par.scratch<float>(worker, floats);
      float* m = v + 16 * g.c * kChunk + 16;
      float* ub = m + 16 * 8 * 64;
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t blk = u / units, iu = u % units, img = iu / p.chunks, ch = iu % p.chunks;
        const int64_t pn0 = p.panels * blk / blocks, pn1 = p.panels * (blk + 1) / blocks;
        run_unit(p, x + img * g.c * spatial, uw, b, res ? res + img * g.o * spatial : nullptr,
                 y + img * g.o * spatial, ch * kChunk, pn0, pn1, v, m, ub);
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
