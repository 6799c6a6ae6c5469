// Divs(x; other): y = x / other, `other` a Python number, for float x (MindSpore's true division).
// MindSpore 2.x writes `tensor / 3.0` as the PRIMITIVE_FUNCTION "Divs" (ops_def divs_op.yaml) with
// the number as a constant input after x; 1.x wrote RealDiv by a constant tensor. ONNX: Div by a
// rank-0 constant of x's dtype (which reads back as Div).
#include <functional>

#include "ops/math/binary.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(divs) {
  OpDef d = scalar_row<std::divides>("Divs", {DType::Float32, DType::Float64});
  d.onnx = onnx_scalar_export("Div", "Divs");
  table.add(std::move(d));
}

}  // namespace cellar::ops
