// Transpose(x; perm): y[i0, …] = x permuted, output dimension k being input dimension perm[k];
// any dtype but str, rank ≤ 16. MindSpore 2.x writes the PRIMITIVE_FUNCTION "Transpose" with
// `perm` a constant input after x, as 1.x did (mindspore/ops/operations/array_ops.py). ONNX's
// Transpose carries perm as an attribute (written with the axes normalised; read without one as
// the reversed dimensions, ONNX's default).
#include <algorithm>

#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"
#include "ops/transpose_plane.h"

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

// The copy is planned once: output dimensions of size 1 dropped, and output neighbours that are
// neighbours in the input too (stride of d = stride of d + 1 × size of d + 1) merged. Then:
// - the last output dimension is the input's innermost (stride 1): the output is runs copied
//   whole (a permutation of the outer dimensions: attention's heads);
// - else the input's innermost dimension q is an earlier output dimension: the (q, last) plane
//   is copied in tiles of kTile × kTile elements, each read and written within a few cache lines
//   (NCHW ↔ NHWC: convnext's every block), 4-byte elements in SIMD blocks (transpose_plane.h);
// the runs or tile rows split over the executor's workers.
constexpr int64_t kTile = 32;

struct TransposePlan {
  std::vector<int64_t> dims, strides;  // output dimensions (merged), input stride along each
  std::vector<int64_t> out_strides;    // output's own strides
  int64_t n = 0;
  int q = -1;  // the output dimension with input stride 1, when it is not the last
};

TransposePlan plan_transpose(const Shape& x, const std::vector<int64_t>& perm) {
  std::vector<int64_t> in_strides(x.rank(), 1);
  for (size_t i = x.rank(); i-- > 1;) in_strides[i - 1] = in_strides[i] * x[i];
  TransposePlan p;
  p.n = x.numel();
  for (int64_t a : perm) {
    const int64_t d = x[static_cast<size_t>(a)], st = in_strides[static_cast<size_t>(a)];
    if (d == 1) continue;
    if (!p.dims.empty() && p.strides.back() == st * d) {
      p.dims.back() *= d;
      p.strides.back() = st;
    } else {
      p.dims.push_back(d);
      p.strides.push_back(st);
    }
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.strides = {1};
  }
  const size_t r = p.dims.size();
  p.out_strides.assign(r, 1);
  for (size_t i = r - 1; i-- > 0;) p.out_strides[i] = p.out_strides[i + 1] * p.dims[i + 1];
  if (p.strides[r - 1] != 1)
    for (size_t i = 0; i + 1 < r; ++i)
      if (p.strides[i] == 1) p.q = static_cast<int>(i);
  return p;
}

// Input and output offsets of the index `flat` over `dims` (C order), skipping dimension `skip`.
inline void offsets(const TransposePlan& p, int64_t flat, int skip1, int skip2, int64_t& src,
                    int64_t& dst) {
  src = dst = 0;
  for (int d = static_cast<int>(p.dims.size()) - 1; d >= 0 && flat > 0; --d) {
    if (d == skip1 || d == skip2) continue;
    const auto du = static_cast<size_t>(d);
    const int64_t i = flat % p.dims[du];
    flat /= p.dims[du];
    src += i * p.strides[du];
    dst += i * p.out_strides[du];
  }
}

template <class T>
void transpose_run(const TransposePlan& p, const T* src, T* dst, Parallel& par) {
  const int r = static_cast<int>(p.dims.size());
  const int64_t last = p.dims[static_cast<size_t>(r - 1)];
  if (p.strides[static_cast<size_t>(r - 1)] == 1) {
    // Runs of `last` elements.
    const int64_t runs = p.n / last;
    par.for_range(runs, rows_grain(last), [&](int64_t r0, int64_t r1, int) {
      for (int64_t k = r0; k < r1; ++k) {
        int64_t s = 0, d = 0;
        offsets(p, k, r - 1, -1, s, d);
        std::copy_n(src + s, last, dst + d);
      }
    });
    return;
  }
  if (p.q >= 0) {
    // Tiles of the (q, last) plane; a work item is one row of tiles (kTile values of q) of one
    // outer index.
    const auto q = static_cast<size_t>(p.q);
    const int64_t dq = p.dims[q], sl = p.strides[static_cast<size_t>(r - 1)], oq = p.out_strides[q];
    const int64_t bands = (dq + kTile - 1) / kTile;
    const int64_t items = p.n / (dq * last) * bands;
    par.for_range(items, std::max<int64_t>(1, kElementGrain / (kTile * last)),
                  [&](int64_t i0, int64_t i1, int) {
                    for (int64_t it = i0; it < i1; ++it) {
                      int64_t s = 0, d = 0;
                      offsets(p, it / bands, p.q, r - 1, s, d);
                      const int64_t a0 = it % bands * kTile, a1 = std::min(dq, a0 + kTile);
                      if constexpr (sizeof(T) == 4) {
                        // dst[d + a·oq + b] = src[s + a + b·sl]: a plane of `last` × (a1 − a0).
                        transpose_plane32(src + s + a0, last, a1 - a0, sl, dst + d + a0 * oq, oq);
                        continue;
                      }
                      for (int64_t b0 = 0; b0 < last; b0 += kTile) {
                        const int64_t b1 = std::min(last, b0 + kTile);
                        for (int64_t a = a0; a < a1; ++a) {
                          const T* sp = src + s + a;
                          T* dp = dst + d + a * oq;
                          for (int64_t b = b0; b < b1; ++b) dp[b] = sp[b * sl];
                        }
                      }
                    }
                  });
    return;
  }
  // Any other walk (not reached from a contiguous input, kept for safety): an odometer.
  int64_t idx[kMaxRank] = {0};
  int64_t off = 0;
  for (int64_t i = 0; i < p.n; ++i) {
    dst[i] = src[off];
    for (int d = r; d-- > 0;) {
      const auto du = static_cast<size_t>(d);
      ++idx[du];
      off += p.strides[du];
      if (idx[du] < p.dims[du]) break;
      off -= p.strides[du] * p.dims[du];
      idx[du] = 0;
    }
  }
}

Kernel transpose_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const TransposePlan p = plan_transpose(in[0].shape, transpose_perm(in, attrs));
  return tensor::by_itemsize(in[0].dtype, [=](auto tag) -> Kernel {
    using T = decltype(tag);
    return [=](std::span<const Tensor> a, std::span<Tensor> y, Parallel& par) {
      if (p.n == 0) return;
      transpose_run<T>(p, tensor::raw<T>(a[0]), tensor::raw<T>(y[0]), par);
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
