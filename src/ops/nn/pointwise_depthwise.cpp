// FusedPointwiseDepthwise: an inverted-residual block's expansion and depthwise convolution as one
// node, y = act(depthwise(act_e(conv1x1(x, w_e) + b_e), w_d) + b_d), made at load time by the
// graph optimiser (src/runtime/optimizer.h, pass 5b) from a 1 × 1 FusedConv2D whose output only a
// depthwise FusedConv2D reads. Inputs x [n, c, h, w], w_e [e, c, 1, 1] (pack_conv_weight's panels
// with `packed_weight`, as the optimiser leaves it), b_e [e], w_d [e, 1, kh, kw], b_d [e];
// attributes: the depthwise Conv2D's (stride, pad_mode, pad, dilation, group = e, ...) plus
// `expand_activation` (the 1 × 1's), `activation` (the depthwise's) and `packed_weight`. An
// internal row: no MindIR or ONNX spelling, never in a file.
//
// Why: in MobileNet v2 / v3 and EfficientNet the expanded tensor is the largest of a block (96
// channels of 112 × 112 = 4.8 MB at 224 × 224): the 1 × 1 kernel wrote it out past L2 and the
// depthwise kernel read it back (docs/benchmarks.md, issue 13, session 13). Here the work goes in
// bands of the depthwise's output rows (and, where a band of every channel would be too large or
// the units too few for the workers, groups of channels): each band's expanded rows are computed
// by the 1 × 1 kernel (ops/nn/pointwise.h) into the worker's scratch (a few hundred KiB, in L2),
// then the depthwise kernel (ops/nn/depthwise.h) reads them there and writes the band's output
// rows. The rows a band shares with the band before it (kh − sh of them) are copied from the
// previous band's buffer (two buffers, in turn) rather than computed again. On AVX-512, where every
// block of 16 channels goes to the 16-lane depthwise kernel (stride 2, 5 × 5 taps, planes under 16
// wide), the band is computed straight in that kernel's layout (expand_blocked16 below), which
// then reads it as it is: no transposes of the band.
//
// Every expanded value and every output is computed by the same kernels, with the same chains of
// fused multiply-adds in the same order, as the two unfused nodes: the same bits (tested). Without
// a packed weight (or on a CPU without the SIMD kernels, or a geometry the bands do not take:
// padding of the kernel's height or more, dilation) the node runs as the two convolutions one
// after the other, the expanded tensor in a buffer allocated per run (the optimiser never makes
// such a node; the op-table tests do).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "ops/avx512_gcc.h"
#include "ops/gemm.h"
#include "ops/nn/activate_avx512.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/depthwise.h"
#include "ops/nn/pointwise.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "FusedPointwiseDepthwise";

// Floats of one band buffer (its expanded rows of its channels): two of them, the depthwise's
// scratch and the band's output rows stay in a 1 MiB L2 with the 1 × 1's input rows. Measured on
// MobileNetV2's layers (Zen 5, docs/benchmarks.md session 13): 64-192 KiB within noise of each
// other, 384-640 KiB slower (the 28 × 28 layers slower than unfused).
constexpr int64_t kBandFloats = int64_t{32} << 10;  // 128 KiB
// Fewer output rows than this per band: channels are split into groups instead.
constexpr int64_t kMinBandRows = 4;

struct Geometries {
  ConvGeometry expand, depthwise;
};

Geometries checked(std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (in.size() != 5)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) +
                         ": takes x, the 1 × 1 weight and bias, the depthwise "
                         "weight and bias (5 inputs), got " +
                         std::to_string(in.size()));
  const ConvGeometry e = conv_geometry(kOp, in.subspan(0, 2), ir::Attrs{});
  if (e.kh != 1 || e.kw != 1)
    shape_error(kOp, "the first weight " + in[1].shape.str() + " must be 1 × 1");
  const TensorType mid{in[0].dtype, Shape{e.n, e.o, e.oh, e.ow}};
  const std::array<TensorType, 2> dw_in{mid, in[3]};
  const ConvGeometry d = conv_geometry(kOp, dw_in, attrs);
  if (d.group != d.c || d.o != d.c)
    shape_error(kOp, "the second weight " + in[3].shape.str() +
                         " must be depthwise (group = channels = " + std::to_string(d.c) + ")");
  if (in[2].shape != Shape{e.o})
    shape_error(kOp, "bias " + in[2].shape.str() + " must be [" + std::to_string(e.o) + "]");
  if (in[4].shape != Shape{d.o})
    shape_error(kOp, "bias " + in[4].shape.str() + " must be [" + std::to_string(d.o) + "]");
  if (in[2].dtype != in[0].dtype || in[4].dtype != in[0].dtype)
    throw ValueError(ErrorCode::kDTypeMismatch, std::string(kOp) + ": biases must have x's dtype");
  (void)conv_activation_attr(kOp, attrs, "expand_activation");
  (void)conv_activation_attr(kOp, attrs, "activation");
  return {e, d};
}

