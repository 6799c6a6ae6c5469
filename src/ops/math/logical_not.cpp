// LogicalNot: y = !x element-wise on a Bool tensor. MindSpore writes the primitive "LogicalNot"
// with x its only input (2.x: ops_def logical_not_op.yaml; 1.x the same name); ONNX's Not is the
// same function, written and read one to one.
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(logical_not) {
  OpDef d{.name = "LogicalNot",
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs&) {
                require_dtype_in("LogicalNot", in[0].dtype, {DType::Bool});
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = [](std::span<const TensorType> in, const ir::Attrs&) -> Kernel {
            const int64_t n = in[0].shape.numel();
            return [n](std::span<const Tensor> x, std::span<Tensor> y) {
              const auto* p = reinterpret_cast<const uint8_t*>(x[0].raw_data());
              auto* q = reinterpret_cast<uint8_t*>(y[0].raw_data());
              for (int64_t i = 0; i < n; ++i) q[i] = p[i] ? 0 : 1;
            };
          },
          .mindir = {.primitive = "LogicalNot"}};
  d.onnx = onnx_same("Not");
  d.onnx_import = {{"Not", onnx_unary("LogicalNot")}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
