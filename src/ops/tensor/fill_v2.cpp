// FillV2(shape; value): a tensor of `shape` (a 1-D Int64/Int32 tensor, computed at run time)
// filled with `value` (a one-element tensor attribute, whose dtype is the output's). Its shape
// input is a value input (OpDef::value_inputs): an executor plans with its values (torch's
// x.new_zeros(x.shape) on a dynamic batch: Shape -> ConstantOfShape). A shape known at load makes
// a constant instead (the ONNX format's ConstantOfShape rule). MindIR: MindSpore's FillV2, with
// `value` a constant argument. ONNX: ConstantOfShape, `value` its attribute.
#include <cstring>

#include "ir/limits.h"
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "FillV2";

const Tensor& fill_value(const ir::Attrs& attrs) {
  auto it = attrs.find("value");
  const Tensor* t = it == attrs.end() ? nullptr : std::get_if<Tensor>(&it->second);
  if (!t || !t->defined() || t->numel() != 1)
    shape_error(kOp, "the attribute 'value' must be a tensor of one element");
  tensor::require_numeric(kOp, t->dtype());
  return *t;
}

void check_shape_input(const TensorType& s) {
  if (s.dtype != DType::Int64 && s.dtype != DType::Int32)
    dtype_error(
        kOp, "the shape input must be Int64 or Int32, got " + std::string(mindspore_name(s.dtype)));
  if (s.shape.rank() != 1)
    shape_error(kOp, "the shape input must be 1-D, got shape " + s.shape.str());
  if (static_cast<size_t>(s.shape[0]) > ir::kMaxRank)
    shape_error(kOp, "the shape input has " + std::to_string(s.shape[0]) +
                         " entries, above cellar's rank limit of " + std::to_string(ir::kMaxRank));
}

ir::Attrs fill_attrs(std::span<const TensorType> in, std::span<const Tensor> v,
                     const ir::Attrs& attrs) {
  check_shape_input(in[0]);
  const Tensor& s = v[0];
  std::vector<int64_t> dims(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < dims.size(); ++i) {
    dims[i] = s.dtype() == DType::Int64 ? s.data<int64_t>()[i] : s.data<int32_t>()[i];
    if (dims[i] < 0)
      shape_error(kOp, "negative dimension " + std::to_string(dims[i]) + " at index " +
                           std::to_string(i) + " of the shape input");
  }
  ir::Attrs out = attrs;
  out["shape"] = std::move(dims);
  return out;
}

// Values unknown: a shape of 1s of the input's length (the representative type).
std::vector<TensorType> infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  check_shape_input(in[0]);
  const DType dt = fill_value(attrs).dtype();
  if (!attrs.count("shape"))
    return {{dt, Shape(std::vector<int64_t>(static_cast<size_t>(in[0].shape[0]), 1))}};
  const Shape out(attr_ints(attrs, kOp, "shape"));
  if (!out.checked_numel()) shape_error(kOp, "element count of " + out.str() + " overflows");
  return {{dt, out}};
}

Kernel make_kernel(std::span<const TensorType>, const ir::Attrs& attrs) {
  const Tensor fill = fill_value(attrs);
  return tensor::by_itemsize(fill.dtype(), [&](auto zero) -> Kernel {
    using T = decltype(zero);
    T v;
    std::memcpy(&v, fill.raw_data(), sizeof(T));
    return [v](std::span<const Tensor>, std::span<Tensor> y) {
      T* q = tensor::raw<T>(y[0]);
      const int64_t n = y[0].numel();
      for (int64_t i = 0; i < n; ++i) q[i] = v;
    };
  });
}

}  // namespace

CELLAR_REGISTER_OPS(fill_v2) {
  table.add({.name = kOp,
             .infer = infer,
             .value_inputs = {0},
             .attrs_from_values = fill_attrs,
             .make_kernel = make_kernel,
             .mindir = {.primitive = kOp, .attr_inputs = {"value"}},
             .onnx = [](OnnxBuilder& b, const ir::Node& n) {
               const Tensor value = onnx_checked(b, n, [&] { return fill_value(n.attrs); });
               std::string shape = b.name(n.inputs.at(0));
               if (b.info(n.inputs[0]).dtype != DType::Int64) {
                 const std::string cast = b.fresh(shape + "/int64");
                 b.add("Cast", {shape}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
                 shape = cast;
               }
               b.add("ConstantOfShape", {shape}, {b.name(n.outputs.at(0))},
                     {{"value", value.reshape(Shape{1})}});
             }});
}

}  // namespace cellar::ops
