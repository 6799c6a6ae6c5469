// Div: y = a / b, element-wise with NumPy broadcasting, for floats only: MindSpore's integer Div
// rounding differs across versions and backends, and integer division by zero has no defined
// result. MindSpore (2.x: ops_def div_op.yaml; 1.x alike) writes the primitive "Div"; ONNX's Div
// broadcasts the same way: written and read one to one; its integer form (truncating, as torch's
// shape arithmetic exports `//`) is read as TruncateDiv (truncate_div.cpp).
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(div) {
  OpDef d = binary_row<std::divides>("Div", {DType::Float32, DType::Float64});
  d.onnx = onnx_same("Div");
  d.onnx_import = {{"Div", [](OnnxImporter& m) {
                      m.require_inputs(2, 2);
                      const int a = m.input(0), b = m.input(1);
                      const DType t = m.info(a).dtype;
                      const bool whole = t == DType::Int32 || t == DType::Int64;
                      m.set_output(0, m.emit1(whole ? "TruncateDiv" : "Div", {a, b}));
                    }}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
