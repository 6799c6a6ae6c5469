// BatchMatMul(x, y; transpose_a, transpose_b): operands of rank >= 2 (Float32 or Float64), the
// last two dimensions multiplied as MatMul does (each transposed first when its flag says so), the
// leading (batch) dimensions broadcast as NumPy does. MindSpore 2.x writes the PRIMITIVE_FUNCTION
// "BatchMatMul" with transpose_a and transpose_b as constant inputs (ops_def
// batch_matmul_op.yaml; both always written, false by default); 1.x wrote them as primitive
// attributes. ONNX's MatMul broadcasts batch dimensions the same way but has no transpose flags:
// written as a Transpose of the last two axes where a flag is set, then MatMul (ONNX's MatMul is
// read as cellar's MatMul or BatchMatMul by the nn domain's MatMul row).
#include <algorithm>
#include <numeric>
#include <type_traits>
#include <utility>

#include "ops/broadcast.h"
#include "ops/gemm.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kBmm = "BatchMatMul";

struct BmmPlan {
  Shape batch;                        // broadcast batch shape
  std::vector<int64_t> a_off, b_off;  // per batch index: element offset of each operand's matrix
  int m, n, k, lda, ldb;
  bool ta, tb;
};

BmmPlan bmm_plan(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kBmm, in);
  require_dtype_in(kBmm, in[0].dtype, {DType::Float32, DType::Float64});
  BmmPlan p{};
  p.ta = attr_bool(attrs, kBmm, "transpose_a", false);
  p.tb = attr_bool(attrs, kBmm, "transpose_b", false);
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  if (a.rank() < 2 || b.rank() < 2)
    shape_error(kBmm, "operands must have rank >= 2, got " + a.str() + " and " + b.str());
  const int64_t ar = a[a.rank() - 2], ac = a[a.rank() - 1];
  const int64_t br = b[b.rank() - 2], bc = b[b.rank() - 1];
  const int64_t m = p.ta ? ac : ar, k = p.ta ? ar : ac;
  const int64_t k2 = p.tb ? bc : br, n = p.tb ? br : bc;
  if (k != k2)
    shape_error(kBmm, "inner dimensions differ: " + a.str() + (p.ta ? "ᵀ" : "") + " · " + b.str() +
                          (p.tb ? "ᵀ" : ""));
  const Shape ab(std::vector<int64_t>(a.begin(), a.end() - 2));
  const Shape bb(std::vector<int64_t>(b.begin(), b.end() - 2));
  p.batch = broadcast_shape(kBmm, ab, bb);
  if (p.batch.rank() > kMaxBroadcastRank) shape_error(kBmm, "batch rank above 16 is not supported");
  p.m = static_cast<int>(m), p.n = static_cast<int>(n), p.k = static_cast<int>(k);
  p.lda = static_cast<int>(ac), p.ldb = static_cast<int>(bc);
  return p;
}

std::vector<TensorType> bmm_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const BmmPlan p = bmm_plan(in, attrs);
  std::vector<int64_t> out = p.batch.dims();
  out.push_back(p.m);
  out.push_back(p.n);
  return {{in[0].dtype, Shape(out)}};
}

