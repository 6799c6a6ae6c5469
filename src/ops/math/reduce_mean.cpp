// ReduceMean(x; axis, keep_dims): the mean over `axis` (an int, a tuple, or () for every axis),
// for floats only (MindSpore's CPU ReduceMean takes floats), accumulated in double; over an empty
// axis, NaN. MindSpore 2.x writes the PRIMITIVE_FUNCTION "ReduceMean" with axis and keep_dims as
// constant inputs (ops_def reduce_mean_op.yaml); 1.x wrote keep_dims as a primitive attribute and
// axis as an input. The row also reads ReduceSum's skip_mode (an empty axis: no reduction).
// ONNX's ReduceMean takes its axes as an attribute until opset 18 (written so, opset 17), an
// input from 18; noop_with_empty_axes is read as an identity.
#include "ops/math/reduce.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(reduce_mean) {
  OpDef d = reduce_row({.op = "ReduceMean",
                        .kind = ReduceKind::kMean,
                        .dtypes = {DType::Float32, DType::Float64},
                        .skip_mode = true});
  d.mindir.attr_inputs = {"axis", "keep_dims"};
  d.mindir.defaults = {{"axis", std::vector<int64_t>{}}, {"keep_dims", false}};
  d.onnx = onnx_reduce_export(/*axes_as_input=*/false, /*skip_mode=*/true);
  d.onnx_import = {{"ReduceMean", onnx_reduce_import("ReduceMean", 18)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
