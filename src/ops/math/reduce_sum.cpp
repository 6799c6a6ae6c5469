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
  d.mindir.variants = {
      {.spelling = {.primitive = "SumExt",
                    .attr_inputs = {"dim", "keepdim", "dtype"},
                    .none_when_absent = {"dim", "dtype"}},
       .read =
           [](ir::Attrs& a, std::span<const TensorType> in) {
             const DType t = in.empty() ? DType::Float32 : in[0].dtype;
             if (t != DType::Float32 && t != DType::Float64 && t != DType::Int64)
               throw ValueError(ErrorCode::kUnsupported,
                                "SumExt of " + std::string(mindspore_name(t)) +
                                    " (MindSpore widens it to Int64) is not supported");
             if (has_attr(a, "dtype")) {
               // MindSpore's type ids (mindspore/core/include/ir/dtype/type_id.h).
               const int64_t id = attr_int(a, "SumExt", "dtype");
               const bool same = (id == 35 && t == DType::Int64) ||
                                 (id == 43 && t == DType::Float32) ||
                                 (id == 44 && t == DType::Float64);
               if (!same)
                 throw ValueError(ErrorCode::kUnsupported,
                                  "SumExt to a dtype other than its input's (type id " +
                                      std::to_string(id) + ") is not supported");
             }
             ir::Attrs r;
             r["axis"] =
                 has_attr(a, "dim") ? attr_ints(a, "SumExt", "dim") : std::vector<int64_t>{};
             r["keep_dims"] = attr_bool(a, "SumExt", "keepdim", false);
             r["skip_mode"] = false;
             a = std::move(r);
           },
       .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }}};
  d.onnx = onnx_reduce_export(/*axes_as_input=*/true, /*skip_mode=*/true);
  d.onnx_import = {{"ReduceSum", onnx_reduce_import("ReduceSum", 13)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
