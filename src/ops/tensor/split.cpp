// Split(x; axis, output_num, size_splits): x cut along `axis` into consecutive pieces: the sizes
// `size_splits` (adding up to the dimension) when given, else `output_num` equal ones (which must
// divide it). A variable number of outputs: a tuple in MindIR even of one tensor.
// MindSpore 2.x writes ops.split by a count as the PRIMITIVE_FUNCTION "Split" (x, axis,
// output_num: ops_def split_op.yaml), by a list of sizes as "SplitWithSize" (x, split_size, dim;
// its view form "SplitWithSizeView" with a trailing monad), mint.split by a chunk size as
// "SplitTensor" (x, split_size, dim: chunks of that size, the last one shorter); all read here,
// and a node with `size_splits` is written as SplitWithSize. 1.x wrote Split with axis and
// output_num on the primitive. ONNX's Split (sizes an input from opset 13, equal parts by the
// output count before 18, rounded up from 18) is written and read. Sizes computed in the graph
// (torch 2.15 writes x.split([n, x.size(1) - n], 1) on a dynamic axis as Slices instead, but other
// exporters and hand-written graphs compute them) make the two-input form Split(x,
// sizes): `sizes` a value input (a 1-D Int64 or Int32 tensor, one entry per output, fixed in length
// at load), written in as `size_splits` per plan; MindIR carries the sizes only as constants.
#include "ops/tensor/split.h"

#include <numeric>

#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Split";

std::vector<int64_t> split_sizes(const TensorType& x, const ir::Attrs& attrs, size_t* axis) {
  if (x.shape.rank() == 0) shape_error(kOp, "input must have rank >= 1");
  const auto a = static_cast<size_t>(
      normalize_axis(kOp, attr_int(attrs, kOp, "axis", 0), static_cast<int64_t>(x.shape.rank())));
  if (axis) *axis = a;
  const int64_t dim = x.shape[a];
  if (has_attr(attrs, "size_splits")) {
    std::vector<int64_t> sizes = attr_ints(attrs, kOp, "size_splits");
    if (sizes.empty()) shape_error(kOp, "size_splits is empty");
    if (sizes.size() > 65536)
      shape_error(kOp, "size_splits has " + std::to_string(sizes.size()) +
                           " sizes, more than 65536 outputs");
    int64_t sum = 0, unknown = -1;
    for (size_t k = 0; k < sizes.size(); ++k) {
      if (sizes[k] == -1 && unknown < 0) {
        unknown = static_cast<int64_t>(k);  // MindSpore: one −1 takes what is left
        continue;
      }
      if (sizes[k] < 0 || sizes[k] > dim) shape_error(kOp, "size_splits has a bad size");
      // Stops at the first size past the dimension, so that the sum stays within int64.
      if (sizes[k] > dim - sum)
        shape_error(kOp, "size_splits add up to more than dimension " + std::to_string(dim));
      sum += sizes[k];
    }
    if (unknown >= 0) {
      if (sum > dim)
        shape_error(kOp, "size_splits add up to more than dimension " + std::to_string(dim));
      sizes[static_cast<size_t>(unknown)] = dim - sum;
      sum = dim;
    }
    if (sum != dim)
      shape_error(kOp, "size_splits add up to " + std::to_string(sum) + ", not dimension " +
                           std::to_string(dim));
    if (has_attr(attrs, "output_num") &&
        attr_int(attrs, kOp, "output_num") != static_cast<int64_t>(sizes.size()))
      shape_error(kOp, "output_num disagrees with size_splits");
    return sizes;
  }
  const int64_t n = attr_int(attrs, kOp, "output_num", 1);
  if (n <= 0 || n > 65536)
    shape_error(kOp, "output_num " + std::to_string(n) + " is not in [1, 65536]");
  if (dim % n != 0)
    shape_error(kOp, "dimension " + std::to_string(dim) + " does not split into " +
                         std::to_string(n) + " equal parts");
  return std::vector<int64_t>(static_cast<size_t>(n), dim / n);
}

// The two-input form's sizes input: 1-D Int64 or Int32, one entry per output (output_num).
void check_sizes_input(const TensorType& s, const ir::Attrs& attrs) {
  if (s.dtype != DType::Int64 && s.dtype != DType::Int32)
    dtype_error(
        kOp, "the sizes input must be Int64 or Int32, got " + std::string(mindspore_name(s.dtype)));
  const int64_t n = attr_int(attrs, kOp, "output_num", 1);
  if (s.shape != Shape{n})
    shape_error(kOp, "the sizes input must have shape (" + std::to_string(n) +
                         ",), one entry per output, got " + s.shape.str());
}

