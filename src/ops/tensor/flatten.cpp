// Flatten: (N, d1, …, dk) → (N, d1·…·dk), the data unchanged (a copy into the planned output).
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "Flatten" with x its only input, as 1.x did
// (nn.Flatten). ONNX's Flatten(axis = 1) is the same op; an ONNX Flatten with another axis reads
// as a Reshape to (d0·…·d(axis-1), d(axis)·…).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> flatten_infer(std::span<const TensorType> in, const ir::Attrs&) {
  const Shape& s = in[0].shape;
  if (s.rank() == 0) shape_error("Flatten", "input must have rank >= 1");
  int64_t rest = 1;
  for (size_t i = 1; i < s.rank(); ++i) rest *= s[i];
  return {{in[0].dtype, Shape{s[0], rest}}};
}

void import_flatten(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  const Shape& s = m.info(x).shape;
  const int64_t r = static_cast<int64_t>(s.rank());
  int64_t axis = m.attr_int("axis", 1);
  if (axis < -r || axis > r) m.fail("axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += r;
  if (axis == 1 && r >= 1) {
    m.set_output(0, m.emit1("Flatten", {x}));
    return;
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= s[static_cast<size_t>(i)];
  m.set_output(0, m.emit1("Reshape", {x}, {{"shape", std::vector<int64_t>{outer, inner}}}));
}

}  // namespace

CELLAR_REGISTER_OPS(flatten) {
  OpDef d{.name = "Flatten",
          .infer = flatten_infer,
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "Flatten"}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    b.add("Flatten", {b.name(n.inputs.at(0))}, {b.name(n.outputs.at(0))}, {{"axis", int64_t{1}}});
  };
  d.onnx_import = {{"Flatten", import_flatten}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
