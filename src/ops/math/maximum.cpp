// Maximum: y = max(a, b), element-wise with NumPy broadcasting, for Float32, Float64, Int32 and
// Int64 (b when a < b, else a: a NaN in a is kept, one in b is not). MindSpore (2.x: ops_def
// maximum_op.yaml; 1.x alike) writes the primitive "Maximum". ONNX spells it Max, which takes one
// or more inputs: written as a two-input Max, read by folding Max's inputs pairwise into Maximum
// nodes.
#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {
template <class T>
struct MaxF {
  T operator()(T a, T b) const { return a < b ? b : a; }
};
}  // namespace

CELLAR_REGISTER_OPS(maximum) {
  OpDef d = binary_row<MaxF>("Maximum");
  d.onnx = onnx_same("Max");
  d.onnx_import = {{"Max", onnx_fold_inputs("Maximum")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
