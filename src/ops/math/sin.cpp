// Sin: y = sin(x) element-wise, for Float32 and Float64. MindSpore writes the primitive "Sin"
// with x its only input (2.x: ops_def sin_op.yaml; 1.x the same name); ONNX's Sin is the same
// function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct SinF {
  template <class T>
  T operator()(T v) const {
    return std::sin(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(sin) {
  OpDef d = unary_row<SinF>("Sin");
  d.onnx = onnx_same("Sin");
  d.onnx_import = {{"Sin", onnx_unary("Sin")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
