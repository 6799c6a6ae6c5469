// Argmax(x; axis, output_type): the index of the largest element along `axis` (default −1; the
// first on ties), the axis removed, as Int32 or Int64 (`output_type`, MindSpore's type id: 34
// Int32, the default, or 35 Int64). MindSpore 2.x writes ops.Argmax and ops.argmax as the
// PRIMITIVE_FUNCTION "Argmax" with axis and output_type as constant inputs (ops_def
// argmax_op.yaml); 1.x wrote both as primitive attributes. ONNX's ArgMax (Int64, keepdims,
// select_last_index) is written with keepdims 0 (and a Cast to Int32 when asked) and read as
// this op (and an ExpandDims for keepdims 1). Argmin is the same row for the smallest element:
// MindSpore's "Argmin" (same arguments and defaults), ONNX's ArgMin.
#include "ops/math/arg_max.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

template <class T, class I, bool kMin>
Kernel argmax_kernel(ArgMaxPlan p) {
  return [p](std::span<const Tensor> x, std::span<Tensor> y) {
    I* out = y[0].data<I>();
    arg_max_run<T, kMin>(p, x[0].data<T>(),
                         [&](int64_t o, int64_t k, T) { out[o] = static_cast<I>(k); });
  };
}

template <class I, bool kMin>
Kernel argmax_for(DType t, ArgMaxPlan p) {
  switch (t) {
    case DType::Float64:
      return argmax_kernel<double, I, kMin>(std::move(p));
    case DType::Int32:
      return argmax_kernel<int32_t, I, kMin>(std::move(p));
    case DType::Int64:
      return argmax_kernel<int64_t, I, kMin>(std::move(p));
    default:
      return argmax_kernel<float, I, kMin>(std::move(p));
  }
}

OnnxImportFn import_arg(const char* op) {
  return [op](OnnxImporter& m) {
    m.require_inputs(1, 1);
    if (m.attr_int("select_last_index", 0) != 0) m.unsupported("select_last_index 1");
    const int x = m.input(0);
    const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(x));
    int y = m.emit1(op, {x}, {{"axis", axis}, {"output_type", int64_t{35}}});
    if (m.attr_int("keepdims", 1) != 0) y = m.emit1("ExpandDims", {y}, {{"axis", axis}});
    m.set_output(0, y);
  };
}

// The row of Argmax (kMin false: MindSpore "Argmax", ONNX ArgMax) or Argmin.
template <bool kMin>
OpDef arg_row() {
  const char* const kOp = kMin ? "Argmin" : "Argmax";
  const char* const onnx_op = kMin ? "ArgMin" : "ArgMax";
  OpDef d{.name = kOp,
          .infer =
              [kOp](std::span<const TensorType> in, const ir::Attrs& attrs) {
                const ArgMaxPlan p = arg_max_plan(kOp, in[0], attrs, false, -1);
                return std::vector<TensorType>{{index_dtype(kOp, attrs), p.out}};
              },
          .make_kernel = [kOp](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            ArgMaxPlan p = arg_max_plan(kOp, in[0], attrs, false, -1);
            if (index_dtype(kOp, attrs) == DType::Int64)
              return argmax_for<int64_t, kMin>(in[0].dtype, std::move(p));
            return argmax_for<int32_t, kMin>(in[0].dtype, std::move(p));
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"axis", "output_type"},
                     .defaults = {{"axis", int64_t{-1}}, {"output_type", int64_t{34}}}}};
  d.onnx = [kOp, onnx_op](OnnxBuilder& b, const ir::Node& n) {
    const int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, kOp, "axis", -1); });
    const std::string y = b.name(n.outputs.at(0));
    const bool i32 = b.info(n.outputs[0]).dtype == DType::Int32;
    const std::string idx = i32 ? b.fresh(y + "/int64") : y;
    b.add(onnx_op, {b.name(n.inputs.at(0))}, {idx}, {{"axis", axis}, {"keepdims", int64_t{0}}});
    if (i32) b.add("Cast", {idx}, {y}, {{"to", *b.dtype_code(DType::Int32)}});
  };
  d.onnx_import = {{onnx_op, import_arg(kOp)}};
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(argmax) {
  table.add(arg_row<false>());
  table.add(arg_row<true>());
}

}  // namespace cellar::ops
