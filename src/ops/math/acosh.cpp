// Acosh: y = acosh(x) (NaN below 1), element-wise, for Float32 and Float64. MindSpore writes the
// primitive "Acosh" with x its only input (2.x: a PRIMITIVE_FUNCTION from ops_def; 1.x the same
// name and input). ONNX's Acosh is the same function, written and read one to one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct AcoshF {
  template <class T>
  T operator()(T v) const {
    return std::acosh(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(acosh) {
  OpDef d = unary_row<AcoshF>("Acosh");
  d.onnx = onnx_same("Acosh");
  d.onnx_import = {{"Acosh", onnx_unary("Acosh")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