std::vector<TensorType> infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry d = checked(in, attrs).depthwise;
  return {{in[0].dtype, Shape{d.n, d.o, d.oh, d.ow}}};
}

// The two convolutions one after the other (see the header comment).
Kernel unfused(const Geometries& g, ConvActivation act_e, ConvActivation act_d, DType dtype,
               bool packed) {
  Kernel expand = conv_kernel(dtype, g.expand, true, act_e, packed);
  Kernel depthwise = conv_kernel(dtype, g.depthwise, true, act_d);
  const Shape mid{g.expand.n, g.expand.o, g.expand.oh, g.expand.ow};
  return [expand, depthwise, mid, dtype](std::span<const Tensor> in, std::span<Tensor> out,
                                         Parallel& par) {
    std::array<Tensor, 1> e{Tensor(
        dtype, mid, Storage::allocate(static_cast<size_t>(mid.numel()) * itemsize(dtype)), 0)};
    const std::array<Tensor, 3> ein{in[0], in[1], in[2]};
    expand(ein, e, par);
    const std::array<Tensor, 3> din{e[0], in[3], in[4]};
    depthwise(din, out, par);
  };
}

// Whether the bands take this depthwise geometry: every band of output rows reads at least one
// input row (padding under the kernel's height), no dilation.
bool bands_take(const ConvGeometry& d) {
  return d.dh == 1 && d.dw == 1 && d.pt < d.kh && d.pb < d.kh && d.h >= 1;
}

// The split: channel groups of `channels` (a multiple of the depthwise kernel's lanes, the last
// group shorter) and bands of `rows` output rows (the last band shorter).
struct Split {
  int64_t channels, rows, groups, bands;
};

int64_t in_rows(const ConvGeometry& d, int64_t rows) { return (rows - 1) * d.sh + d.kh; }

Split split(const ConvGeometry& d, int64_t lanes, int threads) {
  auto round_lanes = [lanes](int64_t c) { return std::max(lanes, c / lanes * lanes); };
  auto rows_for = [&](int64_t channels) {
    const int64_t fit = kBandFloats / std::max<int64_t>(1, channels * d.w);  // input rows
    const int64_t rows = std::clamp<int64_t>((fit - d.kh) / d.sh + 1, 1, d.oh);
    // At stride 1 a multiple of 4 (the direct kernel's blocks of 4 rows: a band of 7 computed
    // rows 0-3 and 3-6, 1.3× the time of the unfused layer on 192 channels of 28 × 28).
    return d.sh == 1 && rows > 4 && rows < d.oh ? rows / 4 * 4 : rows;
  };
  Split s{d.c, rows_for(d.c), 1, 1};
  // At least twice the rows a band shares with the next (kh − sh: 5 × 5 taps at stride 1 share
  // 4), so that copying those stays under half of what a band holds.
  const int64_t min_rows = std::max(kMinBandRows, 2 * (d.kh - d.sh));
  if (s.rows < std::min(min_rows, d.oh)) {
    s.channels = std::min(d.c, round_lanes(kBandFloats / (in_rows(d, min_rows) * d.w)));
    s.rows = rows_for(s.channels);
  }
  auto count = [&] {
    s.groups = (d.c + s.channels - 1) / s.channels;
    s.bands = (d.oh + s.rows - 1) / s.rows;
  };
  count();
  // Enough units that the workers' shares come out even (each worker's first band computes its
  // shared rows again).
  while (threads > 1 && d.n * s.groups * s.bands < 4 * threads && s.channels > lanes) {
    s.channels = round_lanes(s.channels / 2);
    s.rows = rows_for(s.channels);
    count();
  }
  return s;
}

// Floats rounded up to a whole number of 64-byte lines.
size_t lines(int64_t floats) { return static_cast<size_t>((floats + 15) / 16 * 16); }

