// Div: y = a / b, element-wise with NumPy broadcasting, for floats only: MindSpore's integer Div
// rounding differs across versions and backends, and integer division by zero has no defined
// result. MindSpore (2.x: ops_def div_op.yaml; 1.x alike) writes the primitive "Div"; ONNX's Div
// broadcasts the same way: written and read one to one.
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(div) {
  OpDef d = binary_row<std::divides>("Div", {DType::Float32, DType::Float64});
  d.onnx = onnx_same("Div");
  d.onnx_import = {{"Div", onnx_binary("Div")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
