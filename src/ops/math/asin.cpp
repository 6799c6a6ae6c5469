// Asin: y = asin(x) (NaN outside [-1, 1]), element-wise, for Float32 and Float64. MindSpore writes
// the primitive "Asin" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same
// name and input). ONNX's Asin is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct AsinF {
  template <class T>
  T operator()(T v) const {
    return std::asin(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(asin) {
  OpDef d = unary_row<AsinF>("Asin");
  d.onnx = onnx_same("Asin");
  d.onnx_import = {{"Asin", onnx_unary("Asin")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
