// GatherD(x, dim, index): y[i0, .., ik, ..] = x[i0, .., index[i0, .., ik, ..], ..] with the index
// taken along `dim` (torch.gather): index (Int32 or Int64) has x's rank and, on every other axis,
// at most x's length; y has index's shape and x's dtype. An index outside [0, x.shape[dim]) is an
// error when the kernel runs (it comes from data). MindSpore 2.x writes ops.gather_elements /
// Tensor.gather_elements as the PRIMITIVE_FUNCTION "GatherD" with its arguments in the order
// (x, dim, index), dim a constant between the tensors (ops_def gather_d_op.yaml). ONNX's
// GatherElements (axis) is the same: written so, and read so, its negative indices (which count
// from the end) wrapped first.
#include <algorithm>
#include <cstring>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "GatherD";

size_t dim_of(std::span<const TensorType> in, const ir::Attrs& a) {
  const Shape& x = in[0].shape;
  const Shape& idx = in[1].shape;
  require_dtype_in(kOp, in[1].dtype, {DType::Int32, DType::Int64});
  if (x.rank() == 0) shape_error(kOp, "x must have rank >= 1");
  if (idx.rank() != x.rank())
    shape_error(kOp, "index must have x's rank " + std::to_string(x.rank()) + ", got " + idx.str());
  const auto d = static_cast<size_t>(
      normalize_axis(kOp, attr_int(a, kOp, "dim"), static_cast<int64_t>(x.rank())));
  for (size_t k = 0; k < x.rank(); ++k)
    if (k != d && idx[k] > x[k])
      shape_error(kOp, "index " + idx.str() + " is longer than x " + x.str() + " on axis " +
                           std::to_string(k));
  return d;
}

template <class I>
Kernel kernel(Shape x, Shape idx, size_t dim, size_t item) {
  std::vector<int64_t> xstride(x.rank(), 1);
  for (size_t k = x.rank(); k-- > 1;) xstride[k - 1] = xstride[k] * x[k];
  return [x, idx, dim, item, xstride](std::span<const Tensor> in, std::span<Tensor> out,
                                      Parallel& par) {
    const I* index = in[1].data<I>();
    const auto* src = static_cast<const std::byte*>(in[0].raw_data());
    auto* y = static_cast<std::byte*>(out[0].raw_data());
    const size_t r = x.rank();
    int64_t* pos = par.scratch<int64_t>(0, r);  // position in index, C order
    std::fill(pos, pos + r, 0);
    const int64_t n = idx.numel();
    for (int64_t i = 0; i < n; ++i) {
      const auto j = static_cast<int64_t>(index[i]);
      if (j < 0 || j >= x[dim])
        throw ValueError(ErrorCode::kInvalidArgument,
                         std::string(kOp) + ": index " + std::to_string(j) +
                             " is out of range [0, " + std::to_string(x[dim]) + ") on dim " +
                             std::to_string(dim));
      int64_t from = 0;
      for (size_t k = 0; k < r; ++k) from += (k == dim ? j : pos[k]) * xstride[k];
      std::memcpy(y + static_cast<size_t>(i) * item, src + static_cast<size_t>(from) * item, item);
      for (size_t k = r; k-- > 0;) {
        if (++pos[k] < idx[k]) break;
        pos[k] = 0;
      }
    }
  };
}

void import_gather_elements(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  const int64_t axis = m.axis(m.attr_int("axis", 0), m.rank(x));
  int idx = m.input(1);
  const DType it = m.info(idx).dtype;
  if (it != DType::Int32 && it != DType::Int64)
    m.fail("indices must be Int32 or Int64, got " + std::string(mindspore_name(it)));
  Tensor len = zeros(Shape{}, DType::Int64);
  len.data<int64_t>()[0] = m.info(x).shape[static_cast<size_t>(axis)];
  const int neg = m.emit1("Less", {idx, m.constant(zeros(Shape{}, it))});
  idx = m.emit1("Select", {neg, m.emit1("Add", {idx, m.constant(len.to(it))}), idx});
  m.set_output(0, m.emit1(kOp, {x, idx}, {{"dim", axis}}));
}

}  // namespace

CELLAR_REGISTER_OPS(gather_d) {
  OpDef d{.name = kOp,
          .min_inputs = 2,
          .max_inputs = 2,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                dim_of(in, attrs);
                return std::vector<TensorType>{{in[0].dtype, in[1].shape}};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
            const size_t dim = dim_of(in, attrs);
            const size_t item = itemsize(in[0].dtype);
            if (in[1].dtype == DType::Int32)
              return kernel<int32_t>(in[0].shape, in[1].shape, dim, item);
            return kernel<int64_t>(in[0].shape, in[1].shape, dim, item);
          },
          .mindir = {.primitive = kOp,
                     .attr_inputs = {"dim"},
                     .argument_order = {"x", "dim", "index"}}};
  d.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    std::vector<TensorType> in;
    for (int v : n.inputs) in.push_back({b.info(v).dtype, b.info(v).shape});
    const size_t dim = onnx_checked(b, n, [&] { return dim_of(in, n.attrs); });
    b.add("GatherElements", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))},
          {b.name(n.outputs.at(0))}, {{"axis", static_cast<int64_t>(dim)}});
  };
  d.onnx_import = {{"GatherElements", import_gather_elements}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
