// Conv2D: 2-D convolution of an NCHW input x with a weight [out, in/group, kh, kw], with
// stride, dilation, groups and padding (MindSpore's pad_mode "valid" | "same" | "pad"). Computed
// directly for depthwise groups, otherwise as im2col + GEMM in column blocks (conv_typed below).
//
// MindSpore (2.x as 1.x) writes Conv2D as a PRIMITIVE with attributes, as ops.Conv2D sets them
// (mindspore/ops/operations/nn_ops.py): out_channel, kernel_size (kh, kw), mode (1), pad_mode,
// pad (top, bottom, left, right), pad_list (what its kernel pads by), stride and dilation (1, 1,
// h, w), group (and its copy "groups"), format "NCHW" (cellar's data_format). The bias is a
// separate BiasAdd, as nn.Conv2d does it.
//
// ONNX: written as Conv with explicit pads (the pad mode resolved against the input shape),
// strides, dilations, group; Conv is read back with pad_mode "pad" (or "valid" when unpadded), its
// optional bias input as a BiasAdd.
#include "ops/nn/conv2d.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/activate_avx2.h"
#include "ops/nn/conv3d.h"
#include "ops/nn/conv_direct.h"
#include "ops/nn/conv_taps.h"
#include "ops/nn/depthwise.h"
#include "ops/nn/pointwise.h"
#include "ops/nn/window.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"
#include "ops/vec_math.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Conv2D";

// Output size along one dimension (MindSpore's Conv2D shape rule).
int64_t out_dim(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t d,
                int64_t pad_before, int64_t pad_after, int64_t* pb, int64_t* pa) {
  const int64_t span = d * (k - 1) + 1;
  if (mode == "valid") {
    *pb = *pa = 0;
    return in >= span ? (in - span) / s + 1 : 0;
  }
  if (mode == "same") {
    const int64_t out = (in + s - 1) / s;
    const int64_t need = std::max<int64_t>(0, (out - 1) * s + span - in);
    *pb = need / 2;
    *pa = need - *pb;
    return out;
  }
  *pb = pad_before;
  *pa = pad_after;
  const int64_t padded = in + pad_before + pad_after;
  return padded >= span ? (padded - span) / s + 1 : 0;
}

}  // namespace

ConvGeometry conv_geometry(const char* op, std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(op, in);
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  require_nchw(attrs, op);
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (x.rank() != 4) shape_error(op, "input must be NCHW (rank 4), got " + x.str());
  if (w.rank() != 4) shape_error(op, "weight must be [out, in/group, kh, kw], got " + w.str());
  ConvGeometry g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = w[0], g.kh = w[2], g.kw = w[3];
  g.group = attr_int(attrs, op, "group", attr_int(attrs, op, "groups", 1));
  if (g.group < 1) shape_error(op, "group must be positive, got " + std::to_string(g.group));
  if (g.c % g.group != 0 || g.o % g.group != 0)
    shape_error(op, "input channels " + std::to_string(g.c) + " and output channels " +
                        std::to_string(g.o) + " must both be divisible by group " +
                        std::to_string(g.group));
  // Compared per group: w[1] · group may overflow (a weight with no elements has any w[1]).
  if (w[1] != g.c / g.group)
    shape_error(op, "weight " + w.str() + " expects " + std::to_string(w[1]) +
                        " input channels per group (group " + std::to_string(g.group) +
                        "), input " + x.str() + " has " + std::to_string(g.c));
  if (has_attr(attrs, "out_channel") && attr_int(attrs, op, "out_channel") != g.o)
    shape_error(op, "out_channel " + std::to_string(attr_int(attrs, op, "out_channel")) +
                        " differs from the weight's " + w.str());
  if (has_attr(attrs, "kernel_size")) {
    const auto [kh, kw] = attr_hw(attrs, op, "kernel_size", 1);
    if (kh != g.kh || kw != g.kw)
      shape_error(op, "kernel_size (" + std::to_string(kh) + ", " + std::to_string(kw) +
                          ") differs from the weight's " + w.str());
  }
  std::tie(g.sh, g.sw) = attr_hw(attrs, op, "stride", 1);
  std::tie(g.dh, g.dw) = attr_hw(attrs, op, "dilation", 1);
  const std::string mode = attr_pad_mode(attrs, op, "valid");
  std::vector<int64_t> pad = attr_ints(attrs, op, "pad", {0});
  if (pad.size() == 1) pad.assign(4, pad[0]);
  if (pad.size() != 4) shape_error(op, "pad must have 1 or 4 values (top, bottom, left, right)");
  for (int64_t p : pad)
    if (p < 0 || p >= kMaxWindowAttr)
      shape_error(op, "pad values must be non-negative (and below 2^31)");
  if (mode != "pad" && pad != std::vector<int64_t>(4, 0))
    shape_error(op, "pad must be zero when pad_mode is '" + mode + "'");
  g.oh = out_dim(mode, g.h, g.kh, g.sh, g.dh, pad[0], pad[1], &g.pt, &g.pb);
  g.ow = out_dim(mode, g.w, g.kw, g.sw, g.dw, pad[2], pad[3], &g.pl, &g.pr);
  if (g.oh <= 0 || g.ow <= 0)
    shape_error(op, "kernel " + w.str() + " (dilation " + std::to_string(g.dh) + ", " +
                        std::to_string(g.dw) + ") does not fit input " + x.str() +
                        " with pad_mode '" + mode + "'");
  return g;
}

ConvActivation conv_activation_attr(const char* op, const ir::Attrs& attrs, const char* key) {
  auto it = attrs.find(key);
  if (it == attrs.end()) return ConvActivation::kNone;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(op) + ": " + key + " must be a string");
  const std::string& a = *s;
  if (a == "none") return ConvActivation::kNone;
  if (a == "relu") return ConvActivation::kReLU;
  if (a == "relu6") return ConvActivation::kReLU6;
  if (a == "hswish") return ConvActivation::kHSwish;
  if (a == "hsigmoid") return ConvActivation::kHSigmoid;
  if (a == "silu") return ConvActivation::kSiLU;
  if (a == "x_sigmoid") return ConvActivation::kXSigmoid;
  throw ValueError(ErrorCode::kInvalidArgument,
                   std::string(op) + ": " + key + " '" + a +
                       "' is not one of none, relu, relu6, hswish, hsigmoid, silu, x_sigmoid");
}

namespace {

std::vector<TensorType> conv_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = conv_geometry(kOp, in, attrs);
  return {{in[0].dtype, Shape{g.n, g.o, g.oh, g.ow}}};
}

// dst[0, n) = src[0, n) for the short runs im2col copies (LeNet's are 10 to 28 floats): glibc's
// memmove, which std::copy and a plain loop (gcc turns it into the call) come to, costs more than
// such a copy (memmove was 12% of LeNet-5). SSE2, which every x86-64 CPU has, 4 floats at a time.
template <class T>
inline void copy_run(const T* src, int64_t n, T* dst) {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (n < 64) {
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) _mm_storeu_ps(dst + i, _mm_loadu_ps(src + i));
      const int64_t rest = n - i;
      if (rest > 0) dst[i] = src[i];
      if (rest > 1) dst[i + 1] = src[i + 1];
      if (rest > 2) dst[i + 2] = src[i + 2];
      return;
    }
  }
