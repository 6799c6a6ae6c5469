// ReduceProd(x; axis, keep_dims): the product of the elements over `axis` (an int, a tuple, or ()
// for every axis; the node must carry it), for Float32, Float64, Int32 and Int64. Floats multiply
// in double, integers wrap; over nothing the product is 1. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "ReduceProd" with axis and keep_dims as constant inputs (ops_def
// reduce_prod_op.yaml); 1.x wrote keep_dims as a primitive attribute and axis as an input. ONNX's
// ReduceProd takes its axes as an attribute until opset 18 (written so, opset 17), an input from
// 18; noop_with_empty_axes is read as an identity. 2.x writes ops.prod, Tensor.prod and mint.prod
// as "ProdExt" (x, dim, keepdim, dtype: ops_def prod_ext_op.yaml; dim None for every axis, dtype
// None or a MindSpore type id), read as ReduceProd (a dtype other than the input's, and Int32
// inputs, which ProdExt widens to Int64, are refused).
#include "ops/math/reduce.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(reduce_prod) {
  OpDef d = reduce_row({.op = "ReduceProd",
                        .kind = ReduceKind::kProd,
                        .dtypes = {DType::Float32, DType::Float64, DType::Int32, DType::Int64},
                        .axis_required = true});
  d.mindir.attr_inputs = {"axis", "keep_dims"};
  d.mindir.defaults = {{"keep_dims", false}};
  d.mindir.variants = {ext_reduce_variant("ProdExt", /*skip_mode=*/false)};
  d.onnx = onnx_reduce_export(/*axes_as_input=*/false, /*skip_mode=*/false);
  d.onnx_import = {{"ReduceProd", onnx_reduce_import("ReduceProd", 18)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
