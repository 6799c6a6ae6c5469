// Squeeze(x; axis): x without the dimensions of size 1 listed in `axis` (a tuple; () drops every
// dimension of size 1); the data unchanged. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Squeeze"
// with `axis` a constant input after x (checked with the files MindSpore 2.10 writes:
// tests/fixtures/mindspore/2.10/mindir/ops_matmul.mindir). ONNX's Squeeze takes axes as an input
// from opset 13 (an attribute before): written with () resolved to the size-1 dimensions (Identity
// when there are none).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> squeeze_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric("Squeeze", in[0].dtype);
  const Shape& x = in[0].shape;
  const int64_t rank = static_cast<int64_t>(x.rank());
  const auto axes = attr_ints(attrs, "Squeeze", "axis", {});
  std::vector<bool> drop(x.rank(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.rank(); ++i) drop[i] = x[i] == 1;
  } else {
    for (int64_t a : axes) {
      const auto k = static_cast<size_t>(normalize_axis("Squeeze", a, rank));
      if (x[k] != 1)
        shape_error("Squeeze", "dimension " + std::to_string(a) + " of " + x.str() + " has size " +
                                   std::to_string(x[k]) + ", not 1");
      drop[k] = true;
    }
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < x.rank(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  return {{in[0].dtype, Shape(out)}};
}

void export_squeeze(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  auto axes = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Squeeze", "axis", {}); });
  if (axes.empty())  // () means every dimension of size 1
    for (size_t i = 0; i < x.rank(); ++i)
      if (x[i] == 1) axes.push_back(static_cast<int64_t>(i));
  const std::string out = b.name(n.outputs.at(0));
  if (axes.empty()) {
    b.add("Identity", {b.name(n.inputs[0])}, {out});
    return;
  }
  b.add("Squeeze", {b.name(n.inputs[0]), b.ints(out + "_axes", axes)}, {out});
}

void import_squeeze(OnnxImporter& m) {
  m.require_inputs(1, 2);
  const int x = m.input(0);
  auto axes = m.ints_attr_or_input("axes", 1, 13).value_or(std::vector<int64_t>{});
  for (auto& a : axes) a = m.axis(a, m.rank(x));
  m.set_output(0, m.emit1("Squeeze", {x}, {{"axis", axes}}));
}

}  // namespace

CELLAR_REGISTER_OPS(squeeze) {
  OpDef d{.name = "Squeeze",
          .infer = squeeze_infer,
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "Squeeze", .attr_inputs = {"axis"}}};
  d.onnx = export_squeeze;
  d.onnx_import = {{"Squeeze", import_squeeze}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
