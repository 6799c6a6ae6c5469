// Transpose, ExpandDims, Squeeze, Concat, Gather, Tile: data movement, any numeric dtype (the
// kernels move elements by item size).
//
// MindSpore passes some attributes as constant inputs (mindspore/ops/operations/array_ops.py,
// and MindSpore 2.x's mindspore/core/ops/ops_def/*_op.yaml, where prim_init arguments are inputs
// too): Transpose(x, perm), ExpandDims(x, axis), Gather(params, indices, axis, batch_dims),
// Tile(x, multiples), Concat(xs, axis), Squeeze(x, axis) (`axis` a tuple; () squeezes every
// dimension of size 1; an input in the files MindSpore 2.10 writes, checked with
// tests/fixtures/mindspore/mindir/ops_matmul.mindir). In MindSpore's graphs Concat's first input
// is one MakeTuple of the tensors; here the tensors are the node's inputs (any number), and the
// MindIR spelling's tuple_input packs and unpacks them.
#include <cstring>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr size_t kMaxRank = 16;

void require_numeric(const std::string& op, DType t) {
  if (t == DType::String)
    throw ValueError(ErrorCode::kUnsupported, op + ": str tensors are not supported");
}

Kernel copy_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const size_t bytes = static_cast<size_t>(in[0].shape.numel()) * itemsize(in[0].dtype);
  return [bytes](std::span<const Tensor> x, std::span<Tensor> y) {
    if (bytes && x[0].raw_data() != y[0].raw_data())
      std::memcpy(y[0].raw_data(), x[0].raw_data(), bytes);
  };
}

// An unsigned type of the dtype's item size: moving elements needs only their bytes.
template <class F>
Kernel by_itemsize(DType t, F make) {
  switch (itemsize(t)) {
    case 1:
      return make(uint8_t{});
    case 2:
      return make(uint16_t{});
    case 4:
      return make(uint32_t{});
    default:
      return make(uint64_t{});
  }
}

template <class T>
const T* raw(const Tensor& t) {
  return reinterpret_cast<const T*>(t.raw_data());
}
template <class T>
T* raw(Tensor& t) {
  return reinterpret_cast<T*>(t.raw_data());
}

// ---- Transpose ----

std::vector<int64_t> transpose_perm(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_numeric("Transpose", in[0].dtype);
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
  return by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      const T* src = raw<T>(a[0]);
      T* dst = raw<T>(y[0]);
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

// ---- ExpandDims, Squeeze ----

std::vector<TensorType> expand_dims_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_numeric("ExpandDims", in[0].dtype);
  const int64_t rank = static_cast<int64_t>(in[0].shape.rank());
  const int64_t axis =
      normalize_axis("ExpandDims", attr_int(attrs, "ExpandDims", "axis"), rank + 1);
  std::vector<int64_t> out = in[0].shape.dims();
  out.insert(out.begin() + axis, 1);
  return {{in[0].dtype, Shape(out)}};
}

std::vector<TensorType> squeeze_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_numeric("Squeeze", in[0].dtype);
  const Shape& x = in[0].shape;
  const int64_t rank = static_cast<int64_t>(x.rank());
  const auto axes = attr_ints(attrs, "Squeeze", "axis", {});
  std::vector<bool> drop(x.rank(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.rank(); ++i) drop[i] = x[i] == 1;
  } else {
    for (int64_t a : axes) {
      const auto k = static_cast<size_t>(normalize_axis("Squeeze", a, rank));
      if (x[k] != 1)
        shape_error("Squeeze", "dimension " + std::to_string(a) + " of " + x.str() + " has size " +
                                   std::to_string(x[k]) + ", not 1");
      drop[k] = true;
    }
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < x.rank(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  return {{in[0].dtype, Shape(out)}};
}

// ---- Concat ----

std::vector<TensorType> concat_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype("Concat", in);
  require_numeric("Concat", in[0].dtype);
  const Shape& s0 = in[0].shape;
  if (s0.rank() == 0) shape_error("Concat", "inputs must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(
      "Concat", attr_int(attrs, "Concat", "axis", 0), static_cast<int64_t>(s0.rank())));
  std::vector<int64_t> out = s0.dims();
  out[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& s = in[i].shape;
    bool ok = s.rank() == s0.rank();
    for (size_t d = 0; ok && d < s.rank(); ++d) ok = d == axis || s[d] == s0[d];
    if (!ok)
      shape_error("Concat", "input " + std::to_string(i) + " " + s.str() +
                                " does not match input 0 " + s0.str() + " outside axis " +
                                std::to_string(axis));
    out[axis] += s[axis];
  }
  return {{in[0].dtype, Shape(out)}};
}