// The expansion written straight in the 16-lane depthwise kernel's layout (AVX-512; where every
// block of the depthwise goes to that kernel: depthwise_takes_filled16). The 1 × 1 kernel writes
// the expanded rows as planes (a row of pixels per output channel), which the 16-lane depthwise
// kernel then transposed into [row][column][16 channels] (fill_blocked16: 6% of mobilenet_v2_100's
// time, docs/benchmarks.md session 14); here the expansion is computed the other way round, a
// vector of 16 channels per pixel (each input channel's value of 8 pixels broadcast, times the
// weight's column of 16 channels: 8 × G independent sums), and each sum stored where the
// depthwise kernel reads it. Each expanded value is the 1 × 1 kernel's: one chain of fused
// multiply-adds over the input channels in order from zero (w·x = x·w exactly), + bias, then the
// activation (activate512, as pointwise.cpp's finish512; the e^x ones by conv_activate_exp over
// each row, as the 1 × 1 kernel over each tile): the same bits.
constexpr int64_t kBlock = 16;

#if defined(__x86_64__)
// G blocks of 16 channels × pixels [0, n) of a row, 8 at a time (n ≥ 8: the last 8 ending at the
// row's end, overlapping the 8 before, whose values they store again; n < 8: x holds 8 pixels,
// the first n stored): pixel i's input channel p at x[p·ldx + i]; weights wb [G][k][16] (block g
// at wb + g·k·16), bias [G][16]; pixel i of block g stored at dst + g·stride + 16·i.
template <int G>
__attribute__((target("avx512f,fma"))) void expand16_row(int64_t k, const float* wb, const float* x,
                                                         int64_t ldx, const float* bias,
                                                         ConvActivation act, float* dst,
                                                         int64_t stride, int64_t n) {
  __m512 bv[G];
#pragma GCC unroll 3
  for (int g = 0; g < G; ++g) bv[g] = _mm512_load_ps(bias + g * kBlock);
  for (int64_t j = 0;; j += 8) {
    j = std::max<int64_t>(0, std::min(j, n - 8));
    __m512 acc[8][G];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
#pragma GCC unroll 3
      for (int g = 0; g < G; ++g) acc[i][g] = _mm512_setzero_ps();
    const float* xp = x + j;
    for (int64_t p = 0; p < k; ++p, xp += ldx) {
      __m512 wv[G];
#pragma GCC unroll 3
      for (int g = 0; g < G; ++g) wv[g] = _mm512_load_ps(wb + (g * k + p) * kBlock);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512 xv = _mm512_set1_ps(xp[i]);
#pragma GCC unroll 3
        for (int g = 0; g < G; ++g) acc[i][g] = _mm512_fmadd_ps(wv[g], xv, acc[i][g]);
      }
    }
    // (unrolled both ways: a loop here kept the sums in memory)
    float* d = dst + j * kBlock;
#pragma GCC unroll 3
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
        if (i < n)
          _mm512_store_ps(d + g * stride + i * kBlock,
                          activate512(_mm512_add_ps(acc[i][g], bv[g]), act));
    if (j + 8 >= n) break;
  }
}

using Expand16Fn = void (*)(int64_t, const float*, const float*, int64_t, const float*,
                            ConvActivation, float*, int64_t, int64_t);
constexpr Expand16Fn kExpand16[] = {expand16_row<1>, expand16_row<2>, expand16_row<3>};
#endif

// The layout of one band's buffer: `blocks` regions of 16 channels, each its padded rows
// [lo, hi) × cols × 16 lanes, `stride` floats apart.
struct Blocked16 {
  int64_t lo, hi, cols, stride;
  float* at(float* buf, int64_t block, int64_t row, int64_t col) const {
    return buf + block * stride + ((row - lo) * cols + col) * kBlock;
  }
};

// Channels [c0, c1) of a packed 1 × 1 weight (pack_conv_weight's panels of kPackRows, m rows, k
// columns) as [block][k][16], zero in lanes past c1; their bias as [block][16].
void pack_blocks16(const float* packed, const float* bias, int64_t m, int64_t k, int64_t c0,
                   int64_t c1, float* wb, float* bb) {
  const int64_t blocks = (c1 - c0 + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t l = 0; l < kBlock; ++l) {
      const int64_t c = c0 + b * kBlock + l;
      bb[b * kBlock + l] = c < c1 ? bias[c] : 0.0f;
      const int64_t panel = c / kPackRows, mr = std::min<int64_t>(kPackRows, m - panel * kPackRows);
      const float* src = packed + panel * kPackRows * k + c % kPackRows;
      for (int64_t p = 0; p < k; ++p) wb[(b * k + p) * kBlock + l] = c < c1 ? src[p * mr] : 0.0f;
    }
}

