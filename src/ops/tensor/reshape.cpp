// Reshape(x; shape): the same elements in C order under a new shape; one entry of `shape` may be
// -1 (inferred from the element count). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Reshape"
// with `shape` a constant input after x, as 1.x did. ONNX's Reshape takes the shape as an input
// too: written with the inferred output shape (allowzero = 1 when it has a 0 dimension); read
// with ONNX's 0 ("copy the input's dimension", unless allowzero) resolved against the input.
// A shape computed at run time (ONNX's Reshape whose shape input is not a constant) makes the
// two-input form Reshape(x, shape) (`allowzero` an attribute): its shape input is a value input
// (OpDef::value_inputs), written in as `shape` per plan. MindIR: only the one-input form is
// written (MindSpore's Reshape takes `shape` as a constant argument).
#include <algorithm>

#include "ir/limits.h"
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

// The shape input of the two-input form: a 1-D Int64 or Int32 tensor of a length the rank limit
// allows.
void check_shape_input(const TensorType& s) {
  if (s.dtype != DType::Int64 && s.dtype != DType::Int32)
    dtype_error("Reshape", "the shape input must be Int64 or Int32, got " +
                               std::string(mindspore_name(s.dtype)));
  if (s.shape.rank() != 1)
    shape_error("Reshape", "the shape input must be 1-D, got shape " + s.shape.str());
  if (static_cast<size_t>(s.shape[0]) > ir::kMaxRank)
    shape_error("Reshape", "the shape input has " + std::to_string(s.shape[0]) +
                               " entries, above cellar's rank limit of " +
                               std::to_string(ir::kMaxRank));
}

// The two-input form's shape input, written in as the `shape` attribute: ONNX's semantics, 0
// copying the input's dimension unless `allowzero`, -1 inferred (validated by reshape_infer).
ir::Attrs reshape_attrs(std::span<const TensorType> in, std::span<const Tensor> v,
                        const ir::Attrs& attrs) {
  check_shape_input(in[1]);
  const Tensor& s = v[1];
  const bool allowzero = attr_int(attrs, "Reshape", "allowzero", 0) != 0;
  std::vector<int64_t> dims(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < dims.size(); ++i) {
    dims[i] = s.dtype() == DType::Int64 ? s.data<int64_t>()[i] : s.data<int32_t>()[i];
    if (dims[i] == 0 && !allowzero) {
      if (i >= in[0].shape.rank())
        shape_error("Reshape", "the shape input has 0 (copy the input's dimension) at index " +
                                   std::to_string(i) + ", beyond the input's rank " +
                                   std::to_string(in[0].shape.rank()));
      dims[i] = in[0].shape[i];
    }
  }
  ir::Attrs out = attrs;
  out.erase("allowzero");
  out["shape"] = std::move(dims);
  return out;
}

std::vector<TensorType> reshape_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (in.size() == 2 && !attrs.count("shape")) {
    // The shape input's values unknown: a representative of its length whose last dimension
    // holds every element.
    check_shape_input(in[1]);
    const int64_t n = in[1].shape[0];
    std::vector<int64_t> dims(static_cast<size_t>(n), 1);
    if (n > 0) dims.back() = in[0].shape.numel();
    return {{in[0].dtype, Shape(dims)}};
  }
  if (in.size() == 2) check_shape_input(in[1]);
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
  if (n.inputs.size() == 2) {  // the shape computed at run time: passed on, as ONNX reads it
    std::string shape = b.name(n.inputs[1]);
    if (b.info(n.inputs[1]).dtype != DType::Int64) {
      const std::string cast = b.fresh(shape + "/int64");
      b.add("Cast", {shape}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
      shape = cast;
    }
    OnnxAttrs attrs;
    if (const int64_t z =
            onnx_checked(b, n, [&] { return attr_int(n.attrs, "Reshape", "allowzero", 0); }))
      attrs.push_back({"allowzero", z});
    b.add("Reshape", {b.name(n.inputs[0]), shape}, {b.name(n.outputs.at(0))}, attrs);
    return;
  }
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
  const bool allowzero = m.attr_int("allowzero", 0) != 0;
  if (!m.constant_input(1)) {
    // A shape computed at run time (torch's x.view(x.size(0), -1) on a dynamic batch): the
    // two-input form, planned with its values.
    const ir::ValueInfo info = m.info(m.input(1));
    if (info.shape.rank() != 1 || !m.shape_known(m.input(1)) || info.open(0))
      m.unsupported(
          "the shape input (computed in the graph) must be 1-D of a length fixed at "
          "load time, got " +
          info.shape_str());
    ir::Attrs attrs;
    if (allowzero) attrs["allowzero"] = int64_t{1};
    m.set_output(0, m.emit1("Reshape", {x, m.input(1)}, std::move(attrs)));
    return;
  }
  const Shape& s = m.info(x).shape;
  auto dims = m.const_ints(1);
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
          .max_inputs = 2,
          .infer = reshape_infer,
          .value_inputs = {1},
          .attrs_from_values = reshape_attrs,
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "Reshape", .attr_inputs = {"shape"}}};
  d.onnx = export_reshape;
  d.onnx_import = {{"Reshape", import_reshape}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
