// HSwish (hard swish): y = x · min(max(x + 3, 0), 6) / 6. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "HSwish" with x its only input (ops_def hswish_op.yaml); ONNX's HardSwish
// (opset 14) is the same function, written and read one to one.
#include <algorithm>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct HSwish {
  template <class T>
  T operator()(T v) const {
    return v * std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
  }
};
}  // namespace

CELLAR_REGISTER_OPS(hswish) {
  OpDef d = unary_row<HSwish>("HSwish");
  d.onnx = onnx_same("HardSwish");
  d.onnx_import = {{"HardSwish", onnx_unary("HSwish")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
