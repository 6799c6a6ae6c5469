// FusedConv2D: y = act(Conv2D(x, w) + bias), made at load time by the graph optimiser
// (src/runtime/optimizer.h) from Conv2D → [BiasAdd] → [ReLU | ReLU6 | HSwish | HSigmoid | SiLU |
// Mul(·, Sigmoid(·))] chains (after folding BatchNorm into the weight and bias). Inputs x, w and an
// optional bias [out]; Conv2D's attributes plus `activation` ("none", "relu", "relu6", "hswish",
// "hsigmoid", "silu", "x_sigmoid": x · sigmoid(x) as Mul and Sigmoid compute it) and
// `packed_weight` (bool, default false: w as pack_conv_weight leaves it, the optimiser's doing
// where the CPU has the packed kernels). The kernel is Conv2D's, applying bias and activation to
// each block of output while it is in cache (ops/nn/conv2d.h). An internal row: no MindIR or ONNX
// spelling, never in a file.
#include <string>

#include "ops/nn/conv2d.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "FusedConv2D";

ConvActivation activation(const ir::Attrs& attrs) {
  auto it = attrs.find("activation");
  if (it == attrs.end()) return ConvActivation::kNone;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": activation must be a string");
  const std::string& a = *s;
  if (a == "none") return ConvActivation::kNone;
  if (a == "relu") return ConvActivation::kReLU;
  if (a == "relu6") return ConvActivation::kReLU6;
  if (a == "hswish") return ConvActivation::kHSwish;
  if (a == "hsigmoid") return ConvActivation::kHSigmoid;
  if (a == "silu") return ConvActivation::kSiLU;
  if (a == "x_sigmoid") return ConvActivation::kXSigmoid;
  throw ValueError(ErrorCode::kInvalidArgument,
                   std::string(kOp) + ": activation '" + a +
                       "' is not one of none, relu, relu6, hswish, hsigmoid, silu, x_sigmoid");
}

ConvGeometry checked(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = conv_geometry(kOp, in, attrs);
  if (in.size() == 3 && (in[2].shape.rank() != 1 || in[2].shape[0] != g.o))
    shape_error(kOp, "bias " + in[2].shape.str() + " must be [" + std::to_string(g.o) + "]");
  (void)activation(attrs);
  return g;
}

std::vector<TensorType> fused_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = checked(in, attrs);
  return {{in[0].dtype, Shape{g.n, g.o, g.oh, g.ow}}};
}

Kernel fused_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return conv_kernel(in[0].dtype, checked(in, attrs), in.size() == 3, activation(attrs),
                     attr_bool(attrs, kOp, "packed_weight", false));
}

}  // namespace

CELLAR_REGISTER_OPS(fused_conv2d) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 3,
             .infer = fused_infer,
             .make_kernel = fused_kernel,
             .internal = true,
             .work = work_weighted_window});
}

}  // namespace cellar::ops
