// Tanh: y = tanh(x). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Tanh" with x its only input
// (ops_def tanh_op.yaml), as 1.x did; ONNX's Tanh is the same op, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct Tanh {
  template <class T>
  T operator()(T v) const {
    return std::tanh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(tanh) {
  OpDef d = unary_row<Tanh>("Tanh");
  d.onnx = onnx_same("Tanh");
  d.onnx_import = {{"Tanh", onnx_unary("Tanh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
