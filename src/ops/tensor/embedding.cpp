// Embedding(input, weight; padding_idx, max_norm, norm_type, scale_grad_by_freq): the rows of the
// 2-D table `weight` at the indices `input` (Int32 or Int64, any shape), shape input + (dim,).
// MindSpore 2.x writes mint.nn.functional.embedding and mint.nn.Embedding as the
// PRIMITIVE_FUNCTION "Embedding" (ops_def embedding_op.yaml: padding_idx and max_norm None or a
// number, norm_type, scale_grad_by_freq, then a UMonad: max_norm renormalises the table's rows in
// place). padding_idx and scale_grad_by_freq act on gradients only; a max_norm is refused (it
// would change the weights while running). An index outside [0, rows) is an error when the kernel
// runs (MindSpore's CPU kernel rejects it too); a negative padding_idx counts from the end, as
// MindSpore's does. nn.Embedding (not mint) writes a Gather of the table instead. ONNX: written as
// Gather(weight, input, axis 0), which reads back as Gather.
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
  if (has_attr(a, "max_norm"))
    throw ValueError(ErrorCode::kUnsupported,
                     std::string(kOp) +
                         ": max_norm renormalises the table's rows in place, which an inference "
                         "graph does not do; export with max_norm=None");
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

template <class I>
Kernel kernel(int64_t count, int64_t rows, size_t row_bytes) {
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
      if (row_bytes)
        std::memcpy(y + static_cast<size_t>(k) * row_bytes, w + static_cast<size_t>(i) * row_bytes,
                    row_bytes);
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
            const size_t row_bytes = static_cast<size_t>(in[1].shape[1]) * itemsize(in[1].dtype);
            if (in[0].dtype == DType::Int32) return kernel<int32_t>(count, rows, row_bytes);
            return kernel<int64_t>(count, rows, row_bytes);
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
    b.add("Gather", {b.name(n.inputs.at(1)), b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))},
          {{"axis", int64_t{0}}});
  };
  table.add(std::move(d));
}

}  // namespace cellar::ops
