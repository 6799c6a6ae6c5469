// Add: y = a + b, element-wise with NumPy broadcasting, for Float32, Float64, Int32 and Int64
// operands of one dtype. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Add" (ops_def add_op.yaml);
// 1.2 and later 1.x write "Add" too, 1.0 and 1.1 wrote it as "TensorAdd" (read, never written).
// ONNX's Add broadcasts the same way: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(add) {
  OpDef d = binary_row<std::plus>("Add");
  d.mindir.legacy_primitives = {"TensorAdd"};  // MindSpore 1.0/1.1 (renamed Add in 1.2)
  d.onnx = onnx_same("Add");
  d.onnx_import = {{"Add", onnx_binary("Add")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
