// Pow: y = aᵇ, element-wise with NumPy broadcasting, for floats (std::pow: NaN for a negative base
// and a non-integer exponent). MindSpore (2.x: ops_def pow_op.yaml; 1.x alike) writes the primitive
// "Pow"; ONNX's Pow broadcasts the same way: written and read one to one (cellar reads only Pow
// with both operands of one dtype).
#include <cmath>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {
template <class T>
struct PowF {
  T operator()(T a, T b) const { return static_cast<T>(std::pow(a, b)); }
};
}  // namespace

CELLAR_REGISTER_OPS(pow) {
  OpDef d = binary_row<PowF>("Pow", {DType::Float32, DType::Float64});
  d.onnx = onnx_same("Pow");
  d.onnx_import = {{"Pow", onnx_binary("Pow")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