// Image rows [from, to) of the band (x: the image's input, channel p's plane ldx apart, rows w
// wide) expanded into blocks [0, blocks) of the band's buffer at padded column pl + column (not
// the columns past the buffer's, which the depthwise does not read), then the padding the
// depthwise reads zeroed: rows of the band outside [top, bottom), columns outside [pl, pl + w) of
// rows [from, to). tmp: k × 8 floats (rows of under 8 pixels).
void expand_blocked16(const Blocked16& L, float* buf, int64_t blocks, int64_t from, int64_t to,
                      int64_t top, int64_t bottom, int64_t w, int64_t pl, int64_t k,
                      const float* wb, const float* bb, const float* x, int64_t ldx,
                      ConvActivation act, float* tmp) {
#if defined(__x86_64__)
  const int64_t n = std::min(w, L.cols - pl);  // the columns read
  // Blocks 3 at a time, spread evenly (4 as 2 + 2, not 3 + 1).
  const int64_t passes = (blocks + 2) / 3, per = (blocks + passes - 1) / passes;
  for (int64_t r = from; r < to && n > 0; ++r) {
    const float* xr = x + r * w;
    int64_t ld = ldx;
    if (n < 8) {  // the last pixel again in the lanes past n (not stored)
      for (int64_t p = 0; p < k; ++p)
        for (int64_t i = 0; i < 8; ++i) tmp[p * 8 + i] = xr[p * ldx + std::min<int64_t>(i, n - 1)];
      xr = tmp, ld = 8;
    }
    for (int64_t b0 = 0; b0 < blocks; b0 += per) {
      const int64_t g = std::min(per, blocks - b0);
      kExpand16[g - 1](k, wb + b0 * k * kBlock, xr, ld, bb + b0 * kBlock, act, L.at(buf, b0, r, pl),
                       L.stride, n);
    }
    // The e^x activations over the row while it is in L1, as the 1 × 1 kernel applies them (lane
    // by lane: the same bits wherever a value lies; the lanes past the channels too, unread).
    if (conv_activation_exp(act))
      for (int64_t b = 0; b < blocks; ++b) conv_activate_exp(act, L.at(buf, b, r, pl), n * kBlock);
  }
#else
  (void)from, (void)to, (void)w, (void)pl, (void)k, (void)wb, (void)bb, (void)x, (void)ldx;
  (void)act, (void)tmp;
#endif
  const int64_t row = L.cols * kBlock;
  const int64_t right = std::min(L.cols, pl + w);
  for (int64_t b = 0; b < blocks; ++b) {
    float* base = buf + b * L.stride;
    std::fill(base, base + (top - L.lo) * row, 0.0f);
    std::fill(base + (bottom - L.lo) * row, base + (L.hi - L.lo) * row, 0.0f);
    for (int64_t r = from; r < to; ++r) {
      std::fill(L.at(buf, b, r, 0), L.at(buf, b, r, std::min(pl, L.cols)), 0.0f);
      if (right < L.cols) std::fill(L.at(buf, b, r, right), L.at(buf, b, r, L.cols), 0.0f);
    }
  }
}

