// Softmax over one axis: y = e^x / Σ e^x along `axis` (ops/nn/softmax.h computes it stably, in
// double). MindSpore's `axis` is a tuple (ops.Softmax stores an int as (axis,)); one axis is
// supported, as on MindSpore's CPU. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Softmax" with
// `axis` a constant input (ops_def softmax_op.yaml); 1.x as a primitive attribute. ONNX's Softmax
// (opset 13: one int axis) is written and read one to one.
#include "ops/nn/softmax.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(softmax) {
  OpDef d = softmax_row<false>("Softmax");
  d.mindir = {.primitive = "Softmax",
              .attr_inputs = {"axis"},
              .defaults = {{"axis", std::vector<int64_t>{-1}}}};
  d.onnx = onnx_softmax_export("Softmax");
  d.onnx_import = {{"Softmax", onnx_softmax_import("Softmax")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
