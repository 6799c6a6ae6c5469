#include "ops/nn/pool.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/isa.h"
#include "ops/nn/pool3d.h"
#include "ops/nn/window.h"

namespace cellar::ops {

namespace {

struct PoolGeometry {
  int64_t n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow;
};

int64_t pool_out(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t* pad_before) {
  if (mode == "valid") {
    *pad_before = 0;
    return in >= k ? (in - k) / s + 1 : 0;
  }
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + k - in);
  *pad_before = need / 2;
  return out;
}

PoolGeometry pool_geometry(const std::string& op, std::span<const TensorType> in,
                           const ir::Attrs& attrs) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  require_nchw(attrs, op);
  const Shape& x = in[0].shape;
  if (x.rank() != 4) shape_error(op, "input must be NCHW (rank 4), got " + x.str());
  PoolGeometry g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  std::tie(g.kh, g.kw) = attr_hw(attrs, op, "kernel_size", 1);
  std::tie(g.sh, g.sw) = attr_hw(attrs, op, "strides", 1);
  const std::string mode = attr_pad_mode(attrs, op, "valid");
  if (mode == "pad")
    throw ValueError(ErrorCode::kUnsupported, op +
                                                  ": pad_mode 'pad' is not a mode of MindSpore's " +
                                                  op + " primitive (supported: VALID, SAME)");
  g.oh = pool_out(mode, g.h, g.kh, g.sh, &g.pt);
  g.ow = pool_out(mode, g.w, g.kw, g.sw, &g.pl);
  if (g.oh <= 0 || g.ow <= 0)
    shape_error(op, "window (" + std::to_string(g.kh) + ", " + std::to_string(g.kw) +
                        ") does not fit input " + x.str() + " with pad_mode '" + mode + "'");
  return g;
}

// The input rows [y0, y1) of output row oy's window (rows in the padding left out): one definition
// for the reference loop and the row-wise max pools.
struct WindowRows {
  int64_t y0, y1;
};
inline WindowRows window_rows(const PoolGeometry& g, int64_t oy) {
  return {std::max<int64_t>(0, oy * g.sh - g.pt), std::min(g.h, oy * g.sh - g.pt + g.kh)};
}

template <class T, bool kMax>
void pool_run(const PoolGeometry& g, const T* x, T* y, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    const T* plane = x + p * g.h * g.w;
    T* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const auto [y0, y1] = window_rows(g, oy);
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t x0 = std::max<int64_t>(0, ox * g.sw - g.pl);
        const int64_t x1 = std::min(g.w, ox * g.sw - g.pl + g.kw);
        if constexpr (kMax) {
          T m = -std::numeric_limits<T>::infinity();
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) m = std::max(m, plane[iy * g.w + ix]);
          out[oy * g.ow + ox] = m;
        } else {
          double s = 0;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) s += plane[iy * g.w + ix];
          const int64_t count = (y1 - y0) * (x1 - x0);
          out[oy * g.ow + ox] = static_cast<T>(count > 0 ? s / static_cast<double>(count) : 0.0);
        }
      }
    }
  }
}

// The outputs [lo, hi) of a row whose windows lie inside the input along W (rows outside it,
// SAME's padding, are left out by y0, y1 as the reference leaves them out).
struct MaxRowSpan {
  int64_t lo, hi;
};

MaxRowSpan max_row_span(const PoolGeometry& g) {
  const int64_t span = g.w - g.kw + 1;  // ox·sw − pl ∈ [0, span): the window is inside along W
  const int64_t lo = std::min(g.ow, (g.pl + g.sw - 1) / g.sw);
  const int64_t hi = span > 0 ? std::clamp<int64_t>((span - 1 + g.pl) / g.sw + 1, lo, g.ow) : lo;
  return {lo, hi};
}

// A max over planes by rows, for windows of at most kMaxRowWidth input columns: for output row
// oy, the window's rows are first reduced column by column over the sliding window of kw columns
// (hm[c] = max of input columns c .. c + kw − 1 over the window's rows, a loop that vectorises),
// then each output takes hm at its window's first column; outputs whose window leaves the input
// at the sides are computed as pool_run does. Every output is the max of the same elements from
// −∞ on (NaN never wins, as there), so the result is pool_run's exactly.
constexpr int64_t kMaxRowWidth = 4096;

