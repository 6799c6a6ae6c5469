// Ceil: y = ceil(x), element-wise, for Float32 and Float64. MindSpore writes the primitive "Ceil"
// with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input).
// ONNX's Ceil is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct CeilF {
  template <class T>
  T operator()(T v) const {
    return std::ceil(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(ceil) {
  OpDef d = unary_row<CeilF>("Ceil");
  d.onnx = onnx_same("Ceil");
  d.onnx_import = {{"Ceil", onnx_unary("Ceil")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
