// Tile(x; multiples): x repeated multiples[k] times along each dimension k, x's shape first padded
// with leading 1s to the length of multiples (which may not be shorter than x's rank; rank
// ≤ 16). MindSpore 2.x writes the PRIMITIVE_FUNCTION "Tile" with `multiples` a constant input
// after x, as 1.x did. ONNX's Tile takes the repeats as an input, one per dimension: written with
// a Reshape to the padded rank first when multiples is longer; read as is. Repeats computed at
// run time make the two-input form Tile(x, multiples), a value input written in per plan.
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

using tensor::kMaxRank;

// The two-input form's multiples: a 1-D Int64 or Int32 tensor.
void check_multiples_input(const TensorType& m) {
  if (m.dtype != DType::Int64 && m.dtype != DType::Int32)
    dtype_error("Tile", "the multiples input must be Int64 or Int32, got " +
                            std::string(mindspore_name(m.dtype)));
  if (m.shape.rank() != 1)
    shape_error("Tile", "the multiples input must be 1-D, got shape " + m.shape.str());
  if (static_cast<size_t>(m.shape[0]) > kMaxRank)
    shape_error("Tile", "rank above 16 is not supported");
}

ir::Attrs tile_attrs(std::span<const TensorType> in, std::span<const Tensor> v,
                     const ir::Attrs& attrs) {
  check_multiples_input(in[1]);
  const Tensor& m = v[1];
  std::vector<int64_t> mult(static_cast<size_t>(m.numel()));
  for (size_t i = 0; i < mult.size(); ++i)
    mult[i] = m.dtype() == DType::Int64 ? m.data<int64_t>()[i] : m.data<int32_t>()[i];
  ir::Attrs out = attrs;
  out["multiples"] = std::move(mult);
  return out;
}

// The input's shape padded with leading 1s to the length of multiples, and the output shape.
std::pair<std::vector<int64_t>, std::vector<int64_t>> tile_dims(std::span<const TensorType> in,
                                                                const ir::Attrs& attrs) {
  tensor::require_numeric("Tile", in[0].dtype);
  const Shape& x = in[0].shape;
  if (in.size() == 2) check_multiples_input(in[1]);
  // The two-input form with its values unknown: multiples of 1 (the representative type).
  const auto mult = in.size() == 2 && !attrs.count("multiples")
                        ? std::vector<int64_t>(static_cast<size_t>(in[1].shape[0]), 1)
                        : attr_ints(attrs, "Tile", "multiples");
  if (mult.size() < x.rank())
    shape_error("Tile", "multiples has " + std::to_string(mult.size()) +
                            " entries, fewer than the input's rank " + std::to_string(x.rank()));
  if (mult.size() > kMaxRank) shape_error("Tile", "rank above 16 is not supported");
  std::vector<int64_t> in_dims(mult.size() - x.rank(), 1);
  for (int64_t d : x) in_dims.push_back(d);
  std::vector<int64_t> out;
  for (size_t i = 0; i < mult.size(); ++i) {
    if (mult[i] < 0)
      shape_error("Tile", "multiples must be non-negative, got " + std::to_string(mult[i]) +
                              " at index " + std::to_string(i));
    int64_t o = 0;
    if (__builtin_mul_overflow(in_dims[i], mult[i], &o))
      shape_error("Tile", "output shape overflows");
    out.push_back(o);
  }
  if (!Shape(out).checked_numel()) shape_error("Tile", "output shape overflows");
  return {in_dims, out};
}

std::vector<TensorType> tile_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return {{in[0].dtype, Shape(tile_dims(in, attrs).second)}};
}

