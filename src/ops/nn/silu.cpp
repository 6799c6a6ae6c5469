// SiLU (swish): y = x · sigmoid(x). MindSpore 2.x writes the PRIMITIVE_FUNCTION "SiLU" with x its
// only input (ops_def silu_op.yaml; nn.SiLU); ONNX has no SiLU at opset 17, so it is written as
// Mul(x, Sigmoid(x)), which reads back as those two rows.
#include <cmath>

#include "ops/nn/activation.h"
#include "ops/vec_math.h"

namespace cellar::ops {

namespace {
struct SiLU {
  template <class T>
  T operator()(T v) const {
    return v / (T(1) + std::exp(-v));
  }
};
}  // namespace

CELLAR_REGISTER_OPS(silu) {
  OpDef d = unary_row<SiLU>("SiLU");
  d.make_kernel = vec_make_kernel(&silu_simd, d.make_kernel);  // Float32 in SIMD lanes
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string x = b.name(n.inputs.at(0)), y = b.name(n.outputs.at(0));
    b.add("Mul", {x, onnx_step(b, y + "/sigmoid", "Sigmoid", {x})}, {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
