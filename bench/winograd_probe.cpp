// A probe, not a kernel: how much a Winograd F(2 × 2, 3 × 3) convolution would save on ResNet's
// stride-1 3 × 3 layers against conv_taps (ops/nn/conv_taps.h), whose tiles already run at 90–96%
// of the FMA peak (docs/benchmarks.md, "Session 14: the 3 × 3 stride-1 kernel"). F(2 × 2, 3 × 3)
// forms each 2 × 2 block of outputs from a 4 × 4 block of inputs with 16 multiply-adds per (input
// channel, output channel) instead of 36: the direct kernel's multiply-adds × 4/9.
//
//   winograd_probe [ROUNDS]   → per layer (batch 1, bias + ReLU, one thread, AVX-512 only):
//                               FusedConv2D as the executor runs it (packed weight, conv_taps)
//                               and the probe, alternately ROUNDS times (default 15), best and
//                               median thread CPU time, GFLOP/s counted as the direct
//                               convolution's 2 × multiply-adds, and each one's largest
//                               difference from a double-precision reference
//
// The probe: the weight transformed once (U = G g Gᵀ, 16 × O × C, [ξ][panel of 8 outputs][c][8]);
// per chunk of 49 tiles (flat, row-major over the 2 × 2 blocks), the input transform V = Bᵀ d B
// of the chunk's tiles for every channel ([ξ][c][49]: L2), then per panel of 8 output channels
// the 16 products U_ξ · V_ξ (conv_taps' inner loop: 3 loads of V, 8 broadcasts of U, 24
// multiply-adds per channel, the 49th tile in the lanes of a 25th accumulator) and the output
// transform Aᵀ M A with bias and ReLU. Not done here: residual, other activations, channel
// counts not a multiple of 8, other instruction sets, 2 threads, batch > 1; the 7 × 7 plane is
// padded to 8 × 8 (16 tiles: slower than direct there).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cellar/cellar.h"
#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/op_table.h"

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Layer {
  int64_t c, h, o;
};

// Tiles per chunk: 48 in 24 accumulators and one more in the lanes of a 25th (lane r: the panel's
// row r), as conv_taps' tiles of 48 + 1; ResNet's planes are 16, 4 and 1 × 49 tiles of 2 × 2.
constexpr int64_t kChunk = 49;

struct Probe {
  Layer l;
  std::vector<float> u, v, m, bias;
};

#if defined(__x86_64__)

// U[ξ = 4i + j][o / 8][c][o % 8] = (G g Gᵀ)[i][j], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
void transform_weight(int64_t c_in, int64_t o_out, const float* w, float* u) {
  const int64_t panels = o_out / 8;
  for (int64_t o = 0; o < o_out; ++o)
    for (int64_t c = 0; c < c_in; ++c) {
      const float* g = w + (o * c_in + c) * 9;
      float t[4][3];
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {
        const float v[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                            0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j)
          u[(((i * 4 + j) * panels + o / 8) * c_in + c) * 8 + o % 8] = v[j];
      }
    }
}

// 16 floats of a row from column lo, the columns outside [0, w) as zeros.
__attribute__((target("avx512f"))) inline __m512 row16(const float* row, int64_t lo, int64_t w) {
  if (lo >= 0 && lo + 16 <= w) return _mm512_loadu_ps(row + lo);
  uint32_t m = 0xFFFFu;
  if (lo < 0) m &= 0xFFFFu << (-lo);
  if (lo + 16 > w) m &= w - lo <= 0 ? 0u : 0xFFFFu >> (16 - (w - lo));
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), row + lo);
}

// Bᵀ d B of 16 tiles of tile row ty from tile column tx0 (lane l: tile tx0 + l), one channel's
// plane (h × w, padding 1): v[4i + j]. Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
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
    const int64_t base = 2 * tx0 - 1;  // column of lane 0's d[.][0]
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

