// Sub: y = a − b, element-wise with NumPy broadcasting, for Float32, Float64, Int32 and Int64
// operands of one dtype. MindSpore (2.x: ops_def sub_op.yaml; 1.x alike) writes the primitive
// "Sub"; ONNX's Sub broadcasts the same way: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(sub) {
  OpDef d = binary_row<std::minus>("Sub");
  d.onnx = onnx_same("Sub");
  d.onnx_import = {{"Sub", onnx_binary("Sub")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
