// SeLU: y = scale · (x if x > 0 else alpha · (eˣ − 1)) with MindSpore's (and ONNX's) constants
// alpha = 1.67326324…, scale = 1.05070098…. MindSpore writes the Python PRIMITIVE "SeLU" (nn.SeLU;
// no attributes) and, for mint.nn.functional.selu, the PRIMITIVE_FUNCTION "SeLUExt", read as this
// row. ONNX: written as Selu with those constants; Selu is read as this row when its alpha and
// gamma are them (within float rounding), else as gamma · Elu(x, alpha).
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
constexpr double kAlpha = 1.6732632423543772848170429916717;
constexpr double kScale = 1.0507009873554804934193349852946;

struct SeLU {
  template <class T>
  T operator()(T v) const {
    return static_cast<T>(kScale) * (v > T(0) ? v : static_cast<T>(kAlpha) * std::expm1(v));
  }
};

void import_selu(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const double alpha = m.attr_float("alpha", kAlpha), gamma = m.attr_float("gamma", kScale);
  const int x = m.input(0);
  if (std::abs(alpha - kAlpha) < 1e-6 && std::abs(gamma - kScale) < 1e-6) {
    m.set_output(0, m.emit1("SeLU", {x}));
    return;
  }
  const int e = m.emit1("Elu", {x}, {{"alpha", alpha}});
  m.set_output(0,
               m.emit1("Mul", {e, m.constant(Tensor::scalar<double>(gamma).to(m.info(x).dtype))}));
}
}  // namespace

CELLAR_REGISTER_OPS(selu) {
  OpDef d = unary_row<SeLU>("SeLU");
  d.mindir.primitive_function = false;
  d.mindir.variants = {same_function_variant("SeLUExt")};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    b.add("Selu", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"alpha", static_cast<float>(kAlpha)}, {"gamma", static_cast<float>(kScale)}});
  };
  d.onnx_import = {{"Selu", import_selu}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
