// MatMulExt(a, b): NumPy's matmul (torch.matmul): a 1-D operand is a row (a) or column (b) vector
// whose added dimension is dropped from the result; operands of rank ≥ 2 multiply their last two
// dimensions and broadcast the leading ones, as BatchMatMul does (whose kernel this runs, on
// views with the vectors' dimensions added). Float32 and Float64. MindSpore 2.x writes mint.matmul
// and the `@` operator as the PRIMITIVE_FUNCTION "MatMulExt" (ops_def matmul_ext_op.yaml: input,
// other). ONNX's MatMul is the same function: written one to one (ONNX's MatMul is read as
// MatMul or BatchMatMul by the nn domain's MatMul row).
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "MatMulExt";

// The operands as BatchMatMul sees them, and the result's shape.
struct ExtPlan {
  TensorType a, b;
  Shape out;
};

ExtPlan ext_plan(std::span<const TensorType> in) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  ExtPlan p{in[0], in[1], {}};
  if (in[0].shape.rank() == 0 || in[1].shape.rank() == 0)
    shape_error(kOp, "operands must have rank >= 1, got " + in[0].shape.str() + " and " +
                         in[1].shape.str());
  const bool va = in[0].shape.rank() == 1, vb = in[1].shape.rank() == 1;
  if (va) p.a.shape = Shape{1, in[0].shape[0]};
  if (vb) p.b.shape = Shape{in[1].shape[0], 1};
  const TensorType both[2] = {p.a, p.b};
  std::vector<TensorType> r;
  try {
    r = op_table().find("BatchMatMul")->infer(both, {});
  } catch (const Error& e) {
    shape_error(kOp, "cannot multiply " + in[0].shape.str() + " by " + in[1].shape.str() + ": " +
                         e.reason());
  }
  std::vector<int64_t> out = r.at(0).shape.dims();
  if (vb) out.erase(out.end() - 1);
  if (va) out.erase(out.end() - (vb ? 1 : 2));
  p.out = Shape(out);
  return p;
}

}  // namespace

CELLAR_REGISTER_OPS(matmul_ext) {
  OpDef d{.name = kOp,
          .min_inputs = 2,
          .max_inputs = 2,
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs&) {
                return std::vector<TensorType>{{in[0].dtype, ext_plan(in).out}};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
            const ExtPlan p = ext_plan(in);
            const TensorType both[2] = {p.a, p.b};
            Kernel bmm = op_table().find("BatchMatMul")->make_kernel(both, {});
            const std::vector<TensorType> bt = op_table().find("BatchMatMul")->infer(both, {});
            return [bmm, sa = p.a.shape, sb = p.b.shape, so = bt.at(0).shape](
                       std::span<const Tensor> x, std::span<Tensor> y) {
              const Tensor views[2] = {x[0].reshape(sa), x[1].reshape(sb)};
              Tensor out = y[0].reshape(so);
              bmm(views, std::span<Tensor>(&out, 1));
            };
          },
          .mindir = {.primitive = kOp}};
  d.onnx = onnx_same("MatMul");
  d.work = work_contraction;
  table.add(std::move(d));
}

}  // namespace cellar::ops
