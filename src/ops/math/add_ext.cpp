// AddExt(a, b; alpha): y = a + alpha · b with NumPy broadcasting (alpha a number, default 1).
// MindSpore 2.x writes mint.add as the PRIMITIVE_FUNCTION "AddExt" (ops_def add_ext_op.yaml:
// input, other, alpha, every one an input), and `x += y` on a tensor as "InplaceAddExt" with the
// same three arguments and a trailing UMonad (dropped by the reader): every residual add of a
// mindcv model exported by 2.10. Both read here; AddExt is written. Inference has no aliasing to
// honour, so the in-place form is this op. ONNX: Add (after a Mul when alpha is not 1).
#include "ops/math/binary.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(add_ext) {
  OpDef d = alpha_row("AddExt", 1);
  d.mindir.legacy_primitives = {"InplaceAddExt"};
  d.onnx = onnx_alpha_export("Add", "AddExt");
  table.add(std::move(d));
}

}  // namespace cellar::ops
