// Muls(x; other): y = x · other, `other` a Python number. MindSpore 2.x writes `tensor * 0.5` as
// the PRIMITIVE_FUNCTION "Muls" (ops_def muls_op.yaml) with the number as a constant input after
// x; MindSpore 1.x wrote Mul with a constant tensor instead. ONNX has no scalar form: written as
// Mul by a rank-0 constant of x's dtype (which reads back as Mul).
#include <functional>

#include "ops/math/binary.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(muls) {
  OpDef d = scalar_row<std::multiplies>("Muls", kBinaryDTypes);
  d.onnx = onnx_scalar_export("Mul", "Muls");
  table.add(std::move(d));
}

}  // namespace cellar::ops
