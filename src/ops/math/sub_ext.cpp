// SubExt(a, b; alpha): y = a − alpha · b with NumPy broadcasting (alpha a number, default 1).
// MindSpore 2.x writes mint.sub as the PRIMITIVE_FUNCTION "SubExt" (ops_def sub_ext_op.yaml:
// input, other, alpha, every one an input; "InplaceSubExt" the in-place form, read here too).
// ONNX: Sub (after a Mul when alpha is not 1).
#include "ops/math/binary.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(sub_ext) {
  OpDef d = alpha_row("SubExt", -1);
  d.mindir.legacy_primitives = {"InplaceSubExt"};
  d.onnx = onnx_alpha_export("Sub", "SubExt");
  table.add(std::move(d));
}

}  // namespace cellar::ops