Kernel banded(const Geometries& g, ConvActivation act_e, ConvActivation act_d) {
  return [g, act_e, act_d](std::span<const Tensor> in, std::span<Tensor> out, Parallel& par) {
    const ConvGeometry& d = g.depthwise;
    const PointwiseFn pointwise = pointwise_kernel(act_e);
    const DepthwiseBlockedFn depthwise = depthwise_blocked();
    if (pointwise == nullptr || depthwise == nullptr)
      throw ValueError(ErrorCode::kInvalidArgument,
                       std::string(kOp) + ": a packed weight needs a CPU with AVX2 and FMA");
    const float* x = in[0].data<float>();
    const float* we = in[1].data<float>();
    const float* be = in[2].data<float>();
    const float* wd = in[3].data<float>();
    const float* bd = in[4].data<float>();
    float* y = out[0].data<float>();
    if (out[0].numel() == 0) return;
    const int64_t lanes = depthwise_lanes();
    const Split s = split(d, lanes, par.threads());
    const int64_t k = g.expand.c, plane = d.h * d.w, taps = d.kh * d.kw, out_plane = d.oh * d.ow;
    // A full band's depthwise geometry (its scratch is the largest any band needs).
    ConvGeometry full = d;
    full.n = 1, full.h = std::min(d.h, in_rows(d, s.rows)), full.oh = s.rows, full.pt = full.pb = 0;
    // The expansion written in the 16-lane depthwise kernel's layout (expand_blocked16) where
    // every block goes to that kernel.
    const bool blocked16 = depthwise_takes_filled16(d, std::min(kBlock, d.c)) &&
                           (d.c % kBlock == 0 || depthwise_takes_filled16(d, d.c % kBlock));
    const int64_t cols = depthwise_filled16_cols(d);
    const int64_t group_blocks = (s.channels + kBlock - 1) / kBlock;
    const size_t buf = blocked16 ? lines(group_blocks * in_rows(d, s.rows) * cols * kBlock)
                                 : lines(s.channels * in_rows(d, s.rows) * d.w);
    const size_t dw_scratch = blocked16
                                  ? lines(group_blocks * (k + 1) * kBlock) + lines(8 * k)
                                  : lines(static_cast<int64_t>(depthwise_blocked_scratch(full)));
    par.for_range(d.n * s.groups * s.bands, 1, [&](int64_t u0, int64_t u1, int worker) {
      float* scratch = par.scratch<float>(worker, 2 * buf + dw_scratch);
      float* bufs[2] = {scratch, scratch + buf};
      float* dws = scratch + 2 * buf;
      if (blocked16) {
        // The group's weight and bias as [block][k][16] and [block][16], a row of under 8
        // pixels' input.
        float* wb = dws;
        float* bb = wb + group_blocks * k * kBlock;
        float* tmp = bb + group_blocks * kBlock;
        int64_t packed_group = -1;
        Blocked16 prev{};
        int64_t prev_hi_c = 0;
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t b = u / (s.groups * s.bands), gi = u / s.bands % s.groups, bi = u % s.bands;
          const int64_t c0 = gi * s.channels, c1 = std::min(d.c, c0 + s.channels);
          const int64_t blocks = (c1 - c0 + kBlock - 1) / kBlock;
          if (gi != packed_group) pack_blocks16(we, be, g.expand.o, k, c0, c1, wb, bb);
          packed_group = gi;
          const int64_t oy0 = bi * s.rows, oy1 = std::min(d.oh, oy0 + s.rows);
          const int64_t lo = oy0 * d.sh - d.pt, hi = (oy1 - 1) * d.sh - d.pt + d.kh;
          const int64_t lo_c = std::max<int64_t>(0, lo), hi_c = std::min(d.h, hi);
          const Blocked16 cur{lo, hi, cols, (hi - lo) * cols * kBlock};
          float* cbuf = bufs[u & 1];
          int64_t from = lo_c;
          if (u > u0 && bi > 0 && lo_c < prev_hi_c) {
            // The rows this band shares with the one before (computed by this chunk: u − 1).
            const int64_t shared_to = std::min(prev_hi_c, hi_c);
            for (int64_t blk = 0; blk < blocks; ++blk)
              std::memcpy(cur.at(cbuf, blk, lo_c, 0), prev.at(bufs[(u - 1) & 1], blk, lo_c, 0),
                          static_cast<size_t>((shared_to - lo_c) * cols * kBlock) * sizeof(float));
            from = shared_to;
          }
          expand_blocked16(cur, cbuf, blocks, from, hi_c, lo_c, hi_c, d.w, d.pl, k, wb, bb,
                           x + b * k * plane, plane, act_e, tmp);
          prev = cur, prev_hi_c = hi_c;
          ConvGeometry band = d;
          band.n = 1, band.h = hi_c - lo_c, band.oh = oy1 - oy0, band.pt = lo_c - lo,
          band.pb = hi - hi_c;
          for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t cb = c0 + blk * kBlock, channels = std::min(kBlock, c1 - cb);
            float* yb = y + ((b * d.c + cb) * d.oh + oy0) * d.ow;
            depthwise_filled16(band, cbuf + blk * cur.stride, channels, wd + cb * taps, bd + cb,
                               act_d, yb, out_plane);
            if (conv_activation_exp(act_d))
              for (int64_t c = 0; c < channels; ++c)
                conv_activate_exp(act_d, yb + c * out_plane, (oy1 - oy0) * d.ow);
          }
        }
        return;
      }
      // The band before, when this chunk computed it: its buffer and input rows [lo, hi).
      int64_t prev_unit = -1, prev_lo = 0, prev_hi = 0;
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t b = u / (s.groups * s.bands), gi = u / s.bands % s.groups, bi = u % s.bands;
        const int64_t c0 = gi * s.channels, c1 = std::min(d.c, c0 + s.channels), cn = c1 - c0;
        const int64_t oy0 = bi * s.rows, oy1 = std::min(d.oh, oy0 + s.rows);
        // The input rows the band reads, [lo, hi) with padding, [lo_c, hi_c) inside the image.
        const int64_t lo = oy0 * d.sh - d.pt, hi = (oy1 - 1) * d.sh - d.pt + d.kh;
        const int64_t lo_c = std::max<int64_t>(0, lo), hi_c = std::min(d.h, hi);
        const int64_t rows = hi_c - lo_c;
        float* cur = bufs[u & 1];
        int64_t from = lo_c;  // the first row the 1 × 1 kernel computes
        if (prev_unit == u - 1 && bi > 0 && lo_c < prev_hi) {
          const float* prev = bufs[(u - 1) & 1];
          const int64_t prev_rows = prev_hi - prev_lo, shared = prev_hi - lo_c;
          for (int64_t c = 0; c < cn; ++c)
            std::memcpy(cur + c * rows * d.w, prev + (c * prev_rows + lo_c - prev_lo) * d.w,
                        static_cast<size_t>(shared * d.w) * sizeof(float));
          from = prev_hi;
        }
        if (from < hi_c)
          pointwise(cn, (hi_c - from) * d.w, k, we + c0 * k, x + b * k * plane + from * d.w, plane,
                    be + c0, nullptr, cur + (from - lo_c) * d.w, rows * d.w);
        prev_unit = u, prev_lo = lo_c, prev_hi = hi_c;
        // The band as a depthwise convolution of its own: planes of `rows` rows, padded where the
        // image's are.
        ConvGeometry band = d;
        band.n = 1, band.h = rows, band.oh = oy1 - oy0, band.pt = lo_c - lo, band.pb = hi - hi_c;
        for (int64_t cb = c0; cb < c1; cb += lanes) {
          const int64_t channels = std::min(lanes, c1 - cb);
          float* yb = y + ((b * d.c + cb) * d.oh + oy0) * d.ow;
          depthwise(band, cur + (cb - c0) * rows * d.w, channels, wd + cb * taps, bd + cb, act_d,
                    yb, out_plane, dws);
          if (conv_activation_exp(act_d))
            for (int64_t c = 0; c < channels; ++c)
              conv_activate_exp(act_d, yb + c * out_plane, (oy1 - oy0) * d.ow);
        }
      }
    });
  };
}

