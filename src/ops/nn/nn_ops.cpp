// MatMul, BiasAdd, ReLU.

#include <algorithm>

#include "ops/gemm.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> matmul_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype("MatMul", in);
  require_dtype_in("MatMul", in[0].dtype, {DType::Float32, DType::Float64});
  const bool ta = attr_bool(attrs, "MatMul", "transpose_a", false);
  const bool tb = attr_bool(attrs, "MatMul", "transpose_b", false);
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  if (a.rank() != 2 || b.rank() != 2)
    shape_error("MatMul", "operands must be rank 2, got " + a.str() + " and " + b.str());
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  const int64_t k2 = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (k != k2)
    shape_error("MatMul", "inner dimensions differ: " + a.str() + (ta ? "ᵀ" : "") + " · " +
                              b.str() + (tb ? "ᵀ" : ""));
  return {{in[0].dtype, Shape{m, n}}};
}

Kernel matmul_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const bool ta = attr_bool(attrs, "MatMul", "transpose_a", false);
  const bool tb = attr_bool(attrs, "MatMul", "transpose_b", false);
  const Shape a = in[0].shape, b = in[1].shape;
  const int m = static_cast<int>(ta ? a[1] : a[0]), k = static_cast<int>(ta ? a[0] : a[1]);
  const int n = static_cast<int>(tb ? b[0] : b[1]);
  const int lda = static_cast<int>(a[1]), ldb = static_cast<int>(b[1]);
  auto run = [=]<class T>(std::span<const Tensor> x, std::span<Tensor> y, T) {
    gemm(ta, tb, m, n, k, x[0].data<T>(), lda, x[1].data<T>(), ldb, y[0].data<T>(), n);
  };
  if (in[0].dtype == DType::Float64)
    return [run](std::span<const Tensor> x, std::span<Tensor> y) { run(x, y, 0.0); };
  return [run](std::span<const Tensor> x, std::span<Tensor> y) { run(x, y, 0.0f); };
}

std::vector<TensorType> bias_add_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  // data_format: MindSpore's format enum (0 NCHW) or, in 1.x files, the string.
  auto fmt = attrs.find("data_format");
  if (fmt != attrs.end()) {
    const auto* i = std::get_if<int64_t>(&fmt->second);
    const auto* s = std::get_if<std::string>(&fmt->second);
    if (!((i && *i == 0) || (s && (*s == "NCHW" || *s == "NCDHW"))))
      throw ValueError(ErrorCode::kUnsupported, "BiasAdd: only the channels-first data_format is supported");
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
void bias_add_run(const Tensor& x, const Tensor& b, Tensor& y, int64_t n, int64_t c, int64_t inner) {
  const T* xp = x.data<T>();
  const T* bp = b.data<T>();
  T* yp = y.data<T>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const T bj = bp[j];
      const int64_t base = (i * c + j) * inner;
      for (int64_t k = 0; k < inner; ++k) yp[base + k] = xp[base + k] + bj;
    }
}

Kernel bias_add_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const Shape x = in[0].shape;
  const int64_t n = x[0], c = x[1];
  int64_t inner = 1;
  for (size_t i = 2; i < x.rank(); ++i) inner *= x[i];
  if (in[0].dtype == DType::Float64)
    return [=](std::span<const Tensor> a, std::span<Tensor> y) { bias_add_run<double>(a[0], a[1], y[0], n, c, inner); };
  return [=](std::span<const Tensor> a, std::span<Tensor> y) { bias_add_run<float>(a[0], a[1], y[0], n, c, inner); };
}

std::vector<TensorType> relu_infer(std::span<const TensorType> in, const ir::Attrs&) {
  require_dtype_in("ReLU", in[0].dtype,
                   {DType::Float32, DType::Float64, DType::Int8, DType::Int16, DType::Int32, DType::Int64});
  return {in[0]};
}

template <class T>
Kernel relu_typed(size_t n) {
  return [n](std::span<const Tensor> x, std::span<Tensor> y) {
    const T* xp = x[0].data<T>();
    T* yp = y[0].data<T>();
    for (size_t i = 0; i < n; ++i) yp[i] = xp[i] > T(0) ? xp[i] : T(0);
  };
}

Kernel relu_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const size_t n = static_cast<size_t>(in[0].shape.numel());
  switch (in[0].dtype) {
    case DType::Float64: return relu_typed<double>(n);
    case DType::Int8: return relu_typed<int8_t>(n);
    case DType::Int16: return relu_typed<int16_t>(n);
    case DType::Int32: return relu_typed<int32_t>(n);
    case DType::Int64: return relu_typed<int64_t>(n);
    default: return relu_typed<float>(n);
  }
}

}  // namespace

CELLAR_REGISTER_OPS(nn_ops) {
  OpTable& t = table;
  // MindSpore 2.x passes these attributes as constant inputs (MatMul(x, w, ta, tb),
  // BiasAdd(x, b, format) with format an enum, 0 = NCHW).
  t.add({.name = "MatMul", .min_inputs = 2, .max_inputs = 2, .infer = matmul_infer,
         .make_kernel = matmul_kernel,
         .mindir = {.primitive = "MatMul",
                    .attr_inputs = {"transpose_a", "transpose_b"},
                    .defaults = {{"transpose_a", false}, {"transpose_b", false}}}});
  t.add({.name = "BiasAdd", .min_inputs = 2, .max_inputs = 2, .infer = bias_add_infer,
         .make_kernel = bias_add_kernel,
         .mindir = {.primitive = "BiasAdd",
                    .attr_inputs = {"data_format"},
                    .defaults = {{"data_format", int64_t{0}}}}});
  t.add({.name = "ReLU", .infer = relu_infer, .make_kernel = relu_kernel,
         .mindir = {.primitive = "ReLU"}});
}

}  // namespace cellar::ops
