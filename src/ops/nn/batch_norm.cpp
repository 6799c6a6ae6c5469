// BatchNorm, inference only: y = (x − mean) / √(variance + ε) · scale + bias along dimension 1.
//
// MindSpore's BatchNorm takes (x, scale, bias, mean, variance) and returns a 5-tuple (y,
// batch_mean, batch_variance, reserve_space_1, reserve_space_2)
// (mindspore/core/ops/ops_def/batch_norm_op.yaml). nn.BatchNorm2d in eval mode calls it with
// is_training=False and takes TupleGetItem 0, so an exported MindIR holds the 5-output node and
// a TupleGetItem. The row has the same 5 outputs, so the MindIR reader maps TupleGetItem k to
// output k one to one; at inference outputs 1–4 are copies of mean, variance, mean, variance.
//
// Attributes (prim_init in the yaml, so MindSpore 2.x passes them as constant inputs after the
// five tensors, data_format as its Format enum, NCHW = 0; 1.x as primitive attributes):
// is_training (only false has a kernel: training needs batch statistics and updates state, which
// a graph of ours does not do), epsilon (1e-5), momentum (0.1; unused at inference), data_format
// (NCHW).
//
// ONNX: written as BatchNormalization(epsilon) with output y only (refused when outputs 1–4 are
// used); BatchNormalization is read back with momentum' = 1 − ONNX momentum (the two weight the
// running statistics oppositely), training_mode and spatial=0 refused.
#include <cmath>
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "BatchNorm";

std::vector<TensorType> bn_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  require_nchw(attrs, kOp);
  const Shape& x = in[0].shape;
  if (x.rank() < 2) shape_error(kOp, "input must have rank >= 2 (N, C, …), got " + x.str());
  static const char* const names[] = {"scale", "bias", "mean", "variance"};
  for (size_t i = 1; i < 5; ++i)
    if (in[i].shape != Shape{x[1]})
      shape_error(kOp, std::string(names[i - 1]) + " " + in[i].shape.str() +
                           " does not match the channel dimension of " + x.str());
  const TensorType stat{in[1].dtype, in[1].shape};
  return {in[0], stat, stat, stat, stat};
}

template <class T>
void bn_run(std::span<const Tensor> in, std::span<Tensor> out, int64_t n, int64_t c, int64_t inner,
            double eps, Parallel& par) {
  const T* x = in[0].data<T>();
  const T* scale = in[1].data<T>();
  const T* bias = in[2].data<T>();
  const T* mean = in[3].data<T>();
  const T* var = in[4].data<T>();
  T* y = out[0].data<T>();
  par.for_range(n * c, rows_grain(inner), [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j = p % c;
      // y = (x − mean) / √(var + ε) · scale + bias = x·a + b, computed in double.
      const double a = static_cast<double>(scale[j]) / std::sqrt(static_cast<double>(var[j]) + eps);
      const double b = static_cast<double>(bias[j]) - static_cast<double>(mean[j]) * a;
      const int64_t base = p * inner;
      for (int64_t k = 0; k < inner; ++k)
        y[base + k] = static_cast<T>(static_cast<double>(x[base + k]) * a + b);
    }
  });
  const size_t bytes = static_cast<size_t>(c) * sizeof(T);
  std::memcpy(out[1].data<T>(), mean, bytes);
  std::memcpy(out[2].data<T>(), var, bytes);
  std::memcpy(out[3].data<T>(), mean, bytes);
  std::memcpy(out[4].data<T>(), var, bytes);
}

Kernel bn_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (attr_bool(attrs, kOp, "is_training", false))
    throw ValueError(ErrorCode::kUnsupported,
                     "BatchNorm with is_training=true (training mode) has no kernel; export and "
                     "run networks in eval mode (set_train(false))");
  const double eps = attr_double(attrs, kOp, "epsilon", 1e-5);
  if (!(eps >= 0)) throw ValueError(ErrorCode::kInvalidArgument, "BatchNorm: epsilon must be >= 0");
  const Shape x = in[0].shape;
  const int64_t n = x[0], c = x[1];
  int64_t inner = 1;
  for (size_t i = 2; i < x.rank(); ++i) inner *= x[i];
  if (in[0].dtype == DType::Float64)
    return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
      bn_run<double>(a, y, n, c, inner, eps, par);
    };
  return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
    bn_run<float>(a, y, n, c, inner, eps, par);
  };
}

void export_batch_norm(OnnxBuilder& b, const ir::Node& n) {
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (b.used(n.outputs[k]))
      b.fail(n, "output " + std::to_string(k) +
                    " (batch statistics) is used; ONNX's inference BatchNormalization has only y");
  const double eps = onnx_checked(b, n, [&] {
    if (attr_bool(n.attrs, kOp, "is_training", false))
      throw ValueError(ErrorCode::kUnsupported, "training mode (is_training) cannot be exported");
    require_nchw(n.attrs, kOp);
    return attr_double(n.attrs, kOp, "epsilon", 1e-5);
  });
  std::vector<std::string> in;
  for (int v : n.inputs) in.push_back(b.name(v));
  b.add("BatchNormalization", in, {b.name(n.outputs.at(0))},
        {{"epsilon", static_cast<float>(eps)}});
}

void import_batch_norm(OnnxImporter& m) {
  m.require_inputs(5, 5);
  if (m.attr_int("training_mode", 0) != 0)
    m.unsupported("training_mode=1; cellar runs inference only");
  if (m.has_attr("spatial") && m.attr_int("spatial", 1) != 1)
    m.unsupported("spatial=0 is not supported");
  std::vector<int> in;
  for (size_t i = 0; i < 5; ++i) in.push_back(m.input(i));
  const auto ys = m.emit(kOp, in,
                         {{"epsilon", m.attr_float("epsilon", 1e-5)},
                          {"momentum", 1.0 - m.attr_float("momentum", 0.9)},
                          {"is_training", false},
                          {"data_format", std::string("NCHW")}});
  m.set_output(0, ys.at(0));
}

}  // namespace

CELLAR_REGISTER_OPS(batch_norm) {
  table.add({.name = kOp,
             .min_inputs = 5,
             .max_inputs = 5,
             .num_outputs = 5,
             .infer = bn_infer,
             .make_kernel = bn_kernel,
             .mindir = {.primitive = kOp,
                        .attr_inputs = {"is_training", "epsilon", "momentum", "data_format"},
                        .defaults = {{"is_training", false},
                                     {"epsilon", 1e-5},
                                     {"momentum", 0.1},
                                     {"data_format", int64_t{0}}}},
             .onnx = export_batch_norm,
             .onnx_import = {{"BatchNormalization", import_batch_norm}}});
}

}  // namespace cellar::ops
