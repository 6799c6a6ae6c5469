// GeLU, MindSpore's primitive: the tanh approximation
// y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); Float32 in SIMD lanes as x / (1 + e^(−2u))
// (ops/vec_math.h).
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "GeLU" with x its only input (ops_def gelu_op.yaml),
// as 1.x did; nn.GELU(approximate=False) is not this primitive but a composite of Div, Erf, Add
// and Mul (ops::gelu(x, false) builds the same). ONNX's Gelu arrives only in opset 20, so the row
// is written as that formula in Mul/Add/Tanh; Gelu is read as this row (approximate="tanh") or as
// the exact erf composite (approximate="none").
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"
#include "ops/vec_math.h"

namespace cellar::ops {

namespace {

struct GeLU {
  template <class T>
  T operator()(T v) const {
    const T c = static_cast<T>(0.7978845608028654);  // √(2/π)
    return T(0.5) * v * (T(1) + std::tanh(c * (v + static_cast<T>(0.044715) * v * v * v)));
  }
};

void export_gelu(OnnxBuilder& b, const ir::Node& n) {
  const int xv = n.inputs.at(0);
  const DType dt = b.info(xv).dtype;
  const std::string x = b.name(xv), y = b.name(n.outputs.at(0));
  auto tmp = [&](const std::string& s) { return b.fresh(y + "/" + s); };
  const std::string x2 = tmp("x2"), x3 = tmp("x3"), cx3 = tmp("cx3"), inner = tmp("inner"),
                    scaled = tmp("scaled"), th = tmp("tanh"), one_p = tmp("one_plus"),
                    half_x = tmp("half_x");
  b.add("Mul", {x, x}, {x2});
  b.add("Mul", {x2, x}, {x3});
  b.add("Mul", {x3, b.scalar(y + "/c", 0.044715, dt)}, {cx3});
  b.add("Add", {x, cx3}, {inner});
  b.add("Mul", {inner, b.scalar(y + "/sqrt_2_over_pi", std::sqrt(2.0 / M_PI), dt)}, {scaled});
  b.add("Tanh", {scaled}, {th});
  b.add("Add", {th, b.scalar(y + "/one", 1.0, dt)}, {one_p});
  b.add("Mul", {x, b.scalar(y + "/half", 0.5, dt)}, {half_x});
  b.add("Mul", {half_x, one_p}, {y});
}

void import_gelu(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const std::string approx = m.attr_string("approximate", "none");
  const int x = m.input(0);
  if (approx == "tanh") {
    m.set_output(0, m.emit1("GeLU", {x}));
    return;
  }
  if (approx != "none") m.fail("approximate must be 'none' or 'tanh', not '" + approx + "'");
  // Exact: x · (erf(x / √2) + 1) · 0.5, as ops::gelu(x, false) and MindSpore build it.
  const DType dt = m.info(x).dtype;
  auto c = [&](double v) { return m.constant(Tensor::scalar<double>(v).to(dt)); };
  const int e = m.emit1("Erf", {m.emit1("Div", {x, c(std::sqrt(2.0))})});
  m.set_output(0, m.emit1("Mul", {m.emit1("Mul", {x, m.emit1("Add", {e, c(1.0)})}), c(0.5)}));
}

}  // namespace

CELLAR_REGISTER_OPS(gelu) {
  OpDef d = unary_row<GeLU>("GeLU");
  d.make_kernel = vec_make_kernel(&gelu_simd, d.make_kernel);  // Float32 in SIMD lanes
  d.onnx = export_gelu;
  d.onnx_import = {{"Gelu", import_gelu}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
