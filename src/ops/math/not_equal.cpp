// NotEqual: y = (a != b (a NaN differs from everything)) as Bool, element-wise with NumPy
// broadcasting, for Float32, Float64, Int32, Int64 or Bool operands of one dtype. MindSpore writes
// the primitive "NotEqual" with both operands as inputs (2.x: ops_def; 1.x the same). ONNX has no
// NotEqual: written as Not(Equal(a, b)).
#include <functional>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(not_equal) {
  OpDef d = compare_row<std::not_equal_to<>>(
      "NotEqual", {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool});
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string eq = b.fresh(b.name(n.outputs.at(0)) + "/equal");
    b.add("Equal", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {eq});
    b.add("Not", {eq}, {b.name(n.outputs.at(0))});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
