// GroupNorm(x, weight, bias; num_groups, eps) → (y, mean, rstd): x (N, C, …) is cut into
// num_groups groups of C / num_groups channels; per sample and group, mean and the biased
// variance over the group's channels and positions, y = (x − mean) · rstd · weight[c] + bias[c]
// with rstd = 1 / √(variance + eps). mean and rstd have shape (N, num_groups): MindSpore 2.10's
// three outputs (checked against its CPU kernel: output 2 is rstd, not the variance).
//
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "GroupNorm" with its arguments in the order
// (input, num_groups, weight, bias, eps) (ops_def group_norm_op.yaml; nn.GroupNorm and
// mint.nn.GroupNorm, TupleGetItem 0 for y): num_groups and eps are constant inputs between and
// after the tensors, which the spelling's argument_order says. MindSpore 1.x had no GroupNorm
// primitive (nn.GroupNorm was a composite of Reshape, ReduceMean, …).
//
// ONNX: GroupNormalization arrives in opset 18, so the row is written in Reshape, ReduceMean,
// Sub, Mul, Add, Sqrt, Reciprocal (opset 17). GroupNormalization is read as this row: its scale
// and bias are per group before opset 21 (repeated over each group's channels) and per channel
// from 21.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {

const char* const kOp = "GroupNorm";

struct Groups {
  int64_t groups;
  double eps;
};

Groups group_attrs(const ir::Attrs& a) {
  const int64_t g = attr_int(a, kOp, "num_groups");
  const double eps = attr_double(a, kOp, "eps", 1e-5);
  if (g < 1)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "GroupNorm: num_groups must be >= 1, got " + std::to_string(g));
  if (!(eps >= 0) || !std::isfinite(eps))
    throw ValueError(ErrorCode::kInvalidArgument, "GroupNorm: eps must be finite and >= 0");
  return {g, eps};
}

std::vector<TensorType> gn_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  const auto [g, eps] = group_attrs(attrs);
  const Shape& x = in[0].shape;
  if (x.rank() < 2) shape_error(kOp, "input must have rank >= 2 (N, C, …), got " + x.str());
  if (x[1] % g != 0)
    shape_error(kOp, "channels " + std::to_string(x[1]) + " of " + x.str() +
                         " are not divisible by num_groups " + std::to_string(g));
  for (size_t i = 1; i < 3; ++i)
    if (in[i].shape != Shape{x[1]})
      shape_error(kOp, std::string(i == 1 ? "weight " : "bias ") + in[i].shape.str() +
                           " does not match the channel dimension of " + x.str());
  const TensorType stat{in[0].dtype, Shape{x[0], g}};
  return {in[0], stat, stat};
}

template <class T>
void gn_run(std::span<const Tensor> in, std::span<Tensor> out, int64_t n, int64_t c, int64_t g,
            int64_t inner, double eps) {
  const T* x = in[0].data<T>();
  const T* w = in[1].data<T>();
  const T* b = in[2].data<T>();
  T* y = out[0].data<T>();
  T* mean_out = out[1].data<T>();
  T* rstd_out = out[2].data<T>();
  const int64_t cg = c / g, len = cg * inner;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < g; ++j) {
      const int64_t base = (i * c + j * cg) * inner;
      double s = 0;
      for (int64_t k = 0; k < len; ++k) s += static_cast<double>(x[base + k]);
      const double mean = len > 0 ? s / static_cast<double>(len) : 0;
      double q = 0;
      for (int64_t k = 0; k < len; ++k) {
        const double d = static_cast<double>(x[base + k]) - mean;
        q += d * d;
      }
      const double rstd = 1 / std::sqrt((len > 0 ? q / static_cast<double>(len) : 0) + eps);
      for (int64_t ch = 0; ch < cg; ++ch) {
        const double a = rstd * static_cast<double>(w[j * cg + ch]);
        const double bb = static_cast<double>(b[j * cg + ch]) - mean * a;
        for (int64_t k = 0; k < inner; ++k) {
          const int64_t at = base + ch * inner + k;
          y[at] = static_cast<T>(static_cast<double>(x[at]) * a + bb);
        }
      }
      mean_out[i * g + j] = static_cast<T>(mean);
      rstd_out[i * g + j] = static_cast<T>(rstd);
    }
}

Kernel gn_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  // Plain locals, not a structured binding: clang 14 cannot capture bindings in the lambdas.
  const Groups ga = group_attrs(attrs);
  const int64_t g = ga.groups;
  const double eps = ga.eps;
  const Shape x = in[0].shape;
  const int64_t n = x[0], c = x[1];
  int64_t inner = 1;
  for (size_t i = 2; i < x.rank(); ++i) inner *= x[i];
  if (in[0].dtype == DType::Float64)
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      gn_run<double>(a, y, n, c, g, inner, eps);
    };
  return [=](std::span<const Tensor> a, std::span<Tensor> y) {
    gn_run<float>(a, y, n, c, g, inner, eps);
  };
}