template <class T>
void max_pool_rows(const PoolGeometry& g, const T* x, T* y, int64_t p0, int64_t p1) {
  T hm[kMaxRowWidth];
  const int64_t span = g.w - g.kw + 1;  // columns whose window of kw is inside the input
  const auto [lo, hi] = max_row_span(g);
  for (int64_t p = p0; p < p1; ++p) {
    const T* plane = x + p * g.h * g.w;
    T* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      // named variables, not a structured binding: edge() below captures them (clang 14 refuses)
      const WindowRows rows = window_rows(g, oy);
      const int64_t y0 = rows.y0, y1 = rows.y1;
      T* o = out + oy * g.ow;
      if (hi > lo) {
        std::fill_n(hm, span, -std::numeric_limits<T>::infinity());
        for (int64_t iy = y0; iy < y1; ++iy) {
          const T* row = plane + iy * g.w;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const T* r = row + kx;
            // Written as a select that always stores: std::max's reference compiles to a
            // compare and a branch around the store, which does not vectorise.
            for (int64_t c = 0; c < span; ++c) {
              const T a = hm[c], v = r[c];
              hm[c] = a < v ? v : a;
            }
          }
        }
        for (int64_t ox = lo; ox < hi; ++ox) o[ox] = hm[ox * g.sw - g.pl];
      }
      auto edge = [&](int64_t ox) {
        const int64_t x0 = std::max<int64_t>(0, ox * g.sw - g.pl);
        const int64_t x1 = std::min(g.w, ox * g.sw - g.pl + g.kw);
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) m = std::max(m, plane[iy * g.w + ix]);
        o[ox] = m;
      };
      for (int64_t ox = 0; ox < lo; ++ox) edge(ox);
      for (int64_t ox = std::max(lo, hi); ox < g.ow; ++ox) edge(ox);
    }
  }
}

#if defined(__x86_64__)
// 2 × 2 windows at stride 2, unpadded (LeNet-5's pools), Float32 on AVX2: 8 outputs per step from
// two 16-float input rows split into even and odd columns, each output the max of its four
// inputs in max_pool_rows's order (row by row, column by column, from −∞, v > m ? v : m), so the
// same bits. max_pool_rows spent ~1 ns per output on 14-column rows (15% of LeNet-5).
__attribute__((target("avx2,fma"))) void max_pool_2x2_avx2(const PoolGeometry& g, const float* x,
                                                           float* y, int64_t p0, int64_t p1) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t p = p0; p < p1; ++p) {
    const float* plane = x + p * g.h * g.w;
    float* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const float* r0 = plane + 2 * oy * g.w;
      const float* r1 = r0 + g.w;
      float* o = out + oy * g.ow;
      int64_t ox = 0;
      for (; ox + 8 <= g.ow && 2 * ox + 16 <= g.w; ox += 8) {
        const __m256 a0 = _mm256_loadu_ps(r0 + 2 * ox), a1 = _mm256_loadu_ps(r0 + 2 * ox + 8);
        const __m256 b0 = _mm256_loadu_ps(r1 + 2 * ox), b1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
        // Lanes in the order of outputs 0, 1, 4, 5 | 2, 3, 6, 7.
        __m256 m = _mm256_set1_ps(-inf);
        m = _mm256_max_ps(_mm256_shuffle_ps(a0, a1, 0x88), m);
        m = _mm256_max_ps(_mm256_shuffle_ps(a0, a1, 0xDD), m);
        m = _mm256_max_ps(_mm256_shuffle_ps(b0, b1, 0x88), m);
        m = _mm256_max_ps(_mm256_shuffle_ps(b0, b1, 0xDD), m);
        _mm256_storeu_ps(o + ox,
                         _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8)));
      }
      for (; ox < g.ow; ++ox) {
        float m = -inf;
        for (const float v : {r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]})
          m = v > m ? v : m;
        o[ox] = m;
      }
    }
  }
}

