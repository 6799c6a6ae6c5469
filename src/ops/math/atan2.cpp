// Atan2: y = atan2(a, b), the angle of the point (b, a), element-wise with NumPy broadcasting, for
// Float32 and Float64 operands of one dtype. MindSpore writes the primitive "Atan2" with both
// operands as inputs (2.x: ops.atan2; 1.x the same); mint.atan2 writes "Atan2Ext", the same
// function. ONNX has no Atan2: a model holding it is not written to ONNX (the export names the op).
#include <cmath>

#include "ops/math/binary.h"

namespace cellar::ops {

namespace {
template <class T>
struct Atan2F {
  T operator()(T a, T b) const { return std::atan2(a, b); }
};
}  // namespace

CELLAR_REGISTER_OPS(atan2) {
  OpDef d = binary_row<Atan2F>("Atan2", {DType::Float32, DType::Float64});
  table.add(std::move(d));
  OpDef ext = binary_row<Atan2F>("Atan2Ext", {DType::Float32, DType::Float64});
  table.add(std::move(ext));
}

}  // namespace cellar::ops
