// HSigmoid (hard sigmoid): y = min(max(x + 3, 0), 6) / 6. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "HSigmoid" with x its only input (ops_def hsigmoid_op.yaml; nn.HSigmoid).
// ONNX: written as HardSigmoid(alpha = 1/6, beta = 0.5); HardSigmoid is read as this row when its
// alpha and beta are those (within float rounding), else as max(0, min(1, alpha·x + beta)) in
// Mul/Add/Maximum/Minimum.
#include <algorithm>
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct HSigmoid {
  template <class T>
  T operator()(T v) const {
    return std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
  }
};

void import_hard_sigmoid(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const double alpha = m.attr_float("alpha", 0.2), beta = m.attr_float("beta", 0.5);
  const int x = m.input(0);
  if (std::abs(alpha - 1.0 / 6) < 1e-7 && std::abs(beta - 0.5) < 1e-7) {
    m.set_output(0, m.emit1("HSigmoid", {x}));
    return;
  }
  const DType dt = m.info(x).dtype;
  auto c = [&](double v) { return m.constant(Tensor::scalar<double>(v).to(dt)); };
  const int lin = m.emit1("Add", {m.emit1("Mul", {x, c(alpha)}), c(beta)});
  m.set_output(0, m.emit1("Maximum", {m.emit1("Minimum", {lin, c(1)}), c(0)}));
}
}  // namespace

CELLAR_REGISTER_OPS(hsigmoid) {
  OpDef d = unary_row<HSigmoid>("HSigmoid");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    b.add("HardSigmoid", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"alpha", static_cast<float>(1.0 / 6)}, {"beta", 0.5f}});
  };
  d.onnx_import = {{"HardSigmoid", import_hard_sigmoid}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