Kernel make_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Geometries g = checked(in, attrs);
  const ConvActivation act_e = conv_activation_attr(kOp, attrs, "expand_activation");
  const ConvActivation act_d = conv_activation_attr(kOp, attrs, "activation");
  const bool packed = attr_bool(attrs, kOp, "packed_weight", false);
  if (packed && (in[0].dtype != DType::Float32 || !packed_kernels()))
    throw ValueError(
        ErrorCode::kInvalidArgument,
        std::string(kOp) + ": a packed weight needs Float32 and a CPU with AVX2 and FMA");
  if (packed && in[0].dtype == DType::Float32 && bands_take(g.depthwise) &&
      depthwise_fits(g.depthwise) && depthwise_blocked_fits(g.depthwise))
    return banded(g, act_e, act_d);
  return unfused(g, act_e, act_d, in[0].dtype, packed);
}

// The 1 × 1's multiply-adds per expanded value plus the depthwise's per output.
double work(std::span<const TensorType> in, std::span<const TensorType> out, const ir::Attrs&) {
  const Shape& x = in[0].shape;
  const double expanded = static_cast<double>(x.numel() / std::max<int64_t>(1, x[1])) *
                          static_cast<double>(in[1].shape[0]);
  const double taps = static_cast<double>(in[3].shape[2] * in[3].shape[3]);
  return expanded * static_cast<double>(x[1]) + static_cast<double>(out[0].shape.numel()) * taps;
}

}  // namespace

CELLAR_REGISTER_OPS(pointwise_depthwise) {
  table.add({.name = kOp,
             .min_inputs = 5,
             .max_inputs = 5,
             .infer = infer,
             .make_kernel = make_kernel,
             .internal = true,
             .work = work});
}

}  // namespace cellar::ops
