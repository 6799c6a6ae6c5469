// Erf: y = erf(x), the Gauss error function (GeLU's exact form uses it), element-wise, for floats.
// MindSpore writes the primitive "Erf" with x its only input (2.x: a PRIMITIVE_FUNCTION from
// ops_def erf_op.yaml; 1.x the same name); ONNX's Erf is the same function, written and read one to
// one.
#include <cmath>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ErfF {
  template <class T>
  T operator()(T v) const {
    return std::erf(v);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(erf) {
  OpDef d = unary_row<ErfF>("Erf");
  d.onnx = onnx_same("Erf");
  d.onnx_import = {{"Erf", onnx_unary("Erf")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