#endif
  std::copy(src, src + n, dst);
}

// dst[0, n) = 0, for the same short runs (a row's padding columns), without memset.
template <class T>
inline void zero_run(int64_t n, T* dst) {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (n < 64) {
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) _mm_storeu_ps(dst + i, _mm_setzero_ps());
      for (; i < n; ++i) dst[i] = 0.0f;
      return;
    }
  }
#endif
  std::fill_n(dst, n, T(0));
}

// Columns [s0, s1) of the im2col row of input plane `plane` and tap (i, j) into `dst_row`: input
// pixel (oy·sh + i·dh − pt, ox·sw + j·dw − pl) for each output position s = oy·ow + ox; zero
// outside the input. The tap's valid column range is the same on every output row: computed
// once, as is the first row (one division per call: this runs once per im2col row, up to 28
// segments of a few floats each in LeNet-5, where the per-segment arithmetic was half the time).
template <class T>
void im2col_row(const ConvGeometry& g, const T* plane, int64_t i, int64_t j, int64_t s0, int64_t s1,
                T* dst_row) {
  const int64_t off = j * g.dw - g.pl;  // input column of output column 0
  // Input column ox·sw + off lies in [0, w) for ox in [first, last).
  const int64_t first = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  const int64_t last = g.w - off > 0 ? (g.w - off - 1) / g.sw + 1 : 0;
  int64_t oy = s0 / g.ow, ox0 = s0 % g.ow;
  for (int64_t s = s0; s < s1; ++oy, ox0 = 0) {
    const int64_t ox1 = std::min(g.ow, ox0 + (s1 - s));
    T* dst = dst_row + (s - s0) - ox0;  // dst[ox] is position (oy, ox)
    const int64_t iy = oy * g.sh + i * g.dh - g.pt;
    if (iy < 0 || iy >= g.h) {
      zero_run(ox1 - ox0, dst + ox0);
    } else {
      const T* src = plane + iy * g.w;
      const int64_t lo = std::clamp(first, ox0, ox1);
      const int64_t hi = std::clamp(last, lo, ox1);
      if (lo > ox0) zero_run(lo - ox0, dst + ox0);
      if (g.sw == 1) {
        copy_run(src + lo + off, hi - lo, dst + lo);
      } else {
        for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[ox * g.sw + off];
      }
      if (ox1 > hi) zero_run(ox1 - hi, dst + hi);
    }
    s += ox1 - ox0;
  }
}

// Rows [0, kdim) × columns [s0, s1) of one image-group's im2col matrix into `col` (row stride
// ld ≥ s1 − s0), row (ci, i, j) holding im2col_row(ci's plane, i, j).
template <class T>
void im2col(const ConvGeometry& g, int64_t cg, const T* xg, int64_t s0, int64_t s1, T* col,
            int64_t ld) {
  T* row = col;
  for (int64_t ci = 0; ci < cg; ++ci)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j, row += ld)
        im2col_row(g, xg + ci * g.h * g.w, i, j, s0, s1, row);
}

// The same for a packed weight, whose columns are tap-major (pack_conv_weight): rows (t, ci) for
// the taps t = i·kw + j listed in `taps` only. A tap's runs over the columns (zeros, or a copy from
// one offset in an input plane) are the same for every input channel: they are worked out once
// per tap and applied to each channel's plane. im2col_row's per-row arithmetic (two divisions,
// the clamps) was half of im2col's time, and im2col a third of a 64-channel 3 × 3 layer's
// (docs/benchmarks.md, issue 13, session 9). Every run has a column, so a tile (kPackCols
// columns) has at most kPackCols runs; wider blocks go row by row.
template <class T>
void im2col_taps(const ConvGeometry& g, int64_t cg, const T* xg, int64_t s0, int64_t s1, T* col,
                 int64_t ld, std::span<const int64_t> taps) {
  struct Run {
    int64_t dst, len, src;  // src < 0: zeros
  };
  constexpr int64_t kMaxRuns = kPackCols;
  Run runs[kMaxRuns];
  const bool fits = s1 - s0 <= kMaxRuns;
  T* row = col;
  for (int64_t t : taps) {
    const int64_t i = t / g.kw, j = t % g.kw;
    const int64_t off = j * g.dw - g.pl;  // input column of output column 0
    const int64_t first = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
    const int64_t last = g.w - off > 0 ? (g.w - off - 1) / g.sw + 1 : 0;
    int nruns = 0;
    auto add = [&](int64_t dst, int64_t len, int64_t src) {
      if (len > 0) runs[nruns++] = {dst, len, src};
    };
    int64_t oy = s0 / g.ow, ox0 = s0 % g.ow;
    for (int64_t s = s0; s < s1 && fits; ++oy, ox0 = 0) {
      const int64_t ox1 = std::min(g.ow, ox0 + (s1 - s));
      const int64_t base = (s - s0) - ox0;  // column of position (oy, 0) in the block
      const int64_t iy = oy * g.sh + i * g.dh - g.pt;
      if (iy < 0 || iy >= g.h) {
        add(base + ox0, ox1 - ox0, -1);
      } else {
        const int64_t lo = std::clamp(first, ox0, ox1);
        const int64_t hi = std::clamp(last, lo, ox1);
        add(base + ox0, lo - ox0, -1);
        add(base + lo, hi - lo, iy * g.w + lo * g.sw + off);
        add(base + hi, ox1 - hi, -1);
      }
      s += ox1 - ox0;
    }
    for (int64_t ci = 0; ci < cg; ++ci, row += ld) {
      const T* plane = xg + ci * g.h * g.w;
      if (!fits) {
        im2col_row(g, plane, i, j, s0, s1, row);
        continue;
      }
      for (int r = 0; r < nruns; ++r) {
        const Run& run = runs[r];
        if (run.src < 0) {
          zero_run(run.len, row + run.dst);
        } else if (g.sw == 1) {
          copy_run(plane + run.src, run.len, row + run.dst);
        } else {
          for (int64_t q = 0; q < run.len; ++q) row[run.dst + q] = plane[run.src + q * g.sw];
        }
      }
    }
  }
}

// One output plane of a convolution whose groups each read one input channel (depthwise):
// y = Σ_(i,j) w[i, j] · x shifted, directly, row by row; the inner loop over ox runs only where
// the tap is inside the input, so it has no test and vectorises.
template <class T>
void depthwise_plane(const ConvGeometry& g, const T* x, const T* w, T* y) {
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    T* yr = y + oy * g.ow;
    std::fill_n(yr, g.ow, T(0));
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = oy * g.sh + i * g.dh - g.pt;
      if (iy < 0 || iy >= g.h) continue;
      const T* xr = x + iy * g.w;
      for (int64_t j = 0; j < g.kw; ++j) {
        const T wv = w[i * g.kw + j];
        const int64_t off = j * g.dw - g.pl;  // input column of output column 0
        // ox·sw + off ∈ [0, w)
        const int64_t lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
        const int64_t hi = std::min(g.ow, g.w - off > 0 ? (g.w - off - 1) / g.sw + 1 : 0);
        if (g.sw == 1) {
          const T* xs = xr + off;
          for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wv * xs[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wv * xr[ox * g.sw + off];
        }
      }
    }
  }
}