// V[ξ][c][k] of the flat tiles [t0, t0 + n) (n ≤ 49), every channel; the next channel's rows
// fetched ahead (a plane apart: too far for the hardware's prefetcher).
__attribute__((target("avx512f"))) void input_chunk(const Probe& p, const float* x, int64_t t0,
                                                    int64_t n, float* v) {
  const int64_t h = p.l.h, w = p.l.h, tw = (w + 1) / 2, c_in = p.l.c;
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

// M[ξ][r][k] = U_ξ (the panel's rows) · V_ξ over the channels: NV vectors of 16 tiles, and with
// kExtra the 49th tile in the lanes of one more accumulator.
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

// Aᵀ M A (Aᵀ = [1 1 1 0; 0 1 −1 −1]) of row r's n tiles, + bias, ReLU, into output plane y.
__attribute__((target("avx512f"))) void output_chunk(const Probe& p, int r, int64_t t0, int64_t n,
                                                     float bias, const float* m, float* y) {
  const int64_t h = p.l.h, w = p.l.h, tw = (w + 1) / 2;
  alignas(64) float out[4][64];
  const __m512 zero = _mm512_setzero_ps(), bv = _mm512_set1_ps(bias);
  for (int64_t k = 0; k < (n + 15) / 16; ++k) {
    __m512 mv[16];
    for (int xi = 0; xi < 16; ++xi) mv[xi] = _mm512_loadu_ps(m + (xi * 8 + r) * 64 + 16 * k);
    __m512 s[2][4];
    for (int j = 0; j < 4; ++j) {
      s[0][j] = _mm512_add_ps(_mm512_add_ps(mv[j], mv[4 + j]), mv[8 + j]);
      s[1][j] = _mm512_sub_ps(_mm512_sub_ps(mv[4 + j], mv[8 + j]), mv[12 + j]);
    }
    for (int a = 0; a < 2; ++a) {
      const __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]), bv);
      const __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]), bv);
      _mm512_store_ps(out[2 * a] + 16 * k, _mm512_max_ps(y0, zero));
      _mm512_store_ps(out[2 * a + 1] + 16 * k, _mm512_max_ps(y1, zero));
    }
  }
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  for (int64_t k = 0; k < n;) {
    const int64_t t = t0 + k, ty = t / tw, tx = t % tw;
    const int64_t run = std::min({int64_t{16}, tw - tx, n - k});
    for (int a = 0; a < 2 && 2 * ty + a < h; ++a) {
      const __m512 y0 = _mm512_loadu_ps(out[2 * a] + k), y1 = _mm512_loadu_ps(out[2 * a + 1] + k);
      float* row = y + (2 * ty + a) * w + 2 * tx;
      const int64_t cols = std::min(2 * run, w - 2 * tx);
      _mm512_mask_storeu_ps(row, static_cast<__mmask16>((1u << std::min<int64_t>(cols, 16)) - 1),
                            _mm512_permutex2var_ps(y0, lo, y1));
      if (cols > 16)
        _mm512_mask_storeu_ps(row + 16, static_cast<__mmask16>((1u << (cols - 16)) - 1),
                              _mm512_permutex2var_ps(y0, hi, y1));
    }
    k += run;
  }
}

__attribute__((target("avx512f"))) void probe_run(Probe& p, const float* x, float* y) {
  const int64_t c_in = p.l.c, h = p.l.h, panels = p.l.o / 8, tw = (h + 1) / 2, tiles = tw * tw;
  const int64_t ustride = panels * c_in * 8;
  for (int64_t t0 = 0; t0 < tiles; t0 += kChunk) {
    const int64_t n = std::min(kChunk, tiles - t0);
    input_chunk(p, x, t0, n, p.v.data());
    for (int64_t pn = 0; pn < panels; ++pn) {
      const float* up = p.u.data() + pn * c_in * 8;
      if (n > 48)
        products<3, true>(c_in, up, ustride, p.v.data(), p.m.data());
      else if (n > 32)
        products<3, false>(c_in, up, ustride, p.v.data(), p.m.data());
      else if (n > 16)
        products<2, false>(c_in, up, ustride, p.v.data(), p.m.data());
      else
        products<1, false>(c_in, up, ustride, p.v.data(), p.m.data());
      for (int r = 0; r < 8; ++r)
        output_chunk(p, r, t0, n, p.bias[pn * 8 + r], p.m.data(), y + (pn * 8 + r) * h * h);
    }
  }
}

// act(bias + Σ w · x) in double, padding 1.
std::vector<double> reference(const Layer& l, const float* x, const float* w, const float* b) {
  const int64_t h = l.h;
  std::vector<double> y(static_cast<size_t>(l.o * h * h));
  for (int64_t o = 0; o < l.o; ++o)
    for (int64_t oy = 0; oy < h; ++oy)
      for (int64_t ox = 0; ox < h; ++ox) {
        double acc = b[o];
        for (int64_t c = 0; c < l.c; ++c)
          for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 3; ++j) {
              const int64_t iy = oy + i - 1, ix = ox + j - 1;
              if (iy >= 0 && iy < h && ix >= 0 && ix < h)
                acc += static_cast<double>(w[((o * l.c + c) * 3 + i) * 3 + j]) *
                       x[(c * h + iy) * h + ix];
            }
        y[static_cast<size_t>((o * h + oy) * h + ox)] = std::max(acc, 0.0);
      }
  return y;
}

