// Unstack(x; axis): x cut along `axis` into x.shape[axis] tensors, that dimension removed from
// each (a variable number of outputs: a tuple in MindIR even of one tensor). MindSpore 2.x writes
// ops.unstack as the Python PRIMITIVE "Unstack" with `axis` and `num` on the primitive (1.x called
// it "Unpack", read here too), and mint.unbind as the view op "UnstackExtView" (x, dim, and a
// trailing monad), read as this op. ONNX has no Unstack: written as Split into ones, then Squeeze
// of each piece.
#include "ops/onnx_spelling.h"
#include "ops/tensor/split.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Unstack";

size_t unstack_axis(const TensorType& x, const ir::Attrs& attrs) {
  if (x.shape.rank() == 0) shape_error(kOp, "input must have rank >= 1");
  const auto axis = static_cast<size_t>(
      normalize_axis(kOp, attr_int(attrs, kOp, "axis", 0), static_cast<int64_t>(x.shape.rank())));
  const int64_t dim = x.shape[axis];
  if (dim > 65536) shape_error(kOp, "dimension " + std::to_string(dim) + " is above 65536");
  if (has_attr(attrs, "num") && attr_int(attrs, kOp, "num") != dim)
    shape_error(kOp, "num " + std::to_string(attr_int(attrs, kOp, "num")) + " differs from " +
                         "dimension " + std::to_string(dim));
  return axis;
}

std::vector<TensorType> unstack_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric(kOp, in[0].dtype);
  const size_t axis = unstack_axis(in[0], attrs);
  std::vector<int64_t> dims = in[0].shape.dims();
  const int64_t n = dims[axis];
  dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(axis));
  return std::vector<TensorType>(static_cast<size_t>(n), TensorType{in[0].dtype, Shape(dims)});
}

Kernel unstack_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const size_t axis = unstack_axis(in[0], attrs);
  return tensor::split_kernel(in[0], axis,
                              std::vector<int64_t>(static_cast<size_t>(in[0].shape[axis]), 1));
}

void export_unstack(OnnxBuilder& b, const ir::Node& n) {
  const int x = n.inputs.at(0);
  const int64_t r = static_cast<int64_t>(b.shape(x).rank());
  int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, kOp, "axis", 0); });
  if (axis < 0) axis += r;
  const std::string base = b.name(n.outputs.at(0));
  std::vector<std::string> pieces;
  for (size_t k = 0; k < n.outputs.size(); ++k) pieces.push_back(b.fresh(base + "/piece"));
  b.add("Split", {b.name(x), b.ints(base + "/ones", std::vector<int64_t>(n.outputs.size(), 1))},
        pieces, {{"axis", axis}});
  const std::string axes = b.ints(base + "/axes", {axis});
  for (size_t k = 0; k < n.outputs.size(); ++k)
    b.add("Squeeze", {pieces[k], axes}, {b.name(n.outputs[k])});
}

}  // namespace

CELLAR_REGISTER_OPS(unstack) {
  OpDef d{
      .name = kOp,
      .min_inputs = 1,
      .max_inputs = 1,
      .num_outputs = -1,
      .infer = unstack_infer,
      .make_kernel = unstack_kernel,
      .mindir = {.primitive = kOp, .legacy_primitives = {"Unpack"}, .primitive_function = false}};
  d.mindir.variants = {{.spelling = {.primitive = "UnstackExtView",
                                     .attr_inputs = {"dim"},
                                     .defaults = {{"dim", int64_t{0}}}},
                        .read =
                            [](ir::Attrs& a, std::span<const TensorType>) {
                              a["axis"] = attr_int(a, kOp, "dim", 0);
                              a.erase("dim");
                            },
                        .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }}};
  d.onnx = export_unstack;
  table.add(std::move(d));
}

}  // namespace cellar::ops
