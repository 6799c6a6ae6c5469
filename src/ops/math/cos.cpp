// Cos: y = cos(x) element-wise, for Float32 and Float64. MindSpore writes the primitive "Cos"
// with x its only input (2.x: ops_def cos_op.yaml; 1.x the same name); ONNX's Cos is the same
// function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct CosF {
  template <class T>
  T operator()(T v) const {
    return std::cos(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(cos) {
  OpDef d = unary_row<CosF>("Cos");
  d.onnx = onnx_same("Cos");
  d.onnx_import = {{"Cos", onnx_unary("Cos")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
