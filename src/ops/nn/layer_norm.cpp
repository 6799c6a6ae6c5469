// LayerNorm(x, gamma, beta; begin_norm_axis, begin_params_axis, epsilon) → (y, mean, variance):
// over the axes [begin_norm_axis, rank) of x, mean and the biased variance, and
// y = (x − mean) / √(variance + epsilon) · gamma + beta, where gamma and beta have the shape of
// x's axes [begin_params_axis, rank) (they broadcast over the axes before). mean and variance
// have x's shape with the normalised axes kept as 1s: the three outputs of MindSpore's CPU
// kernel (ops.LayerNorm; checked against MindSpore 2.10: output 2 is the variance, not 1/σ).
// Negative axes count from the end.
//
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "LayerNorm" with the three tensors, then
// begin_norm_axis, begin_params_axis and epsilon as constant inputs (ops_def layer_norm_op.yaml;
// defaults 1, 1, 1e-7; nn.LayerNorm, with TupleGetItem 0 for y); 1.x the primitive with the three
// as attributes. (mint.nn.LayerNorm writes LayerNormExt, which MindSpore 2.10 itself cannot run on
// CPU: not read.)
//
// ONNX: written as LayerNormalization (opset 17) with axis = begin_norm_axis, its Mean output for
// output 1 and, when output 2 is used, variance = 1 / InvStdDev² − epsilon; refused when gamma
// spans more axes than are normalised. LayerNormalization is read as this row when Scale (and B)
// have the shape of X's trailing axes (B absent: zeros), its InvStdDev as 1 / √(variance + ε);
// other broadcastable Scale and B shapes as the formula in ReduceMean/Sub/Mul/Add/Sqrt/Div.
#include <cmath>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {

const char* const kOp = "LayerNorm";

struct LayerNormAxes {
  int64_t norm, params;
  double eps;
};

LayerNormAxes layer_norm_axes(const ir::Attrs& a, int64_t rank) {
  if (rank < 1) shape_error(kOp, "input must have rank >= 1");
  const int64_t norm = normalize_axis(kOp, attr_int(a, kOp, "begin_norm_axis", 1), rank);
  const int64_t params = normalize_axis(kOp, attr_int(a, kOp, "begin_params_axis", 1), rank);
  const double eps = attr_double(a, kOp, "epsilon", 1e-7);
  if (!(eps >= 0) || !std::isfinite(eps))
    throw ValueError(ErrorCode::kInvalidArgument, "LayerNorm: epsilon must be finite and >= 0");
  return {norm, params, eps};
}

std::vector<TensorType> ln_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  const Shape& x = in[0].shape;
  const auto ax = layer_norm_axes(attrs, static_cast<int64_t>(x.rank()));
  const Shape params(std::vector<int64_t>(x.dims().begin() + ax.params, x.dims().end()));
  for (size_t i = 1; i < 3; ++i)
    if (in[i].shape != params)
      shape_error(kOp, std::string(i == 1 ? "gamma " : "beta ") + in[i].shape.str() + " must be " +
                           params.str() + " (x " + x.str() + " from begin_params_axis " +
                           std::to_string(ax.params) + ")");
  std::vector<int64_t> stat = x.dims();
  for (size_t i = static_cast<size_t>(ax.norm); i < stat.size(); ++i) stat[i] = 1;
  const TensorType s{in[0].dtype, Shape(stat)};
  return {in[0], s, s};
}