// Walks the output in C order; the input offset follows an odometer that wraps each dimension.
Kernel tile_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  // Not a structured binding: clang 14 (the fuzz build) cannot capture those in a lambda.
  const auto tiled = tile_dims(in, attrs);
  const std::vector<int64_t> in_dims = tiled.first, dims = tiled.second;
  std::vector<int64_t> strides(in_dims.size(), 1);
  for (size_t i = in_dims.size(); i-- > 1;) strides[i - 1] = strides[i] * in_dims[i];
  const int64_t n = Shape(dims).numel();
  return tensor::by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      const T* src = tensor::raw<T>(a[0]);
      T* dst = tensor::raw<T>(y[0]);
      const size_t r = dims.size();
      int64_t idx[kMaxRank] = {0}, src_idx[kMaxRank] = {0};
      int64_t off = 0;
      for (int64_t i = 0; i < n; ++i) {
        dst[i] = src[off];
        for (size_t d = r; d-- > 0;) {
          ++idx[d];
          if (++src_idx[d] == in_dims[d]) {
            src_idx[d] = 0;
            off -= strides[d] * (in_dims[d] - 1);
          } else {
            off += strides[d];
          }
          if (idx[d] < dims[d]) break;
          idx[d] = 0;
          off -= strides[d] * src_idx[d];
          src_idx[d] = 0;
        }
      }
    };
  });
}

void export_tile(OnnxBuilder& b, const ir::Node& n) {
  if (n.inputs.size() == 2) {  // repeats computed at run time, one per dimension (import_tile)
    std::string reps = b.name(n.inputs[1]);
    if (b.info(n.inputs[1]).dtype != DType::Int64) {
      const std::string cast = b.fresh(reps + "/int64");
      b.add("Cast", {reps}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
      reps = cast;
    }
    if (b.shape(n.inputs[1]) != Shape{static_cast<int64_t>(b.shape(n.inputs[0]).rank())})
      b.fail(n, "ONNX's Tile takes one repeat per dimension; the multiples input is " +
                    b.shape(n.inputs[1]).str() + " for rank " +
                    std::to_string(b.shape(n.inputs[0]).rank()));
    b.add("Tile", {b.name(n.inputs[0]), reps}, {b.name(n.outputs.at(0))});
    return;
  }
  const Shape& x = b.shape(n.inputs.at(0));
  const auto mult = onnx_checked(b, n, [&] { return attr_ints(n.attrs, "Tile", "multiples"); });
  std::string in = b.name(n.inputs[0]);
  const std::string out = b.name(n.outputs.at(0));
  if (mult.size() > x.rank()) {  // ONNX's Tile wants one repeat per dimension
    std::vector<int64_t> dims(mult.size() - x.rank(), 1);
    dims.insert(dims.end(), x.begin(), x.end());
    const std::string padded = b.fresh(in + "_rank" + std::to_string(mult.size()));
    b.add("Reshape", {in, b.ints(padded + "_shape", dims)}, {padded});
    in = padded;
  }
  b.add("Tile", {in, b.ints(out + "_repeats", mult)}, {out});
}

void import_tile(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int x = m.input(0);
  if (!m.constant_input(1)) {  // repeats computed at run time: the two-input form
    const ir::ValueInfo info = m.info(m.input(1));
    if (info.shape != Shape{m.rank(x)} || !m.shape_known(m.input(1)) || info.open(0))
      m.unsupported("the repeats input (computed in the graph) must be 1-D of the input's rank " +
                    std::to_string(m.rank(x)) + ", fixed at load time, got " + info.shape_str());
    m.set_output(0, m.emit1("Tile", {x, m.input(1)}));
    return;
  }
  const auto reps = m.const_ints(1);
  if (static_cast<int64_t>(reps.size()) != m.rank(x))
    m.fail("repeats has " + std::to_string(reps.size()) + " values for rank " +
           std::to_string(m.rank(x)));
  m.set_output(0, m.emit1("Tile", {x}, {{"multiples", reps}}));
}

}  // namespace

CELLAR_REGISTER_OPS(tile) {
  OpDef d{.name = "Tile",
          .max_inputs = 2,
          .infer = tile_infer,
          .value_inputs = {1},
          .attrs_from_values = tile_attrs,
          .make_kernel = tile_kernel,
          .mindir = {.primitive = "Tile", .attr_inputs = {"multiples"}}};
  d.onnx = export_tile;
  d.onnx_import = {{"Tile", import_tile}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