// Columns of the im2col matrix per block: enough for the GEMM to run at speed, few enough that
// one block's im2col stays in the core's L2 beside the weights (192 KiB: a Zen 3 core has 512 KiB
// of L2, which a 512 KiB block overflowed; docs/benchmarks.md, issue 13, session 8).
constexpr int64_t kMinColumns = 64;
constexpr size_t kColumnBytes = size_t{192} << 10;

// y[i] = act(y[i] + bias) over `len` outputs of one channel; with a residual row `res`,
// act((y[i] + bias) + res[i]), the two additions rounded in that order (the unfused ops' order).
// `add`: whether the bias is added at all (the kernels add it, 0 when there is none, whenever an
// activation follows; a pass over outputs a kernel has already biased adds nothing but the
// residual). The clamps compare as the SIMD kernels' max/min do (activate256: the bound when
// either side is NaN), so that an output's value does not depend on which path finished it (ReLU
// gives 0 for NaN, as the ReLU op does).
template <class T>
inline T max0(T a) {
  return a > T(0) ? a : T(0);
}
template <class T>
inline T min6(T a) {
  return a < T(6) ? a : T(6);
}
template <class T, ConvActivation kAct>
void epilogue_row(T* y, int64_t len, T bias, const T* res = nullptr, bool add = true) {
  // The sum before the activation: + bias when `add`, then + residual.
  auto sum = [&](int64_t i) {
    T v = add ? y[i] + bias : y[i];
    if (res) v = v + res[i];
    return v;
  };
  if constexpr (conv_activation_exp(kAct)) {
    for (int64_t i = 0; i < len; ++i) y[i] = sum(i);
    conv_activate_exp(kAct, y, len);
    return;
  }
  for (int64_t i = 0; i < len; ++i) {
    const T v = sum(i);
    if constexpr (kAct == ConvActivation::kNone) {
      y[i] = v;
    } else if constexpr (kAct == ConvActivation::kReLU) {
      y[i] = max0(v);
    } else if constexpr (kAct == ConvActivation::kReLU6) {
      y[i] = min6(max0(v));
    } else if constexpr (kAct == ConvActivation::kHSwish) {
      y[i] = v * min6(max0(v + T(3))) / T(6);
    } else {
      y[i] = min6(max0(v + T(3))) / T(6);
    }
  }
}

#if defined(__x86_64__)
// The same over `rows` rows of `len` outputs (row stride ld, the residual's too), row r's bias
// bias[r] (or 0), eight lanes at a time: the same additions and activation as epilogue_row,
// element by element (activate256), a row's last few outputs as epilogue_row does them (the same
// values).
template <ConvActivation kAct>
__attribute__((target("avx2,fma"))) void epilogue_rows_avx2(float* y, int64_t ld, int64_t rows,
                                                            int64_t len, const float* bias,
                                                            const float* res, bool add) {
  const int64_t body = len / 8 * 8, rest = len - body;
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * ld;
    const float* rr = res ? res + r * ld : nullptr;
    const __m256 b = _mm256_set1_ps(bias ? bias[r] : 0.0f);
    if (rr) {
      for (int64_t i = 0; i < body; i += 8) {
        const __m256 v = _mm256_loadu_ps(yr + i);
        _mm256_storeu_ps(yr + i, activate256(_mm256_add_ps(add ? _mm256_add_ps(v, b) : v,
                                                           _mm256_loadu_ps(rr + i)),
                                             kAct));
      }
    } else {
      for (int64_t i = 0; i < body; i += 8) {
        const __m256 v = _mm256_loadu_ps(yr + i);
        _mm256_storeu_ps(yr + i, activate256(add ? _mm256_add_ps(v, b) : v, kAct));
      }
    }
    if (rest > 0)
      epilogue_row<float, kAct>(yr + body, rest, bias ? bias[r] : 0.0f, rr ? rr + body : nullptr,
                                add);
  }
}
#endif

// Bias, residual and activation over rows [0, rows) × [0, len) of y (row stride ld, the residual
// `res`'s too, or none), bias[r] row r's (or none; added at all only when `add`, as in
// epilogue_row): in SIMD lanes where the kernels have AVX2, else epilogue_row. Without `add`, bias
// or residual the sums are left as they are.
template <class T, ConvActivation kAct>
void epilogue_rows(T* y, int64_t ld, int64_t rows, int64_t len, const T* bias,
                   const T* res = nullptr, bool add = true) {
  if constexpr (conv_activation_exp(kAct)) {
    // The bias (and residual) row by row, then the activation over the rows at once where they
    // are contiguous (one call over a block, not one per row of a few dozen outputs).
    if (bias || res)
      epilogue_rows<T, ConvActivation::kNone>(y, ld, rows, len, bias, res, add && bias);
    if (ld == len) return conv_activate_exp(kAct, y, rows * len);
    for (int64_t r = 0; r < rows; ++r) conv_activate_exp(kAct, y + r * ld, len);
    return;
  }
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    // Rows shorter than a vector (a squeeze-excitation's 1 × 1 outputs) one element at a time;
    // the e^x activations row by row over the whole row (conv_activate_exp).
    if (!conv_activation_exp(kAct) && len >= 8 && kernel_isa() != Isa::kNone)
      return epilogue_rows_avx2<kAct>(y, ld, rows, len, bias, res, add);
  }
#endif
  for (int64_t r = 0; r < rows; ++r)
    epilogue_row<T, kAct>(y + r * ld, len, bias ? bias[r] : T(0), res ? res + r * ld : nullptr,
                          add);
}

// A 1×1 convolution's product in tiles of columns whose output (all of the block's rows) fits
// this many bytes, bias and activation applied to each tile right after it is computed, while it
// is in L2 (the whole output, a few MiB at 112 × 112, was written and then read back from L3: the
// epilogue alone was 10% of mobilenet_v2_100).
constexpr int64_t kTileBytes = int64_t{128} << 10;

// How an im2col convolution's work is cut over `threads` workers: whole images when they split
// evenly; else by output channels when the weight outweighs the activations (more output
// channels than output positions: a late layer at batch 1), each worker then streaming its half
// of the weight once instead of all of it (a 7 × 7 layer of 512 channels was cut into 48 + 1
// columns, so both workers read the 9 MiB weight, one for a single column); else each image's
// columns in `parts` equal ranges. Rows and ranges start where one thread's blocks would (panels
// of kPackRows, tiles of kPackCols), so every output is computed as on one thread.
struct ConvSplit {
  int64_t block;           // columns per GEMM block (the im2col scratch's width)
  int64_t parts = 1;       // column ranges per image, one unit each
  int64_t align = 1;       // ranges start at multiples of this
  int64_t row_blocks = 1;  // output-channel blocks of `rows` channels
  int64_t rows = 0;
};

// Below this many multiply-adds a convolution stays on one thread (as a GEMM does, ops/gemm.cpp).
constexpr int64_t kMinParallelMacs = 1 << 15;