// One output of a max window by the reference's order (rows, then columns, from −∞, v > m ? v : m):
// the outputs whose window leaves the input along W.
float max_window(const PoolGeometry& g, const float* plane, int64_t y0, int64_t y1, int64_t ox) {
  const int64_t x0 = std::max<int64_t>(0, ox * g.sw - g.pl);
  const int64_t x1 = std::min(g.w, ox * g.sw - g.pl + g.kw);
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t iy = y0; iy < y1; ++iy)
    for (int64_t ix = x0; ix < x1; ++ix) {
      const float v = plane[iy * g.w + ix];
      m = v > m ? v : m;
    }
  return m;
}

// Max pools at stride 1 or 2 along W (ResNet's 3 × 3 / 2 after the stem), Float32: a vector of
// outputs at a time. The reference's fold (rows, then columns, from −∞, v > m ? v : m) gives the
// first of the window's elements in row-major order equal to its maximum (NaN never wins; of -0
// and +0 the one met first); so does folding each row's columns that way (h, the row's first
// element equal to the row's maximum, −∞ for a row of NaN) and then the rows' h: the first row
// holding the maximum, its first such element. Here each lane does that with max_ps(v, m) =
// v > m ? v : m, so pool_run's bits; the rows' folds are independent chains, 3 + 3 maxima deep
// for a 3 × 3 window instead of 9. A stride-2 tap is the even lanes of two vectors loaded from the
// tap's first column; the last vector of a row is masked (no read past a window). max_pool_rows
// reduced every input column of the window's rows (stride 2: twice the columns needed) in 4-lane
// SSE: ~285 µs for resnet18's 64 × 112 × 112 at one thread.
// kSw, kKw: the stride and window width along W when fixed at compile time (0: g's).
template <int kSw, int kKw>
__attribute__((target("avx512f"))) void max_pool_avx512(const PoolGeometry& g, const float* x,
                                                        float* y, int64_t p0, int64_t p1) {
  const int64_t sw = kSw > 0 ? kSw : g.sw, kw = kKw > 0 ? kKw : g.kw;
  const auto [lo, hi] = max_row_span(g);
  const __m512 neg = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t p = p0; p < p1; ++p) {
    const float* plane = x + p * g.h * g.w;
    float* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const auto [y0, y1] = window_rows(g, oy);
      float* o = out + oy * g.ow;
      for (int64_t ox = lo; ox < hi; ox += 16) {
        const int64_t n = std::min<int64_t>(16, hi - ox);
        const auto lanes = [](int64_t k) { return static_cast<__mmask16>((1u << k) - 1); };
        const __mmask16 keep = lanes(n);
        // Stride 2: the n outputs' taps span 2n − 1 columns, in two loads of up to 16.
        const int64_t cols = 2 * n - 1;
        const __mmask16 ka = sw == 2 ? lanes(std::min<int64_t>(16, cols)) : keep;
        const __mmask16 kb = lanes(std::max<int64_t>(0, cols - 16));
        // Whole vectors whose loads stay inside the row load unmasked.
        const bool whole = n == 16 && ox * sw - g.pl + kw - 1 + 16 * sw <= g.w;
        __m512 m = neg;
        for (int64_t iy = y0; iy < y1; ++iy) {
          const float* r = plane + iy * g.w + ox * sw - g.pl;
          __m512 h = neg;
#pragma GCC unroll 4
          for (int64_t kx = 0; kx < kw; ++kx) {
            __m512 v;
            if (sw == 2) {
              const __m512 a =
                  whole ? _mm512_loadu_ps(r + kx) : _mm512_mask_loadu_ps(neg, ka, r + kx);
              const __m512 b =
                  whole ? _mm512_loadu_ps(r + kx + 16) : _mm512_mask_loadu_ps(neg, kb, r + kx + 16);
              v = _mm512_permutex2var_ps(a, even, b);
            } else {
              v = whole ? _mm512_loadu_ps(r + kx) : _mm512_mask_loadu_ps(neg, keep, r + kx);
            }
            h = _mm512_max_ps(v, h);
          }
          m = _mm512_max_ps(h, m);
        }
        if (whole)
          _mm512_storeu_ps(o + ox, m);
        else
          _mm512_mask_storeu_ps(o + ox, keep, m);
      }
      for (int64_t ox = 0; ox < lo; ++ox) o[ox] = max_window(g, plane, y0, y1, ox);
      for (int64_t ox = std::max(lo, hi); ox < g.ow; ++ox) o[ox] = max_window(g, plane, y0, y1, ox);
    }
  }
}

