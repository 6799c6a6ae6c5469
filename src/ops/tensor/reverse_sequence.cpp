// ReverseSequence(x, seq_lengths; seq_dim, batch_dim): for each index b along batch_dim, the first
// seq_lengths[b] elements along seq_dim reversed, the rest kept. seq_lengths is 1-D, Int32 or
// Int64, one per batch element, each in [0, x.shape[seq_dim]] (a value outside is an error when
// the kernel runs: it comes from data). MindSpore writes the Python PRIMITIVE "ReverseSequence"
// with seq_dim and batch_dim (default 0) as attributes, in 1.x and 2.x alike: nn.LSTM and nn.GRU
// with seq_length run their backward direction on it (2.10's nn/layer/rnns.py). ONNX's
// ReverseSequence (time_axis, batch_axis, which must be 0 and 1 in some order; sequence_lens
// Int64) is the same: written (seq_lengths cast to Int64) and read one to one.
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "ReverseSequence";

struct Plan {
  int64_t seq_dim = 0, batch_dim = 0, seq_len = 0, batch = 0, seq_stride = 1, batch_stride = 1;
  int64_t n = 0;
};

Plan plan(std::span<const TensorType> in, const ir::Attrs& a) {
  const Shape& s = in[0].shape;
  const auto rank = static_cast<int64_t>(s.rank());
  if (rank < 2) shape_error(kOp, "x must have rank >= 2, got " + s.str());
  require_dtype_in(kOp, in[1].dtype, {DType::Int32, DType::Int64});
  Plan p;
  p.seq_dim = normalize_axis(kOp, attr_int(a, kOp, "seq_dim"), rank);
  p.batch_dim = normalize_axis(kOp, attr_int(a, kOp, "batch_dim", 0), rank);
  if (p.seq_dim == p.batch_dim)
    shape_error(kOp, "seq_dim and batch_dim are both " + std::to_string(p.seq_dim));
  p.seq_len = s[static_cast<size_t>(p.seq_dim)];
  p.batch = s[static_cast<size_t>(p.batch_dim)];
  if (in[1].shape != Shape{p.batch})
    shape_error(kOp, "seq_lengths must be " + Shape{p.batch}.str() +
                         " (one per element of batch_dim " + std::to_string(p.batch_dim) +
                         "), got " + in[1].shape.str());
  for (int64_t d = rank - 1; d > p.seq_dim; --d) p.seq_stride *= s[static_cast<size_t>(d)];
  for (int64_t d = rank - 1; d > p.batch_dim; --d) p.batch_stride *= s[static_cast<size_t>(d)];
  p.n = s.numel();
  return p;
}

template <class I>
Kernel kernel(Plan p, size_t item) {
  return [p, item](std::span<const Tensor> in, std::span<Tensor> out) {
    const I* lens = in[1].data<I>();
    for (int64_t b = 0; b < p.batch; ++b)
      if (lens[b] < 0 || static_cast<int64_t>(lens[b]) > p.seq_len)
        throw ValueError(ErrorCode::kInvalidArgument,
                         std::string(kOp) + ": seq_lengths[" + std::to_string(b) +
                             "] = " + std::to_string(lens[b]) + " is outside [0, " +
                             std::to_string(p.seq_len) + "]");
    const auto* x = static_cast<const std::byte*>(in[0].raw_data());
    auto* y = static_cast<std::byte*>(out[0].raw_data());
    for (int64_t i = 0; i < p.n; ++i) {
      const int64_t t = (i / p.seq_stride) % p.seq_len;
      const auto len = static_cast<int64_t>(lens[(i / p.batch_stride) % p.batch]);
      const int64_t from = t < len ? i + (len - 1 - 2 * t) * p.seq_stride : i;
      std::memcpy(y + static_cast<size_t>(i) * item, x + static_cast<size_t>(from) * item, item);
    }
  };
}

void export_reverse_sequence(OnnxBuilder& b, const ir::Node& n) {
  std::vector<TensorType> in;
  for (int v : n.inputs) in.push_back({b.info(v).dtype, b.info(v).shape});
  const Plan p = onnx_checked(b, n, [&] { return plan(in, n.attrs); });
  if (p.seq_dim > 1 || p.batch_dim > 1)
    b.fail(n, "ONNX's ReverseSequence takes its time and batch axes among the first two, not " +
                  std::to_string(p.seq_dim) + " and " + std::to_string(p.batch_dim));
  const std::string y = b.name(n.outputs.at(0));
  std::string lens = b.name(n.inputs.at(1));
  if (in[1].dtype != DType::Int64) {
    const std::string cast = b.fresh(y + "/sequence_lens");
    b.add("Cast", {lens}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
    lens = cast;
  }
  b.add("ReverseSequence", {b.name(n.inputs[0]), lens}, {y},
        {{"time_axis", p.seq_dim}, {"batch_axis", p.batch_dim}});
}

void import_reverse_sequence(OnnxImporter& m) {
  m.require_inputs(2, 2);
  m.set_output(0, m.emit1(kOp, {m.input(0), m.input(1)},
                          {{"seq_dim", m.attr_int("time_axis", 0)},
                           {"batch_dim", m.attr_int("batch_axis", 1)}}));
}

}  // namespace

CELLAR_REGISTER_OPS(reverse_sequence) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer =
                 [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                   plan(in, attrs);
                   return std::vector<TensorType>{in[0]};
                 },
             .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
               const Plan p = plan(in, attrs);
               const size_t item = itemsize(in[0].dtype);
               if (in[1].dtype == DType::Int32) return kernel<int32_t>(p, item);
               return kernel<int64_t>(p, item);
             },
             .mindir = {.primitive = kOp,
                        .defaults = {{"batch_dim", int64_t{0}}},
                        .primitive_function = false},
             .onnx = export_reverse_sequence,
             .onnx_import = {{"ReverseSequence", import_reverse_sequence}}});
}

}  // namespace cellar::ops