ConvSplit conv_split(int threads, int64_t images, int64_t og, int64_t spatial, int64_t krows,
                     int64_t cols, bool packed) {
  ConvSplit sp{cols, 1, packed ? kPackCols : 16, 1, og};
  const int64_t t = threads;
  if (t <= 1 || images % t == 0 || og * krows * spatial * images < kMinParallelMacs) return sp;
  const int64_t rows = ((og + t - 1) / t + kPackRows - 1) / kPackRows * kPackRows;
  if (og > images * spatial && (og + rows - 1) / rows == t && rows * t <= og + og / 8) {
    sp.row_blocks = t;
    sp.rows = rows;
    return sp;
  }
  sp.parts = std::min(t / std::gcd(images, t), (spatial + sp.align - 1) / sp.align);
  return sp;
}

// Where column range `part` of an image starts (range parts ends at spatial).
int64_t conv_part_start(const ConvSplit& sp, int64_t spatial, int64_t part) {
  if (part >= sp.parts) return spatial;
  const int64_t at = spatial * part / sp.parts;
  return std::min(spatial, (at + sp.align / 2) / sp.align * sp.align);
}

// The kernel, chosen per node:
// - groups of one input channel (depthwise, group > 1): computed directly; Float32 on AVX2/AVX-512
//   (ops/nn/depthwise.h) depthwise_lanes() channels at a time (8 on AVX2, 16 on AVX-512), one per
//   vector lane, or straight from the rows at stride 1, bias and activation applied in registers
//   (a channel multiplier above 1: each output plane alone, every tap of a vector of outputs
//   summed in a register);
// - a few input channels (Float32, group 1, ops/nn/conv_direct.h): computed directly, each tap of a
//   vector of outputs read from the input (or a padded copy), no im2col;
// - a packed Float32 weight of several taps, or a strided 1×1 (ops/nn/conv_taps.h): computed
//   directly on column-shifted copies of the input rows, no im2col, where measured faster;
// - otherwise im2col + GEMM per (image, group, block of output positions), a 1×1 stride-1
//   unpadded convolution reading its input as the im2col matrix directly; with a packed Float32
//   weight the product is ops/nn/pointwise.h's kernel (bias and activation in registers).
// The im2col path's work is split over the Parallel's workers as conv_split says (whole images,
// else output channels or equal column ranges), each worker with its own im2col scratch; the
// direct kernels split their own. Bias and activation (FusedConv2D) are applied to each plane or
// block as soon as it is computed.
//
// With a packed weight (pack_conv_weight, made at load time by the optimiser), the GEMMs are
// gemm_packed's (ops/gemm.h), row blocks start at panel boundaries, and the B operand never has
// a row stride of a multiple of 4 KiB (its rows would then share a few cache sets: 2× slower).
//
// With a residual (FusedConv2D's, the last input), each path adds it where it adds the bias: in
// registers before the store (conv_taps.h, pointwise.h, conv_direct.h), in the epilogue pass over
// each block (im2col + GEMM, the portable and Float64 loops), or, for the channel-blocked
// depthwise kernel, in a pass over each block of planes right after the kernel wrote it with its
// bias (and no activation).
template <class T, ConvActivation kAct>
Kernel conv_typed(const ConvGeometry& g, bool has_bias, bool packed, bool residual) {
  const int64_t cg = g.c / g.group, og = g.o / g.group;
  const int64_t kdim = cg * g.kh * g.kw, spatial = g.oh * g.ow;
  constexpr bool kPlain = kAct == ConvActivation::kNone;
  // group > 1: a single-input-channel convolution (LeNet's first layer) is faster as one GEMM,
  // whose im2col rows are all its work, than as planes computed one tap at a time.
  if (!conv_uses_gemm(g)) {
    return [g, og, has_bias, residual](std::span<const Tensor> in, std::span<Tensor> out,
                                       Parallel& par) {
      const T* x = in[0].data<T>();
      const T* w = in[1].data<T>();
      const T* bias = has_bias ? in[2].data<T>() : nullptr;
      const T* res = residual ? in[has_bias ? 3 : 2].data<T>() : nullptr;
      T* y = out[0].data<T>();
      if (out[0].numel() == 0) return;
      if constexpr (std::is_same_v<T, float>) {
        if (const DepthwiseBlockedFn blocked =
                depthwise_fits(g) && depthwise_blocked_fits(g) ? depthwise_blocked() : nullptr) {
          // Blocks of depthwise_lanes() channels of one image; a chunk of at least a quarter of
          // kElementGrain outputs, each a few taps' work (a dispatch to spinning workers costs
          // 0.3 µs; mobilenet_v2's 576 channels at 7 × 7 ran as one chunk of 28 µs).
          const int64_t lanes = depthwise_lanes();
          const int64_t per_image = (g.c + lanes - 1) / lanes;
          const int64_t grain = rows_grain(4 * lanes * g.oh * g.ow);
          par.for_range(g.n * per_image, grain, [&](int64_t u0, int64_t u1, int worker) {
            float* scratch = par.scratch<float>(worker, depthwise_blocked_scratch(g));
            for (int64_t u = u0; u < u1; ++u) {
              const int64_t b = u / per_image, c0 = (u % per_image) * lanes;
              const int64_t offset = (b * g.o + c0) * g.oh * g.ow;
              const int64_t channels = std::min(lanes, g.c - c0);
              // With a residual: the kernel's sums + bias, then residual and activation over the
              // block's planes (one after another) while they are in cache.
              blocked(g, x + (b * g.c + c0) * g.h * g.w, channels, w + c0 * g.kh * g.kw,
                      bias ? bias + c0 : nullptr, res ? ConvActivation::kNone : kAct, y + offset,
                      g.oh * g.ow, scratch);
              const int64_t len = channels * g.oh * g.ow;
              if (res)
                epilogue_rows<float, kAct>(y + offset, len, 1, len, nullptr, res + offset, false);
              else if constexpr (conv_activation_exp(kAct))
                conv_activate_exp(kAct, y + offset, len);
            }
          });
          return;
        }
      }
      const int64_t planes = g.n * g.o;
      par.for_range(planes, 1, [&](int64_t p0, int64_t p1, int worker) {
        DepthwiseFn simd = nullptr;
        float* scratch = nullptr;
        if constexpr (std::is_same_v<T, float>) {
          simd = depthwise_fits(g) ? depthwise_simd() : nullptr;
          if (simd) scratch = par.scratch<float>(worker, depthwise_scratch(g));
        }
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t b = p / g.o, oc = p % g.o, ic = oc / og;
          T* yp = y + p * g.oh * g.ow;
          const T* xp = x + (b * g.c + ic) * g.h * g.w;
          if constexpr (std::is_same_v<T, float>) {
            if (simd)
              simd(g, xp, w + oc * g.kh * g.kw, yp, scratch);
            else
              depthwise_plane(g, xp, w + oc * g.kh * g.kw, yp);
          } else {
            depthwise_plane(g, xp, w + oc * g.kh * g.kw, yp);
          }
          if (!kPlain || bias || res)
            epilogue_row<T, kAct>(yp, g.oh * g.ow, bias ? bias[oc] : T(0),
                                  res ? res + p * g.oh * g.ow : nullptr, !kPlain || bias);
        }
      });
    };
  }
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_fits(g)) {
      Kernel direct = conv_direct_kernel(g, has_bias, kAct, packed, residual);
      if constexpr (!conv_activation_exp(kAct)) return direct;
      // The e^x activations over the output once it is written (a stem: one layer per net).
      return [direct](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
        direct(in, out, par);
        float* y = out[0].data<float>();
        par.for_range(out[0].numel(), kElementGrain, [&](int64_t i0, int64_t i1, int) {
          conv_activate_exp(kAct, y + i0, i1 - i0);
        });
      };
    }
  }
  // A packed weight of several taps: the direct kernel on column-shifted copies, no im2col
  // (ops/nn/conv_taps.h).
  if constexpr (std::is_same_v<T, float>)
    if (packed && conv_taps_fits(g, kAct) && conv_taps_pays(g))
      return conv_taps_kernel(g, has_bias, kAct, residual);
  constexpr int64_t kAliasFloats = 1024;  // 4 KiB
  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 &&
                      g.pl == 0 && g.pr == 0 &&
                      !(packed && spatial % kAliasFloats == 0 && kdim > 64);
  int64_t cols = spatial;
  if (!direct && kdim > 0)
    cols = std::clamp<int64_t>(static_cast<int64_t>(kColumnBytes / sizeof(T)) / kdim, kMinColumns,
                               spatial);
  // The im2col block's row stride, for a block of `len` columns.
  auto col_stride = [packed](int64_t len) {
    return packed && len % kAliasFloats == 0 ? len + 16 : len;
  };
  // A packed weight's taps that touch the input at some output position (the others only ever
  // meet padding: a 3×3 convolution over a 1×1 input reads 1 tap of 9), the ranges of its
  // tap-major columns they are, and how many im2col rows they make.
  std::vector<int64_t> taps;
  std::vector<KRange> ranges;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      bool rows_in = false, cols_in = false;
      for (int64_t oy = 0; oy < g.oh && !rows_in; ++oy) {
        const int64_t iy = oy * g.sh + i * g.dh - g.pt;
        rows_in = iy >= 0 && iy < g.h;
      }
      for (int64_t ox = 0; ox < g.ow && !cols_in; ++ox) {
        const int64_t ix = ox * g.sw + j * g.dw - g.pl;
        cols_in = ix >= 0 && ix < g.w;
      }
      if (!rows_in || !cols_in) continue;
      const int64_t t = i * g.kw + j;
      if (!taps.empty() && taps.back() == t - 1)
        ranges.back().end = (t + 1) * cg;
      else
        ranges.push_back({t * cg, (t + 1) * cg});
      taps.push_back(t);
    }
  const int64_t krows = packed ? static_cast<int64_t>(taps.size()) * cg : kdim;
  // A packed weight's blocks in whole tiles of kPackCols (a block of 85 columns, 48 + 37, ran its
  // second tile as 32 + 16 masked lanes of which 5 were used: 11% of a 64-channel 3 × 3 layer).
  if (packed && !direct && krows > 0)
    cols = std::min(spatial,
                    std::max<int64_t>(kPackCols, static_cast<int64_t>(kColumnBytes / sizeof(T)) /
                                                     krows / kPackCols * kPackCols));
  return [g, cg, og, kdim, spatial, direct, cols, has_bias, packed, col_stride, taps, ranges, krows,
          residual](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
    const T* x = in[0].data<T>();
    const T* w = in[1].data<T>();
    const T* bias = has_bias ? in[2].data<T>() : nullptr;
    const T* res = residual ? in[has_bias ? 3 : 2].data<T>() : nullptr;
    // Bias and activation applied, 0 added when there is no bias but an activation; a residual
    // added in any case.
    const bool add = !kPlain || bias;
    T* y = out[0].data<T>();
    if (out[0].numel() == 0) return;
    const int64_t images = g.n * g.group;
    const ConvSplit sp = conv_split(par.threads(), images, og, spatial, krows, cols, packed);
    const int64_t block = sp.block, rows = sp.rows;
    // Blocks per column range (a shorter range's last one may be empty).
    int64_t per_part = 0;
    for (int64_t p = 0; p < sp.parts; ++p)
      per_part = std::max(per_part, (conv_part_start(sp, spatial, p + 1) -
                                     conv_part_start(sp, spatial, p) + block - 1) /
                                        block);
    const int64_t per_image = sp.parts * per_part;
    // Unit u: row block u / (images × per_image) (outermost, so that a worker's units share its
    // rows of the weight), then image-and-group, then column range, then block of the range.
    par.for_range(sp.row_blocks * images * per_image, 1, [&](int64_t u0, int64_t u1, int worker) {
      T* col = direct || kdim == 0
                   ? nullptr
                   : par.scratch<T>(worker, static_cast<size_t>(krows * col_stride(block)));
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t r0 = u / (images * per_image) * rows, r1 = std::min(og, r0 + rows);
        const int64_t ig = u % (images * per_image) / per_image, part = u % per_image / per_part;
        const int64_t hi = conv_part_start(sp, spatial, part + 1);
        const int64_t s0 = conv_part_start(sp, spatial, part) + u % per_part * block;
        if (s0 >= hi) continue;
        const int64_t s1 = std::min(hi, s0 + block);
        const int64_t b = ig / g.group, gr = ig % g.group;
        const T* xg = x + (b * g.c + gr * cg) * g.h * g.w;
        T* yg = y + (b * g.o + gr * og) * spatial;
        const T* rg = res ? res + (b * g.o + gr * og) * spatial : nullptr;
        if (kdim == 0) {
          for (int64_t r = r0; r < r1; ++r)
            std::fill(yg + r * spatial + s0, yg + r * spatial + s1, T(0));
        } else {
          const int64_t ld = direct ? spatial : col_stride(s1 - s0);
          const T* am = w + (gr * og + r0) * kdim;
          if (!direct && packed) {
            // The block's im2col in tiles of kPackCols columns, each tile's rows one after
            // another (krows × width, contiguous), and each tile's product on them: the kernels
            // then read B as one stream instead of rows a block's width apart (AVX2 on a Zen 3
            // core: 3 × 3 layers at 28 × 28 to 7 × 7, batch 8, 35–52 → 46–67 GFLOP/s).
            for (int64_t j0 = s0; j0 < s1; j0 += kPackCols) {
              const int64_t j1 = std::min(s1, j0 + kPackCols);
              im2col_taps<T>(g, cg, xg, j0, j1, col + (j0 - s0) * krows, j1 - j0, taps);
            }
            if constexpr (std::is_same_v<T, float>) {
              for (int64_t j0 = s0; j0 < s1; j0 += kPackCols) {
                const int64_t j1 = std::min(s1, j0 + kPackCols);
                gemm_packed(r1 - r0, j1 - j0, kdim, ranges, am, col + (j0 - s0) * krows, j1 - j0,
                            yg + r0 * spatial + j0, spatial);
                if (add || rg)
                  epilogue_rows<T, kAct>(yg + r0 * spatial + j0, spatial, r1 - r0, j1 - j0,
                                         bias ? bias + gr * og + r0 : nullptr,
                                         rg ? rg + r0 * spatial + j0 : nullptr, add);
              }
              continue;
            }
          } else if (!direct) {
            im2col(g, cg, xg, s0, s1, col, ld);
          }
          const T* bm = direct ? xg + s0 : col;
          if constexpr (std::is_same_v<T, float>) {
            // A 1 × 1 convolution: bias and activation in registers (ops/nn/pointwise.h).
            if (packed) {
              if (const PointwiseFn pointwise = pointwise_kernel(kAct, rg != nullptr)) {
                pointwise(r1 - r0, s1 - s0, kdim, am, bm, ld, bias ? bias + gr * og + r0 : nullptr,
                          rg ? rg + r0 * spatial + s0 : nullptr, yg + r0 * spatial + s0, spatial);
                continue;
              }
            }
            if (packed) {
              // Column tiles whose output (every row of the block) fits kTileBytes: each one
              // product, finished right after it while it is in L2; the last tile takes in a
              // remainder narrower than the kernels' 48 columns.
              const int64_t width =
                  std::max<int64_t>(kPackCols, kTileBytes / static_cast<int64_t>(sizeof(float)) /
                                                   (r1 - r0) / kPackCols * kPackCols);
              for (int64_t j0 = s0; j0 < s1;) {
                int64_t j1 = std::min(s1, j0 + width);
                if (s1 - j1 < kPackCols) j1 = s1;
                gemm_packed(r1 - r0, j1 - j0, kdim, ranges, am, bm + (j0 - s0), ld,
                            yg + r0 * spatial + j0, spatial);
                if (add || rg)
                  epilogue_rows<T, kAct>(yg + r0 * spatial + j0, spatial, r1 - r0, j1 - j0,
                                         bias ? bias + gr * og + r0 : nullptr,
                                         rg ? rg + r0 * spatial + j0 : nullptr, add);
                j0 = j1;
              }
              continue;
            } else {
              gemm(false, false, r1 - r0, s1 - s0, kdim, am, kdim, bm, ld, yg + r0 * spatial + s0,
                   spatial);
            }
          } else {
            gemm(false, false, r1 - r0, s1 - s0, kdim, am, kdim, bm, ld, yg + r0 * spatial + s0,
                 spatial);
          }
        }
        if (add || rg)
          epilogue_rows<T, kAct>(yg + r0 * spatial + s0, spatial, r1 - r0, s1 - s0,
                                 bias ? bias + gr * og + r0 : nullptr,
                                 rg ? rg + r0 * spatial + s0 : nullptr, add);
      }
    });
  };
}

