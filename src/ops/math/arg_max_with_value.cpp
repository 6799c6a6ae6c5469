// ArgMaxWithValue(x; axis, keep_dims) → (index, value): the index (Int64 as MindSpore 2.x gives
// it; 1.x gave Int32, not read yet; the first on ties) and
// the value of the largest element along `axis` (default 0), the axis removed unless keep_dims.
// MindSpore 2.x writes ops.max(x, axis) and ops.ArgMaxWithValue as the PRIMITIVE_FUNCTION
// "ArgMaxWithValue" with axis and keep_dims as constant inputs (ops_def
// argmax_with_value_op.yaml); 1.x wrote both as primitive attributes. ONNX has no such pair:
// written as ArgMax and ReduceMax (axes an attribute, opset 17). ArgMinWithValue (ops.min(x, axis))
// is the same row for the smallest element: MindSpore's "ArgMinWithValue" (same arguments and
// defaults), ONNX's ArgMin and ReduceMin.
#include "ops/math/arg_max.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

template <class T, bool kMin>
Kernel amv_kernel(ArgMaxPlan p) {
  return [p](std::span<const Tensor> x, std::span<Tensor> y) {
    int64_t* idx = y[0].data<int64_t>();
    T* val = y[1].data<T>();
    arg_max_run<T, kMin>(p, x[0].data<T>(), [&](int64_t o, int64_t k, T v) {
      idx[o] = k;
      val[o] = v;
    });
  };
}

ArgMaxPlan plan(const char* op, const TensorType& x, const ir::Attrs& a) {
  return arg_max_plan(op, x, a, attr_bool(a, op, "keep_dims", false), 0);
}

template <bool kMin>
OpDef with_value_row() {
  const char* const kOp = kMin ? "ArgMinWithValue" : "ArgMaxWithValue";
  OpDef d{.name = kOp,
          .num_outputs = 2,
          .infer =
              [kOp](std::span<const TensorType> in, const ir::Attrs& attrs) {
                const ArgMaxPlan p = plan(kOp, in[0], attrs);
                return std::vector<TensorType>{{DType::Int64, p.out}, {in[0].dtype, p.out}};
              },
          .make_kernel = [kOp](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            ArgMaxPlan p = plan(kOp, in[0], attrs);
            switch (in[0].dtype) {
              case DType::Float64:
                return amv_kernel<double, kMin>(std::move(p));
              case DType::Int32:
                return amv_kernel<int32_t, kMin>(std::move(p));
              case DType::Int64:
                return amv_kernel<int64_t, kMin>(std::move(p));
              default:
                return amv_kernel<float, kMin>(std::move(p));
            }
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"axis", "keep_dims"},
                     .defaults = {{"axis", int64_t{0}}, {"keep_dims", false}}}};
  d.onnx = [kOp](OnnxBuilder& b, const ir::Node& n) {
    const auto [axis, keep] = onnx_checked(b, n, [&] {
      return std::pair{attr_int(n.attrs, kOp, "axis", 0),
                       attr_bool(n.attrs, kOp, "keep_dims", false)};
    });
    const std::string idx = b.name(n.outputs.at(0)), val = b.name(n.outputs.at(1));
    b.add(kMin ? "ArgMin" : "ArgMax", {b.name(n.inputs.at(0))}, {idx},
          {{"axis", axis}, {"keepdims", int64_t{keep}}});
    b.add(kMin ? "ReduceMin" : "ReduceMax", {b.name(n.inputs[0])}, {val},
          {{"axes", std::vector<int64_t>{axis}}, {"keepdims", int64_t{keep}}});
  };
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(arg_max_with_value) {
  table.add(with_value_row<false>());
  table.add(with_value_row<true>());
}

}  // namespace cellar::ops