// Σ f(x[k]) in double, in 8 running sums (independent chains the compiler puts in vector lanes)
// added in a fixed order.
template <class T, class F>
double row_sum(const T* x, int64_t n, F f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] += f(static_cast<double>(x[k + j]));
  for (; k < n; ++k) acc[0] += f(static_cast<double>(x[k]));
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Rows [r0, r1): mean and variance in double; y in T when gamma and beta span the normalised axes
// exactly (params == cols: nn.LayerNorm's case, one multiply-add per element), else through the
// flat index's remainder.
template <class T>
void ln_rows(std::span<const Tensor> in, std::span<Tensor> out, int64_t r0, int64_t r1,
             int64_t cols, int64_t params, double eps) {
  const T* x = in[0].data<T>();
  const T* g = in[1].data<T>();
  const T* b = in[2].data<T>();
  T* y = out[0].data<T>();
  T* mean_out = out[1].data<T>();
  T* var_out = out[2].data<T>();
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const double mean =
        cols > 0 ? row_sum(xr, cols, [](double v) { return v; }) / static_cast<double>(cols) : 0;
    const double q = row_sum(xr, cols, [mean](double v) { return (v - mean) * (v - mean); });
    const double var = cols > 0 ? q / static_cast<double>(cols) : 0;
    const double rstd = 1 / std::sqrt(var + eps);
    if (params == cols) {
      const T m = static_cast<T>(mean), s = static_cast<T>(rstd);
      for (int64_t k = 0; k < cols; ++k) yr[k] = (xr[k] - m) * s * g[k] + b[k];
    } else {
      for (int64_t k = 0; k < cols; ++k) {
        const int64_t flat = r * cols + k, p = params > 0 ? flat % params : 0;
        yr[k] =
            static_cast<T>((static_cast<double>(xr[k]) - mean) * rstd * static_cast<double>(g[p]) +
                           static_cast<double>(b[p]));
      }
    }
    mean_out[r] = static_cast<T>(mean);
    var_out[r] = static_cast<T>(var);
  }
}

Kernel ln_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Shape x = in[0].shape;
  const auto ax = layer_norm_axes(attrs, static_cast<int64_t>(x.rank()));
  int64_t rows = 1, cols = 1, params = 1;
  for (size_t i = 0; i < x.rank(); ++i) {
    (static_cast<int64_t>(i) < ax.norm ? rows : cols) *= x[i];
    if (static_cast<int64_t>(i) >= ax.params) params *= x[i];
  }
  const double eps = ax.eps;
  const bool f64 = in[0].dtype == DType::Float64;
  return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
    par.for_range(rows, rows_grain(cols), [&](int64_t r0, int64_t r1, int) {
      if (f64)
        ln_rows<double>(a, y, r0, r1, cols, params, eps);
      else
        ln_rows<float>(a, y, r0, r1, cols, params, eps);
    });
  };
}

void export_layer_norm(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const auto ax =
      onnx_checked(b, n, [&] { return layer_norm_axes(n.attrs, static_cast<int64_t>(x.rank())); });
  if (ax.params < ax.norm)
    b.fail(n, "begin_params_axis " + std::to_string(ax.params) + " is before begin_norm_axis " +
                  std::to_string(ax.norm) + ": ONNX's Scale spans at most the normalised axes");
  const std::string y = b.name(n.outputs.at(0));
  const bool want_var = b.used(n.outputs.at(2));
  const std::string mean = b.used(n.outputs.at(1)) ? b.name(n.outputs[1]) : std::string();
  const std::string isd = want_var ? b.fresh(y + "/inv_std_dev") : std::string();
  std::vector<std::string> outs = {y};
  if (!mean.empty() || want_var) outs.push_back(mean);
  if (want_var) outs.push_back(isd);
  b.add("LayerNormalization", b.input_names(n), outs,
        {{"axis", ax.norm}, {"epsilon", static_cast<float>(ax.eps)}});
  if (want_var) {
    const DType dt = b.info(n.inputs[0]).dtype;
    const std::string sq = onnx_step(b, y + "/isd2", "Mul", {isd, isd});
    const std::string inv = onnx_step(b, y + "/var_eps", "Reciprocal", {sq});
    b.add("Sub", {inv, b.scalar(y + "/eps", ax.eps, dt)}, {b.name(n.outputs[2])});
  }
}

