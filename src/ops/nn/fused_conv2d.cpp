// FusedConv2D: y = act(Conv2D(x, w) + bias [+ residual]), made at load time by the graph
// optimiser (src/runtime/optimizer.h) from Conv2D → [BiasAdd] → [ReLU | ReLU6 | HSwish | HSigmoid |
// SiLU | Mul(·, Sigmoid(·))] chains (after folding BatchNorm into the weight and bias), and from a
// ResNet block's Conv2D [→ BiasAdd] → Add(·, residual) [→ ReLU]. Inputs x, w, an optional bias
// [out] and, with `residual` (bool, default false), one more: a tensor of the output's shape and
// dtype added to each output after the bias and before the activation ((conv + bias) + residual,
// rounded in that order: the unfused ops' bits). Conv2D's attributes plus `activation` ("none",
// "relu", "relu6", "hswish", "hsigmoid", "silu", "x_sigmoid": x · sigmoid(x) as Mul and Sigmoid
// compute it), `residual` and `packed_weight` (bool, default false: w as pack_conv_weight leaves
// it, the optimiser's doing where the CPU has the packed kernels). The kernel is Conv2D's,
// applying bias, residual and activation to each block of output while it is in cache
// (ops/nn/conv2d.h). An internal row: no MindIR or ONNX spelling, never in a file.
#include <string>

#include "ops/nn/conv2d.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "FusedConv2D";

ConvActivation activation(const ir::Attrs& attrs) {
  return conv_activation_attr(kOp, attrs, "activation");
}

bool residual(const ir::Attrs& attrs) { return attr_bool(attrs, kOp, "residual", false); }

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
  // conv_geometry checks that every input has x's dtype.
  const ConvGeometry g = conv_geometry(kOp, in, attrs);
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
