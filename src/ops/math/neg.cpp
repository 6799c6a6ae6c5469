// Neg: y = −x, element-wise, for floats and signed ints (Int8 to Int64). MindSpore writes the
// primitive "Neg" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def neg_op.yaml; 1.x
// the same name); ONNX's Neg is the same function, written and read one to one.
#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct NegF {
  template <class T>
  T operator()(T v) const {
    return static_cast<T>(-v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(neg) {
  OpDef d = unary_row<NegF, UnaryDTypes::kNumeric>("Neg");
  d.onnx = onnx_same("Neg");
  d.onnx_import = {{"Neg", onnx_unary("Neg")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
