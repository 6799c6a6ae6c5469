// Less: y = (a < b) as Bool, element-wise with NumPy broadcasting, for Float32, Float64, Int32 and
// Int64 operands of one dtype. MindSpore (2.x: ops_def less_op.yaml; 1.x alike) writes the
// primitive "Less"; ONNX's Less is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(less) {
  OpDef d = compare_row<std::less<>>("Less",
                                     {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  d.onnx = onnx_same("Less");
  d.onnx_import = {{"Less", onnx_binary("Less")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
