// ReduceSum(x; axis, keep_dims, skip_mode): the sum over `axis` (an int, a tuple, or () for every
// axis), accumulated in double (floats) or int64 (ints); over an empty axis, 0. MindSpore 2.x
// writes the PRIMITIVE_FUNCTION "ReduceSum" with axis, keep_dims and skip_mode as constant inputs
// (ops_def reduce_sum_op.yaml: skip_mode makes an empty axis mean "no reduction"); 1.x wrote
// keep_dims as a primitive attribute and axis as an input (ops.ReduceSum(keep_dims)(x, axis)).
// 2.x writes mint.sum and Tensor.sum as "SumExt" (x, dim, keepdim, dtype: ops_def
// sum_ext_op.yaml; dim None for every axis, dtype None or a MindSpore type id), read as ReduceSum
// (a dtype other than the input's, and integer inputs, which SumExt widens to Int64, are refused).
// ONNX's ReduceSum takes its axes as an input from opset 13 (an attribute before); a skip_mode
// node with no axis is written as Identity, and noop_with_empty_axes is read as one.
#include "ops/math/reduce.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(reduce_sum) {
  OpDef d = reduce_row({.op = "ReduceSum",
                        .kind = ReduceKind::kSum,
                        .dtypes = {DType::Float32, DType::Float64, DType::Int32, DType::Int64},
                        .skip_mode = true});
  d.mindir.attr_inputs = {"axis", "keep_dims", "skip_mode"};
  d.mindir.defaults = {
      {"axis", std::vector<int64_t>{}}, {"keep_dims", false}, {"skip_mode", false}};
  d.mindir.variants = {ext_reduce_variant("SumExt", /*skip_mode=*/true)};
  d.onnx = onnx_reduce_export(/*axes_as_input=*/true, /*skip_mode=*/true);
  d.onnx_import = {{"ReduceSum", onnx_reduce_import("ReduceSum", 13)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
