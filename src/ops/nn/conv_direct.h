// Direct convolution for few input channels (private to src/ops/nn): LeNet-5's first layers and
// the 3-channel stems of image networks. Their im2col matrix has as many elements as the
// convolution has multiply-adds per output channel (kdim × positions, kdim = channels × taps),
// and its rows are short runs (LeNet-5: 28 floats), so building it cost more than the GEMM that
// read it (39% of LeNet-5). Here every output vector reads its taps straight from the input (or
// from a zero-padded copy split by stride phase, so that every tap of a vector of outputs is one
// contiguous load whatever the padding, stride and dilation), with a block of output channels ×
// a run of output columns held in registers. AVX2 + FMA (up to 6 channels × 4 vectors of 8 in the
// 16 ymm registers) and AVX-512 (a packed panel of 8 channels × up to 3 vectors of 16 in the 32
// zmm registers: twice the work per instruction where the CPU runs 512-bit FMAs at full width),
// the same bits on both; Float32 only.
#pragma once

#include <cstdint>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

// Input channels per group at or below which the direct kernel replaces im2col + GEMM (measured:
// docs/benchmarks.md, issue 13, session 8).
inline constexpr int64_t kDirectMaxChannels = 4;

// Whether the direct kernel takes this geometry (group 1, at most kDirectMaxChannels input
// channels, at most 256 (channel, tap) pairs) on this CPU (AVX2 + FMA, ops/isa.h).
bool conv_direct_fits(const ConvGeometry& g);

// The kernel over inputs x, weight (as given, or pack_conv_weight's when `packed_weight`), when
// `bias` a per-channel bias and when `residual` a tensor of the output's shape (the last input):
// y = act((conv(x, w) + bias) + residual). Every output is Σ over the weight's columns in their
// stored order (channel-major as given, tap-major when packed) of fused multiply-adds, then
// + bias, then + residual, then the activation: the same bits whatever the thread split.
Kernel conv_direct_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool packed_weight,
                          bool residual = false);

}  // namespace cellar::ops
