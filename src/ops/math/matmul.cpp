// MatMul: y = op(a) · op(b) for two rank-2 operands, op = transpose where transpose_a /
// transpose_b ask. MindSpore 2.x writes the PRIMITIVE_FUNCTION "MatMul" with the two flags as
// constant inputs after a and b (ops_def matmul_op.yaml; its loader needs both, so they are always
// written); 1.x wrote them as primitive attributes. ONNX: written as Gemm(transA, transB) with no
// C; ONNX's MatMul (NumPy semantics: rank 1 operands, batch dimensions) reads back as MatMul,
// BatchMatMul or a Reshape → MatMul → Reshape, with ExpandDims/Squeeze around rank-1 operands.
#include "ops/gemm.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

std::vector<TensorType> matmul_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype("MatMul", in);
  require_dtype_in("MatMul", in[0].dtype, {DType::Float32, DType::Float64});
  const bool ta = attr_bool(attrs, "MatMul", "transpose_a", false);
  const bool tb = attr_bool(attrs, "MatMul", "transpose_b", false);
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  if (a.rank() != 2 || b.rank() != 2)
    shape_error("MatMul", "operands must be rank 2, got " + a.str() + " and " + b.str());
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  const int64_t k2 = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (k != k2)
    shape_error("MatMul", "inner dimensions differ: " + a.str() + (ta ? "ᵀ" : "") + " · " +
                              b.str() + (tb ? "ᵀ" : ""));
  return {{in[0].dtype, Shape{m, n}}};
}

Kernel matmul_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const bool ta = attr_bool(attrs, "MatMul", "transpose_a", false);
  const bool tb = attr_bool(attrs, "MatMul", "transpose_b", false);
  const Shape a = in[0].shape, b = in[1].shape;
  const int m = static_cast<int>(ta ? a[1] : a[0]), k = static_cast<int>(ta ? a[0] : a[1]);
  const int n = static_cast<int>(tb ? b[0] : b[1]);
  const int lda = static_cast<int>(a[1]), ldb = static_cast<int>(b[1]);
  auto run = [=]<class T>(std::span<const Tensor> x, std::span<Tensor> y, Parallel& par, T) {
    gemm(par, ta, tb, m, n, k, x[0].data<T>(), lda, x[1].data<T>(), ldb, y[0].data<T>(), n);
  };
  if (in[0].dtype == DType::Float64)
    return [run](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      run(x, y, par, 0.0);
    };
  return [run](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    run(x, y, par, 0.0f);
  };
}

// FusedMatMul (the optimiser's MatMul + BiasAdd + ReLU | GeLU, src/runtime/optimizer.h): inputs
// a, b and an optional bias [n]; MatMul's attributes plus `activation` ("none", "relu" or "gelu",
// the GeLU op's tanh form), `packed_b` (B as ops/gemm.h pack_columns leaves it, the optimiser's
// doing for a constant weight) and `rows_interleaved` (Bᵀ, read transposed, as ops/gemm.h
// interleave_rows leaves it: the optimiser's for a batch-1 Dense weight). The GEMM kernels add the
// bias and apply the activation as they store C (ops/gemm.h Epilogue). Float32 only. An internal
// row: no MindIR or ONNX spelling, never in a file.
const char* const kFused = "FusedMatMul";

GemmActivation fused_activation(const ir::Attrs& attrs) {
  auto it = attrs.find("activation");
  if (it == attrs.end()) return GemmActivation::kNone;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kFused) + ": activation must be a string");
  if (*s == "none") return GemmActivation::kNone;
  if (*s == "relu") return GemmActivation::kReLU;
  if (*s == "gelu") return GemmActivation::kGeLU;
  throw ValueError(ErrorCode::kInvalidArgument, std::string(kFused) + ": activation '" + *s +
                                                    "' is not one of none, relu, gelu");
}

std::vector<TensorType> fused_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_dtype_in(kFused, in[0].dtype, {DType::Float32});
  auto out = matmul_infer(in.first(2), attrs);
  if (in.size() == 3) {
    require_same_dtype(kFused, in);
    const int64_t n = out[0].shape[1];
    if (in[2].shape.rank() != 1 || in[2].shape[0] != n)
      shape_error(kFused, "bias " + in[2].shape.str() + " must be [" + std::to_string(n) + "]");
  }
  (void)fused_activation(attrs);
  return out;
}