// The sizes input's values written in as `size_splits` (each ≥ 0; split_sizes checks the sum).
ir::Attrs sizes_from_values(std::span<const TensorType> in, std::span<const Tensor> v,
                            const ir::Attrs& attrs) {
  check_sizes_input(in[1], attrs);
  std::vector<int64_t> sizes(static_cast<size_t>(v[1].numel()));
  for (size_t i = 0; i < sizes.size(); ++i) {
    sizes[i] = v[1].dtype() == DType::Int64 ? v[1].data<int64_t>()[i]
                                            : static_cast<int64_t>(v[1].data<int32_t>()[i]);
    if (sizes[i] < 0)
      shape_error(kOp, "the sizes input (computed at run time) holds " + std::to_string(sizes[i]) +
                           " at index " + std::to_string(i) + "; sizes must not be negative");
  }
  ir::Attrs a = attrs;
  a["size_splits"] = std::move(sizes);
  return a;
}

// The node's attributes, with the sizes unknown (a representative type, at load): the whole
// dimension to the first output, nothing to the others.
ir::Attrs with_sizes(std::span<const TensorType> in, const ir::Attrs& attrs) {
  if (in.size() < 2) return attrs;
  check_sizes_input(in[1], attrs);
  if (has_attr(attrs, "size_splits")) return attrs;
  ir::Attrs a = attrs;
  a["size_splits"] = std::vector<int64_t>{-1};
  a.erase("output_num");
  size_t axis = 0;
  (void)split_sizes(in[0], a, &axis);  // validates the axis
  std::vector<int64_t> sizes(static_cast<size_t>(in[1].shape[0]), 0);
  if (!sizes.empty()) sizes[0] = in[0].shape[axis];
  a["size_splits"] = std::move(sizes);
  a["output_num"] = static_cast<int64_t>(in[1].shape[0]);
  return a;
}

std::vector<TensorType> split_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric(kOp, in[0].dtype);
  size_t axis = 0;
  std::vector<TensorType> out;
  for (int64_t s : split_sizes(in[0], with_sizes(in, attrs), &axis)) {
    TensorType t = in[0];
    std::vector<int64_t> dims = t.shape.dims();
    dims[axis] = s;
    t.shape = Shape(dims);
    out.push_back(t);
  }
  return out;
}

Kernel split_make_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  size_t axis = 0;
  const auto sizes = split_sizes(in[0], with_sizes(in, attrs), &axis);
  return tensor::split_kernel(in[0], axis, sizes);
}

// SplitWithSize(View)'s (split_size, dim) → (size_splits, axis).
void read_with_size(ir::Attrs& a, std::span<const TensorType>) {
  if (!has_attr(a, "split_size"))
    throw ValueError(ErrorCode::kInvalidArgument, "attribute 'split_size' is required");
  a["size_splits"] = attr_ints(a, kOp, "split_size");
  a["axis"] = attr_int(a, kOp, "dim", 0);
  a.erase("split_size");
  a.erase("dim");
}

// SplitTensor's chunk size → the sizes it makes.
void read_split_tensor(ir::Attrs& a, std::span<const TensorType> in) {
  const int64_t chunk = attr_int(a, kOp, "split_size");
  const int64_t r = static_cast<int64_t>(in[0].shape.rank());
  if (r == 0) throw ValueError(ErrorCode::kShapeMismatch, "input must have rank >= 1");
  const int64_t axis = normalize_axis(kOp, attr_int(a, kOp, "dim", 0), r);
  const int64_t dim = in[0].shape[static_cast<size_t>(axis)];
  if (chunk <= 0 || dim / chunk > 65536)
    throw ValueError(ErrorCode::kInvalidArgument, "split_size " + std::to_string(chunk));
  std::vector<int64_t> sizes;
  for (int64_t left = dim; left > 0; left -= chunk) sizes.push_back(std::min(chunk, left));
  if (sizes.empty()) sizes.push_back(0);
  a.erase("split_size");
  a.erase("dim");
  a["size_splits"] = sizes;
  a["axis"] = axis;
}