template <class T>
Kernel conv_with(const ConvGeometry& g, bool bias, ConvActivation act, bool packed, bool res) {
  switch (act) {
    case ConvActivation::kReLU:
      return conv_typed<T, ConvActivation::kReLU>(g, bias, packed, res);
    case ConvActivation::kReLU6:
      return conv_typed<T, ConvActivation::kReLU6>(g, bias, packed, res);
    case ConvActivation::kHSwish:
      return conv_typed<T, ConvActivation::kHSwish>(g, bias, packed, res);
    case ConvActivation::kHSigmoid:
      return conv_typed<T, ConvActivation::kHSigmoid>(g, bias, packed, res);
    case ConvActivation::kSiLU:
      return conv_typed<T, ConvActivation::kSiLU>(g, bias, packed, res);
    case ConvActivation::kXSigmoid:
      return conv_typed<T, ConvActivation::kXSigmoid>(g, bias, packed, res);
    case ConvActivation::kNone:
      break;
  }
  return conv_typed<T, ConvActivation::kNone>(g, bias, packed, res);
}

template <class T>
void activate_exp_scalar(ConvActivation act, T* y, int64_t n) {
  // The SiLU and Sigmoid ops' portable formulas (then Mul's product).
  if (act == ConvActivation::kSiLU)
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] / (T(1) + std::exp(-y[i]));
  else if (act == ConvActivation::kXSigmoid)
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] * (T(1) / (T(1) + std::exp(-y[i])));
}

}  // namespace

