// TensorShape(x): x's dimensions as a 1-D Int64 tensor, computed at run time (MindSpore's
// TensorShape primitive). The ONNX reader folds ONNX's Shape into a constant when x's shape is
// fixed at load; this row is for the rest (x's shape depends on run-time values, or on symbolic
// input dimensions that shape arithmetic reads), feeding a value input (Expand's target). Its
// outputs depend only on its input's type (OpDef::values_from_types), so a plan knows them
// without running anything. ONNX: Shape (its start and end are read as a Gather of the result).
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "TensorShape";

std::vector<Tensor> values(std::span<const TensorType> in, const ir::Attrs&) {
  const int64_t n = static_cast<int64_t>(in[0].shape.rank());
  return {Tensor::from_vector(in[0].shape.dims(), Shape{n})};
}

}  // namespace

CELLAR_REGISTER_OPS(tensor_shape) {
  table.add({.name = kOp,
             .infer =
                 [](std::span<const TensorType> in, const ir::Attrs&) {
                   const int64_t n = static_cast<int64_t>(in[0].shape.rank());
                   return std::vector<TensorType>{{DType::Int64, Shape{n}}};
                 },
             .values_from_types = values,
             .make_kernel = [](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
               const Tensor v = values(in, attrs).at(0);
               return [v](std::span<const Tensor>, std::span<Tensor> y) {
                 if (v.nbytes()) std::memcpy(y[0].raw_data(), v.raw_data(), v.nbytes());
               };
             },
             .mindir = {.primitive = kOp},
             .onnx = onnx_same("Shape")});
}

}  // namespace cellar::ops
