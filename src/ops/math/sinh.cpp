// Sinh: y = sinh(x), element-wise, for Float32 and Float64. MindSpore writes the primitive "Sinh"
// with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input).
// ONNX's Sinh is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct SinhF {
  template <class T>
  T operator()(T v) const {
    return std::sinh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(sinh) {
  OpDef d = unary_row<SinhF>("Sinh");
  d.onnx = onnx_same("Sinh");
  d.onnx_import = {{"Sinh", onnx_unary("Sinh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
