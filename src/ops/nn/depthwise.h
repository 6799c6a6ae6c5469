// Depthwise convolution (groups of one input channel) in SIMD registers (private to src/ops/nn):
// one output plane at a time, each output vector summing every tap in a register before it is
// stored once. The input plane is first copied, zero-padded, into the caller's scratch, split by
// column phase (column c into phase c mod stride), so that every tap of every output vector is one
// contiguous load whatever the padding, stride and dilation. AVX-512 (16 lanes) or AVX2 (8),
// chosen at run time from the CPU's features; Float32 only.
#pragma once

#include <cstddef>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

// Whether the kernel takes this geometry (at most 64 taps).
bool depthwise_fits(const ConvGeometry& g);
// Floats of scratch one plane needs.
size_t depthwise_scratch(const ConvGeometry& g);

// y (oh × ow) = the depthwise convolution of plane x (h × w) with w (kh × kw); every output is
// Σ over taps (i, j) in order of w[i, j]·x[…] (fused multiply-adds).
using DepthwiseFn = void (*)(const ConvGeometry& g, const float* x, const float* w, float* y,
                             float* scratch);

// The kernel for the kernels' instruction set (ops/isa.h), or null (no AVX2 + FMA: the portable
// loop in conv2d.cpp then).
DepthwiseFn depthwise_simd();

// The kernel for a block of depthwise_lanes() channels (a channel multiplier of 1: output channel c
// reads input channel c), which picks one by geometry: at stride 1 with 3 × 3 taps on rows of at
// least 16 outputs (AVX-512) or 48 (AVX2), a direct kernel on the NCHW rows, channel by channel
// (no copies); otherwise a channel-blocked kernel, one channel per vector lane through a
// transposed padded copy in the scratch (2-4× faster than the per-plane kernel on planes from
// 112 × 112 down to 2 × 2: a few pixels per row fill a vector poorly): on AVX-512 16 lanes for
// blocks of 9-16 channels with 3 × 3 or 5 × 5 taps (5 × 5 at stride 1 too), 8 lanes otherwise
// (and the direct kernel for 5 × 5 rows of at least 12 outputs in blocks of 8 or fewer).
// Channels [0, channels ≤ depthwise_lanes()) of x's planes (h × w each, one after another) into
// y's (oh × ow each, ldy floats apart: oh · ow, or more where y is a band of rows of larger
// planes, ops/nn/pointwise_depthwise.cpp); every output is Σ over taps
// in order of w[c, t]·x[…] (fused multiply-adds, as the per-plane kernel; all kernels the same
// bits), then + bias[c] (when bias is not null), then the activation. AVX-512 takes blocks of 16
// channels (one per lane of a 512-bit vector), AVX2 of 8.
int64_t depthwise_lanes();
bool depthwise_blocked_fits(const ConvGeometry& g);
// Floats of 64-byte-aligned scratch one block needs (whichever kernel the instruction set picks).
size_t depthwise_blocked_scratch(const ConvGeometry& g);
using DepthwiseBlockedFn = void (*)(const ConvGeometry& g, const float* x, int64_t channels,
                                    const float* w, const float* bias, ConvActivation act, float* y,
                                    int64_t ldy, float* scratch);
// The kernel for the kernels' instruction set (ops/isa.h: AVX2 or AVX-512), or null.
DepthwiseBlockedFn depthwise_blocked();

// The 16-lane kernel on input its caller has already laid out as it reads it
// (FusedPointwiseDepthwise's expansion writes its band so, saving the kernel's transposes): whether
// depthwise_blocked() takes a block of `channels` of this geometry with it (AVX-512, 3 × 3 or 5 × 5
// taps where the direct kernel does not take them, 9 to 16 channels), and then the kernel on `in`:
// the block's padded input rows [0, (oh − 1)·sh + kh) (row 0 is padded row 0: pt rows above the
// image), each of depthwise_filled16_cols(g) columns (column 0 is padded column 0) × 16 lanes (lane
// c: channel c; zero in the padding, any finite value in lanes ≥ channels), 64-byte aligned. The
// same outputs, bit for bit, as depthwise_blocked() on the planes.
bool depthwise_takes_filled16(const ConvGeometry& g, int64_t channels);
int64_t depthwise_filled16_cols(const ConvGeometry& g);
void depthwise_filled16(const ConvGeometry& g, const float* in, int64_t channels, const float* w,
                        const float* bias, ConvActivation act, float* y, int64_t ldy);

}  // namespace cellar::ops
