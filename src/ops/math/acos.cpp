// ACos: y = acos(x) (NaN outside [-1, 1]); MindSpore spells the primitive with a capital C,
// element-wise, for Float32 and Float64. MindSpore writes the primitive "ACos" with x its only
// input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same name and input). ONNX's Acos is the
// same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ACosF {
  template <class T>
  T operator()(T v) const {
    return std::acos(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(acos) {
  OpDef d = unary_row<ACosF>("ACos");
  d.onnx = onnx_same("Acos");
  d.onnx_import = {{"Acos", onnx_unary("ACos")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
