// The 1 × 1 convolution's product on a packed weight (private to src/ops/nn), with its bias and
// activation applied in registers before the one store of each output vector. The 1 × 1 layers
// of the mobile nets (MobileNet v2/v3, EfficientNet) have few input channels (16 to 96) and many
// output channels: each output takes few multiply-adds, so that gemm_packed followed by a second
// pass of bias + activation over the block (conv2d.cpp's other paths) spent a large share of its
// time storing, reloading and storing again (docs/benchmarks.md, issue 13, session 10).
//
// y[r, s] = act(Σ_p w[r, p]·x[p, s] + bias[r] [+ res[r, s]]): each sum one chain of fused
// multiply-adds in order of p from zero (gemm_packed's chain, bit for bit), then + bias, then
// + the residual (when given), then the activation as activate256 computes it: the same values as
// gemm_packed + the conv epilogue, on every instruction set and whatever the split. The e^x
// activations (conv_activation_exp) are applied to each finished tile of rows while it is in L1
// (conv_activate_exp).
#pragma once

#include <cstdint>

#include "ops/nn/conv2d.h"

namespace cellar::ops {

// Rows [0, m) of a packed weight (pack_conv_weight's panels, `packed` at the first row's panel;
// k columns) times x (k × n, row stride ldx) into y (m × n, row stride ldy), bias[r] (or none)
// added to row r, then the residual `res` (m × n, row stride ldy as y, or none: a ResNet block's
// shortcut, added after the bias), then `act`. y must not overlap res.
using PointwiseFn = void (*)(int64_t m, int64_t n, int64_t k, const float* packed, const float* x,
                             int64_t ldx, const float* bias, const float* res, float* y,
                             int64_t ldy);

// The kernel for `act` on the kernels' instruction set (ops/isa.h: AVX-512 or AVX2 + FMA), or null
// (no SIMD set); with `residual`, the one that adds `res` (the other ignores it: compiled as
// without a residual, no test in its stores).
PointwiseFn pointwise_kernel(ConvActivation act, bool residual = false);

}  // namespace cellar::ops
