// ReLU6: y = min(max(x, 0), 6). MindSpore 2.x writes it as the PRIMITIVE_FUNCTION "ReLU6" with x
// its only input (ops_def relu6_op.yaml), as 1.x did; ONNX has no ReLU6, so it is written as
// Clip(x, 0, 6) (min and max are inputs from opset 11), which reads back as Maximum + Minimum.
#include <algorithm>

#include "ops/onnx_spelling.h"
#include "ops/unary.h"

namespace cellar::ops {

namespace {
struct ReLU6 {
  template <class T>
  T operator()(T v) const {
    return std::min(std::max(v, T(0)), T(6));
  }
};
}  // namespace

CELLAR_REGISTER_OPS(relu6) {
  OpDef d = unary_row<ReLU6>("ReLU6");
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const DType dt = b.info(n.inputs.at(0)).dtype;
    const std::string y = b.name(n.outputs.at(0));
    b.add("Clip", {b.name(n.inputs[0]), b.scalar(y + "/min", 0, dt), b.scalar(y + "/max", 6, dt)},
          {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
