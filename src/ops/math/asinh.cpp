// Asinh: y = asinh(x), element-wise, for Float32 and Float64. MindSpore writes the primitive
// "Asinh" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and
// input). ONNX's Asinh is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct AsinhF {
  template <class T>
  T operator()(T v) const {
    return std::asinh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(asinh) {
  OpDef d = unary_row<AsinhF>("Asinh");
  d.onnx = onnx_same("Asinh");
  d.onnx_import = {{"Asinh", onnx_unary("Asinh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