// The same on AVX2 (each row's columns folded, then the rows), 8 outputs a step; the row's last
// inside outputs, where a step's loads would pass the row's end, as max_window does (vmaskmovps
// is microcoded on AMD). Stride 2 takes even columns by vshufps, which leaves the
// lanes in the order of outputs 0, 1, 4, 5 | 2, 3, 6, 7 (lane-wise maxima do not mind); one
// vpermpd puts them back before the store.
__attribute__((target("avx2,fma"))) void max_pool_avx2(const PoolGeometry& g, const float* x,
                                                       float* y, int64_t p0, int64_t p1) {
  const auto [lo, hi] = max_row_span(g);
  const __m256 neg = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t p = p0; p < p1; ++p) {
    const float* plane = x + p * g.h * g.w;
    float* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const auto [y0, y1] = window_rows(g, oy);
      float* o = out + oy * g.ow;
      int64_t ox = lo;
      // Stride 2 loads 16 columns from each tap's first, one past the 8th output's: the vector
      // steps stop where that column would be past the row's end.
      for (; ox + 8 <= hi; ox += 8) {
        const int64_t c0 = ox * g.sw - g.pl;
        if (g.sw == 2 && c0 + g.kw - 1 + 16 > g.w) break;
        __m256 m = neg;
        for (int64_t iy = y0; iy < y1; ++iy) {
          const float* r = plane + iy * g.w + c0;
          __m256 h = neg;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            __m256 v;
            if (g.sw == 2)
              v = _mm256_shuffle_ps(_mm256_loadu_ps(r + kx), _mm256_loadu_ps(r + kx + 8), 0x88);
            else
              v = _mm256_loadu_ps(r + kx);
            h = _mm256_max_ps(v, h);
          }
          m = _mm256_max_ps(h, m);
        }
        if (g.sw == 2) m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
        _mm256_storeu_ps(o + ox, m);
      }
      for (; ox < hi; ++ox) o[ox] = max_window(g, plane, y0, y1, ox);
      for (int64_t e = 0; e < lo; ++e) o[e] = max_window(g, plane, y0, y1, e);
      for (int64_t e = std::max(lo, hi); e < g.ow; ++e) o[e] = max_window(g, plane, y0, y1, e);
    }
  }
}
#endif

template <bool kMax>
Kernel pool_kernel(const std::string& name, std::span<const TensorType> in,
                   const ir::Attrs& attrs) {
  const PoolGeometry g = pool_geometry(name, in, attrs);
  auto kernel = [g]<class T>(T) -> Kernel {
    return [g](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      // Work per plane: every output reads its window.
      par.for_range(
          g.n * g.c, rows_grain(g.oh * g.ow * g.kh * g.kw), [&](int64_t p0, int64_t p1, int) {
#if defined(__x86_64__)
            if constexpr (std::is_same_v<T, float>) {
              if (kMax && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 &&
                  g.pl == 0 && 2 * g.oh <= g.h && 2 * g.ow <= g.w && kernel_isa() != Isa::kNone) {
                max_pool_2x2_avx2(g, x[0].data<T>(), y[0].data<T>(), p0, p1);
                return;
              }
              if (kMax && (g.sw == 1 || g.sw == 2)) {
                if (kernel_isa() == Isa::kAvx512) {
                  const float* xs = x[0].data<T>();
                  float* ys = y[0].data<T>();
                  if (g.sw == 2 && g.kw == 3)
                    max_pool_avx512<2, 3>(g, xs, ys, p0, p1);
                  else if (g.sw == 2 && g.kw == 2)
                    max_pool_avx512<2, 2>(g, xs, ys, p0, p1);
                  else if (g.sw == 1 && g.kw == 3)
                    max_pool_avx512<1, 3>(g, xs, ys, p0, p1);
                  else
                    max_pool_avx512<0, 0>(g, xs, ys, p0, p1);
                  return;
                }
                if (kernel_isa() == Isa::kAvx2) {
                  max_pool_avx2(g, x[0].data<T>(), y[0].data<T>(), p0, p1);
                  return;
                }
              }
            }
#endif
            if (kMax && g.w <= kMaxRowWidth)
              max_pool_rows<T>(g, x[0].data<T>(), y[0].data<T>(), p0, p1);
            else
              pool_run<T, kMax>(g, x[0].data<T>(), y[0].data<T>(), p0, p1);
          });
    };
  };
  if (in[0].dtype == DType::Float64) return kernel(0.0);
  return kernel(0.0f);
}

