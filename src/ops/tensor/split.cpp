// Split(x; axis, output_num, size_splits): x cut along `axis` into consecutive pieces: the sizes
// `size_splits` (adding up to the dimension) when given, else `output_num` equal ones (which must
// divide it). A variable number of outputs: a tuple in MindIR even of one tensor.
// MindSpore 2.x writes ops.split by a count as the PRIMITIVE_FUNCTION "Split" (x, axis,
// output_num: ops_def split_op.yaml), by a list of sizes as "SplitWithSize" (x, split_size, dim;
// its view form "SplitWithSizeView" with a trailing monad), mint.split by a chunk size as
// "SplitTensor" (x, split_size, dim: chunks of that size, the last one shorter); all read here,
// and a node with `size_splits` is written as SplitWithSize. 1.x wrote Split with axis and
// output_num on the primitive. ONNX's Split (sizes an input from opset 13, equal parts by the
// output count before 18, rounded up from 18) is written and read.
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

std::vector<TensorType> split_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric(kOp, in[0].dtype);
  size_t axis = 0;
  std::vector<TensorType> out;
  for (int64_t s : split_sizes(in[0], attrs, &axis)) {
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
  const auto sizes = split_sizes(in[0], attrs, &axis);
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
  auto sizes = m.ints_attr_or_input("split", 1, 13).value_or(std::vector<int64_t>{});
  const int64_t parts = static_cast<int64_t>(m.num_outputs());
  if (parts == 0) m.fail("has no outputs");
  if (parts > 65536) m.fail("too many outputs");
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
          .max_inputs = 1,
          .num_outputs = -1,
          .infer = split_infer,
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
