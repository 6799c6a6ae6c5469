// Sqrt: y = √x (NaN below 0), element-wise, for floats. MindSpore writes the primitive "Sqrt" with
// x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def sqrt_op.yaml; 1.x the same name); ONNX's
// Sqrt is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct SqrtF {
  template <class T>
  T operator()(T v) const {
    return std::sqrt(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(sqrt) {
  OpDef d = unary_row<SqrtF>("Sqrt");
  d.onnx = onnx_same("Sqrt");
  d.onnx_import = {{"Sqrt", onnx_unary("Sqrt")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