Kernel concat_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Shape& s0 = in[0].shape;
  const auto axis = static_cast<size_t>(normalize_axis(
      "Concat", attr_int(attrs, "Concat", "axis", 0), static_cast<int64_t>(s0.rank())));
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= s0[d];
  for (size_t d = axis + 1; d < s0.rank(); ++d) inner *= s0[d];
  const size_t item = itemsize(in[0].dtype);
  std::vector<size_t> block;  // bytes each input contributes per outer index
  for (const auto& t : in) block.push_back(static_cast<size_t>(t.shape[axis] * inner) * item);
  return [outer, block](std::span<const Tensor> x, std::span<Tensor> y) {
    std::byte* dst = y[0].raw_data();
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < block.size(); ++i) {
        if (block[i])
          std::memcpy(dst, x[i].raw_data() + static_cast<size_t>(o) * block[i], block[i]);
        dst += block[i];
      }
  };
}

// ---- Gather ----

struct GatherGeometry {
  int64_t outer = 1, axis_len = 0, inner = 1, count = 0;
};

GatherGeometry gather_geometry(std::span<const TensorType> in, const ir::Attrs& attrs, Shape* out) {
  require_numeric("Gather", in[0].dtype);
  require_dtype_in("Gather", in[1].dtype, {DType::Int32, DType::Int64});
  if (attr_int(attrs, "Gather", "batch_dims", 0) != 0)
    throw ValueError(ErrorCode::kUnsupported, "Gather: only batch_dims = 0 is supported");
  const Shape& p = in[0].shape;
  if (p.rank() == 0) shape_error("Gather", "params must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(
      "Gather", attr_int(attrs, "Gather", "axis"), static_cast<int64_t>(p.rank())));
  GatherGeometry g;
  std::vector<int64_t> dims;
  for (size_t d = 0; d < axis; ++d) {
    g.outer *= p[d];
    dims.push_back(p[d]);
  }
  g.axis_len = p[axis];
  for (int64_t d : in[1].shape) dims.push_back(d);
  for (size_t d = axis + 1; d < p.rank(); ++d) {
    g.inner *= p[d];
    dims.push_back(p[d]);
  }
  g.count = in[1].shape.numel();
  if (out) *out = Shape(dims);
  return g;
}

std::vector<TensorType> gather_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  Shape out;
  gather_geometry(in, attrs, &out);
  return {{in[0].dtype, out}};
}

template <class I>
void gather_run(const GatherGeometry& g, size_t item, const Tensor& params, const Tensor& indices,
                Tensor& out) {
  const I* idx = indices.data<I>();
  const std::byte* src = params.raw_data();
  std::byte* dst = out.raw_data();
  const size_t block = static_cast<size_t>(g.inner) * item;
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t k = 0; k < g.count; ++k) {
      const int64_t i = static_cast<int64_t>(idx[k]);
      // Indices come from data, so a bad one is the caller's error, not an invariant.
      if (i < 0 || i >= g.axis_len)
        throw ValueError(ErrorCode::kInvalidArgument, "Gather: index " + std::to_string(i) +
                                                          " is out of range [0, " +
                                                          std::to_string(g.axis_len) + ")");
      if (block) std::memcpy(dst, src + static_cast<size_t>(o * g.axis_len + i) * block, block);
      dst += block;
    }
}

