// LpNorm(x; axis, p, keep_dims, epsilon): the p-norm over `axis` (an int or a tuple),
// max((Σ |x|^p)^(1/p), epsilon) for p ≥ 1, and the count of non-zero elements for p = 0 (no
// epsilon), as MindSpore 2.10's kernel computes (checked by make_ops_b_fixtures.py). Defaults
// p = 2, keep_dims false, epsilon 1e-12. MindSpore writes the Python PRIMITIVE "LpNorm" with the
// four as attributes (operations/math_ops.py; ops.norm writes it too), in 1.x and 2.x alike.
//
// ONNX: p = 1 and p = 2 are written as ReduceL1 / ReduceL2 (axes an attribute at opset 17), other
// p as Pow(Σ Pow(|x|, p), 1/p), each then Max(·, epsilon) when epsilon > 0; p = 0 is refused.
// ReduceL1 and ReduceL2 are read as LpNorm with epsilon 0 (axes from the attribute, or the input
// from opset 18; noop_with_empty_axes an identity).
#include "ops/nn/lp_norm.h"

#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {

const char* const kOp = "LpNorm";

struct LpAttrs {
  std::vector<int64_t> axes;  // sorted, normalised
  int64_t p;
  bool keep_dims;
  double eps;
};

LpAttrs lp_attrs(const ir::Attrs& a, int64_t rank) {
  LpAttrs r;
  r.axes = norm_axes(kOp, attr_ints(a, kOp, "axis"), rank);
  r.p = attr_int(a, kOp, "p", 2);
  r.keep_dims = attr_bool(a, kOp, "keep_dims", false);
  r.eps = attr_double(a, kOp, "epsilon", 1e-12);
  if (r.p < 0)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "LpNorm: p must be >= 0, got " + std::to_string(r.p));
  if (!(r.eps >= 0) || !std::isfinite(r.eps))
    throw ValueError(ErrorCode::kInvalidArgument, "LpNorm: epsilon must be finite and >= 0");
  return r;
}

Shape lp_shape(const Shape& x, const LpAttrs& a) {
  std::vector<int64_t> out;
  size_t j = 0;
  for (size_t i = 0; i < x.rank(); ++i) {
    const bool red = j < a.axes.size() && a.axes[j] == static_cast<int64_t>(i);
    if (red) ++j;
    if (!red)
      out.push_back(x[i]);
    else if (a.keep_dims)
      out.push_back(1);
  }
  return Shape(out);
}

std::vector<TensorType> lp_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  const auto a = lp_attrs(attrs, static_cast<int64_t>(in[0].shape.rank()));
  return {{in[0].dtype, lp_shape(in[0].shape, a)}};
}

template <class T>
Kernel lp_kernel(const NormPlan& plan, int64_t p, double eps) {
  return [plan, p, eps](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    for (size_t o = 0; o < plan.base.size(); ++o) {
      const T* xb = x + plan.base[o];
      double s = 0;
      for (int64_t r : plan.reduced) {
        const double v = std::abs(static_cast<double>(xb[r]));
        s += p == 0 ? (v != 0 ? 1.0 : 0.0) : p == 1 ? v : p == 2 ? v * v : std::pow(v, p);
      }
      double n = p == 0 ? s : p == 1 ? s : p == 2 ? std::sqrt(s) : std::pow(s, 1.0 / p);
      if (p != 0) n = std::max(n, eps);
      y[o] = static_cast<T>(n);
    }
  };
}

Kernel lp_make(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto a = lp_attrs(attrs, static_cast<int64_t>(in[0].shape.rank()));
  const NormPlan plan = norm_plan(in[0].shape, a.axes);
  if (in[0].dtype == DType::Float64) return lp_kernel<double>(plan, a.p, a.eps);
  return lp_kernel<float>(plan, a.p, a.eps);
}

void export_lp_norm(OnnxBuilder& b, const ir::Node& n) {
  const int xv = n.inputs.at(0);
  const auto a = onnx_checked(
      b, n, [&] { return lp_attrs(n.attrs, static_cast<int64_t>(b.shape(xv).rank())); });
  if (a.p == 0) b.fail(n, "p = 0 (a count of non-zeros) has no ONNX reduction");
  const DType dt = b.info(xv).dtype;
  const std::string x = b.name(xv), y = b.name(n.outputs.at(0));
  const OnnxAttrs attrs = {{"axes", a.axes}, {"keepdims", int64_t{a.keep_dims ? 1 : 0}}};
  std::string norm;
  const std::string target = a.eps > 0 ? b.fresh(y + "/norm") : y;
  if (a.p == 1 || a.p == 2) {
    b.add(a.p == 1 ? "ReduceL1" : "ReduceL2", {x}, {target}, attrs);
  } else {
    const std::string pw =
        onnx_step(b, y + "/pow", "Pow",
                  {onnx_step(b, y + "/abs", "Abs", {x}), b.scalar(y + "/p", double(a.p), dt)});
    const std::string s = onnx_step(b, y + "/sum", "ReduceSum", {pw, b.ints(y + "/axes", a.axes)},
                                    {{"keepdims", int64_t{a.keep_dims ? 1 : 0}}});
    b.add("Pow", {s, b.scalar(y + "/inv_p", 1.0 / double(a.p), dt)}, {target});
  }
  if (a.eps > 0) b.add("Max", {target, b.scalar(y + "/eps", a.eps, dt)}, {y});
}

OnnxImportFn import_reduce_lp(int64_t p) {
  return [p](OnnxImporter& m) {
    m.require_inputs(1, 2);
    const int x = m.input(0);
    auto axes = m.ints_attr_or_input("axes", 1, 18).value_or(std::vector<int64_t>{});
    if (axes.empty() && m.attr_int("noop_with_empty_axes", 0) != 0) {
      m.set_output(0, x);
      return;
    }
    m.set_output(0, m.emit1(kOp, {x},
                            {{"axis", axes},
                             {"p", p},
                             {"keep_dims", m.attr_int("keepdims", 1) != 0},
                             {"epsilon", 0.0}}));
  };
}

}  // namespace

CELLAR_REGISTER_OPS(lp_norm) {
  table.add(
      {.name = kOp,
       .infer = lp_infer,
       .make_kernel = lp_make,
       .mindir = {.primitive = kOp,
                  .defaults = {{"p", int64_t{2}}, {"keep_dims", false}, {"epsilon", 1e-12}},
                  .primitive_function = false},
       .onnx = export_lp_norm,
       .onnx_import = {{"ReduceL1", import_reduce_lp(1)}, {"ReduceL2", import_reduce_lp(2)}}});
}

}  // namespace cellar::ops