void export_split(OnnxBuilder& b, const ir::Node& n) {
  std::vector<int64_t> sizes;
  const int64_t axis = onnx_checked(b, n, [&] { return attr_int(n.attrs, kOp, "axis", 0); });
  if (n.inputs.size() == 2) {  // sizes computed at run time: passed on, as ONNX reads them
    std::string split = b.name(n.inputs[1]);
    if (b.info(n.inputs[1]).dtype != DType::Int64) {
      const std::string cast = b.fresh(split + "/int64");
      b.add("Cast", {split}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
      split = cast;
    }
    std::vector<std::string> outs;
    for (int v : n.outputs) outs.push_back(b.name(v));
    b.add(kOp, {b.name(n.inputs[0]), split}, outs, {{"axis", axis}});
    return;
  }
  for (int v : n.outputs) {
    const Shape& s = b.shape(v);
    const int64_t r = static_cast<int64_t>(s.rank());
    sizes.push_back(s[static_cast<size_t>(axis < 0 ? axis + r : axis)]);
  }
  std::vector<std::string> outs;
  for (int v : n.outputs) outs.push_back(b.name(v));
  b.add(kOp, {b.name(n.inputs.at(0)), b.ints(outs[0] + "/split", sizes)}, outs, {{"axis", axis}});
}

void import_split(OnnxImporter& m) {
  m.require_inputs(1, 2);
  const int x = m.input(0);
  const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(x));
  const int64_t dim = m.info(x).shape[static_cast<size_t>(axis)];
  const int64_t parts = static_cast<int64_t>(m.num_outputs());
  if (parts == 0) m.fail("has no outputs");
  if (parts > 65536) m.fail("too many outputs");
  if (m.opset() >= 13 && m.num_inputs() > 1 && m.has_input(1) && !m.constant_input(1)) {
    // Sizes computed in the graph: the two-input form, planned with their values.
    const int s = m.input(1);
    const ir::ValueInfo info = m.info(s);
    if ((info.dtype != DType::Int64 && info.dtype != DType::Int32) || info.shape != Shape{parts} ||
        !m.shape_known(s) || info.open(0))
      m.unsupported(
          "split (computed in the graph) must be a 1-D int64 tensor of one entry per "
          "output (" +
          std::to_string(parts) + ") fixed at load time, got " + info.type_str());
    const auto outs = m.emit(kOp, {x, s}, {{"axis", axis}, {"output_num", parts}});
    for (size_t k = 0; k < outs.size(); ++k) m.set_output(k, outs[k]);
    return;
  }
  auto sizes = m.ints_attr_or_input("split", 1, 13).value_or(std::vector<int64_t>{});
  if (sizes.empty()) {
    const int64_t chunk = m.opset() >= 18 ? (dim + parts - 1) / parts : dim / parts;
    if (m.opset() < 18 && dim % parts != 0)
      m.fail("dimension " + std::to_string(dim) + " does not split into " + std::to_string(parts) +
             " equal parts");
    for (int64_t k = 0, left = dim; k < parts; ++k, left -= chunk)
      sizes.push_back(std::min(chunk, std::max<int64_t>(left, 0)));
  }
  if (static_cast<int64_t>(sizes.size()) != parts)
    m.fail("split sizes disagree with the output count");
  for (int64_t s : sizes)
    if (s < 0) m.fail("negative split size");
  const auto outs = m.emit(kOp, {x}, {{"axis", axis}, {"size_splits", sizes}});
  for (size_t k = 0; k < outs.size(); ++k) m.set_output(k, outs[k]);
}

}  // namespace

CELLAR_REGISTER_OPS(split) {
  const MindIRSpelling with_size{.primitive = "SplitWithSize",
                                 .attr_inputs = {"split_size", "dim"},
                                 .defaults = {{"dim", int64_t{0}}}};
  MindIRSpelling with_size_view = with_size;
  with_size_view.primitive = "SplitWithSizeView";
  const MindIRSpelling split_tensor{.primitive = "SplitTensor",
                                    .attr_inputs = {"split_size", "dim"},
                                    .defaults = {{"dim", int64_t{0}}}};
  OpDef d{.name = kOp,
          .min_inputs = 1,
          .max_inputs = 2,
          .num_outputs = -1,
          .infer = split_infer,
          .value_inputs = {1},
          .attrs_from_values = sizes_from_values,
          .make_kernel = split_make_kernel,
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"axis", "output_num"},
                     .defaults = {{"axis", int64_t{0}}, {"output_num", int64_t{1}}}}};
  d.mindir.variants = {{.spelling = with_size,
                        .read = read_with_size,
                        .write =
                            [](ir::Attrs& a, std::span<const TensorType>) {
                              if (!has_attr(a, "size_splits")) return false;
                              ir::Attrs w;
                              w["split_size"] = attr_ints(a, kOp, "size_splits");
                              w["dim"] = attr_int(a, kOp, "axis", 0);
                              a = std::move(w);
                              return true;
                            }},
                       {.spelling = with_size_view,
                        .read = read_with_size,
                        .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }},
                       {.spelling = split_tensor,
                        .read = read_split_tensor,
                        .write = [](ir::Attrs&, std::span<const TensorType>) { return false; }}};
  d.onnx = export_split;
  d.onnx_import = {{kOp, import_split}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
