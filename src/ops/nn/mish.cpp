// Mish: y = x · tanh(softplus(x)) = x · tanh(ln(1 + eˣ)). MindSpore writes the Python PRIMITIVE
// "Mish" (nn.Mish; no attributes, 1.x and 2.x) and, for mint.nn.functional.mish, the
// PRIMITIVE_FUNCTION "MishExt" (x its only input), read as this row. ONNX's Mish arrives in
// opset 18, so the row is written as Mul(x, Tanh(Softplus(x))) at opset 17; Mish is read as it.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct Mish {
  template <class T>
  T operator()(T v) const {
    // softplus(v) = max(v, 0) + log1p(e^−|v|), exact for every v without overflow.
    const T sp = std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
    return v * std::tanh(sp);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(mish) {
  OpDef d = unary_row<Mish>("Mish");
  d.mindir.primitive_function = false;
  d.mindir.variants = {same_function_variant("MishExt")};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string x = b.name(n.inputs.at(0)), y = b.name(n.outputs.at(0));
    const std::string sp = onnx_step(b, y + "/softplus", "Softplus", {x});
    b.add("Mul", {x, onnx_step(b, y + "/tanh", "Tanh", {sp})}, {y});
  };
  d.onnx_import = {{"Mish", onnx_unary("Mish")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