void conv_activate_exp(ConvActivation act, float* y, int64_t n) {
  if (act == ConvActivation::kSiLU) {
    if (const VecFn silu = silu_simd()) return silu(y, y, n);
  } else if (act == ConvActivation::kXSigmoid) {
    if (const VecFn x_sigmoid = x_sigmoid_simd()) return x_sigmoid(y, y, n);
  }
  activate_exp_scalar(act, y, n);
}

void conv_activate_exp(ConvActivation act, double* y, int64_t n) { activate_exp_scalar(act, y, n); }

namespace {

Kernel conv2d_make_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return conv_kernel(in[0].dtype, conv_geometry(kOp, in, attrs), false, ConvActivation::kNone);
}

// MindSpore's Conv2D kernel pads by the primitive's pad_list (top, bottom, left, right), which its
// Python constructor fills from `pad` in "pad" mode and with zeros in "valid" mode ("same" is
// resolved by its shape inference).
void complete_pad_list(ir::Attrs& a) {
  if (a.count("pad_list")) return;
  auto mode = a.find("pad_mode");
  const std::string* m = mode == a.end() ? nullptr : std::get_if<std::string>(&mode->second);
  if (m == nullptr) return;
  std::string lower;
  for (char c : *m) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "valid") a["pad_list"] = std::vector<int64_t>{0, 0, 0, 0};
  if (lower == "pad")
    if (auto p = a.find("pad"); p != a.end()) a["pad_list"] = p->second;
}

void export_conv(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const Shape& w = b.shape(n.inputs.at(1));
  if (x.rank() != 4 || w.rank() != 4) b.fail(n, "only 2-D convolution (NCHW) is written");
  const auto [sh, sw, dh, dw, group, mode, pad] = onnx_checked(b, n, [&] {
    require_nchw(n.attrs, kOp);
    const auto [s_h, s_w] = attr_hw(n.attrs, kOp, "stride", 1);
    const auto [d_h, d_w] = attr_hw(n.attrs, kOp, "dilation", 1);
    const int64_t groups = attr_int(n.attrs, kOp, "group", attr_int(n.attrs, kOp, "groups", 1));
    auto pad_list = attr_ints(n.attrs, kOp, "pad", {0});
    if (pad_list.size() == 1) pad_list.assign(4, pad_list[0]);
    return std::tuple{s_h, s_w, d_h, d_w, groups, attr_pad_mode(n.attrs, kOp, "valid"), pad_list};
  });
  std::vector<int64_t> pads(4, 0);  // ONNX: top, left, bottom, right
  if (mode == "same") {
    std::tie(pads[0], pads[2]) = same_pads(x[2], w[2], sh, dh);
    std::tie(pads[1], pads[3]) = same_pads(x[3], w[3], sw, dw);
  } else if (mode == "pad") {
    if (pad.size() != 4) b.fail(n, "pad must have 1 or 4 values");
    pads = {pad[0], pad[2], pad[1], pad[3]};
  }
  b.add("Conv", {b.name(n.inputs[0]), b.name(n.inputs[1])}, {b.name(n.outputs.at(0))},
        {{"kernel_shape", std::vector<int64_t>{w[2], w[3]}},
         {"strides", std::vector<int64_t>{sh, sw}},
         {"dilations", std::vector<int64_t>{dh, dw}},
         {"group", group},
         {"pads", pads}});
}

