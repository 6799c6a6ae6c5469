// LogicalXor: y = (a != b on booleans) as Bool, element-wise with NumPy broadcasting, for Bool
// operands. MindSpore writes the primitive "LogicalXor" with both operands as inputs (2.x: ops_def;
// 1.x the same). ONNX's Xor is the same: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {
struct XorF {
  template <class T>
  bool operator()(T a, T b) const {
    return (a != T(0)) != (b != T(0));
  }
};
}  // namespace

CELLAR_REGISTER_OPS(logical_xor) {
  OpDef d = compare_row<XorF>("LogicalXor", {DType::Bool});
  d.onnx = onnx_same("Xor");
  d.onnx_import = {{"Xor", onnx_binary("LogicalXor")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
