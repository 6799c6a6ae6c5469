// Expand(x, shape): x broadcast with `shape` as ONNX's Expand does (both ways: the output is the
// NumPy broadcast of x's shape and `shape`), where `shape` is a tensor known only at run time
// (a graph input, or computed from the input shapes by Shape -> Gather -> Concat). Its values
// decide the output shape, so they are a value input (OpDef::value_inputs): an executor plans
// with them, keyed on them. A constant target is read as BroadcastTo instead (broadcast_to.cpp,
// which owns the ONNX import of Expand). MindIR: MindSpore's (deprecated) Expand primitive, which
// takes the shape as a tensor input, as ONNX's does.
#include <array>

#include "ops/broadcast.h"
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Expand";

void check_types(std::span<const TensorType> in) {
  tensor::require_numeric(kOp, in[0].dtype);
  if (in[1].dtype != DType::Int64 && in[1].dtype != DType::Int32)
    dtype_error(kOp, "the shape input must be Int64 or Int32, got " +
                         std::string(mindspore_name(in[1].dtype)));
  if (in[1].shape.rank() != 1)
    shape_error(kOp, "the shape input must be 1-D, got shape " + in[1].shape.str());
  if (static_cast<size_t>(in[1].shape[0]) > kMaxBroadcastRank)
    shape_error(kOp, "the shape input has " + std::to_string(in[1].shape[0]) +
                         " dimensions; rank above 16 is not supported");
}

// The target's values unknown: a target of 1s, which keeps x's dimensions (the representative
// type a graph records).
std::vector<TensorType> infer(std::span<const TensorType> in, const ir::Attrs&) {
  check_types(in);
  const Shape ones(std::vector<int64_t>(static_cast<size_t>(in[1].shape[0]), 1));
  return {{in[0].dtype, broadcast_shape(kOp, in[0].shape, ones)}};
}

std::vector<TensorType> infer_values(std::span<const TensorType> in, std::span<const Tensor> v,
                                     const ir::Attrs&) {
  check_types(in);
  const Tensor& s = v[1];
  std::vector<int64_t> target(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < target.size(); ++i) {
    target[i] = s.dtype() == DType::Int64 ? s.data<int64_t>()[i] : s.data<int32_t>()[i];
    if (target[i] < 0)
      shape_error(kOp, "negative dimension " + std::to_string(target[i]) + " at index " +
                           std::to_string(i) + " of the shape input " + Shape(target).str());
  }
  const Shape out = broadcast_shape(kOp, in[0].shape, Shape(target));
  const auto numel = out.checked_numel();
  int64_t bytes = 0;
  if (!numel || __builtin_mul_overflow(*numel, static_cast<int64_t>(itemsize(in[0].dtype)), &bytes))
    shape_error(kOp, "element count of " + out.str() + " overflows");
  return {{in[0].dtype, out}};
}

// The output shape is the plan's, so the walk is set up per call, on the stack (no allocation).
Kernel make_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  check_types(in);
  return tensor::by_itemsize(in[0].dtype, [](auto zero) -> Kernel {
    using T = decltype(zero);
    return [](std::span<const Tensor> x, std::span<Tensor> y) {
      const Shape& is = x[0].shape();
      const Shape& os = y[0].shape();
      const size_t r = os.rank();
      std::array<int64_t, kMaxBroadcastRank> stride{}, idx{};
      int64_t acc = 1;
      for (size_t i = is.rank(); i-- > 0;) {
        stride[i + (r - is.rank())] = is[i] == 1 ? 0 : acc;
        acc *= is[i];
      }
      const T* p = tensor::raw<T>(x[0]);
      T* q = tensor::raw<T>(y[0]);
      const int64_t n = os.numel();
      int64_t off = 0;
      for (int64_t e = 0; e < n; ++e) {
        q[e] = p[off];
        for (size_t d = r; d-- > 0;) {  // odometer step
          off += stride[d];
          if (++idx[d] < os[d]) break;
          off -= stride[d] * os[d];
          idx[d] = 0;
        }
      }
    };
  });
}

}  // namespace

CELLAR_REGISTER_OPS(expand) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = infer,
             .value_inputs = {1},
             .infer_values = infer_values,
             .make_kernel = make_kernel,
             .mindir = {.primitive = kOp, .primitive_function = false},
             .onnx = [](OnnxBuilder& b, const ir::Node& n) {
               // ONNX's Expand takes an Int64 shape.
               std::string shape = b.name(n.inputs.at(1));
               if (b.info(n.inputs[1]).dtype != DType::Int64) {
                 const std::string cast = b.fresh(shape + "/int64");
                 b.add("Cast", {shape}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
                 shape = cast;
               }
               b.add("Expand", {b.name(n.inputs.at(0)), shape}, {b.name(n.outputs.at(0))});
             }});
}

}  // namespace cellar::ops
