// Concat(x0, x1, …; axis): the inputs (any number, one dtype, equal outside `axis`) joined along
// `axis` (default 0). In MindSpore's graphs Concat's first input is one MakeTuple of the tensors
// and `axis` a constant input after it (2.x's PRIMITIVE_FUNCTION, written with axis 0 when a node
// has none; 1.x's array_ops.py the same); here the tensors are the node's inputs and the MindIR
// spelling's tuple_input packs and unpacks them. ONNX's Concat is the same op, axis an attribute.
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

size_t concat_axis(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return static_cast<size_t>(normalize_axis("Concat", attr_int(attrs, "Concat", "axis", 0),
                                            static_cast<int64_t>(in[0].shape.rank())));
}

std::vector<TensorType> concat_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype("Concat", in);
  tensor::require_numeric("Concat", in[0].dtype);
  const Shape& s0 = in[0].shape;
  if (s0.rank() == 0) shape_error("Concat", "inputs must have rank >= 1");
  const size_t axis = concat_axis(in, attrs);
  std::vector<int64_t> out = s0.dims();
  out[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& s = in[i].shape;
    bool ok = s.rank() == s0.rank();
    for (size_t d = 0; ok && d < s.rank(); ++d) ok = d == axis || s[d] == s0[d];
    if (!ok)
      shape_error("Concat", "input " + std::to_string(i) + " " + s.str() +
                                " does not match input 0 " + s0.str() + " outside axis " +
                                std::to_string(axis));
    out[axis] += s[axis];
  }
  return {{in[0].dtype, Shape(out)}};
}

// Per index of the dimensions before `axis`, each input contributes one contiguous block.
Kernel concat_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Shape& s0 = in[0].shape;
  const size_t axis = concat_axis(in, attrs);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= s0[d];
  for (size_t d = axis + 1; d < s0.rank(); ++d) inner *= s0[d];
  const size_t item = itemsize(in[0].dtype);
  std::vector<size_t> block;  // bytes each input contributes per outer index
  for (const auto& t : in) block.push_back(static_cast<size_t>(t.shape[axis] * inner) * item);
  return [outer, block](std::span<const Tensor> x, std::span<Tensor> y) {
    std::byte* dst = y[0].raw_data();
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < block.size(); ++i) {
        if (block[i])
          std::memcpy(dst, x[i].raw_data() + static_cast<size_t>(o) * block[i], block[i]);
        dst += block[i];
      }
  };
}

void export_concat(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, "Concat", "axis", 0); });
  std::vector<std::string> in;
  for (int v : n.inputs) in.push_back(b.name(v));
  b.add("Concat", in, {b.name(n.outputs.at(0))}, {{"axis", axis}});
}

void import_concat(OnnxImporter& m) {
  if (m.num_inputs() == 0) m.fail("needs at least one input");
  if (!m.has_attr("axis")) m.fail("attribute 'axis' is required");
  std::vector<int> in;
  for (size_t i = 0; i < m.num_inputs(); ++i) in.push_back(m.input(i));
  m.set_output(0, m.emit1("Concat", in, {{"axis", m.attr_int("axis", 0)}}));
}

}  // namespace

CELLAR_REGISTER_OPS(concat) {
  OpDef d{.name = "Concat",
          .min_inputs = 1,
          .max_inputs = -1,
          .infer = concat_infer,
          .make_kernel = concat_kernel,
          .mindir = {.primitive = "Concat",
                     .attr_inputs = {"axis"},
                     .defaults = {{"axis", int64_t{0}}},
                     .tuple_input = true}};
  d.onnx = export_concat;
  d.onnx_import = {{"Concat", import_concat}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