void export_group_norm(OnnxBuilder& b, const ir::Node& n) {
  const auto [g, eps] = onnx_checked(b, n, [&] { return group_attrs(n.attrs); });
  const Shape& x = b.shape(n.inputs.at(0));
  const DType dt = b.info(n.inputs[0]).dtype;
  const std::string y = b.name(n.outputs.at(0));
  auto step = [&](const std::string& hint, const std::string& op,
                  const std::vector<std::string>& in,
                  const OnnxAttrs& a = {}) { return onnx_step(b, y + "/" + hint, op, in, a); };
  const std::string xr = step("grouped", "Reshape",
                              {b.name(n.inputs[0]), b.ints(y + "/grouped_shape", {x[0], g, -1})});
  const OnnxAttrs reduce = {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t{1}}};
  const std::string mean = step("mean", "ReduceMean", {xr}, reduce);
  const std::string d = step("centred", "Sub", {xr, mean});
  const std::string var = step("var", "ReduceMean", {step("sq", "Mul", {d, d})}, reduce);
  const std::string rstd =
      step("rstd", "Reciprocal",
           {step("std", "Sqrt", {step("var_eps", "Add", {var, b.scalar(y + "/eps", eps, dt)})})});
  const std::string norm =
      step("norm", "Reshape", {step("scaled", "Mul", {d, rstd}), b.ints(y + "/x_shape", x.dims())});
  std::vector<int64_t> cshape = {x[1]};
  for (size_t i = 2; i < x.rank(); ++i) cshape.push_back(1);
  const std::string cs = b.ints(y + "/channel_shape", cshape);
  const std::string w = step("weight", "Reshape", {b.name(n.inputs[1]), cs});
  const std::string bias = step("bias", "Reshape", {b.name(n.inputs[2]), cs});
  b.add("Add", {step("weighted", "Mul", {norm, w}), bias}, {y});
  const std::string stat_shape = b.ints(y + "/stat_shape", {x[0], g});
  if (b.used(n.outputs.at(1))) b.add("Reshape", {mean, stat_shape}, {b.name(n.outputs[1])});
  if (b.used(n.outputs.at(2))) b.add("Reshape", {rstd, stat_shape}, {b.name(n.outputs[2])});
}

void import_group_norm(OnnxImporter& m) {
  m.require_inputs(3, 3);
  const int x = m.input(0);
  const int64_t g = m.attr_int("num_groups", 0);
  if (m.rank(x) < 2) m.fail("input must have rank >= 2");
  if (g < 1) m.fail("num_groups must be >= 1");
  const int64_t c = m.info(x).shape[1];
  if (c % g != 0) m.fail("channels are not divisible by num_groups");
  if (m.has_attr("stash_type") && m.attr_int("stash_type", 1) != 1)
    m.unsupported("stash_type other than 1 (float32) is not supported");
  int w = m.input(1), bias = m.input(2);
  if (m.opset() < 21 && g != c) {  // per group: each value over the group's c / g channels
    std::vector<int64_t> idx;
    for (int64_t k = 0; k < c; ++k) idx.push_back(k / (c / g));
    for (int* v : {&w, &bias}) {
      if (m.info(*v).shape != Shape{g}) m.fail("scale and bias must have num_groups elements");
      *v = m.take(*v, 0, idx);
    }
  }
  const auto ys =
      m.emit(kOp, {x, w, bias}, {{"num_groups", g}, {"eps", m.attr_float("epsilon", 1e-5)}});
  m.set_output(0, ys.at(0));
}

// InstanceNormalization(x, scale, B; epsilon): per sample and channel, normalised over the
// spatial dimensions — GroupNorm with one group per channel (scale and B have C elements).
void import_instance_norm(OnnxImporter& m) {
  m.require_inputs(3, 3);
  const int x = m.input(0);
  if (m.rank(x) < 3) m.fail("input must have rank >= 3 (N, C, D1, …)");
  const int64_t c = m.info(x).shape[1];
  if (c < 1) m.fail("input has no channels");
  const int w = m.input(1), bias = m.input(2);
  for (int v : {w, bias})
    if (m.info(v).shape != Shape{c}) m.fail("scale and B must have C elements");
  const auto ys =
      m.emit(kOp, {x, w, bias}, {{"num_groups", c}, {"eps", m.attr_float("epsilon", 1e-5)}});
  m.set_output(0, ys.at(0));
}

}  // namespace

CELLAR_REGISTER_OPS(group_norm) {
  table.add({.name = kOp,
             .min_inputs = 3,
             .max_inputs = 3,
             .num_outputs = 3,
             .infer = gn_infer,
             .make_kernel = gn_kernel,
             .mindir = {.primitive = kOp,
                        .attr_inputs = {"num_groups", "eps"},
                        .defaults = {{"eps", 1e-5}},
                        .argument_order = {"input", "num_groups", "weight", "bias", "eps"}},
             .onnx = export_group_norm,
             .onnx_import = {{"GroupNormalization", import_group_norm},
                             {"InstanceNormalization", import_instance_norm}}});
}

}  // namespace cellar::ops