Kernel gather_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const GatherGeometry g = gather_geometry(in, attrs, nullptr);
  const size_t item = itemsize(in[0].dtype);
  if (in[1].dtype == DType::Int32)
    return [g, item](std::span<const Tensor> x, std::span<Tensor> y) {
      gather_run<int32_t>(g, item, x[0], x[1], y[0]);
    };
  return [g, item](std::span<const Tensor> x, std::span<Tensor> y) {
    gather_run<int64_t>(g, item, x[0], x[1], y[0]);
  };
}

// ---- Tile ----

// The input's shape padded with leading 1s to the length of multiples, and the output shape.
std::pair<std::vector<int64_t>, std::vector<int64_t>> tile_dims(std::span<const TensorType> in,
                                                                const ir::Attrs& attrs) {
  require_numeric("Tile", in[0].dtype);
  const Shape& x = in[0].shape;
  const auto mult = attr_ints(attrs, "Tile", "multiples");
  if (mult.size() < x.rank())
    shape_error("Tile", "multiples has " + std::to_string(mult.size()) +
                            " entries, fewer than the input's rank " + std::to_string(x.rank()));
  if (mult.size() > kMaxRank) shape_error("Tile", "rank above 16 is not supported");
  std::vector<int64_t> in_dims(mult.size() - x.rank(), 1);
  for (int64_t d : x) in_dims.push_back(d);
  std::vector<int64_t> out;
  for (size_t i = 0; i < mult.size(); ++i) {
    if (mult[i] < 0) shape_error("Tile", "multiples must be non-negative");
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

Kernel tile_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  // Not a structured binding: clang 14 (the fuzz build) cannot capture those in a lambda.
  const auto tiled = tile_dims(in, attrs);
  const std::vector<int64_t> in_dims = tiled.first, dims = tiled.second;
  std::vector<int64_t> strides(in_dims.size(), 1);
  for (size_t i = in_dims.size(); i-- > 1;) strides[i - 1] = strides[i] * in_dims[i];
  const int64_t n = Shape(dims).numel();
  return by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y) {
      const T* src = raw<T>(a[0]);
      T* dst = raw<T>(y[0]);
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

}  // namespace

CELLAR_REGISTER_OPS(shape_ops) {
  OpTable& t = table;
  t.add({.name = "Transpose",
         .infer = transpose_infer,
         .make_kernel = transpose_kernel,
         .mindir = {.primitive = "Transpose", .attr_inputs = {"perm"}}});
  t.add({.name = "ExpandDims",
         .infer = expand_dims_infer,
         .make_kernel = copy_kernel,
         .mindir = {.primitive = "ExpandDims", .attr_inputs = {"axis"}}});
  t.add({.name = "Squeeze",
         .infer = squeeze_infer,
         .make_kernel = copy_kernel,
         .mindir = {.primitive = "Squeeze", .attr_inputs = {"axis"}}});
  t.add({.name = "Concat",
         .min_inputs = 1,
         .max_inputs = -1,
         .infer = concat_infer,
         .make_kernel = concat_kernel,
         .mindir = {.primitive = "Concat",
                    .attr_inputs = {"axis"},
                    .defaults = {{"axis", int64_t{0}}},
                    .tuple_input = true}});
  t.add({.name = "Gather",
         .min_inputs = 2,
         .max_inputs = 2,
         .infer = gather_infer,
         .make_kernel = gather_kernel,
         .mindir = {.primitive = "Gather",
                    .attr_inputs = {"axis", "batch_dims"},
                    .defaults = {{"batch_dims", int64_t{0}}}}});
  t.add({.name = "Tile",
         .infer = tile_infer,
         .make_kernel = tile_kernel,
         .mindir = {.primitive = "Tile", .attr_inputs = {"multiples"}}});
}

}  // namespace cellar::ops
