// Erfc: y = 1 − erf(x), accurate where erf(x) is near 1, element-wise, for Float32 and Float64.
// MindSpore writes the primitive "Erfc" with x its only input (2.x: a PRIMITIVE_FUNCTION from
// ops_def; 1.x the same name and input). ONNX has no such op: a model holding it is not written to
// ONNX (the export names the op).
#include <cmath>

#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ErfcF {
  template <class T>
  T operator()(T v) const {
    return std::erfc(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(erfc) {
  OpDef d = unary_row<ErfcF>("Erfc");
  table.add(std::move(d));
}

}  // namespace cellar::ops
