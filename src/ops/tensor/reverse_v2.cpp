// ReverseV2(x; axis): x with the order of its elements reversed along each axis in `axis` (a list;
// negative counts from the end; repeats refused, as MindSpore's shape check does; rank ≤ 16), any
// dtype but str. ops.flip and ops.ReverseV2 write it: MindSpore 2.x as the PRIMITIVE_FUNCTION
// "ReverseV2" with axis a constant input after x (ops_def reverse_v2_op.yaml), 1.x with axis a
// primitive attribute. ONNX has no Reverse: written as one Slice stepping −1 along those axes.
#include <limits>
#include <set>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

using tensor::kMaxRank;
const char* const kOp = "ReverseV2";

std::vector<int64_t> reversed_axes(const TensorType& x, const ir::Attrs& attrs) {
  tensor::require_numeric(kOp, x.dtype);
  const int64_t rank = static_cast<int64_t>(x.shape.rank());
  if (x.shape.rank() > kMaxRank) shape_error(kOp, "rank above 16 is not supported");
  std::set<int64_t> seen;
  std::vector<int64_t> out;
  for (int64_t a : attr_ints(attrs, kOp, "axis")) {
    const int64_t n = normalize_axis(kOp, a, rank);
    if (!seen.insert(n).second) shape_error(kOp, "axis " + std::to_string(a) + " is given twice");
    out.push_back(n);
  }
  return out;
}

// Walks the output in C order with an odometer; along a reversed axis the input offset runs
// backwards.
Kernel reverse_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const std::vector<int64_t> axes = reversed_axes(in[0], attrs);
  const std::vector<int64_t> dims(in[0].shape.begin(), in[0].shape.end());
  const size_t r = dims.size();
  std::vector<int64_t> step(r, 1);
  for (size_t d = r; d-- > 1;) step[d - 1] = step[d] * dims[d];
  int64_t start = 0;
  for (int64_t a : axes) {
    const auto d = static_cast<size_t>(a);
    if (dims[d] > 0) start += step[d] * (dims[d] - 1);
    step[d] = -step[d];
  }
  const int64_t n = in[0].shape.numel();
  return tensor::by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      const T* src = tensor::raw<T>(a[0]);
      T* dst = tensor::raw<T>(y[0]);
      int64_t idx[kMaxRank] = {0};
      int64_t off = start;
      for (int64_t i = 0; i < n; ++i) {
        dst[i] = src[off];
        for (size_t d = r; d-- > 0;) {
          off += step[d];
          if (++idx[d] < dims[d]) break;
          off -= step[d] * dims[d];
          idx[d] = 0;
        }
      }
    };
  });
}

void export_reverse(OnnxBuilder& b, const ir::Node& n) {
  const std::vector<int64_t> axes = onnx_checked(b, n, [&] {
    const ir::ValueInfo& x = b.info(n.inputs.at(0));
    return reversed_axes(TensorType{x.dtype, x.shape}, n.attrs);
  });
  const std::string y = b.name(n.outputs.at(0));
  if (axes.empty()) {
    b.add("Identity", {b.name(n.inputs.at(0))}, {y});
    return;
  }
  const std::vector<int64_t> starts(axes.size(), -1), steps(axes.size(), -1);
  const std::vector<int64_t> ends(axes.size(), std::numeric_limits<int64_t>::min());
  b.add("Slice",
        {b.name(n.inputs.at(0)), b.ints(y + "/starts", starts), b.ints(y + "/ends", ends),
         b.ints(y + "/axes", axes), b.ints(y + "/steps", steps)},
        {y});
}

}  // namespace

CELLAR_REGISTER_OPS(reverse_v2) {
  OpDef d{.name = kOp,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                reversed_axes(in[0], attrs);
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = reverse_kernel,
          .mindir = {.primitive = kOp, .attr_inputs = {"axis"}}};
  d.onnx = export_reverse;
  table.add(std::move(d));
}

}  // namespace cellar::ops