// Concat of fill constants around `x` along `axis`: explicit pooling pads (−∞ for a max).
// Where x's shape is known only at run time (it follows an open input dimension), a constant
// block cannot be made: a Pad node with the fill instead.
int pad_with(OnnxImporter& m, int x, size_t axis, int64_t before, int64_t after, double fill) {
  if (!m.shape_known(x) && (before > 0 || after > 0)) {
    std::vector<int64_t> paddings(2 * m.info(x).shape.rank(), 0);
    paddings[2 * axis] = std::max<int64_t>(before, 0);
    paddings[2 * axis + 1] = std::max<int64_t>(after, 0);
    ir::Attrs attrs{{"paddings", paddings}};
    if (fill != 0) attrs["value"] = fill;
    return m.emit1("Pad", {x}, std::move(attrs));
  }
  std::vector<int> parts;
  const DType dt = m.info(x).dtype;
  auto block = [&](int64_t n) {
    std::vector<int64_t> dims = m.info(x).shape.dims();
    dims[axis] = n;
    const Shape s(dims);
    const auto numel = s.checked_numel();
    if (!numel || *numel > kOnnxMaxConstElements)
      m.unsupported("padding block " + s.str() + " is too large");
    m.charge_generated(static_cast<uint64_t>(*numel) * 8);  // the float64 block, then its cast
    Tensor t = Tensor(DType::Float64, s);
    std::fill_n(t.data<double>(), *numel, fill);
    return m.constant(t.to(dt));
  };
  if (before > 0) parts.push_back(block(before));
  parts.push_back(x);
  if (after > 0) parts.push_back(block(after));
  if (parts.size() == 1) return x;
  return m.emit1("Concat", parts, {{"axis", static_cast<int64_t>(axis)}});
}

// ONNX's output size along one axis with ceil_mode: ⌈(in + pads − k) / s⌉ + 1 windows, less a
// last one that would start in the end padding (ONNX Runtime's and PyTorch's rule). Returns how
// far the last window reaches past the end padding: the extra tail a VALID pool needs.
int64_t ceil_mode_tail(OnnxImporter& m, const OnnxWindow& s) {
  const int64_t k = s.d * (s.k - 1) + 1;  // the dilated window's extent
  const int64_t span = s.in + s.before + s.after - k;
  if (span < 0) return 0;  // no window fits: the row says so
  int64_t out = (span + s.s - 1) / s.s + 1;
  if ((out - 1) * s.s >= s.in + s.before) --out;
  return std::max<int64_t>(0, (out - 1) * s.s + k - (s.in + s.before + s.after));
}

// A dilated MaxPool: the input padded with −∞ (pads and ceil_mode's tail), then, a max being
// separable, along W the Maximum of the k_w strided column grids the window visits (a Gather
// each), and along H the same over those: k_h + k_w Gathers.
int dilated_max_pool(OnnxImporter& m, int x, const std::vector<OnnxWindow>& sp,
                     const int64_t tail[2]) {
  const double inf = std::numeric_limits<double>::infinity();
  x = pad_with(m, x, 2, sp[0].before, sp[0].after + tail[0], -inf);
  x = pad_with(m, x, 3, sp[1].before, sp[1].after + tail[1], -inf);
  for (int64_t a = 1; a >= 0; --a) {
    const OnnxWindow& w = sp[static_cast<size_t>(a)];
    const int64_t span = m.info(x).shape[static_cast<size_t>(2 + a)] - (w.d * (w.k - 1) + 1);
    if (span < 0) m.fail("the dilated window does not fit the input");
    const int64_t out = span / w.s + 1;
    int y = -1;
    for (int64_t i = 0; i < w.k; ++i) {
      const int t = m.take(x, 2 + a, index_range(i * w.d, i * w.d + out * w.s, w.s));
      y = y < 0 ? t : m.emit1("Maximum", {y, t});
    }
    x = y;
  }
  return x;
}