// The formula, for Scale and B shapes that only broadcast to X's normalised axes.
void import_layer_norm_formula(OnnxImporter& m, int x, int64_t axis, double eps) {
  const int64_t r = m.rank(x);
  const DType dt = m.info(x).dtype;
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < r; ++a) axes.push_back(a);
  const ir::Attrs reduce = {{"axis", axes}, {"keep_dims", true}};
  const int mean = m.emit1("ReduceMean", {x}, reduce);
  const int d = m.emit1("Sub", {x, mean});
  const int var = m.emit1("ReduceMean", {m.emit1("Mul", {d, d})}, reduce);
  const int den =
      m.emit1("Sqrt", {m.emit1("Add", {var, m.constant(Tensor::scalar<double>(eps).to(dt))})});
  for (size_t k = 1; k < m.num_inputs(); ++k)
    if (m.has_input(k) && m.rank(m.input(k)) > r - axis)
      m.fail(std::string(k == 1 ? "Scale" : "B") + " has more dimensions than the normalized axes");
  int y = m.emit1("Mul", {m.emit1("Div", {d, den}), m.input(1)});
  if (m.num_inputs() > 2 && m.has_input(2)) y = m.emit1("Add", {y, m.input(2)});
  if (m.info(y).shape != m.info(x).shape)
    m.fail("Scale and B must broadcast to the normalized axes " + m.info(x).shape.str());
  m.set_output(0, y);
  if (m.num_outputs() > 1 && m.has_output(1)) m.set_output(1, mean);
  if (m.num_outputs() > 2 && m.has_output(2)) m.set_output(2, m.emit1("Reciprocal", {den}));
}

void import_layer_norm(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x = m.input(0);
  const int64_t r = m.rank(x);
  if (r == 0) m.fail("input must have rank >= 1");
  const int64_t axis = m.axis(m.attr_int("axis", -1), r);
  const DType dt = m.info(x).dtype;
  if (dt != DType::Float32 && dt != DType::Float64) m.unsupported("input must be float");
  if (m.has_attr("stash_type") && m.attr_int("stash_type", 1) != 1)
    m.unsupported("stash_type other than 1 (float32) is not supported");
  const double eps = m.attr_float("epsilon", 1e-5);
  const int scale = m.input(1);
  const Shape ss = m.info(scale).shape;  // copies: m.input() may grow the value list
  const Shape xs = m.info(x).shape;
  const int64_t params = r - static_cast<int64_t>(ss.rank());
  bool exact = params >= axis;
  for (size_t i = 0; exact && i < ss.rank(); ++i)
    exact = ss[i] == xs[static_cast<size_t>(params) + i];
  const bool has_b = m.num_inputs() > 2 && m.has_input(2);
  if (exact && has_b) exact = m.info(m.input(2)).shape == ss;
  if (!exact) {
    import_layer_norm_formula(m, x, axis, eps);
    return;
  }
  if (ss.numel() > kOnnxMaxConstElements) m.unsupported("Scale is too large");
  const int bias = has_b ? m.input(2) : m.constant(zeros(ss, dt));
  const auto ys =
      m.emit(kOp, {x, scale, bias},
             {{"begin_norm_axis", axis}, {"begin_params_axis", params}, {"epsilon", eps}});
  m.set_output(0, ys.at(0));
  if (m.num_outputs() > 1 && m.has_output(1)) m.set_output(1, ys.at(1));
  if (m.num_outputs() > 2 && m.has_output(2)) {
    const int e = m.constant(Tensor::scalar<double>(eps).to(dt));
    m.set_output(2, m.emit1("Reciprocal", {m.emit1("Sqrt", {m.emit1("Add", {ys.at(2), e})})}));
  }
}

}  // namespace

CELLAR_REGISTER_OPS(layer_norm) {
  table.add({.name = kOp,
             .min_inputs = 3,
             .max_inputs = 3,
             .num_outputs = 3,
             .infer = ln_infer,
             .make_kernel = ln_kernel,
             .mindir = {.primitive = kOp,
                        .attr_inputs = {"begin_norm_axis", "begin_params_axis", "epsilon"},
                        .defaults = {{"begin_norm_axis", int64_t{1}},
                                     {"begin_params_axis", int64_t{1}},
                                     {"epsilon", 1e-7}}},
             .onnx = export_layer_norm,
             .onnx_import = {{"LayerNormalization", import_layer_norm}}});
}

}  // namespace cellar::ops
