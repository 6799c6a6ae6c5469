// Reciprocal: y = 1 / x (±∞ at ±0), element-wise, for floats. MindSpore writes the primitive
// "Reciprocal" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def reciprocal_op.yaml;
// 1.x the same name); ONNX's Reciprocal is the same function, written and read one to one.
#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ReciprocalF {
  template <class T>
  T operator()(T v) const {
    return T(1) / v;
  }
};
}  // namespace

CELLAR_REGISTER_OPS(reciprocal) {
  OpDef d = unary_row<ReciprocalF>("Reciprocal");
  d.onnx = onnx_same("Reciprocal");
  d.onnx_import = {{"Reciprocal", onnx_unary("Reciprocal")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
