// Mul: y = a · b, element-wise with NumPy broadcasting, for Float32, Float64, Int32 and Int64
// operands of one dtype. MindSpore (2.x: ops_def mul_op.yaml; 1.x alike) writes the primitive
// "Mul"; ONNX's Mul broadcasts the same way: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(mul) {
  OpDef d = binary_row<std::multiplies>("Mul");
  d.onnx = onnx_same("Mul");
  d.onnx_import = {{"Mul", onnx_binary("Mul")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
