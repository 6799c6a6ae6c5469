// Greater: y = (a > b) as Bool, element-wise with NumPy broadcasting, for Float32, Float64, Int32
// and Int64 operands of one dtype. MindSpore (2.x: ops_def greater_op.yaml; 1.x alike) writes the
// primitive "Greater"; ONNX's Greater is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(greater) {
  OpDef d = compare_row<std::greater<>>(
      "Greater", {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  d.onnx = onnx_same("Greater");
  d.onnx_import = {{"Greater", onnx_binary("Greater")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
