// LeakyReLU(x; negative_slope): y = x if x ≥ 0 else negative_slope · x. MindSpore 2.x writes it as
// the PRIMITIVE_FUNCTION "LeakyReLUExt" with negative_slope a constant input (ops_def
// leaky_relu_ext_op.yaml; mint.nn.functional.leaky_relu), and the row is written so; nn.LeakyReLU
// and ops.leaky_relu export no primitive of their own (Maximum(alpha · x, x)), nor did 1.x. ONNX's
// LeakyRelu(alpha) is the same op, written and read one to one.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct LeakyReLU {
  double slope = 0.01;
  template <class T>
  T operator()(T v) const {
    return v >= T(0) ? v : static_cast<T>(slope) * v;
  }
};

LeakyReLU make_leaky_relu(const ir::Attrs& a) {
  const double slope = attr_double(a, "LeakyReLU", "negative_slope", 0.01);
  if (!std::isfinite(slope))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "LeakyReLU: attribute 'negative_slope' must be finite");
  return {slope};
}
}  // namespace

CELLAR_REGISTER_OPS(leaky_relu) {
  OpDef d = param_unary_row<LeakyReLU>("LeakyReLU", make_leaky_relu);
  d.mindir.primitive = "LeakyReLUExt";
  d.mindir.attr_inputs = {"negative_slope"};
  d.mindir.defaults = {{"negative_slope", 0.01}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const double slope = onnx_checked(b, n, [&] { return make_leaky_relu(n.attrs).slope; });
    b.add("LeakyRelu", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"alpha", static_cast<float>(slope)}});
  };
  d.onnx_import = {{"LeakyRelu", [](OnnxImporter& m) {
                      m.require_inputs(1, 1);
                      m.set_output(0, m.emit1("LeakyReLU", {m.input(0)},
                                              {{"negative_slope", m.attr_float("alpha", 0.01)}}));
                    }}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
