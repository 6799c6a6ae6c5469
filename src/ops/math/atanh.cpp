// Atanh: y = atanh(x) (±inf at ±1, NaN beyond), element-wise, for Float32 and Float64. MindSpore
// writes the primitive "Atanh" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x
// the same name and input). ONNX's Atanh is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct AtanhF {
  template <class T>
  T operator()(T v) const {
    return std::atanh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(atanh) {
  OpDef d = unary_row<AtanhF>("Atanh");
  d.onnx = onnx_same("Atanh");
  d.onnx_import = {{"Atanh", onnx_unary("Atanh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
