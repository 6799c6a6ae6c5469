// Winograd F(2 × 2, 3 × 3) for the stride-1 3 × 3 pad-1 convolutions (ResNet's 3 × 3 layers) on
// AVX-512: each 2 × 2 block of outputs from a 4 × 4 tile of input as 16 products per (input,
// output channel) pair instead of 36, 2.25× fewer multiplications than conv_taps
// (docs/benchmarks.md, Session 14). The weight is transformed once, at load time, by the
// optimiser (src/runtime/optimizer.h pass 5a, FusedConv2D's `winograd_weight`), replacing the
// weight it supersedes: [o, c, 4, 4] floats, U[ξ][o / 8][c][o % 8] (ξ = 4·i + j of G g Gᵀ).
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
// The kernel over inputs x, the transformed weight, a bias [o] when `bias`, and a residual of the
// output's shape when `residual`: y = act((conv(x, w) + bias) + residual), as conv_kernel's
// order. Needs a CPU with AVX-512 (ValueError otherwise) and conv_winograd_geometry(g).
Kernel conv_winograd_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool residual);

}  // namespace cellar::ops
