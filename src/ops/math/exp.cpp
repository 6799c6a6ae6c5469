// Exp: y = eˣ, element-wise, for floats. MindSpore writes the primitive "Exp" with x its only input
// (2.x: a PRIMITIVE_FUNCTION from ops_def exp_op.yaml; 1.x the same name); ONNX's Exp is the same
// function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ExpF {
  template <class T>
  T operator()(T v) const {
    return std::exp(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(exp) {
  OpDef d = unary_row<ExpF>("Exp");
  d.onnx = onnx_same("Exp");
  d.onnx_import = {{"Exp", onnx_unary("Exp")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
