// Embedding(input, weight; padding_idx, max_norm, norm_type, scale_grad_by_freq): the rows of the
// 2-D table `weight` at the indices `input` (Int32 or Int64, any shape), shape input + (dim,).
// MindSpore 2.x writes mint.nn.functional.embedding and mint.nn.Embedding as the
// PRIMITIVE_FUNCTION "Embedding" (ops_def embedding_op.yaml: padding_idx and max_norm None or a
// number, norm_type, scale_grad_by_freq, then a UMonad: max_norm renormalises the table's rows in
// place). padding_idx and scale_grad_by_freq act on gradients only. With max_norm, a looked-up
// row whose norm_type-norm (p > 0, or inf) exceeds max_norm comes out scaled by
// max_norm / (norm + 1e-7), as torch.nn.functional.embedding defines it; the table itself is left
// as it is (torch and MindSpore renormalise it in place, which changes no output: a renormalised
// row is within the norm), so that the kernel stays immutable. Float32 and Float64 tables.
// (MindSpore 2.10's CPU graph gives each element squared, times the scale: a bug, see
// make_ops_e_fixtures.py.) An index outside [0, rows) is an error when the kernel
// runs (MindSpore's CPU kernel rejects it too); a negative padding_idx counts from the end, as
// MindSpore's does. nn.Embedding (not mint) writes a Gather of the table instead. ONNX: written as
// Gather(weight, input, axis 0), which reads back as Gather; with max_norm, the rows' norm
// (ReduceL2, ReduceL1 or the largest |x|) and their scaling follow it.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "Embedding";

void check(std::span<const TensorType> in, const ir::Attrs& a) {
  require_dtype_in(kOp, in[0].dtype, {DType::Int32, DType::Int64});
  if (in[1].shape.rank() != 2)
    shape_error(kOp, "weight must be a 2-D table (rows, dim), got " + in[1].shape.str());
  if (has_attr(a, "max_norm")) {
    const double max_norm = attr_double(a, kOp, "max_norm", 0.0);
    if (!(max_norm >= 0) || std::isinf(max_norm))
      throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) +
                                                        ": max_norm must be a "
                                                        "finite number >= 0, got " +
                                                        std::to_string(max_norm));
    const double p = attr_double(a, kOp, "norm_type", 2.0);
    if (!(p > 0))
      throw ValueError(
          ErrorCode::kInvalidArgument,
          std::string(kOp) + ": norm_type must be > 0 (or inf), got " + std::to_string(p));
    require_dtype_in(kOp, in[1].dtype, {DType::Float32, DType::Float64});
  }
  const int64_t rows = in[1].shape[0];
  if (has_attr(a, "padding_idx")) {
    const int64_t p = attr_int(a, kOp, "padding_idx");
    if (p < -rows || p >= rows)
      throw ValueError(ErrorCode::kInvalidArgument,
                       std::string(kOp) + ": padding_idx " + std::to_string(p) + " is outside [-" +
                           std::to_string(rows) + ", " + std::to_string(rows) + ")");
  }
  (void)attr_double(a, kOp, "norm_type", 2.0);
  (void)attr_bool(a, kOp, "scale_grad_by_freq", false);
}

// Scales the row y[0, dim) down to max_norm when its p-norm exceeds it.
template <class T>
void renorm(T* y, int64_t dim, double max_norm, double p) {
  double norm = 0;
  if (std::isinf(p)) {
    for (int64_t k = 0; k < dim; ++k) norm = std::max(norm, std::fabs(static_cast<double>(y[k])));
  } else {
    for (int64_t k = 0; k < dim; ++k) norm += std::pow(std::fabs(static_cast<double>(y[k])), p);
    norm = std::pow(norm, 1 / p);
  }
  if (norm > max_norm) {
    const double scale = max_norm / (norm + 1e-7);
    for (int64_t k = 0; k < dim; ++k) y[k] = static_cast<T>(static_cast<double>(y[k]) * scale);
  }
}

