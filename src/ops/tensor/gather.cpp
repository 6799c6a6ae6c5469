// Gather(params, indices; axis, batch_dims): the slices of params along `axis` chosen by the
// int32/int64 indices, each in [0, params.shape[axis]) (checked when the kernel runs: indices are
// data); out shape params[:axis] + indices + params[axis+1:]. Only batch_dims 0 is supported.
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "Gather" with `axis` and `batch_dims` constant
// inputs after the tensors (batch_dims 0 when a node has none); 1.x's array_ops.py passed axis
// as an input too. ONNX's Gather has axis as an attribute and allows negative indices: reading
// resolves constant ones into [0, n).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

struct GatherGeometry {
  int64_t outer = 1, axis_len = 0, inner = 1, count = 0;
};

GatherGeometry gather_geometry(std::span<const TensorType> in, const ir::Attrs& attrs, Shape* out) {
  tensor::require_numeric("Gather", in[0].dtype);
  require_dtype_in("Gather", in[1].dtype, {DType::Int32, DType::Int64});
  if (attr_int(attrs, "Gather", "batch_dims", 0) != 0)
    throw ValueError(ErrorCode::kUnsupported, "Gather: only batch_dims = 0 is supported");
  const Shape& p = in[0].shape;
  if (p.rank() == 0) shape_error("Gather", "params must have rank >= 1");
  const auto axis = static_cast<size_t>(
      normalize_axis("Gather", attr_int(attrs, "Gather", "axis"), static_cast<int64_t>(p.rank())));
  GatherGeometry g;
  std::vector<int64_t> dims;
  for (size_t d = 0; d < axis; ++d) {
    g.outer *= p[d];
    dims.push_back(p[d]);
  }
  g.axis_len = p[axis];
  for (int64_t d : in[1].shape) dims.push_back(d);
  for (size_t d = axis + 1; d < p.rank(); ++d) {
    g.inner *= p[d];
    dims.push_back(p[d]);
  }
  g.count = in[1].shape.numel();
  if (out) *out = Shape(dims);
  return g;
}

std::vector<TensorType> gather_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  Shape out;
  gather_geometry(in, attrs, &out);
  return {{in[0].dtype, out}};
}

template <class I>
void gather_run(const GatherGeometry& g, size_t item, const Tensor& params, const Tensor& indices,
                Tensor& out) {
  const I* idx = indices.data<I>();
  const std::byte* src = params.raw_data();
  std::byte* dst = out.raw_data();
  const size_t block = static_cast<size_t>(g.inner) * item;
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t k = 0; k < g.count; ++k) {
      const int64_t i = static_cast<int64_t>(idx[k]);
      // Indices come from data, so a bad one is the caller's error, not an invariant.
      if (i < 0 || i >= g.axis_len)
        throw ValueError(ErrorCode::kInvalidArgument, "Gather: index " + std::to_string(i) +
                                                          " is out of range [0, " +
                                                          std::to_string(g.axis_len) + ")");
      if (block) std::memcpy(dst, src + static_cast<size_t>(o * g.axis_len + i) * block, block);
      dst += block;
    }
}

Kernel gather_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const GatherGeometry g = gather_geometry(in, attrs, nullptr);
  const size_t item = itemsize(in[0].dtype);
  if (in[1].dtype == DType::Int32)
    return [g, item](std::span<const Tensor> x, std::span<Tensor> y) {
      gather_run<int32_t>(g, item, x[0], x[1], y[0]);
    };
  return [g, item](std::span<const Tensor> x, std::span<Tensor> y) {
    gather_run<int64_t>(g, item, x[0], x[1], y[0]);
  };
}

void export_gather(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = onnx_checked(b, n, [&] {
    if (attr_int(n.attrs, "Gather", "batch_dims", 0) != 0)
      throw ValueError(ErrorCode::kUnsupported, "batch_dims other than 0");
    return attr_int(n.attrs, "Gather", "axis");
  });
  b.add("Gather", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
        {{"axis", axis}});
}

void import_gather(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int data = m.input(0);
  const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(data));
  int idx = m.input(1);
  // ONNX allows negative indices; cellar's Gather wants them in [0, n): resolve constant ones.
  if (auto c = m.constant_input(1);
      c && (c->dtype() == DType::Int64 || c->dtype() == DType::Int32)) {
    const int64_t n = m.info(data).shape[static_cast<size_t>(axis)];
    Tensor t = c->to(DType::Int64);
    bool changed = false;
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t& v = t.data<int64_t>()[i];
      if (v < -n || v >= n)
        m.fail("index " + std::to_string(v) + " is out of range for size " + std::to_string(n));
      if (v < 0) v += n, changed = true;
    }
    if (changed) idx = m.constant(t.to(c->dtype()));
  }
  m.set_output(0, m.emit1("Gather", {data, idx}, {{"axis", axis}}));
}

}  // namespace

CELLAR_REGISTER_OPS(gather) {
  OpDef d{.name = "Gather",
          .min_inputs = 2,
          .max_inputs = 2,
          .infer = gather_infer,
          .make_kernel = gather_kernel,
          .mindir = {.primitive = "Gather",
                     .attr_inputs = {"axis", "batch_dims"},
                     .defaults = {{"batch_dims", int64_t{0}}}}};
  d.onnx = export_gather;
  d.onnx_import = {{"Gather", import_gather}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
