// Select(cond, x, y): x where cond else y, element-wise, the three broadcast together as NumPy
// does; cond is Bool, x and y of one dtype (Float32, Float64, Int32, Int64 or Bool). MindSpore
// (2.x: ops_def select_op.yaml; 1.x alike) writes the primitive "Select"; ONNX spells it Where,
// with the same three inputs in the same order: written and read one to one.
#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

const char* const kSelect = "Select";

std::vector<TensorType> select_infer(std::span<const TensorType> in, const ir::Attrs&) {
  if (in[0].dtype != DType::Bool) dtype_error(kSelect, "the condition must be Bool");
  require_same_dtype(kSelect, in.subspan(1));
  require_dtype_in(kSelect, in[1].dtype,
                   {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool});
  return {{in[1].dtype, broadcast_all(kSelect, in)}};
}

template <class T>
Kernel select_kernel(std::span<const TensorType> in) {
  const Shape shapes[3] = {in[0].shape, in[1].shape, in[2].shape};
  return [w = BroadcastWalk<3>(shapes, broadcast_all(kSelect, in))](std::span<const Tensor> x,
                                                                    std::span<Tensor> y) {
    const auto* c = reinterpret_cast<const uint8_t*>(x[0].raw_data());
    const auto* a = reinterpret_cast<const T*>(x[1].raw_data());
    const auto* b = reinterpret_cast<const T*>(x[2].raw_data());
    auto* o = reinterpret_cast<T*>(y[0].raw_data());
    w.run([&](int64_t i, const int64_t* off) { o[i] = c[off[0]] ? a[off[1]] : b[off[2]]; });
  };
}

Kernel select_make_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  switch (in[1].dtype) {
    case DType::Float64:
      return select_kernel<double>(in);
    case DType::Int32:
      return select_kernel<int32_t>(in);
    case DType::Int64:
      return select_kernel<int64_t>(in);
    case DType::Bool:
      return select_kernel<uint8_t>(in);
    default:
      return select_kernel<float>(in);
  }
}

}  // namespace

CELLAR_REGISTER_OPS(select) {
  table.add(
      {.name = kSelect,
       .min_inputs = 3,
       .max_inputs = 3,
       .infer = select_infer,
       .make_kernel = select_make_kernel,
       .mindir = {.primitive = kSelect},
       .onnx = onnx_same("Where"),
       .onnx_import = {{"Where", [](OnnxImporter& m) {
                          m.require_inputs(3, 3);
                          m.set_output(0, m.emit1(kSelect, {m.input(0), m.input(1), m.input(2)}));
                        }}}});
}

}  // namespace cellar::ops
