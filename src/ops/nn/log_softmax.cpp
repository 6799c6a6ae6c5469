// LogSoftmax over one axis: y = x − log Σ e^x along `axis` (ops/nn/softmax.h computes it stably,
// in double). MindSpore's `axis` is an int (a one-element tuple is read too). MindSpore 2.x
// writes the PRIMITIVE_FUNCTION "LogSoftmax" with `axis` a constant input (ops_def
// log_softmax_op.yaml); 1.x as a primitive attribute. ONNX's LogSoftmax (opset 13: one int axis)
// is written and read one to one.
#include "ops/nn/softmax.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(log_softmax) {
  OpDef d = softmax_row<true>("LogSoftmax");
  d.mindir = {
      .primitive = "LogSoftmax", .attr_inputs = {"axis"}, .defaults = {{"axis", int64_t{-1}}}};
  d.onnx = onnx_softmax_export("LogSoftmax");
  d.onnx_import = {{"LogSoftmax", onnx_softmax_import("LogSoftmax")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
