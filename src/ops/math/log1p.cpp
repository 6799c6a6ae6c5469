// Log1p: y = log(1 + x), accurate near 0, element-wise, for Float32 and Float64. MindSpore writes
// the primitive "Log1p" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same
// name and input). ONNX has no such op: a model holding it is not written to ONNX (the export names
// the op).
#include <cmath>

#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct Log1pF {
  template <class T>
  T operator()(T v) const {
    return std::log1p(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(log1p) {
  OpDef d = unary_row<Log1pF>("Log1p");
  table.add(std::move(d));
}

}  // namespace cellar::ops