// MaxPool / AveragePool on NCHW, or NCL (1-D) over the (N, C, 1, L) view (window.h); NCDHW as
// MaxPool3D / AvgPool3D (pool3d.cpp). Explicit pads
// and ceil_mode's partial last windows become a VALID pool over an input padded by Concat: with
// −∞ for a max; with zeros for an average, whose divisor is then fixed by a constant factor per
// output pixel where a window holds pixels that do not count (the tail ceil_mode adds never
// counts; the pads count when count_include_pad=1), as ONNX Runtime and PyTorch divide.
void import_pool(OnnxImporter& m, bool is_max) {
  m.require_inputs(1, 1);
  const int x0 = m.input(0);
  const Shape xs = m.info(x0).shape;
  if (xs.rank() == 5) return import_pool3d(m, is_max);
  const bool one_d = xs.rank() == 3;
  if (xs.rank() != 4 && !one_d)
    m.unsupported("only 1-D, 2-D and 3-D pooling (NCL, NCHW or NCDHW input) is supported");
  const auto k = m.attr_ints("kernel_shape");
  if (!k) m.fail("kernel_shape is required");
  if (k->size() != xs.rank() - 2)
    m.fail("kernel_shape must have " + std::to_string(xs.rank() - 2) + " values");
  const auto sp = onnx_window(m, xs, *k);
  const bool dilated = sp[0].d != 1 || sp[1].d != 1;
  if (dilated && !is_max) m.unsupported("dilated AveragePool is not supported");
  const bool include_pad = !is_max && m.attr_int("count_include_pad", 0) != 0;
  int64_t tail[2] = {0, 0};
  if (m.attr_int("ceil_mode", 0) != 0)
    for (size_t i = 0; i < 2; ++i) tail[i] = ceil_mode_tail(m, sp[i]);
  if (dilated) {
    if (sp[0].k > 4096 || sp[1].k > 4096) m.unsupported("a dilated window over 4096 pixels wide");
    m.set_output(0, squeeze_2d(m, dilated_max_pool(m, unsqueeze_2d(m, x0), sp, tail), one_d));
    return;
  }
  const bool no_pad =
      std::all_of(sp.begin(), sp.end(),
                  [](const OnnxWindow& s) { return s.before == 0 && s.after == 0; }) &&
      tail[0] == 0 && tail[1] == 0;
  bool as_same = !include_pad && tail[0] == 0 && tail[1] == 0;
  for (const auto& s : sp) {
    const auto [b, a] = same_pads(s.in, s.k, s.s, 1);
    as_same = as_same && s.before == b && s.after == a;
  }
  int x = unsqueeze_2d(m, x0);
  std::string mode = "VALID";
  // Output pixel scale for an average whose windows hold uncounted pixels: k_h·k_w / counted.
  std::optional<Tensor> scale;
  if (!no_pad && as_same) {
    mode = "SAME";
  } else if (!no_pad) {
    // −∞ never wins a max; zeros add nothing to an average's sum.
    const double fill = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    x = pad_with(m, x, 2, sp[0].before, sp[0].after + tail[0], fill);
    x = pad_with(m, x, 3, sp[1].before, sp[1].after + tail[1], fill);
    if (!is_max) {
      // Counted along each axis: the input, with its pads when count_include_pad=1.
      std::vector<int64_t> out(2);
      std::vector<std::vector<double>> counted(2);
      bool partial = false;
      for (size_t i = 0; i < 2; ++i) {
        const OnnxWindow& s = sp[i];
        const int64_t lo = include_pad ? 0 : s.before;
        const int64_t hi = include_pad ? s.before + s.in + s.after : s.before + s.in;
        out[i] = (s.in + s.before + s.after + tail[i] - s.k) / s.s + 1;
        // A declared input may be far larger than any constant the reader makes.
        if (out[i] > kOnnxMaxConstElements)
          m.unsupported("an AveragePool with pads over an output of " + std::to_string(out[i]) +
                        " along one axis");
        for (int64_t o = 0; o < out[i]; ++o) {
          const int64_t c = std::min(o * s.s + s.k, hi) - std::max(o * s.s, lo);
          if (c <= 0) m.unsupported("an AveragePool window holds no pixel it may count");
          counted[i].push_back(static_cast<double>(c));
          partial = partial || c != s.k;
        }
      }
      if (partial) {
        if (out[0] * out[1] > kOnnxMaxConstElements)  // each ≤ 2^22: no overflow
          m.unsupported("the divisor of an AveragePool over " + std::to_string(out[0]) + " x " +
                        std::to_string(out[1]) + " outputs is too large to make");
        m.charge_generated(static_cast<uint64_t>(out[0] * out[1]) * 8);
        Tensor t(DType::Float64, Shape{1, 1, out[0], out[1]});
        double* v = t.data<double>();
        for (int64_t oy = 0; oy < out[0]; ++oy)
          for (int64_t ox = 0; ox < out[1]; ++ox)
            v[oy * out[1] + ox] =
                static_cast<double>(sp[0].k * sp[1].k) /
                (counted[0][static_cast<size_t>(oy)] * counted[1][static_cast<size_t>(ox)]);
        scale = t.to(m.info(x0).dtype);
      }
    }
  }
  int y = m.emit1(is_max ? "MaxPool" : "AvgPool", {x},
                  {{"kernel_size", std::vector<int64_t>{1, 1, sp[0].k, sp[1].k}},
                   {"strides", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                   {"pad_mode", mode},
                   {"data_format", std::string("NCHW")}});
  if (scale) y = m.emit1("Mul", {y, m.constant(*scale)});
  m.set_output(0, squeeze_2d(m, y, one_d));
}

}  // namespace

