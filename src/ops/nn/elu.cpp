// Elu(x; alpha): y = x if x > 0 else alpha · (eˣ − 1). MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "Elu" with alpha a constant input (ops_def elu_op.yaml; nn.ELU, ops.elu),
// 1.x the primitive "Elu" with the attribute alpha; mint.nn.functional.elu writes "EluExt"
// (input, alpha), read as this row. MindSpore 2.10's Elu refuses any alpha but 1.0 ("alpha must
// be 1.0f"), so a node with another alpha is written as EluExt. ONNX's Elu(alpha) is the same op,
// written and read one to one.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct Elu {
  double alpha = 1.0;
  template <class T>
  T operator()(T v) const {
    return v > T(0) ? v : static_cast<T>(alpha) * std::expm1(v);
  }
};

Elu make_elu(const ir::Attrs& a) {
  const double alpha = attr_double(a, "Elu", "alpha", 1.0);
  if (!std::isfinite(alpha))
    throw ValueError(ErrorCode::kInvalidArgument, "Elu: attribute 'alpha' must be finite");
  return {alpha};
}
}  // namespace

CELLAR_REGISTER_OPS(elu) {
  OpDef d = param_unary_row<Elu>("Elu", make_elu);
  d.mindir.attr_inputs = {"alpha"};
  d.mindir.defaults = {{"alpha", 1.0}};
  d.mindir.variants = {
      {.spelling = {.primitive = "EluExt", .attr_inputs = {"alpha"}, .defaults = {{"alpha", 1.0}}},
       .read = [](ir::Attrs&, std::span<const TensorType>) {},
       .write =
           [](ir::Attrs& a, std::span<const TensorType>) {
             return attr_double(a, "Elu", "alpha", 1.0) != 1.0;
           }}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const double alpha = onnx_checked(b, n, [&] { return make_elu(n.attrs).alpha; });
    b.add("Elu", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"alpha", static_cast<float>(alpha)}});
  };
  d.onnx_import = {
      {"Elu", [](OnnxImporter& m) {
         m.require_inputs(1, 1);
         m.set_output(0, m.emit1("Elu", {m.input(0)}, {{"alpha", m.attr_float("alpha", 1.0)}}));
       }}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
