// Tan: y = tan(x), element-wise, for Float32 and Float64. MindSpore writes the primitive "Tan" with
// x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input). ONNX's
// Tan is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct TanF {
  template <class T>
  T operator()(T v) const {
    return std::tan(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(tan) {
  OpDef d = unary_row<TanF>("Tan");
  d.onnx = onnx_same("Tan");
  d.onnx_import = {{"Tan", onnx_unary("Tan")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
