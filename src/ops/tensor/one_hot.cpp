// OneHot(indices, on_value, off_value; depth, axis): a new axis of length depth inserted at
// `axis` (-1: last), holding on_value where the position equals the index and off_value
// elsewhere; an index outside [0, depth) (negative ones too) gives off_value all along the axis.
// indices Int32 or Int64; on_value and off_value rank-0 tensors of one dtype, the output's.
// MindSpore 2.x writes ops.one_hot as the PRIMITIVE_FUNCTION "OneHot" with its arguments in the
// order (indices, depth, on_value, off_value, axis), depth and axis constants (ops_def
// one_hot_op.yaml), and mint.nn.functional.one_hot as "OneHotExt" with the same arguments
// (num_classes for depth; its -1, "the largest index + 1", depends on the data and is refused).
// ONNX's OneHot (values = [off, on], depth an input) counts a negative index from the end, which
// MindSpore does not: written with such indices replaced by depth (outside every range ONNX reads,
// so all off) and as a 0/1 mask choosing between on_value and off_value (Where), and read with
// negative indices wrapped (index + depth) first.
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "OneHot";

struct OneHotPlan {
  int64_t depth = 0, outer = 1, inner = 1;
  Shape out;
};

OneHotPlan plan(std::span<const TensorType> in, const ir::Attrs& a) {
  require_dtype_in(kOp, in[0].dtype, {DType::Int32, DType::Int64});
  if (in[1].dtype != in[2].dtype)
    dtype_error(kOp, "on_value is " + std::string(mindspore_name(in[1].dtype)) +
                         " but off_value is " + std::string(mindspore_name(in[2].dtype)));
  if (in[1].shape.rank() != 0 || in[2].shape.rank() != 0)
    shape_error(kOp, "on_value and off_value must be rank-0 tensors, got " + in[1].shape.str() +
                         " and " + in[2].shape.str());
  OneHotPlan p;
  p.depth = attr_int(a, kOp, "depth");
  if (p.depth < 0)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": depth must be >= 0, got " + std::to_string(p.depth) +
                         (p.depth == -1 ? " (OneHotExt's num_classes -1, the largest index + 1, "
                                          "depends on the data and is not supported)"
                                        : ""));
  const auto rank = static_cast<int64_t>(in[0].shape.rank());
  int64_t axis = attr_int(a, kOp, "axis", -1);
  if (axis < -1 || axis > rank)
    throw ValueError(ErrorCode::kInvalidArgument, std::string(kOp) + ": axis " +
                                                      std::to_string(axis) + " is outside [-1, " +
                                                      std::to_string(rank) + "]");
  if (axis == -1) axis = rank;
  std::vector<int64_t> out;
  for (int64_t d = 0; d <= rank; ++d) {
    if (d == axis) out.push_back(p.depth);
    if (d < rank) {
      out.push_back(in[0].shape[static_cast<size_t>(d)]);
      (d < axis ? p.outer : p.inner) *= in[0].shape[static_cast<size_t>(d)];
    }
  }
  p.out = Shape(out);
  if (!p.out.checked_numel()) shape_error(kOp, "the output's element count overflows");
  return p;
}

template <class I>
Kernel one_hot_kernel(OneHotPlan p, size_t item) {
  return [p, item](std::span<const Tensor> in, std::span<Tensor> out) {
    const I* idx = in[0].data<I>();
    const auto* on = static_cast<const std::byte*>(in[1].raw_data());
    const auto* off = static_cast<const std::byte*>(in[2].raw_data());
    auto* y = static_cast<std::byte*>(out[0].raw_data());
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t k = 0; k < p.depth; ++k)
        for (int64_t i = 0; i < p.inner; ++i) {
          const auto v = static_cast<int64_t>(idx[o * p.inner + i]);
          std::memcpy(y + static_cast<size_t>((o * p.depth + k) * p.inner + i) * item,
                      v == k ? on : off, item);
        }
  };
}

