// Equal: y = (a == b) as Bool, element-wise with NumPy broadcasting, for Float32, Float64, Int32,
// Int64 and Bool operands of one dtype (NaN equals nothing). MindSpore (2.x: ops_def equal_op.yaml;
// 1.x alike) writes the primitive "Equal"; ONNX's Equal is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(equal) {
  OpDef d = compare_row<std::equal_to<>>(
      "Equal", {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool});
  d.onnx = onnx_same("Equal");
  d.onnx_import = {{"Equal", onnx_binary("Equal")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