// Conv on NCHW, or on NCL (1-D) as Conv2D over the (N, C, 1, L) view (window.h); on NCDHW as
// Conv3D (conv3d.cpp).
void import_conv(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x0 = m.input(0), w0 = m.input(1);
  const Shape xs = m.info(x0).shape;
  const Shape ws0 = m.info(w0).shape;
  if (xs.rank() == 5) return import_conv3d(m);
  const bool one_d = xs.rank() == 3;
  if ((xs.rank() != 4 && !one_d) || ws0.rank() != xs.rank())
    m.unsupported(
        "only 1-D, 2-D and 3-D convolution (3-D, 4-D or 5-D input and weight) is "
        "supported");
  std::vector<int64_t> kernel(ws0.dims().begin() + 2, ws0.dims().end());
  if (auto k = m.attr_ints("kernel_shape"); k && *k != kernel)
    m.fail("kernel_shape disagrees with the weight's shape " + ws0.str());
  const auto sp = onnx_window(m, xs, kernel);
  const int x = unsqueeze_2d(m, x0), w = unsqueeze_2d(m, w0);
  const Shape ws = m.info(w).shape;
  const int64_t group = m.attr_int("group", 1);
  std::string mode = "pad";
  std::vector<int64_t> pad = {sp[0].before, sp[0].after, sp[1].before, sp[1].after};
  if (pad == std::vector<int64_t>(4, 0)) mode = "valid";
  ir::Attrs attrs = {{"out_channel", ws[0]},
                     {"kernel_size", std::vector<int64_t>{ws[2], ws[3]}},
                     {"mode", int64_t{1}},
                     {"pad_mode", mode},
                     {"pad", pad},
                     {"stride", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                     {"dilation", std::vector<int64_t>{1, 1, sp[0].d, sp[1].d}},
                     {"group", group},
                     {"groups", group},
                     {"data_format", std::string("NCHW")}};
  int y = m.emit1("Conv2D", {x, w}, std::move(attrs));
  if (m.num_inputs() == 3 && m.has_input(2))
    y = m.emit1("BiasAdd", {y, m.input(2)}, {{"data_format", std::string("NCHW")}});
  m.set_output(0, squeeze_2d(m, y, one_d));
}

// `x` with s − 1 zeros after each element along `axis` but the last (a stride's upsampling):
// Reshape in a unit axis, Concat a zero block along it, Reshape back, Gather off the tail.
int spread_zeros(OnnxImporter& m, int x, size_t axis, int64_t s) {
  if (s == 1) return x;
  const Shape xs = m.info(x).shape;
  std::vector<int64_t> unit = xs.dims();
  unit.insert(unit.begin() + static_cast<std::ptrdiff_t>(axis) + 1, 1);
  std::vector<int64_t> zeros_dims = unit;
  zeros_dims[axis + 1] = s - 1;
  const Shape zs(zeros_dims);
  const auto numel = zs.checked_numel();
  if (!numel || *numel > kOnnxMaxConstElements) m.unsupported("the strided input is too large");
  m.charge_generated(static_cast<uint64_t>(*numel) * 8);
  const DType dt = m.info(x).dtype;
  Tensor zeros = Tensor(DType::Float64, zs);
  std::fill_n(zeros.data<double>(), *numel, 0.0);
  int y = m.emit1("Reshape", {x}, {{"shape", unit}});
  y = m.emit1("Concat", {y, m.constant(zeros.to(dt))}, {{"axis", static_cast<int64_t>(axis) + 1}});
  std::vector<int64_t> flat = xs.dims();
  if (__builtin_mul_overflow(flat[axis], s, &flat[axis]) || !Shape(flat).checked_numel())
    m.unsupported("the strided input " + xs.str() + " is too large");
  y = m.emit1("Reshape", {y}, {{"shape", flat}});
  return m.take(y, static_cast<int64_t>(axis), index_range(0, (xs[axis] - 1) * s + 1, 1));
}

// ConvTranspose (1-D or 2-D) as the convolution it is the gradient of: the input spread by the
// strides (zeros between elements), padded by dilation·(kernel − 1) less the ONNX pads (cropped
// where that is negative, output_padding added at the end), then Conv2D with stride 1 and the
// weight turned around (kernel flipped, in and out channels swapped per group; the weight must
// be a constant). output_shape, when given, sets the pads as ONNX says (only auto_pad SAME_UPPER
// puts the odd one last).
void import_conv_transpose(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x0 = m.input(0);
  const Shape xs = m.info(x0).shape;
  const bool one_d = xs.rank() == 3;
  if (xs.rank() != 4 && !one_d)
    m.unsupported("only 1-D and 2-D transposed convolution (3-D or 4-D input) is supported");
  const auto wt = m.constant_input(1);
  if (!wt) m.unsupported("the weight must be a constant (an initializer or a Constant node)");
  if (wt->shape().rank() != xs.rank()) m.fail("weight rank differs from the input's");
  if (!is_floating(wt->dtype())) m.fail("the weight must be floating point");
  const size_t n = xs.rank() - 2;
  const int64_t group = m.attr_int("group", 1);
  const int64_t cin = xs[1];
  if (group < 1 || cin % group != 0 || wt->shape()[0] != cin)
    m.fail("weight " + wt->shape().str() + " does not fit input " + xs.str() + " in " +
           std::to_string(group) + " groups");
  const int64_t cout_g = wt->shape()[1], cin_g = cin / group, cout = cout_g * group;
  std::vector<int64_t> k(wt->shape().dims().begin() + 2, wt->shape().dims().end());
  auto ints = [&](const char* name, int64_t dflt, size_t len) {
    auto v = m.attr_ints(name).value_or(std::vector<int64_t>(len, dflt));
    if (v.size() != len)
      m.fail(std::string(name) + " must have " + std::to_string(len) + " values");
    return v;
  };
  const auto strides = ints("strides", 1, n), dil = ints("dilations", 1, n);
  const auto out_pad = ints("output_padding", 0, n);
  auto pads = ints("pads", 0, 2 * n);
  for (size_t i = 0; i < n; ++i) {
    if (strides[i] < 1 || dil[i] < 1 || k[i] < 1)
      m.fail("kernel, strides and dilations must be positive");
    if (strides[i] > kMaxWindowAttr || dil[i] > kMaxWindowAttr || k[i] > kMaxWindowAttr)
      m.unsupported("kernel, strides and dilations must be at most 2^31");
    if (out_pad[i] < 0 || out_pad[i] >= std::max(strides[i], dil[i]))
      m.fail("output_padding must be below the stride or the dilation");
    if (pads[i] < 0 || pads[n + i] < 0 || pads[i] >= kMaxWindowAttr ||
        pads[n + i] >= kMaxWindowAttr)
      m.fail("pads must be non-negative (and below 2^31)");
  }
  const std::string auto_pad = m.attr_string("auto_pad", "NOTSET");
  const auto out_shape = m.attr_ints("output_shape");
  if (out_shape || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (out_shape && out_shape->size() != n)
      m.fail("output_shape must have " + std::to_string(n) + " values");
    for (size_t i = 0; i < n; ++i) {
      // In 128 bits: the input's size times the stride may leave int64 (a file's output_shape
      // is any int64).
      using Wide = __int128;
      const Wide want = out_shape ? Wide{(*out_shape)[i]} : Wide{xs[2 + i]} * strides[i];
      const Wide full =
          Wide{strides[i]} * (xs[2 + i] - 1) + out_pad[i] + Wide{k[i] - 1} * dil[i] + 1;
      if (want < 0) m.fail("output_shape must be non-negative");
      if (want > full) m.unsupported("an output_shape beyond the full output is not supported");
      if (full - want >= 2 * Wide{kMaxWindowAttr})
        m.unsupported("an output_shape that crops 2^32 or more from the full output");
      const auto total = static_cast<int64_t>(full - want);
      const bool lower = auto_pad != "SAME_UPPER";  // NOTSET with output_shape too
      pads[i] = lower ? total - total / 2 : total / 2;
      pads[n + i] = total - pads[i];
    }
  } else if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    m.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  } else if (auto_pad == "VALID") {
    std::fill(pads.begin(), pads.end(), 0);
  }
  // The turned-around weight, (Cout, Cin / group, k…), as a 2-D one.
  const int64_t kh = n == 2 ? k[0] : 1, kw = k[n - 1];
  Tensor w64 = wt->to(DType::Float64);
  Tensor w2(DType::Float64, Shape{cout, cin_g, kh, kw});
  const double* src = w64.data<double>();
  double* dst = w2.data<double>();
  for (int64_t g = 0; g < group; ++g)
    for (int64_t oc = 0; oc < cout_g; ++oc)
      for (int64_t ic = 0; ic < cin_g; ++ic)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t xx = 0; xx < kw; ++xx)
            dst[(((g * cout_g + oc) * cin_g + ic) * kh + y) * kw + xx] =
                src[(((g * cin_g + ic) * cout_g + oc) * kh + (kh - 1 - y)) * kw + (kw - 1 - xx)];
  int x = unsqueeze_2d(m, x0);
  // Per 2-D axis (H, W): stride, dilation, kernel, and the convolution's pads before and after.
  int64_t st[2] = {1, 1}, dl[2] = {1, 1}, kk[2] = {kh, kw}, before[2] = {0, 0}, after[2] = {0, 0};
  for (size_t i = 0; i < n; ++i) {
    const size_t a = 2 - n + i;
    st[a] = strides[i], dl[a] = dil[i];
    before[a] = dl[a] * (kk[a] - 1) - pads[i];
    after[a] = dl[a] * (kk[a] - 1) - pads[n + i] + out_pad[i];
  }
  for (size_t a = 0; a < 2; ++a) {
    x = spread_zeros(m, x, 2 + a, st[a]);
    const int64_t len = m.info(x).shape[2 + a];
    const int64_t lo = std::max<int64_t>(0, -before[a]), hi = len - std::max<int64_t>(0, -after[a]);
    if (hi <= lo) m.fail("the pads leave no output");
    x = m.take(x, static_cast<int64_t>(2 + a), index_range(lo, hi, 1));
    before[a] = std::max<int64_t>(0, before[a]);
    after[a] = std::max<int64_t>(0, after[a]);
  }
  std::vector<int64_t> pad = {before[0], after[0], before[1], after[1]};
  ir::Attrs attrs = {{"out_channel", cout},
                     {"kernel_size", std::vector<int64_t>{kh, kw}},
                     {"mode", int64_t{1}},
                     {"pad_mode", std::string(pad == std::vector<int64_t>(4, 0) ? "valid" : "pad")},
                     {"pad", pad},
                     {"stride", std::vector<int64_t>{1, 1, 1, 1}},
                     {"dilation", std::vector<int64_t>{1, 1, dl[0], dl[1]}},
                     {"group", group},
                     {"groups", group},
                     {"data_format", std::string("NCHW")}};
  int y = m.emit1("Conv2D", {x, m.constant(w2.to(m.info(x0).dtype))}, std::move(attrs));
  if (m.num_inputs() == 3 && m.has_input(2))
    y = m.emit1("BiasAdd", {y, m.input(2)}, {{"data_format", std::string("NCHW")}});
  m.set_output(0, squeeze_2d(m, y, one_d));
}

}  // namespace

