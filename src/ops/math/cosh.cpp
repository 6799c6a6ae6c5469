// Cosh: y = cosh(x), element-wise, for Float32 and Float64. MindSpore writes the primitive "Cosh"
// with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input).
// ONNX's Cosh is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct CoshF {
  template <class T>
  T operator()(T v) const {
    return std::cosh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(cosh) {
  OpDef d = unary_row<CoshF>("Cosh");
  d.onnx = onnx_same("Cosh");
  d.onnx_import = {{"Cosh", onnx_unary("Cosh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
