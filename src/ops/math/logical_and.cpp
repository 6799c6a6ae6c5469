// LogicalAnd: y = (a && b) as Bool, element-wise with NumPy broadcasting, for Bool operands.
// MindSpore writes the primitive "LogicalAnd" with both operands as inputs (2.x: ops_def; 1.x the
// same). ONNX's And is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(logical_and) {
  OpDef d = compare_row<std::logical_and<>>("LogicalAnd", {DType::Bool});
  d.onnx = onnx_same("And");
  d.onnx_import = {{"And", onnx_binary("LogicalAnd")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
