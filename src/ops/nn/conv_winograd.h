// Winograd F(2 × 2, 3 × 3) for the stride-1 3 × 3 pad-1 convolutions (ResNet's 3 × 3 layers) on
// AVX-512: each 2 × 2 block of outputs from a 4 × 4 tile of input as 16 products per (input,
// output channel) pair instead of 36, 2.25× fewer multiplications than conv_taps
// (docs/benchmarks.md, Session 14). The weight is transformed once, at load time, by the
// optimiser (src/runtime/optimizer.h pass 5a, FusedConv2D's `winograd_weight`), replacing the
// weight it supersedes: [o, c, 4, 4] floats, U[ξ][o / 8][c][o % 8] (ξ = 4·i + j of G g Gᵀ); or,
// on planes of one chunk of tiles (conv_winograd_from_packed), left packed and transformed a panel
// at a time by the kernel (FusedConv2D's `winograd`), for memory: the same bits either way.
// Outputs differ from the direct kernels' at the level of float rounding (another summation
// order: within 1e-4 of the reference kernels, closer to a double reference than conv_taps').
// CELLAR_NO_WINOGRAD=1 (read once, at the first load) turns the rewrite off.
#pragma once

#include "cellar/tensor.h"
#include "ops/nn/conv2d.h"

namespace cellar::ops {

// What the kernel computes: a Float32 3 × 3 convolution, stride and dilation 1, padding 1 on
// every side, group 1, output channels a multiple of 8.
bool conv_winograd_geometry(const ConvGeometry& g);
// Whether the optimiser gives a convolution of this geometry a Winograd weight: the geometry
// above, planes of at least 14 × 14 (at 7 × 7 conv_taps is faster), kernels running AVX-512 and
// no CELLAR_NO_WINOGRAD.
bool conv_winograd_pays(const ConvGeometry& g);
// The weight [o, c, 3, 3] (as a file stores it; `w` may be misaligned: read as bytes) written as
// the kernel reads it into u (16·o·c floats).
void conv_winograd_transform(int64_t o, int64_t c, const void* w, float* u);
// The same into a new [o, c, 4, 4] tensor.
Tensor conv_winograd_weight(const Tensor& w);
// Whether the optimiser leaves the weight packed (pack_conv_weight) and the kernel transforms each
// panel of 8 output channels as it comes to it, once per image and run, rather than at load time:
// planes of one chunk (at most 49 tiles, 14 × 14), where a layer's weight is large (ResNet's
// 256-channel layers: 2.25 MiB each, 4 MiB transformed) and the run transforms it only once per
// image (~7% of the layer's multiply-adds' time); the transformed weight would put ResNet-50 at
// batch 8 over the memory bound.
bool conv_winograd_from_packed(const ConvGeometry& g);
// The kernel over inputs x, the weight (conv_winograd_transform's, or pack_conv_weight's when
// `packed_weight`), a bias [o] when `bias`, and a residual of the output's shape when `residual`:
// y = act((conv(x, w) + bias) + residual), as conv_kernel's order. The same bits from either
// weight. Needs a CPU with AVX-512 (ValueError otherwise) and conv_winograd_geometry(g).
Kernel conv_winograd_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool residual,
                            bool packed_weight = false);

}  // namespace cellar::ops
