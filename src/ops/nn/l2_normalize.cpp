// L2Normalize(x; axis, epsilon): y = x / √max(Σ x², epsilon), the sum over `axis` (an int or a
// list; default 0) kept as 1s, as MindSpore's kernel computes (checked by
// make_ops_b_fixtures.py). Default epsilon 1e-4. MindSpore writes the Python PRIMITIVE
// "L2Normalize" with axis and epsilon as attributes (operations/nn_ops.py), in 1.x and 2.x alike.
// ONNX has no L2Normalize with an epsilon: written as Div(x, Sqrt(Max(ReduceSum(x·x), epsilon))).
#include <cmath>

#include "ops/nn/activation.h"
#include "ops/nn/lp_norm.h"

namespace cellar::ops {

namespace {

const char* const kOp = "L2Normalize";

std::pair<std::vector<int64_t>, double> l2_attrs(const ir::Attrs& a, int64_t rank) {
  auto axes = norm_axes(kOp, attr_ints(a, kOp, "axis", {0}), rank);
  const double eps = attr_double(a, kOp, "epsilon", 1e-4);
  if (!(eps >= 0) || !std::isfinite(eps))
    throw ValueError(ErrorCode::kInvalidArgument, "L2Normalize: epsilon must be finite and >= 0");
  return {axes, eps};
}

std::vector<TensorType> l2_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  (void)l2_attrs(attrs, static_cast<int64_t>(in[0].shape.rank()));
  return {in[0]};
}

template <class T>
Kernel l2_kernel(const NormPlan& plan, double eps) {
  return [plan, eps](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    for (int64_t b : plan.base) {
      double s = 0;
      for (int64_t r : plan.reduced) {
        const double v = static_cast<double>(x[b + r]);
        s += v * v;
      }
      const double d = std::sqrt(std::max(s, eps));
      for (int64_t r : plan.reduced) y[b + r] = static_cast<T>(static_cast<double>(x[b + r]) / d);
    }
  };
}

Kernel l2_make(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto [axes, eps] = l2_attrs(attrs, static_cast<int64_t>(in[0].shape.rank()));
  const NormPlan plan = norm_plan(in[0].shape, axes);
  if (in[0].dtype == DType::Float64) return l2_kernel<double>(plan, eps);
  return l2_kernel<float>(plan, eps);
}

void export_l2_normalize(OnnxBuilder& b, const ir::Node& n) {
  const int xv = n.inputs.at(0);
  const auto [axes, eps] = onnx_checked(
      b, n, [&] { return l2_attrs(n.attrs, static_cast<int64_t>(b.shape(xv).rank())); });
  const DType dt = b.info(xv).dtype;
  const std::string x = b.name(xv), y = b.name(n.outputs.at(0));
  const std::string sq = onnx_step(b, y + "/sq", "Mul", {x, x});
  const std::string s = onnx_step(b, y + "/sum", "ReduceSum", {sq, b.ints(y + "/axes", axes)},
                                  {{"keepdims", int64_t{1}}});
  const std::string mx = onnx_step(b, y + "/max", "Max", {s, b.scalar(y + "/eps", eps, dt)});
  b.add("Div", {x, onnx_step(b, y + "/norm", "Sqrt", {mx})}, {y});
}

}  // namespace

CELLAR_REGISTER_OPS(l2_normalize) {
  table.add({.name = kOp,
             .infer = l2_infer,
             .make_kernel = l2_make,
             .mindir = {.primitive = kOp,
                        .defaults = {{"axis", std::vector<int64_t>{0}}, {"epsilon", 1e-4}},
                        .primitive_function = false},
             .onnx = export_l2_normalize});
}

}  // namespace cellar::ops
