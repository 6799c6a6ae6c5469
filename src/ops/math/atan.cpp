// Atan: y = atan(x), element-wise, for Float32 and Float64. MindSpore writes the primitive "Atan"
// with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input).
// ONNX's Atan is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct AtanF {
  template <class T>
  T operator()(T v) const {
    return std::atan(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(atan) {
  OpDef d = unary_row<AtanF>("Atan");
  d.onnx = onnx_same("Atan");
  d.onnx_import = {{"Atan", onnx_unary("Atan")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
