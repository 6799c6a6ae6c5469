// Reshape(x; shape): the same elements in C order under a new shape; one entry of `shape` may be
// -1 (inferred from the element count). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Reshape"
// with `shape` a constant input after x, as 1.x did. ONNX's Reshape takes the shape as an input
// too: written with the inferred output shape (allowzero = 1 when it has a 0 dimension); read
// with ONNX's 0 ("copy the input's dimension", unless allowzero) resolved against the input.
#include <algorithm>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> reshape_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  std::vector<int64_t> dims = attr_ints(attrs, "Reshape", "shape");
  // `dims_from_input` (set only by a reader, for graphs with symbolic dimensions): per target
  // dimension, the input dimension whose size it takes when the graph runs (-1: `shape`'s entry),
  // so that ONNX's x.view(x.size(0), -1), folded at load, follows the batch.
  if (attrs.count("dims_from_input")) {
    const auto from = attr_ints(attrs, "Reshape", "dims_from_input");
    if (from.size() != dims.size())
      shape_error("Reshape", "dims_from_input has " + std::to_string(from.size()) +
                                 " entries for a target shape of " + std::to_string(dims.size()));
    for (size_t i = 0; i < from.size(); ++i) {
      if (from[i] < -1 || from[i] >= static_cast<int64_t>(in[0].shape.rank()))
        shape_error("Reshape", "dims_from_input entry " + std::to_string(from[i]) +
                                   " is not a dimension of the input " + in[0].shape.str());
      if (from[i] >= 0) dims[i] = in[0].shape[static_cast<size_t>(from[i])];
    }
  }
  const int64_t total = in[0].shape.numel();
  int64_t known = 1;
  int infer_at = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (infer_at >= 0) shape_error("Reshape", "more than one -1 in target shape");
      infer_at = static_cast<int>(i);
    } else if (dims[i] < 0) {
      shape_error("Reshape", "negative dimension " + std::to_string(dims[i]) + " in target shape");
    } else if (__builtin_mul_overflow(known, dims[i], &known)) {
      shape_error("Reshape", "target shape overflows");
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      shape_error("Reshape", "cannot reshape " + in[0].shape.str() + " to " + Shape(dims).str());
    dims[static_cast<size_t>(infer_at)] = total / known;
  } else if (known != total) {
    shape_error("Reshape", "cannot reshape " + in[0].shape.str() + " to " + Shape(dims).str());
  }
  return {{in[0].dtype, Shape(dims)}};
}

void export_reshape(OnnxBuilder& b, const ir::Node& n) {
  const Shape& y = b.shape(n.outputs.at(0));
  const bool has_zero = std::find(y.begin(), y.end(), 0) != y.end();
  const std::string out = b.name(n.outputs[0]);
  OnnxAttrs attrs;
  if (has_zero) attrs.push_back({"allowzero", int64_t{1}});
  b.add("Reshape", {b.name(n.inputs.at(0)), b.ints(out + "_shape", y.dims())}, {out}, attrs);
}

void import_reshape(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  const Shape& s = m.info(x).shape;
  auto dims = m.const_ints(1);
  const bool allowzero = m.attr_int("allowzero", 0) != 0;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && !allowzero) {  // 0 copies the input's dimension
      if (i >= s.rank())
        m.fail("shape has 0 at index " + std::to_string(i) + " beyond the input's rank");
      dims[i] = s[i];
    } else if (dims[i] < -1) {
      m.fail("shape has the invalid dimension " + std::to_string(dims[i]));
    }
  }
  m.set_output(0, m.emit1("Reshape", {x}, {{"shape", dims}}));
}

}  // namespace

CELLAR_REGISTER_OPS(reshape) {
  OpDef d{.name = "Reshape",
          .infer = reshape_infer,
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "Reshape", .attr_inputs = {"shape"}}};
  d.onnx = export_reshape;
  d.onnx_import = {{"Reshape", import_reshape}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
