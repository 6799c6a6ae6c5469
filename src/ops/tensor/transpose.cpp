// Transpose(x; perm): y[i0, …] = x permuted, output dimension k being input dimension perm[k];
// any dtype but str, rank ≤ 16. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Transpose" with
// `perm` a constant input after x, as 1.x did (mindspore/ops/operations/array_ops.py). ONNX's
// Transpose carries perm as an attribute (written with the axes normalised; read without one as
// the reversed dimensions, ONNX's default).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

using tensor::kMaxRank;

std::vector<int64_t> transpose_perm(std::span<const TensorType> in, const ir::Attrs& attrs) {
  tensor::require_numeric("Transpose", in[0].dtype);
  const Shape& x = in[0].shape;
  const auto perm = attr_ints(attrs, "Transpose", "perm");
  if (perm.size() != x.rank())
    shape_error("Transpose", "perm has " + std::to_string(perm.size()) +
                                 " entries for input of rank " + std::to_string(x.rank()));
  if (x.rank() > kMaxRank) shape_error("Transpose", "rank above 16 is not supported");
  std::vector<int64_t> norm(perm.size());
  std::vector<bool> seen(perm.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    const int64_t p = normalize_axis("Transpose", perm[i], static_cast<int64_t>(x.rank()));
    if (seen[static_cast<size_t>(p)])
      shape_error("Transpose", "perm is not a permutation (repeats " + std::to_string(p) + ")");
    seen[static_cast<size_t>(p)] = true;
    norm[i] = p;
  }
  return norm;
}

std::vector<TensorType> transpose_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto perm = transpose_perm(in, attrs);
  std::vector<int64_t> out;
  for (int64_t p : perm) out.push_back(in[0].shape[static_cast<size_t>(p)]);
  return {{in[0].dtype, Shape(out)}};
}

// Walks the output in C order, keeping the input offset by an odometer over the output index.
Kernel transpose_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto perm = transpose_perm(in, attrs);
  const Shape& x = in[0].shape;
  std::vector<int64_t> in_strides(x.rank(), 1);
  for (size_t i = x.rank(); i-- > 1;) in_strides[i - 1] = in_strides[i] * x[i];
  std::vector<int64_t> dims, strides;  // output dims and the input stride along each
  for (int64_t p : perm) {
    dims.push_back(x[static_cast<size_t>(p)]);
    strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  const int64_t n = x.numel();
  return tensor::by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      const T* src = tensor::raw<T>(a[0]);
      T* dst = tensor::raw<T>(y[0]);
      const size_t r = dims.size();
      int64_t idx[kMaxRank] = {0};
      int64_t off = 0;
      for (int64_t i = 0; i < n; ++i) {
        dst[i] = src[off];
        for (size_t d = r; d-- > 0;) {
          ++idx[d];
          off += strides[d];
          if (idx[d] < dims[d]) break;
          off -= strides[d] * dims[d];
          idx[d] = 0;
        }
      }
    };
  });
}

void export_transpose(OnnxBuilder& b, const ir::Node& n) {
  const int64_t r = static_cast<int64_t>(b.shape(n.inputs.at(0)).rank());
  auto perm = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Transpose", "perm"); });
  for (auto& p : perm) p = onnx_checked(b, n, [&] { return normalize_axis("Transpose", p, r); });
  b.add("Transpose", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))}, {{"perm", perm}});
}

void import_transpose(OnnxImporter& m) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  auto perm = m.attr_ints("perm");
  if (!perm) {  // default: reverse the dimensions
    perm.emplace();
    for (int64_t i = m.rank(x); i-- > 0;) perm->push_back(i);
  }
  m.set_output(0, m.emit1("Transpose", {x}, {{"perm", *perm}}));
}

}  // namespace

CELLAR_REGISTER_OPS(transpose) {
  OpDef d{.name = "Transpose",
          .infer = transpose_infer,
          .make_kernel = transpose_kernel,
          .mindir = {.primitive = "Transpose", .attr_inputs = {"perm"}}};
  d.onnx = export_transpose;
  d.onnx_import = {{"Transpose", import_transpose}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
