// LessEqual: y = (a <= b) as Bool, element-wise with NumPy broadcasting, for Float32, Float64,
// Int32 and Int64 operands of one dtype. MindSpore writes the primitive "LessEqual" with both
// operands as inputs (2.x: ops_def; 1.x the same). ONNX's LessOrEqual is the same: written and read
// one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(less_equal) {
  OpDef d = compare_row<std::less_equal<>>(
      "LessEqual", {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  d.onnx = onnx_same("LessOrEqual");
  d.onnx_import = {{"LessOrEqual", onnx_binary("LessEqual")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
