// GreaterEqual: y = (a >= b) as Bool, element-wise with NumPy broadcasting, for Float32, Float64,
// Int32 and Int64 operands of one dtype. MindSpore writes the primitive "GreaterEqual" with both
// operands as inputs (2.x: ops_def; 1.x the same). ONNX's GreaterOrEqual is the same: written and
// read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(greater_equal) {
  OpDef d = compare_row<std::greater_equal<>>(
      "GreaterEqual", {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  d.onnx = onnx_same("GreaterOrEqual");
  d.onnx_import = {{"GreaterOrEqual", onnx_binary("GreaterEqual")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
