// ExpandDims(x; axis): x with a dimension of size 1 inserted at `axis` (in [-rank-1, rank]); the
// data unchanged. MindSpore 2.x writes the PRIMITIVE_FUNCTION "ExpandDims" with `axis` a constant
// input after x, as 1.x did. ONNX spells it Unsqueeze, whose axes are an input from opset 13 (an
// attribute before); an Unsqueeze of several axes reads as one ExpandDims per axis, in order.
#include <algorithm>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> expand_dims_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric("ExpandDims", in[0].dtype);
  const int64_t rank = static_cast<int64_t>(in[0].shape.rank());
  const int64_t axis =
      normalize_axis("ExpandDims", attr_int(attrs, "ExpandDims", "axis"), rank + 1);
  std::vector<int64_t> out = in[0].shape.dims();
  out.insert(out.begin() + axis, 1);
  return {{in[0].dtype, Shape(out)}};
}

void export_expand_dims(OnnxBuilder& b, const ir::Node& n) {
  const int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, "ExpandDims", "axis"); });
  const std::string out = b.name(n.outputs.at(0));
  b.add("Unsqueeze", {b.name(n.inputs.at(0)), b.ints(out + "_axes", {axis})}, {out});
}

void import_unsqueeze(OnnxImporter& m) {
  m.require_inputs(1, 2);
  int x = m.input(0);
  const auto axes = m.ints_attr_or_input("axes", 1, 13);
  if (!axes || axes->empty()) m.fail("axes are required");
  const int64_t out_rank = m.rank(x) + static_cast<int64_t>(axes->size());
  std::vector<int64_t> norm;
  for (int64_t a : *axes) norm.push_back(m.axis(a, out_rank));
  std::sort(norm.begin(), norm.end());
  if (std::adjacent_find(norm.begin(), norm.end()) != norm.end()) m.fail("axes repeat an axis");
  for (int64_t a : norm) x = m.emit1("ExpandDims", {x}, {{"axis", a}});
  m.set_output(0, x);
}

}  // namespace

CELLAR_REGISTER_OPS(expand_dims) {
  OpDef d{.name = "ExpandDims",
          .infer = expand_dims_infer,
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "ExpandDims", .attr_inputs = {"axis"}}};
  d.onnx = export_expand_dims;
  d.onnx_import = {{"Unsqueeze", import_unsqueeze}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