double worst(const std::vector<double>& want, const float* got) {
  double d = 0;
  for (size_t i = 0; i < want.size(); ++i) d = std::max(d, std::fabs(want[i] - got[i]));
  return d;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

#endif  // __x86_64__

}  // namespace

int main(int argc, char** argv) {
#if defined(__x86_64__)
  using cellar::DType;
  using cellar::Shape;
  using cellar::Tensor;
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  if (!cellar::ops::cpu_has(cellar::ops::Isa::kAvx512)) {
    std::printf("no AVX-512 on this CPU: nothing to probe\n");
    return 0;
  }
  cellar::ops::force_isa(cellar::ops::Isa::kAvx512);
  const cellar::ops::OpDef* fused = cellar::ops::op_table().find("FusedConv2D");
  std::printf(
      "| layer (batch 1, bias + ReLU) | conv_taps best / median µs | probe best / median µs | "
      "conv_taps GFLOP/s | probe GFLOP/s (direct-equivalent) | probe / conv_taps (medians) | "
      "max abs diff conv_taps / probe (max abs y) |\n|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Layer l :
       {Layer{64, 56, 64}, Layer{128, 28, 128}, Layer{256, 14, 256}, Layer{512, 7, 512}}) {
    const Shape xs{1, l.c, l.h, l.h}, ws{l.o, l.c, 3, 3};
    Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{l.o});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(9 * l.c));
    for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = scale * u(rng);
    for (int64_t i = 0; i < l.o; ++i) bias.data<float>()[i] = 0.1f * u(rng);
    const cellar::ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                                     {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                                     {"stride", std::vector<int64_t>{1, 1, 1, 1}},
                                     {"group", int64_t{1}},
                                     {"activation", std::string("relu")},
                                     {"packed_weight", true}};
    const std::vector<cellar::ops::TensorType> types = {
        {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{l.o}}};
    const cellar::ops::Kernel kernel = fused->make_kernel(types, attrs);
    std::vector<Tensor> in{x, cellar::ops::pack_conv_weight(w, 1), bias};
    std::vector<Tensor> y{Tensor(DType::Float32, Shape{1, l.o, l.h, l.h})};
    Probe p{l, std::vector<float>(static_cast<size_t>(16 * l.o * l.c)),
            std::vector<float>(static_cast<size_t>(16 * l.c * kChunk + 16)),
            std::vector<float>(16 * 8 * 64),
            std::vector<float>(bias.data<float>(), bias.data<float>() + l.o)};
    transform_weight(l.c, l.o, w.data<float>(), p.u.data());
    std::vector<float> py(static_cast<size_t>(l.o * l.h * l.h));
    std::vector<double> a, b;
    for (int r = 0; r < rounds + 1; ++r) {
      double t = thread_seconds();
      kernel(in, y);
      const double ta = thread_seconds() - t;
      t = thread_seconds();
      probe_run(p, x.data<float>(), py.data());
      const double tb = thread_seconds() - t;
      if (r > 0) a.push_back(ta), b.push_back(tb);  // the first round warms up
    }
    const auto want = reference(l, x.data<float>(), w.data<float>(), bias.data<float>());
    double ymax = 0;
    for (double v : want) ymax = std::max(ymax, std::fabs(v));
    const double flop = 2.0 * static_cast<double>(l.o * l.c * 9 * l.h * l.h);
    std::printf(
        "| %lld→%lld at %lld×%lld | %.0f / %.0f | %.0f / %.0f | %.1f | %.1f | %.2f | "
        "%.1e / %.1e (%.2f) |\n",
        static_cast<long long>(l.c), static_cast<long long>(l.o), static_cast<long long>(l.h),
        static_cast<long long>(l.h), 1e6 * *std::min_element(a.begin(), a.end()), 1e6 * median(a),
        1e6 * *std::min_element(b.begin(), b.end()), 1e6 * median(b), flop / median(a) / 1e9,
        flop / median(b) / 1e9, median(b) / median(a), worst(want, y[0].data<float>()),
        worst(want, py.data()), ymax);
  }
#else
  (void)argc;
  (void)argv;
  std::printf("x86-64 only\n");
#endif
  return 0;
}