OpDef pool_row(const std::string& name, bool is_max) {
  OpDef d;
  d.name = name;
  d.work = work_plane_window;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const PoolGeometry g = pool_geometry(name, in, attrs);
    return std::vector<TensorType>{{in[0].dtype, Shape{g.n, g.c, g.oh, g.ow}}};
  };
  d.make_kernel = [name, is_max](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    return is_max ? pool_kernel<true>(name, in, attrs) : pool_kernel<false>(name, in, attrs);
  };
  return d;
}

OnnxExportFn onnx_pool_export(bool is_max) {
  return [is_max](OnnxBuilder& b, const ir::Node& n) {
    const Shape& x = b.shape(n.inputs.at(0));
    if (x.rank() != 4) b.fail(n, "input must be NCHW");
    const auto [kh, kw, sh, sw, mode] = onnx_checked(b, n, [&] {
      require_nchw(n.attrs, n.op);
      const auto [k_h, k_w] = attr_hw(n.attrs, n.op, "kernel_size", 1);
      const auto [s_h, s_w] = attr_hw(n.attrs, n.op, "strides", 1);
      return std::tuple{k_h, k_w, s_h, s_w, attr_pad_mode(n.attrs, n.op, "valid")};
    });
    if (mode == "pad") b.fail(n, "pad_mode 'pad' is not a mode of " + n.op);
    std::vector<int64_t> pads(4, 0);
    if (mode == "same") {
      std::tie(pads[0], pads[2]) = same_pads(x[2], kh, sh, 1);
      std::tie(pads[1], pads[3]) = same_pads(x[3], kw, sw, 1);
    }
    OnnxAttrs attrs = {{"kernel_shape", std::vector<int64_t>{kh, kw}},
                       {"strides", std::vector<int64_t>{sh, sw}},
                       {"pads", pads}};
    // MindSpore's AvgPool averages the pixels inside the input only.
    if (!is_max) attrs.push_back({"count_include_pad", int64_t{0}});
    b.add(is_max ? "MaxPool" : "AveragePool", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))},
          attrs);
  };
}

OnnxImportFn onnx_pool_import(bool is_max) {
  return [is_max](OnnxImporter& m) { import_pool(m, is_max); };
}

}  // namespace cellar::ops
