// Square: y = x · x (integers wrap as two's complement), element-wise, for Float32, Float64 and
// signed integers. MindSpore writes the primitive "Square" with x its only input (2.x: a
// PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input). ONNX has no Square: written as
// Mul(x, x).
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct SquareF {
  template <class T>
  T operator()(T v) const {
    return T(v * v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(square) {
  OpDef d = unary_row<SquareF, UnaryDTypes::kNumeric>("Square");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string x = b.name(n.inputs.at(0));
    b.add("Mul", {x, x}, {b.name(n.outputs.at(0))});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
