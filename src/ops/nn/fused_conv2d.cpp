// FusedConv2D: y = act(Conv2D(x, w) + bias [+ residual]), made at load time by the graph
// optimiser (src/runtime/optimizer.h) from Conv2D → [BiasAdd] → [ReLU | ReLU6 | HSwish | HSigmoid |
// SiLU | Mul(·, Sigmoid(·))] chains (after folding BatchNorm into the weight and bias), and from a
// ResNet block's Conv2D [→ BiasAdd] → Add(·, residual) [→ ReLU]. Inputs x, w, an optional bias
// [out] and, with `residual` (bool, default false), one more: a tensor of the output's shape and
// dtype added to each output after the bias and before the activation ((conv + bias) + residual,
// rounded in that order: the unfused ops' bits). Conv2D's attributes plus `activation` ("none",
// "relu", "relu6", "hswish", "hsigmoid", "silu", "x_sigmoid": x · sigmoid(x) as Mul and Sigmoid
// compute it), `residual` and `packed_weight` (bool, default false: w as pack_conv_weight leaves
// it, the optimiser's doing where the CPU has the packed kernels) and `winograd_weight` (bool,
// default false: w as conv_winograd_transform leaves it, [out, in, 4, 4] for a 3 × 3 kernel, the
// optimiser's doing on AVX-512 for the 3 × 3 stride-1 pad-1 layers; ops/nn/conv_winograd.h). The
// kernel is Conv2D's, or the Winograd kernel for a Winograd weight or for a packed one with
// `winograd` (bool, default false: the optimiser's mark on a layer whose weight the kernel
// transforms per run; on a CPU not running AVX-512 kernels, Conv2D's kernel on the packed weight),
// applying bias, residual and activation to each block of output while it is in cache
// (ops/nn/conv2d.h). An internal row: no MindIR or ONNX spelling, never in a file.
#include <string>
#include <vector>

#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_winograd.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "FusedConv2D";

ConvActivation activation(const ir::Attrs& attrs) {
  return conv_activation_attr(kOp, attrs, "activation");
}

bool residual(const ir::Attrs& attrs) { return attr_bool(attrs, kOp, "residual", false); }

bool winograd(const ir::Attrs& attrs) { return attr_bool(attrs, kOp, "winograd_weight", false); }
bool winograd_packed(const ir::Attrs& attrs) {
  return attr_bool(attrs, kOp, "winograd", false) && attr_bool(attrs, kOp, "packed_weight", false);
}

// Whether the inputs hold a bias (in[2]): a third input without `residual`, or a fourth with it.
bool has_bias(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return in.size() == (residual(attrs) ? 4u : 3u);
}

ConvGeometry checked(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const bool res = residual(attrs);
  if (res && in.size() < 3)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": residual needs a third input (x, w, [bias,] residual)");
  if (!res && in.size() > 3)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": a fourth input is the residual, which needs residual");
  // conv_geometry checks that every input has x's dtype. A Winograd weight [o, c, 4, 4] stands
  // for the 3 × 3 one [o, c, 3, 3] it was made from.
  ConvGeometry g{};
  if (winograd(attrs)) {
    if (in.size() < 2 || in[1].shape.rank() != 4 || in[1].shape[2] != 4 || in[1].shape[3] != 4)
      shape_error(kOp, "a Winograd weight must be [out, in, 4, 4], got " +
                           (in.size() < 2 ? std::string("none") : in[1].shape.str()));
    std::vector<TensorType> as_given(in.begin(), in.end());
    as_given[1].shape = Shape{in[1].shape[0], in[1].shape[1], 3, 3};
    g = conv_geometry(kOp, as_given, attrs);
    if (!conv_winograd_geometry(g) || in[0].dtype != DType::Float32)
      shape_error(kOp,
                  "a Winograd weight needs a Float32 3 x 3 stride-1 pad-1 convolution of "
                  "group 1 whose output channels are a multiple of 8");
  } else {
    g = conv_geometry(kOp, in, attrs);
  }
  if (has_bias(in, attrs) && (in[2].shape.rank() != 1 || in[2].shape[0] != g.o))
    shape_error(kOp, "bias " + in[2].shape.str() + " must be [" + std::to_string(g.o) + "]");
  if (res && in.back().shape != Shape{g.n, g.o, g.oh, g.ow})
    shape_error(kOp, "residual " + in.back().shape.str() + " must have the output's shape " +
                         Shape{g.n, g.o, g.oh, g.ow}.str());
  (void)activation(attrs);
  return g;
}

std::vector<TensorType> fused_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = checked(in, attrs);
  return {{in[0].dtype, Shape{g.n, g.o, g.oh, g.ow}}};
}

Kernel fused_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (winograd(attrs))
    return conv_winograd_kernel(checked(in, attrs), has_bias(in, attrs), activation(attrs),
                                residual(attrs));
  // `winograd` with a packed weight: the Winograd kernel where it can run (AVX-512, the geometry),
  // conv_taps on the same weight otherwise.
  if (winograd_packed(attrs) && in[0].dtype == DType::Float32 && kernel_isa() == Isa::kAvx512) {
    const ConvGeometry g = checked(in, attrs);
    if (conv_winograd_geometry(g))
      return conv_winograd_kernel(g, has_bias(in, attrs), activation(attrs), residual(attrs), true);
  }
  return conv_kernel(in[0].dtype, checked(in, attrs), has_bias(in, attrs), activation(attrs),
                     attr_bool(attrs, kOp, "packed_weight", false), residual(attrs));
}

}  // namespace

CELLAR_REGISTER_OPS(fused_conv2d) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 4,
             .infer = fused_infer,
             .make_kernel = fused_kernel,
             .internal = true,
             .work = work_weighted_window});
}

}  // namespace cellar::ops
