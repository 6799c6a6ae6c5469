// BroadcastTo(x; shape): x broadcast to `shape` as NumPy does (x's dimensions aligned to the
// right, each equal to the target's or 1); a −1 in `shape` keeps x's dimension there. MindSpore
// 2.x writes the PRIMITIVE_FUNCTION "BroadcastTo" with `shape` a constant input after x (ops_def
// broadcast_to_op.yaml); 1.x wrote `shape` as a primitive attribute. ONNX's Expand broadcasts
// both ways (the output is the broadcast of x's shape and the target): written with the resolved
// shape, and read as this op with that broadcast shape when the target is a constant (a target
// computed at run time is read as the Expand row, expand.cpp).
#include "ops/broadcast.h"
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "BroadcastTo";

Shape broadcast_to_shape(const TensorType& x, const ir::Attrs& attrs) {
  std::vector<int64_t> want = attr_ints(attrs, kOp, "shape");
  const Shape& in = x.shape;
  if (want.size() < in.rank())
    shape_error(kOp, "cannot broadcast " + in.str() + " to fewer dimensions (" +
                         std::to_string(want.size()) + ")");
  if (want.size() > kMaxBroadcastRank) shape_error(kOp, "rank above 16 is not supported");
  const size_t lead = want.size() - in.rank();
  for (size_t i = 0; i < want.size(); ++i) {
    const int64_t have = i < lead ? 1 : in[i - lead];
    if (want[i] == -1) {
      if (i < lead) shape_error(kOp, "-1 in a new leading dimension of the target shape");
      want[i] = have;
    }
    if (want[i] < 0) shape_error(kOp, "negative dimension " + std::to_string(want[i]));
    if (have != want[i] && have != 1)
      shape_error(kOp, "cannot broadcast " + in.str() + " to " + Shape(want).str());
  }
  Shape out(want);
  if (!out.checked_numel()) shape_error(kOp, "element count of " + out.str() + " overflows");
  return out;
}

Kernel broadcast_to_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Shape out = broadcast_to_shape(in[0], attrs);
  const Shape shapes[1] = {in[0].shape};
  return tensor::by_itemsize(in[0].dtype, [&](auto zero) -> Kernel {
    using T = decltype(zero);
    return [w = BroadcastWalk<1>(shapes, out)](std::span<const Tensor> x, std::span<Tensor> y) {
      const T* p = tensor::raw<T>(x[0]);
      T* q = tensor::raw<T>(y[0]);
      w.run([&](int64_t i, const int64_t* off) { q[i] = p[off[0]]; });
    };
  });
}

void import_expand(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  if (!m.constant_input(1)) {
    // A target known only at run time: the Expand row, planned with its values.
    const int shape = m.input(1);
    const ir::ValueInfo info = m.info(shape);
    if (info.shape.rank() != 1 || !m.shape_known(shape) || info.open(0))
      m.unsupported(
          "the shape input (computed in the graph) must be 1-D of a length fixed at "
          "load time, got " +
          info.shape_str());
    m.set_output(0, m.emit1("Expand", {x, shape}));
    return;
  }
  const auto target = m.const_ints(1);
  for (int64_t d : target)
    if (d < 0) m.fail("negative dimension " + std::to_string(d) + " in the shape input");
  const ir::ValueInfo info = m.info(x);
  Shape out;
  try {
    out = broadcast_shape("Expand", info.shape, Shape(target));
  } catch (const Error& e) {
    m.fail(e.reason());
  }
  // Where x's dimension is open (it follows a symbolic input dimension) and the output keeps it,
  // -1: the node then follows x at run time (ViT's class token expanded to the batch).
  std::vector<int64_t> dims = out.dims();
  const size_t lead = dims.size() - info.shape.rank();
  for (size_t d = 0; d < info.shape.rank(); ++d)
    if (info.open(d) && info.shape[d] == dims[lead + d]) dims[lead + d] = -1;
  m.set_output(0, m.emit1(kOp, {x}, {{"shape", dims}}));
}

}  // namespace

CELLAR_REGISTER_OPS(broadcast_to) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                tensor::require_numeric(kOp, in[0].dtype);
                return std::vector<TensorType>{{in[0].dtype, broadcast_to_shape(in[0], attrs)}};
              },
          .make_kernel = broadcast_to_kernel,
          .mindir = {.primitive = kOp, .attr_inputs = {"shape"}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    const std::string y = b.name(n.outputs.at(0));
    b.add("Expand", {b.name(n.inputs.at(0)), b.ints(y + "/shape", b.shape(n.outputs[0]).dims())},
          {y});
  };
  d.onnx_import = {{"Expand", import_expand}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
