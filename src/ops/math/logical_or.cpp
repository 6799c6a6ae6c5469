// LogicalOr: y = (a || b) as Bool, element-wise with NumPy broadcasting, for Bool operands.
// MindSpore writes the primitive "LogicalOr" with both operands as inputs (2.x: ops_def; 1.x the
// same). ONNX's Or is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(logical_or) {
  OpDef d = compare_row<std::logical_or<>>("LogicalOr", {DType::Bool});
  d.onnx = onnx_same("Or");
  d.onnx_import = {{"Or", onnx_binary("LogicalOr")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
