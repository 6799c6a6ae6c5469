// Direct convolution on column-shifted copies of the input (private to src/ops/nn): ResNet's
// 3 × 3 layers (stride 1 and 2) on a packed weight, without an im2col matrix.
//
// im2col writes kh·kw copies of the input (9 for a 3 × 3 layer, 11.5% of resnet18's samples at
// batch 8 on a Zen 5: docs/benchmarks.md, issue 13, session 10). Here a unit of work (an image,
// a band of output rows) makes kw·sh copies instead, one per (tap column j, row phase ph): copy
// (j, ph) of input channel ci holds, at row r and column ox, the input pixel
// (r·sh + ph − pt, ox·sw + j·dw − pl) of the band (zero outside the input), rows ow floats wide.
// Tap (i, j) of output position (oy, ox) is then copy (j, (i·dh) mod sh)'s element at row
// oy + (i·dh) / sh, column ox: for a run of output positions in row-major order (oy·ow + ox),
// one contiguous run of a copy, whatever the stride, padding and dilation. The kernels keep a
// panel of 8 output channels × 48 positions (AVX-512; AVX2 4 × 24, twice) in registers, read
// each (tap, channel)'s run of the copy where it lies, and apply bias and activation in
// registers before the one store: a 3 × 3 stride-1 layer copies its input 3 times, not 9, and
// never stores and re-reads an im2col block. On AVX-512 a stride-1 layer whose output rows are as
// wide as its input's (3 × 3 pad 1) copies nothing: each tap's run is read from the input where it
// lies, its lanes in the padding masked to zero (the copies' zeros; a per-tap bitmap of the output
// positions where the tap meets the input), so the copies went from 5% of resnet18's samples to
// the stride-2 layers' 1.8%. A strided layer on AVX-512 (ResNet's 3 × 3 / 2) instead splits its
// band of input rows into sh × sw phase planes ow wide (each input element written once, no zeros:
// 2/3 of the copies' floats for a 3 × 3 / 2) and reads them as the flat layers read their input,
// the taps in the padding masked to zero: the same multiply-adds on the same values.
//
// Each output is the chain of fused multiply-adds over the packed weight's columns (tap-major,
// the taps that meet the input somewhere, in order) from zero, then + bias, then the activation:
// gemm_packed's sum followed by conv2d.cpp's epilogue, bit for bit, on AVX2 and AVX-512, for
// every band and thread split.
#pragma once

#include <cstdint>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

// Whether the kernel takes this geometry with this activation on this CPU: Float32 with a packed
// weight (the caller's part), AVX2 + FMA, a kernel of more than one tap and at most 49 taps or a
// strided 1 × 1 one, and an activation applied in registers (not the e^x ones).
bool conv_taps_fits(const ConvGeometry& g, ConvActivation act);

// Whether the kernel is faster than im2col + the packed GEMM on this geometry and instruction set
// (measured, docs/benchmarks.md, issue 13, session 11): on AVX-512 wherever it fits; on AVX2 for
// output planes at least 28 wide (at 14 × 14 and 7 × 7 the AVX2 tiles of 24 end in a masked pass
// of a few positions, 5–20% slower than the GEMM's few-column kernel).
bool conv_taps_pays(const ConvGeometry& g);

// The kernel over inputs x, pack_conv_weight's weight, when `bias` a per-channel bias and when
// `residual` a tensor of the output's shape (the last input): y = act((conv(x, w) + bias) +
// residual), the residual added in registers before the one store.
Kernel conv_taps_kernel(const ConvGeometry& g, bool bias, ConvActivation act,
                        bool residual = false);

}  // namespace cellar::ops
