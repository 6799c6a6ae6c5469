// Conv2D's geometry and kernel (private to src/ops/nn): shared by the Conv2D row and the
// load-time FusedConv2D row (src/runtime/optimizer.h makes it), which runs the same kernel with a
// per-channel bias and an activation applied to each block of output while it is in cache.
#pragma once

#include <cstdint>
#include <span>

#include "ops/op_table.h"

namespace cellar::ops {

struct ConvGeometry {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw;   // weight
  int64_t group;
  int64_t sh, sw, dh, dw;  // stride, dilation
  int64_t pt, pb, pl, pr;  // padding
  int64_t oh, ow;          // output
};

// The geometry of inputs x (in[0]) and weight (in[1]) under Conv2D's attributes; ValueError
// (kShapeMismatch, kDTypeMismatch, kInvalidArgument) saying what disagrees. Every input must have
// x's dtype (Float32 or Float64).
ConvGeometry conv_geometry(const char* op, std::span<const TensorType> in, const ir::Attrs& attrs);

// What the fused kernel applies to each output after the convolution. kSiLU is the SiLU op's
// x / (1 + e^−x); kXSigmoid is Mul(x, Sigmoid(x)), x · (1 / (1 + e^−x)), as MindSpore writes
// swish in mindcv's EfficientNet (each the same function as the ops it replaces, the same values
// bit for bit). Those two are not applied in registers: a kernel writes its block with the bias
// only (activate256 passes them through) and then runs conv_activate_exp over the block while it
// is in cache.
enum class ConvActivation { kNone, kReLU, kReLU6, kHSwish, kHSigmoid, kSiLU, kXSigmoid };
constexpr bool conv_activation_exp(ConvActivation a) {
  return a == ConvActivation::kSiLU || a == ConvActivation::kXSigmoid;
}
// Attribute `key` of a fused convolution's node ("none", "relu", "relu6", "hswish", "hsigmoid",
// "silu", "x_sigmoid"; kNone when absent); ValueError (kInvalidArgument) naming op otherwise.
ConvActivation conv_activation_attr(const char* op, const ir::Attrs& attrs, const char* key);
// y[0, n) = act(y[0, n)) for the two e^x activations (in SIMD lanes where the kernels have them,
// as the SiLU and Sigmoid ops compute them; anything else: y unchanged).
void conv_activate_exp(ConvActivation act, float* y, int64_t n);
void conv_activate_exp(ConvActivation act, double* y, int64_t n);

// Whether a convolution of this geometry runs as GEMMs over its weight (every one but depthwise
// groups): the ones whose weight the optimiser may pack (pack_conv_weight).
bool conv_uses_gemm(const ConvGeometry& g);
// The weight [o, c/group, kh, kw] (Float32) with each group's rows packed for gemm_packed
// (ops/gemm.h), their columns tap-major ((i·kw + j)·c/group + ci: a kernel tap's columns are one
// range, which a convolution whose tap only meets padding skips), in a tensor of the same shape.
// Only where ops::packed_kernels().
Tensor pack_conv_weight(const Tensor& w, int64_t group);
// The same written over w's own bytes, which nothing else may hold (the optimiser's own copy of a
// weight): no second weight-sized buffer at load time.
void pack_conv_weight_in_place(Tensor& w, int64_t group);

// The kernel: inputs x, weight and, when `bias`, a per-output-channel bias (in[2]). With
// `packed_weight`, the weight is pack_conv_weight's (Float32, a GEMM geometry, a CPU with
// ops::packed_kernels(); ValueError otherwise). With `residual`, one more input after those (in[2]
// or in[3]), a tensor of the output's shape added to each output before the activation:
// y = act((conv(x, w) + bias) + residual), the sum rounded in that order (a ResNet block's last
// convolution, Add and ReLU as one pass: the same bits as the three ops). The output must not
// share memory with the residual (the kernels read a residual element after storing others).
Kernel conv_kernel(DType dtype, const ConvGeometry& g, bool bias, ConvActivation act,
                   bool packed_weight = false, bool residual = false);

}  // namespace cellar::ops