// max_norm < 0: none.
template <class I>
Kernel kernel(int64_t count, int64_t rows, size_t row_bytes, DType dt, int64_t dim, double max_norm,
              double p) {
  return [=](std::span<const Tensor> in, std::span<Tensor> out) {
    const I* idx = in[0].data<I>();
    const auto* w = static_cast<const std::byte*>(in[1].raw_data());
    auto* y = static_cast<std::byte*>(out[0].raw_data());
    for (int64_t k = 0; k < count; ++k) {
      const auto i = static_cast<int64_t>(idx[k]);
      if (i < 0 || i >= rows)
        throw ValueError(ErrorCode::kInvalidArgument,
                         std::string(kOp) + ": index " + std::to_string(i) +
                             " is out of range [0, " + std::to_string(rows) + ")");
      if (!row_bytes) continue;
      std::byte* row = y + static_cast<size_t>(k) * row_bytes;
      std::memcpy(row, w + static_cast<size_t>(i) * row_bytes, row_bytes);
      if (max_norm < 0) continue;
      if (dt == DType::Float32)
        renorm(reinterpret_cast<float*>(row), dim, max_norm, p);
      else
        renorm(reinterpret_cast<double*>(row), dim, max_norm, p);
    }
  };
}

}  // namespace

CELLAR_REGISTER_OPS(embedding) {
  OpDef d{.name = kOp,
          .min_inputs = 2,
          .max_inputs = 2,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                check(in, attrs);
                std::vector<int64_t> dims = in[0].shape.dims();
                dims.push_back(in[1].shape[1]);
                return std::vector<TensorType>{{in[1].dtype, Shape(dims)}};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            check(in, attrs);
            const int64_t count = in[0].shape.numel(), rows = in[1].shape[0];
            const int64_t dim = in[1].shape[1];
            const size_t row_bytes = static_cast<size_t>(dim) * itemsize(in[1].dtype);
            const double max_norm =
                has_attr(attrs, "max_norm") ? attr_double(attrs, kOp, "max_norm", 0.0) : -1.0;
            const double p = attr_double(attrs, kOp, "norm_type", 2.0);
            if (in[0].dtype == DType::Int32)
              return kernel<int32_t>(count, rows, row_bytes, in[1].dtype, dim, max_norm, p);
            return kernel<int64_t>(count, rows, row_bytes, in[1].dtype, dim, max_norm, p);
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"padding_idx", "max_norm", "norm_type", "scale_grad_by_freq"},
                     .defaults = {{"norm_type", 2.0}, {"scale_grad_by_freq", false}},
                     .none_when_absent = {"padding_idx", "max_norm"}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    std::vector<TensorType> in;
    for (int v : n.inputs) in.push_back({b.info(v).dtype, b.info(v).shape});
    onnx_checked(b, n, [&] {
      check(in, n.attrs);
      return 0;
    });
    const std::string y = b.name(n.outputs.at(0));
    if (!has_attr(n.attrs, "max_norm")) {
      b.add("Gather", {b.name(n.inputs.at(1)), b.name(n.inputs.at(0))}, {y},
            {{"axis", int64_t{0}}});
      return;
    }
    // The rows, then each one's norm (keepdims), scaled where it exceeds max_norm.
    const double max_norm = attr_double(n.attrs, kOp, "max_norm", 0.0);
    const double p = attr_double(n.attrs, kOp, "norm_type", 2.0);
    const DType dt = b.info(n.inputs.at(1)).dtype;
    const std::string rows = b.fresh(y + "/rows"), norm = b.fresh(y + "/norm"),
                      over = b.fresh(y + "/over"), eps = b.fresh(y + "/norm_eps"),
                      ratio = b.fresh(y + "/ratio"), scale = b.fresh(y + "/scale");
    b.add("Gather", {b.name(n.inputs.at(1)), b.name(n.inputs.at(0))}, {rows},
          {{"axis", int64_t{0}}});
    const OnnxAttrs last{{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}};
    if (p == 2 || p == 1) {
      b.add(p == 2 ? "ReduceL2" : "ReduceL1", {rows}, {norm}, last);
    } else if (std::isinf(p)) {
      const std::string abs = b.fresh(y + "/abs");
      b.add("Abs", {rows}, {abs});
      b.add("ReduceMax", {abs}, {norm}, last);
    } else {
      b.fail(n, "max_norm with norm_type " + std::to_string(p) +
                    " (ONNX is written for norm_type 1, 2 and inf)");
    }
    const std::string mx = b.scalar(y + "/max_norm", max_norm, dt);
    b.add("Greater", {norm, mx}, {over});
    b.add("Add", {norm, b.scalar(y + "/eps", 1e-7, dt)}, {eps});
    b.add("Div", {mx, eps}, {ratio});
    b.add("Where", {over, ratio, b.scalar(y + "/one", 1.0, dt)}, {scale});
    b.add("Mul", {rows, scale}, {y});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