bool conv_uses_gemm(const ConvGeometry& g) { return !(g.c == g.group && g.group > 1); }

namespace {
// pack_rows (ops/gemm.h) of the weight w [o, cg, taps] (at `src`) with its columns tap-major
// ((i·kw + j)·cg + ci), so that a tap's columns are one range, group by group (each group's rows
// start a panel), into `dst`, in one pass: column p = t·cg + ci of row r is w[r, ci, t]. A panel
// takes the bytes of the rows it holds, so each panel's rows are copied aside first (8 × kdim
// floats, in L2) and `dst` may be `src`: packing in place needs no second weight-sized buffer.
void pack_conv_panels(const float* src, int64_t o, int64_t cg, int64_t taps, int64_t group,
                      float* dst) {
  const int64_t kdim = cg * taps, og = o / group;
  std::vector<float> rows_aside(static_cast<size_t>(std::min(kPackRows, og) * kdim));
  for (int64_t gr = 0; gr < group; ++gr)
    for (int64_t r0 = 0; r0 < og; r0 += kPackRows) {
      const int64_t rows = std::min(kPackRows, og - r0);
      const int64_t at = (gr * og + r0) * kdim;
      std::copy_n(src + at, rows * kdim, rows_aside.data());
      const float* first = rows_aside.data();
      float* panel = dst + at;
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t ci = 0; ci < cg; ++ci) {
          float* col = panel + (t * cg + ci) * rows;
          for (int64_t r = 0; r < rows; ++r) col[r] = first[r * kdim + ci * taps + t];
        }
    }
}
}  // namespace

Tensor pack_conv_weight(const Tensor& w, int64_t group) {
  // The output is not zero-filled first: it is written in full, and zeros would be one more pass
  // over fresh memory at load time (docs/benchmarks.md, Session 8: cold start).
  Tensor out(w.dtype(), w.shape(), Storage::allocate(w.nbytes(), /*zero=*/false), 0);
  pack_conv_panels(w.data<float>(), w.shape()[0], w.shape()[1], w.shape()[2] * w.shape()[3], group,
                   out.data<float>());
  return out;
}

void pack_conv_weight_in_place(Tensor& w, int64_t group) {
  float* p = w.data<float>();
  pack_conv_panels(p, w.shape()[0], w.shape()[1], w.shape()[2] * w.shape()[3], group, p);
}

Kernel conv_kernel(DType dtype, const ConvGeometry& g, bool bias, ConvActivation act,
                   bool packed_weight, bool residual) {
  if (packed_weight && (dtype != DType::Float32 || !conv_uses_gemm(g) || !packed_kernels()))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "a packed convolution weight needs Float32, a convolution that is not "
                     "depthwise and a CPU with AVX2 and FMA");
  if (dtype == DType::Float64) return conv_with<double>(g, bias, act, false, residual);
  return conv_with<float>(g, bias, act, packed_weight, residual);
}

CELLAR_REGISTER_OPS(conv2d) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = conv_infer,
             .make_kernel = conv2d_make_kernel,
             // MindSpore writes Conv2D as a PRIMITIVE with attributes; its loader needs "format".
             .mindir = {.primitive = kOp,
                        .defaults = {{"data_format", std::string("NCHW")}},
                        .primitive_function = false,
                        .renamed = {{"data_format", "format"}},
                        .complete = complete_pad_list},
             .onnx = export_conv,
             .onnx_import = {{"Conv", import_conv}, {"ConvTranspose", import_conv_transpose}},
             .work = work_weighted_window});
}

}  // namespace cellar::ops
