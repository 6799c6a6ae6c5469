// PReLU(x, weight): y = x if x ≥ 0 else weight[c] · x, c the index along dimension 1 (weight of
// shape (C,) with C = x's dimension 1), or one weight for every element (shape (1,) or ()).
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "PReLU" with the two tensors as inputs (ops_def
// prelu_op.yaml; nn.PReLU), as 1.x did. ONNX: written as PRelu with the weight reshaped to
// (C, 1, …) so that it broadcasts along dimension 1; PRelu is read as this row when its slope is
// one value or one per channel, else as Maximum(x, 0) + slope · Minimum(x, 0).
#include <algorithm>

#include "ops/nn/activation.h"

namespace cellar::ops {

namespace {

const char* const kOp = "PReLU";

std::vector<TensorType> prelu_infer(std::span<const TensorType> in, const ir::Attrs&) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (w.rank() > 1) shape_error(kOp, "weight must have rank 0 or 1, got " + w.str());
  if (w.numel() != 1 && (x.rank() < 2 || w.numel() != x[1]))
    shape_error(kOp, "weight " + w.str() +
                         " must have one element or one per channel (dimension 1) of " + x.str());
  return {in[0]};
}

template <class T>
Kernel prelu_kernel(int64_t outer, int64_t c, int64_t inner, bool shared) {
  return [=](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    const T* w = in[1].data<T>();
    T* y = out[0].data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < c; ++j) {
        const T a = w[shared ? 0 : j];
        const int64_t base = (o * c + j) * inner;
        for (int64_t k = 0; k < inner; ++k) {
          const T v = x[base + k];
          y[base + k] = v >= T(0) ? v : a * v;
        }
      }
  };
}

Kernel prelu_make(std::span<const TensorType> in, const ir::Attrs&) {
  const Shape& x = in[0].shape;
  // Rank 0 and 1: one weight (the shape rule allows no other) over every element.
  const bool shared = in[1].shape.numel() == 1 || x.rank() < 2;
  const int64_t outer = x.rank() >= 2 ? x[0] : 1, c = x.rank() >= 2 ? x[1] : 1;
  const int64_t inner = x.rank() >= 2 ? x.numel() / std::max<int64_t>(outer * c, 1) : x.numel();
  if (in[0].dtype == DType::Float64) return prelu_kernel<double>(outer, c, inner, shared);
  return prelu_kernel<float>(outer, c, inner, shared);
}

void export_prelu(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const Shape& w = b.shape(n.inputs.at(1));
  const std::string y = b.name(n.outputs.at(0));
  std::string slope = b.name(n.inputs[1]);
  if (w.numel() != 1 || x.rank() >= 2) {
    std::vector<int64_t> dims = {w.numel()};
    for (size_t i = 2; i < x.rank(); ++i) dims.push_back(1);
    slope = onnx_step(b, y + "/slope", "Reshape", {slope, b.ints(y + "/slope_shape", dims)});
  }
  b.add("PRelu", {b.name(n.inputs[0]), slope}, {y});
}

void import_prelu(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0), s = m.input(1);
  const Shape xs = m.info(x).shape;
  const Shape ss = m.info(s).shape;
  // The slope's dimensions beyond the first must be 1s lining up with x's dimensions 2….
  bool per_channel =
      xs.rank() >= 2 && ss.rank() == xs.rank() - 1 && ss.rank() >= 1 && ss[0] == xs[1];
  for (size_t i = 1; per_channel && i < ss.rank(); ++i) per_channel = ss[i] == 1;
  if (ss.numel() == 1 || per_channel) {
    const int w = m.emit1("Reshape", {s}, {{"shape", std::vector<int64_t>{ss.numel()}}});
    m.set_output(0, m.emit1(kOp, {x, w}));
    return;
  }
  const int zero = m.constant(Tensor::scalar<double>(0).to(m.info(x).dtype));
  const int neg = m.emit1("Mul", {s, m.emit1("Minimum", {x, zero})});
  const int y = m.emit1("Add", {m.emit1("Maximum", {x, zero}), neg});
  if (m.info(y).shape != xs) m.fail("slope " + ss.str() + " does not broadcast to X " + xs.str());
  m.set_output(0, y);
}

}  // namespace

CELLAR_REGISTER_OPS(prelu) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = prelu_infer,
             .make_kernel = prelu_make,
             .mindir = {.primitive = kOp},
             .onnx = export_prelu,
             .onnx_import = {{"PRelu", import_prelu}}});
}

}  // namespace cellar::ops
