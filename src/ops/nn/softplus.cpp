// Softplus(x; beta, threshold): y = x if beta·x > threshold else ln(1 + e^(beta·x)) / beta.
// MindSpore 2.x writes mint.nn.functional.softplus as the PRIMITIVE_FUNCTION "SoftplusExt"
// (input, beta = 1, threshold = 20 as constant inputs; ops_def softplus_ext_op.yaml) and
// ops.Softplus as the Python PRIMITIVE "Softplus" (no attributes, ln(1 + eˣ); 1.x alike). The
// row is written as Softplus when beta is 1 and threshold 20 (the two differ by less than e^−20
// there), else as SoftplusExt. ONNX's Softplus has no attributes: a node with beta 1 and
// threshold ≥ 20 is written as it, others as Where(beta·x > threshold, x, Softplus(beta·x) / beta).
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {
struct Softplus {
  double beta = 1, threshold = 20;
  template <class T>
  T operator()(T v) const {
    const double bx = beta * static_cast<double>(v);
    if (bx > threshold) return v;
    return static_cast<T>((std::max(bx, 0.0) + std::log1p(std::exp(-std::abs(bx)))) / beta);
  }
};

Softplus make_softplus(const ir::Attrs& a) {
  const double beta = attr_double(a, "Softplus", "beta", 1),
               threshold = attr_double(a, "Softplus", "threshold", 20);
  if (!std::isfinite(beta) || beta == 0)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "Softplus: attribute 'beta' must be finite and non-zero");
  if (std::isnan(threshold))
    throw ValueError(ErrorCode::kInvalidArgument, "Softplus: attribute 'threshold' is NaN");
  return {beta, threshold};
}

void export_softplus(OnnxBuilder& b, const ir::Node& n) {
  const Softplus f = onnx_checked(b, n, [&] { return make_softplus(n.attrs); });
  const std::string x = b.name(n.inputs.at(0)), y = b.name(n.outputs.at(0));
  if (f.beta == 1 && f.threshold >= 20) {
    b.add("Softplus", {x}, {y});
    return;
  }
  const DType dt = b.info(n.inputs[0]).dtype;
  const std::string bx = onnx_step(b, y + "/bx", "Mul", {x, b.scalar(y + "/beta", f.beta, dt)});
  const std::string sp = onnx_step(b, y + "/softplus", "Softplus", {bx});
  const std::string soft = onnx_step(b, y + "/soft", "Div", {sp, b.scalar(y + "/b", f.beta, dt)});
  const std::string big =
      onnx_step(b, y + "/big", "Greater", {bx, b.scalar(y + "/threshold", f.threshold, dt)});
  b.add("Where", {big, x, soft}, {y});
}
}  // namespace

CELLAR_REGISTER_OPS(softplus) {
  OpDef d = param_unary_row<Softplus>("Softplus", make_softplus);
  d.mindir.primitive = "SoftplusExt";
  d.mindir.attr_inputs = {"beta", "threshold"};
  d.mindir.defaults = {{"beta", 1.0}, {"threshold", 20.0}};
  d.mindir.variants = {{.spelling = {.primitive = "Softplus", .primitive_function = false},
                        .read = [](ir::Attrs&, std::span<const TensorType>) {},
                        .write =
                            [](ir::Attrs& a, std::span<const TensorType>) {
                              const Softplus f = make_softplus(a);
                              if (f.beta != 1 || f.threshold != 20) return false;
                              a.erase("beta");
                              a.erase("threshold");
                              return true;
                            }}};
  d.onnx = export_softplus;
  d.onnx_import = {{"Softplus", onnx_unary("Softplus")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
