// Identity(x): y = x, any dtype but str. MindSpore writes ops.Identity as the primitive
// "Identity" (2.x: ops_def identity_op.yaml) and the copies its graph compiler makes before a
// side-effect op (a tensor handed to an in-place or view op) as "TensorMove", read here too; both
// take x as their only input. ONNX's Identity is written; ONNX files' Identity is read by the
// ONNX format as no node at all (formats/onnx_rules.cpp).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(identity) {
  OpDef d{.name = "Identity",
          .infer =
              [](std::span<const TensorType> in, const ir::Attrs&) {
                tensor::require_numeric("Identity", in[0].dtype);
                return std::vector<TensorType>{in[0]};
              },
          .make_kernel = tensor::copy_kernel,
          .mindir = {.primitive = "Identity", .legacy_primitives = {"TensorMove"}}};
  d.onnx = onnx_same("Identity");
  table.add(std::move(d));
}

}  // namespace cellar::ops