Kernel fused_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const bool ta = attr_bool(attrs, kFused, "transpose_a", false);
  const bool tb = attr_bool(attrs, kFused, "transpose_b", false);
  const Shape a = in[0].shape, b = in[1].shape;
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1], n = tb ? b[0] : b[1];
  const int64_t lda = a[1], ldb = b[1];
  const bool bias = in.size() == 3;
  const GemmActivation act = fused_activation(attrs);
  if (attr_bool(attrs, kFused, "packed_b", false)) {
    if (ta || tb)
      throw ValueError(
          ErrorCode::kInvalidArgument,
          std::string(kFused) + ": a packed B is read with neither operand transposed");
    return [=](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      const Epilogue ep{bias ? x[2].data<float>() : nullptr, act};
      gemm_packed_b(par, m, n, k, x[0].data<float>(), lda, x[1].data<float>(), y[0].data<float>(),
                    n, ep);
    };
  }
  if (attr_bool(attrs, kFused, "rows_interleaved", false)) {
    if (ta || !tb)
      throw ValueError(ErrorCode::kInvalidArgument,
                       std::string(kFused) + ": interleaved rows are B read transposed, A as is");
    return [=](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      const Epilogue ep{bias ? x[2].data<float>() : nullptr, act};
      gemm_interleaved_b(par, m, n, k, x[0].data<float>(), lda, x[1].data<float>(),
                         y[0].data<float>(), n, ep);
    };
  }
  return [=](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
    const Epilogue ep{bias ? x[2].data<float>() : nullptr, act};
    gemm(par, ta, tb, m, n, k, x[0].data<float>(), lda, x[1].data<float>(), ldb, y[0].data<float>(),
         n, ep);
  };
}

void export_matmul(OnnxBuilder& b, const ir::Node& n) {
  const auto [ta, tb] = onnx_checked(b, n, [&] {
    return std::pair{attr_bool(n.attrs, "MatMul", "transpose_a", false),
                     attr_bool(n.attrs, "MatMul", "transpose_b", false)};
  });
  b.add("Gemm", {b.name(n.inputs.at(0)), b.name(n.inputs.at(1))}, {b.name(n.outputs.at(0))},
        {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}});
}

void import_matmul(OnnxImporter& m) {
  m.require_inputs(2, 2);
  int a = m.input(0), b = m.input(1);
  const int64_t ra = m.rank(a), rb = m.rank(b);
  if (ra == 0 || rb == 0) m.fail("operands must have rank >= 1");
  // NumPy's rules: a 1-D operand gets a dimension added, and removed from the result.
  if (ra == 1) a = m.emit1("ExpandDims", {a}, {{"axis", int64_t{0}}});
  if (rb == 1) b = m.emit1("ExpandDims", {b}, {{"axis", int64_t{-1}}});
  const bool two_d = m.rank(a) == 2 && m.rank(b) == 2;
  int y;
  if (m.rank(a) > 2 && m.rank(b) == 2) {
    // (…, M, K) · (K, N), as torch writes every Linear on a sequence: one 2-D MatMul between
    // Reshapes. (MindSpore 2.10's CPU BatchMatMul returns NaN for this rank mix.)
    const Shape sa = m.info(a).shape;
    const int64_t k = sa[sa.rank() - 1], n = m.info(b).shape[1];
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < sa.rank(); ++i) rows *= sa[i];
    std::vector<int64_t> out(sa.begin(), sa.end());
    out.back() = n;
    if (m.shape_known(a)) {
      const int a2 = m.emit1("Reshape", {a}, {{"shape", std::vector<int64_t>{rows, k}}});
      const int y2 = m.emit1("MatMul", {a2, b}, {{"transpose_a", false}, {"transpose_b", false}});
      y = m.emit1("Reshape", {y2}, {{"shape", out}});
    } else {
      // a's leading dimensions known only at run time (they follow an open input dimension):
      // (-1, K), and back to a's leading dimensions read at run time, then N.
      const int a2 = m.emit1("Reshape", {a}, {{"shape", std::vector<int64_t>{-1, k}}});
      const int y2 = m.emit1("MatMul", {a2, b}, {{"transpose_a", false}, {"transpose_b", false}});
      const int lead = m.take(m.emit1("TensorShape", {a}), 0,
                              index_range(0, static_cast<int64_t>(sa.rank()) - 1));
      const int last = m.constant(Tensor::from_vector(std::vector<int64_t>{n}, Shape{1}));
      y = m.emit1("Reshape", {y2, m.emit1("Concat", {lead, last}, {{"axis", int64_t{0}}})});
    }
  } else {
    y = m.emit1(two_d ? "MatMul" : "BatchMatMul", {a, b},
                {{"transpose_a", false}, {"transpose_b", false}});
  }
  if (ra == 1) y = m.emit1("Squeeze", {y}, {{"axis", std::vector<int64_t>{m.rank(y) - 2}}});
  if (rb == 1) y = m.emit1("Squeeze", {y}, {{"axis", std::vector<int64_t>{m.rank(y) - 1}}});
  m.set_output(0, y);
}

}  // namespace

CELLAR_REGISTER_OPS(matmul) {
  table.add({.name = "MatMul",
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = matmul_infer,
             .make_kernel = matmul_kernel,
             .mindir = {.primitive = "MatMul",
                        .attr_inputs = {"transpose_a", "transpose_b"},
                        .defaults = {{"transpose_a", false}, {"transpose_b", false}}},
             .onnx = export_matmul,
             .onnx_import = {{"MatMul", import_matmul}},
             .work = work_contraction});
  table.add({.name = kFused,
             .min_inputs = 2,
             .max_inputs = 3,
             .infer = fused_infer,
             .make_kernel = fused_kernel,
             .internal = true,
             .work = work_contraction});
}

}  // namespace cellar::ops
