// ReLU: y = max(x, 0) (NaN gives 0), for float and signed integer dtypes. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "ReLU" with x its only input (ops_def relu_op.yaml), as 1.x did; ONNX's Relu
// is the same op, written and read one to one.
#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ReLU {
  template <class T>
  T operator()(T v) const {
    return v > T(0) ? v : T(0);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(relu) {
  OpDef d = unary_row<ReLU, UnaryDTypes::kNumeric>("ReLU");
  d.onnx = onnx_same("Relu");
  d.onnx_import = {{"Relu", onnx_unary("ReLU")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
