// Minimum: y = min(a, b), element-wise with NumPy broadcasting, for Float32, Float64, Int32 and
// Int64 (b when b < a, else a: a NaN in a is kept, one in b is not). MindSpore (2.x: ops_def
// minimum_op.yaml; 1.x alike) writes the primitive "Minimum". ONNX spells it Min, which takes one
// or more inputs: written as a two-input Min, read by folding Min's inputs pairwise into Minimum
// nodes.
#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {
template <class T>
struct MinF {
  T operator()(T a, T b) const { return b < a ? b : a; }
};
}  // namespace

CELLAR_REGISTER_OPS(minimum) {
  OpDef d = binary_row<MinF>("Minimum");
  d.onnx = onnx_same("Min");
  d.onnx_import = {{"Min", onnx_fold_inputs("Minimum")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
