// ReduceMin(x; axis, keep_dims): the smallest element over `axis` (an int, a tuple, or () for every
// axis; the node must carry it), for Float32, Float64, Int32 and Int64. A NaN propagates (as in
// torch and ONNX Runtime); reducing an empty axis is refused (a min over nothing has no value).
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "ReduceMin" with axis and keep_dims as constant
// inputs (ops_def reduce_min_op.yaml); 1.x wrote keep_dims as a primitive attribute and axis as
// an input. ONNX's ReduceMin takes its axes as an attribute until opset 18 (written so, opset 17),
// an input from 18; noop_with_empty_axes is read as an identity.
#include "ops/math/reduce.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(reduce_min) {
  OpDef d = reduce_row({.op = "ReduceMin",
                        .kind = ReduceKind::kMin,
                        .dtypes = {DType::Float32, DType::Float64, DType::Int32, DType::Int64},
                        .axis_required = true});
  d.mindir.attr_inputs = {"axis", "keep_dims"};
  d.mindir.defaults = {{"keep_dims", false}};
  d.onnx = onnx_reduce_export(/*axes_as_input=*/false, /*skip_mode=*/false);
  d.onnx_import = {{"ReduceMin", onnx_reduce_import("ReduceMin", 18)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
