// Abs: y = |x|, for float and signed integer dtypes (the most negative integer stays itself, as
// two's complement wraps). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Abs" with x its only
// input (ops_def abs_op.yaml), as 1.x did; ONNX's Abs is the same op, written and read one to one.
#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct Abs {
  template <class T>
  T operator()(T v) const {
    return v < T(0) ? T(-v) : v;
  }
};
}  // namespace

CELLAR_REGISTER_OPS(abs) {
  OpDef d = unary_row<Abs, UnaryDTypes::kNumeric>("Abs");
  d.onnx = onnx_same("Abs");
  d.onnx_import = {{"Abs", onnx_unary("Abs")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