void export_one_hot(OnnxBuilder& b, const ir::Node& n) {
  std::vector<TensorType> in;
  for (int v : n.inputs) in.push_back({b.info(v).dtype, b.info(v).shape});
  const OneHotPlan p = onnx_checked(b, n, [&] { return plan(in, n.attrs); });
  const int64_t axis = attr_int(n.attrs, kOp, "axis", -1);
  const std::string y = b.name(n.outputs.at(0));
  // ONNX Runtime implements OneHot for few type combinations; Int64 indices and depth with Int64
  // values is one. So the 0/1 mask is made so, and the values picked by Where (any dtype).
  const std::string idx64 = b.fresh(y + "/indices"), neg = b.fresh(y + "/negative"),
                    idx = b.fresh(y + "/in_range"), mask = b.fresh(y + "/mask"),
                    flag = b.fresh(y + "/flag");
  b.add("Cast", {b.name(n.inputs[0])}, {idx64}, {{"to", *b.dtype_code(DType::Int64)}});
  b.add("Less", {idx64, b.scalar(y + "/zero", 0, DType::Int64)}, {neg});
  b.add("Where",
        {neg, b.scalar(y + "/depth_index", static_cast<double>(p.depth), DType::Int64), idx64},
        {idx});
  b.add("OneHot", {idx, b.ints(y + "/depth", {p.depth}), b.ints(y + "/off_on", {0, 1})}, {mask},
        {{"axis", axis}});
  b.add("Cast", {mask}, {flag}, {{"to", *b.dtype_code(DType::Bool)}});
  b.add("Where", {flag, b.name(n.inputs[1]), b.name(n.inputs[2])}, {y});
}

void import_one_hot(OnnxImporter& m) {
  m.require_inputs(3, 3);
  const auto depth = m.const_ints(1);
  if (depth.size() != 1) m.fail("depth must hold one number");
  const int values = m.input(2);
  if (m.info(values).shape.numel() != 2 || m.rank(values) != 1)
    m.fail("values must be a 1-D tensor of two elements [off, on]");
  int idx = m.input(0);
  const DType it = m.info(idx).dtype;
  if (it != DType::Int32 && it != DType::Int64)
    m.unsupported("indices of dtype " + std::string(mindspore_name(it)) +
                  " (Int32 and Int64 are supported)");
  const Tensor zero = zeros(Shape{}, it);
  Tensor d = zeros(Shape{}, DType::Int64);
  d.data<int64_t>()[0] = depth[0];
  const int dc = m.constant(d.to(it));
  const int neg = m.emit1("Less", {idx, m.constant(zero)});
  idx = m.emit1("Select", {neg, m.emit1("Add", {idx, dc}), idx});
  auto scalar = [&](int64_t k) {
    return m.emit1("Reshape", {m.take(values, 0, {k})}, {{"shape", std::vector<int64_t>{}}});
  };
  m.set_output(0, m.emit1(kOp, {idx, scalar(1), scalar(0)},
                          {{"depth", depth[0]}, {"axis", m.attr_int("axis", -1)}}));
}

}  // namespace

CELLAR_REGISTER_OPS(one_hot) {
  table.add({.name = kOp,
             .min_inputs = 3,
             .max_inputs = 3,
             .infer =
                 [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                   return std::vector<TensorType>{{in[1].dtype, plan(in, attrs).out}};
                 },
             .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
               const OneHotPlan p = plan(in, attrs);
               const size_t item = itemsize(in[1].dtype);
               if (in[0].dtype == DType::Int32) return one_hot_kernel<int32_t>(p, item);
               return one_hot_kernel<int64_t>(p, item);
             },
             .mindir = {.primitive = kOp,
                        .legacy_primitives = {"OneHotExt"},
                        .attr_inputs = {"depth", "axis"},
                        .defaults = {{"axis", int64_t{-1}}},
                        .argument_order = {"indices", "depth", "on_value", "off_value", "axis"}},
             .onnx = export_one_hot,
             .onnx_import = {{"OneHot", import_one_hot}}});
}

}  // namespace cellar::ops