template <class T>
Kernel bmm_typed(BmmPlan p, const Shape& a_shape, const Shape& b_shape) {
  // Matrix offsets of each batch entry, computed once: the batch strides of each operand in
  // units of whole matrices, 0 along broadcast dimensions.
  const Shape ab(std::vector<int64_t>(a_shape.begin(), a_shape.end() - 2));
  const Shape bb(std::vector<int64_t>(b_shape.begin(), b_shape.end() - 2));
  const auto sa = broadcast_strides(ab, p.batch), sb = broadcast_strides(bb, p.batch);
  const int64_t a_mat = a_shape[a_shape.rank() - 2] * a_shape[a_shape.rank() - 1],
                b_mat = b_shape[b_shape.rank() - 2] * b_shape[b_shape.rank() - 1];
  const int64_t nb = p.batch.numel();
  std::vector<int64_t> idx(p.batch.rank(), 0);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    p.a_off.push_back(oa * a_mat);
    p.b_off.push_back(ob * b_mat);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < p.batch[d]) break;
      idx[d] = 0;
    }
  }
  return [p](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    const T* a = x[0].data<T>();
    const T* b = x[1].data<T>();
    T* c = y[0].data<T>();
    const int64_t c_mat = static_cast<int64_t>(p.m) * p.n;
    if (c_mat == 0) return;
    const auto entries = static_cast<int64_t>(p.a_off.size());
    if (entries == 1) {
      gemm(par, p.ta, p.tb, p.m, p.n, p.k, a + p.a_off[0], p.lda, b + p.b_off[0], p.ldb, c, p.n);
      return;
    }
    // A transposed B (attention's Q·Kᵀ) is turned into k × n rows in the worker's scratch, so
    // that the product runs on the panel kernels, which read B's rows as vectors (BLAS would
    // pack it on every call); it costs one pass over B against the product's m passes.
    bool turn_b = false;
    if constexpr (std::is_same_v<T, float>) turn_b = p.tb && !p.ta && p.m > 1 && packed_kernels();
    par.for_range(entries, 1, [&](int64_t i0, int64_t i1, int worker) {
      T* bt = turn_b ? par.scratch<T>(worker, static_cast<size_t>(p.k) * p.n) : nullptr;
      for (int64_t i = i0; i < i1; ++i) {
        const T* bi = b + p.b_off[static_cast<size_t>(i)];
        const T* ai = a + p.a_off[static_cast<size_t>(i)];
        T* ci = c + i * c_mat;
        if (turn_b) {
          for (int64_t j = 0; j < p.n; ++j)
            for (int64_t q = 0; q < p.k; ++q) bt[q * p.n + j] = bi[j * p.ldb + q];
          gemm(false, false, p.m, p.n, p.k, ai, p.lda, bt, p.n, ci, p.n);
        } else {
          gemm(p.ta, p.tb, p.m, p.n, p.k, ai, p.lda, bi, p.ldb, ci, p.n);
        }
      }
    });
  };
}

Kernel bmm_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  BmmPlan p = bmm_plan(in, attrs);
  if (in[0].dtype == DType::Float64)
    return bmm_typed<double>(std::move(p), in[0].shape, in[1].shape);
  return bmm_typed<float>(std::move(p), in[0].shape, in[1].shape);
}

void export_batch_matmul(OnnxBuilder& b, const ir::Node& n) {
  const auto [ta, tb] = onnx_checked(b, n, [&] {
    return std::pair{attr_bool(n.attrs, "BatchMatMul", "transpose_a", false),
                     attr_bool(n.attrs, "BatchMatMul", "transpose_b", false)};
  });
  auto maybe_t = [&](int v, bool t) {
    if (!t) return b.name(v);
    const size_t r = b.shape(v).rank();
    std::vector<int64_t> perm(r);
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[r - 1], perm[r - 2]);
    const std::string out = b.fresh(b.name(v) + "_T");
    b.add("Transpose", {b.name(v)}, {out}, {{"perm", perm}});
    return out;
  };
  const std::string a = maybe_t(n.inputs.at(0), ta), c = maybe_t(n.inputs.at(1), tb);
  b.add("MatMul", {a, c}, {b.name(n.outputs.at(0))});
}

}  // namespace

CELLAR_REGISTER_OPS(batch_matmul) {
  table.add({.name = kBmm,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = bmm_infer,
             .make_kernel = bmm_kernel,
             .mindir = {.primitive = kBmm,
                        .attr_inputs = {"transpose_a", "transpose_b"},
                        .defaults = {{"transpose_a", false}, {"transpose_b", false}}},
             .onnx = export_batch_matmul,
             .work = work_contraction});
}

}  // namespace cellar::ops
