// AddN(x0, x1, …): the element-wise sum of any number of tensors of one dtype (Float32, Float64,
// Int32, Int64) and one shape, added in input order. MindSpore writes ops.AddN as a PRIMITIVE
// whose one input is a MakeTuple of the tensors (no attributes); here the tensors are the node's
// inputs and the MindIR spelling's tuple_input packs and unpacks them. ONNX: written as Sum. ONNX's
// Sum and Mean broadcast their inputs: read as this row when the shapes agree, as a chain of
// Add otherwise; Mean then divides by the number of inputs.
#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "AddN";

std::vector<TensorType> add_n_infer(std::span<const TensorType> in, const ir::Attrs&) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64, DType::Int32, DType::Int64});
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i].shape != in[0].shape)
      shape_error(kOp, "input " + std::to_string(i) + " " + in[i].shape.str() +
                           " differs from input 0 " + in[0].shape.str() +
                           " (AddN does not broadcast)");
  return {in[0]};
}

template <class T>
Kernel add_n_kernel_of(int64_t numel) {
  return [numel](std::span<const Tensor> x, std::span<Tensor> y) {
    T* out = reinterpret_cast<T*>(y[0].raw_data());
    const T* first = reinterpret_cast<const T*>(x[0].raw_data());
    std::copy(first, first + numel, out);
    for (size_t i = 1; i < x.size(); ++i) {
      const T* v = reinterpret_cast<const T*>(x[i].raw_data());
      for (int64_t j = 0; j < numel; ++j) out[j] += v[j];
    }
  };
}

Kernel add_n_kernel(std::span<const TensorType> in, const ir::Attrs&) {
  const int64_t numel = in[0].shape.numel();
  switch (in[0].dtype) {
    case DType::Float64:
      return add_n_kernel_of<double>(numel);
    case DType::Int32:
      return add_n_kernel_of<int32_t>(numel);
    case DType::Int64:
      return add_n_kernel_of<int64_t>(numel);
    default:
      return add_n_kernel_of<float>(numel);
  }
}

void export_add_n(OnnxBuilder& b, const ir::Node& n) {
  b.add("Sum", b.input_names(n), {b.name(n.outputs.at(0))});
}

// ONNX Sum and Mean (variadic, broadcasting).
void import_sum(OnnxImporter& m, bool mean) {
  if (m.num_inputs() == 0) m.fail("needs at least one input");
  std::vector<int> in;
  bool same = true;
  for (size_t i = 0; i < m.num_inputs(); ++i) {
    in.push_back(m.input(i));
    same = same && m.info(in.back()).shape == m.info(in[0]).shape;
  }
  int y = in[0];
  if (same) {
    y = m.emit1(kOp, in);
  } else {
    for (size_t i = 1; i < in.size(); ++i) y = m.emit1("Add", {y, in[i]});
  }
  if (mean && in.size() > 1) {
    const DType dt = m.info(y).dtype;
    if (!is_floating(dt)) m.unsupported("Mean of a non-floating dtype");
    y = m.emit1("Div", {y, m.constant(Tensor::scalar(static_cast<double>(in.size())).to(dt))});
  }
  m.set_output(0, y);
}

}  // namespace

CELLAR_REGISTER_OPS(add_n) {
  OpDef d{.name = kOp,
          .min_inputs = 1,
          .max_inputs = -1,
          .infer = add_n_infer,
          .make_kernel = add_n_kernel,
          .mindir = {.primitive = kOp, .primitive_function = false, .tuple_input = true}};
  d.onnx = export_add_n;
  d.onnx_import = {{"Sum", [](OnnxImporter& m) { import_sum(m, false); }},
                   {"Mean", [](OnnxImporter& m) { import_sum(m, true); }}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
