// Expm1: y = exp(x) − 1, accurate near 0, element-wise, for Float32 and Float64. MindSpore writes
// the primitive "Expm1" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same
// name and input). ONNX has no such op: a model holding it is not written to ONNX (the export names
// the op).
#include <cmath>

#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct Expm1F {
  template <class T>
  T operator()(T v) const {
    return std::expm1(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(expm1) {
  OpDef d = unary_row<Expm1F>("Expm1");
  table.add(std::move(d));
}

}  // namespace cellar::ops
