// BiasAdd: y = x + b along dimension 1 (channels first: x is [N, C, …], b is [C]). MindSpore 2.x
// writes the PRIMITIVE_FUNCTION "BiasAdd" with data_format a constant input, its Format enum
// (NCHW = 0, NCDHW = 14 after a Conv3D: MindSpore 2.10's FormatEnum; ops_def bias_add_op.yaml);
// 1.x wrote the string ("NCHW", "NCDHW") as an attribute.
// Only channels-first formats are supported. ONNX has no BiasAdd: it is written as Add, after a
// Reshape of the bias to [C, 1, …, 1] when x has rank > 2 (and reads back as those two ops).
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> bias_add_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  // data_format: MindSpore's format enum (0 NCHW, 14 NCDHW) or, in 1.x files, the string.
  auto fmt = attrs.find("data_format");
  if (fmt != attrs.end()) {
    const auto* i = std::get_if<int64_t>(&fmt->second);
    const auto* s = std::get_if<std::string>(&fmt->second);
    if (!((i && (*i == 0 || *i == 14)) || (s && (*s == "NCHW" || *s == "NCDHW"))))
      throw ValueError(ErrorCode::kUnsupported,
                       "BiasAdd: only the channels-first data_format is supported");
  }
  require_same_dtype("BiasAdd", in);
  require_dtype_in("BiasAdd", in[0].dtype, {DType::Float32, DType::Float64});
  const Shape& x = in[0].shape;
  const Shape& b = in[1].shape;
  if (x.rank() < 2) shape_error("BiasAdd", "input must have rank >= 2, got " + x.str());
  if (b.rank() != 1 || b[0] != x[1])
    shape_error("BiasAdd", "bias " + b.str() + " does not match channel dimension 1 of " + x.str());
  return {in[0]};
}

template <class T>
void bias_add_run(const Tensor& x, const Tensor& b, Tensor& y, int64_t n, int64_t c, int64_t inner,
                  Parallel& par) {
  const T* xp = x.data<T>();
  const T* bp = b.data<T>();
  T* yp = y.data<T>();
  if (inner == 1) {
    // [N, C] (a Dense layer's output): rows of C, the bias added along each (vectorises; the
    // loop below would take a remainder per element).
    par.for_range(n, rows_grain(c), [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * c;
        T* yr = yp + r * c;
        for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] + bp[j];
      }
    });
    return;
  }
  par.for_range(n * c, rows_grain(inner), [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const T bj = bp[p % c];
      const int64_t base = p * inner;
      for (int64_t k = 0; k < inner; ++k) yp[base + k] = xp[base + k] + bj;
    }
  });
}

Kernel bias_add_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const Shape x = in[0].shape;
  const int64_t n = x[0], c = x[1];
  int64_t inner = 1;
  for (size_t i = 2; i < x.rank(); ++i) inner *= x[i];
  if (in[0].dtype == DType::Float64)
    return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
      bias_add_run<double>(a[0], a[1], y[0], n, c, inner, par);
    };
  return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
    bias_add_run<float>(a[0], a[1], y[0], n, c, inner, par);
  };
}

void export_bias_add(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  std::string bias = b.name(n.inputs.at(1));
  if (x.rank() > 2) {  // bias runs along dimension 1: [C] → [C, 1, …, 1]
    std::vector<int64_t> dims(x.rank() - 1, 1);
    dims[0] = x[1];
    const std::string shaped = b.fresh(bias + "_as_" + std::to_string(x.rank() - 1) + "d");
    b.add("Reshape", {bias, b.ints(shaped + "_shape", dims)}, {shaped});
    bias = shaped;
  }
  b.add("Add", {b.name(n.inputs[0]), bias}, {b.name(n.outputs.at(0))});
}

}  // namespace

CELLAR_REGISTER_OPS(bias_add) {
  table.add({.name = "BiasAdd",
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = bias_add_infer,
             .make_kernel = bias_add_kernel,
             .mindir = {.primitive = "BiasAdd",
                        .attr_inputs = {"data_format"},
                        .defaults = {{"data_format", int64_t{0}}}},
             .onnx = export_bias_add});
}

}  // namespace cellar::ops
