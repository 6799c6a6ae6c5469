// OnnxBuilder (the writer's side of an op spelling) and the OnnxImporter helpers.
#include "formats/onnx_builder.h"

#include <onnx/onnx_pb.h>

#include "cellar/error.h"

namespace cellar::formats {

using onnx::TensorProto;

std::optional<DType> dtype_from_onnx(int64_t t) {
  switch (t) {
    case TensorProto::FLOAT:
      return DType::Float32;
    case TensorProto::UINT8:
      return DType::UInt8;
    case TensorProto::INT8:
      return DType::Int8;
    case TensorProto::UINT16:
      return DType::UInt16;
    case TensorProto::INT16:
      return DType::Int16;
    case TensorProto::INT32:
      return DType::Int32;
    case TensorProto::INT64:
      return DType::Int64;
    case TensorProto::BOOL:
      return DType::Bool;
    case TensorProto::FLOAT16:
      return DType::Float16;
    case TensorProto::DOUBLE:
      return DType::Float64;
    case TensorProto::UINT32:
      return DType::UInt32;
    case TensorProto::UINT64:
      return DType::UInt64;
    case TensorProto::BFLOAT16:
      return DType::BFloat16;
    default:
      return std::nullopt;
  }
}

std::optional<int> dtype_to_onnx(DType t) {
  switch (t) {
    case DType::Bool:
      return TensorProto::BOOL;
    case DType::Int8:
      return TensorProto::INT8;
    case DType::Int16:
      return TensorProto::INT16;
    case DType::Int32:
      return TensorProto::INT32;
    case DType::Int64:
      return TensorProto::INT64;
    case DType::UInt8:
      return TensorProto::UINT8;
    case DType::UInt16:
      return TensorProto::UINT16;
    case DType::UInt32:
      return TensorProto::UINT32;
    case DType::UInt64:
      return TensorProto::UINT64;
    case DType::Float16:
      return TensorProto::FLOAT16;
    case DType::BFloat16:
      return TensorProto::BFLOAT16;
    case DType::Float32:
      return TensorProto::FLOAT;
    case DType::Float64:
      return TensorProto::DOUBLE;
    case DType::String:
      return std::nullopt;
  }
  return std::nullopt;
}

void fill_onnx_tensor(TensorProto& out, const Tensor& t, const std::string& name) {
  const auto dt = t.defined() ? dtype_to_onnx(t.dtype()) : std::nullopt;
  if (!dt)
    throw ExportError("ONNX: tensor '" + name + "' has dtype " +
                          std::string(t.defined() ? mindspore_name(t.dtype()) : "undefined") +
                          ", which ONNX cannot hold",
                      {.tensor = name});
  if (t.is_symbolic())
    throw ExportError("ONNX: tensor '" + name + "' has no data", {.tensor = name});
  out.set_name(name);
  out.set_data_type(*dt);
  for (int64_t d : t.shape()) out.add_dims(d);
  const auto b = t.bytes();  // cellar tensors are little-endian C order, as raw_data
  out.set_raw_data(reinterpret_cast<const char*>(b.data()), b.size());
}

// ---- OnnxBuilder ----

OnnxBuilder::OnnxBuilder(const ir::Graph& graph, onnx::GraphProto& out)
    : g_(graph), out_(out), uses_(graph.values.size(), 0) {
  names_.reserve(g_.values.size());
  for (const auto& v : g_.values) {
    names_.push_back(v.name);
    taken_.insert(v.name);
  }
  auto use = [&](int v) {
    if (v >= 0 && static_cast<size_t>(v) < uses_.size()) ++uses_[static_cast<size_t>(v)];
  };
  for (const auto& n : g_.nodes)
    for (int v : n.inputs) use(v);
  for (int v : g_.outputs) use(v);
}

const ir::ValueInfo& OnnxBuilder::info(int value) const { return g_.value(value); }

const std::string& OnnxBuilder::name(int value) const {
  return names_.at(static_cast<size_t>(value));
}

bool OnnxBuilder::used(int value) const { return uses_.at(static_cast<size_t>(value)) > 0; }

std::string OnnxBuilder::fresh(const std::string& hint) {
  std::string n = hint.empty() ? "v" : hint;
  for (int k = 1; !taken_.insert(n).second; ++k) n = hint + "_" + std::to_string(k);
  return n;
}

std::string OnnxBuilder::constant(const std::string& hint, const Tensor& t) {
  const std::string n = fresh(hint);
  fill_onnx_tensor(*out_.add_initializer(), t, n);
  return n;
}

std::string OnnxBuilder::ints(const std::string& hint, const std::vector<int64_t>& v) {
  return constant(hint, Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())}));
}

std::string OnnxBuilder::scalar(const std::string& hint, double v, DType dtype) {
  return constant(hint, Tensor::scalar(v).to(dtype));
}

void OnnxBuilder::add(const std::string& op_type, const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs, const OnnxAttrs& attrs) {
  auto* n = out_.add_node();
  n->set_op_type(op_type);
  n->set_name(fresh(outputs.empty() ? op_type : op_type + ":" + outputs[0]));
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  for (const auto& kv : attrs) {  // not a structured binding: clang 14 can't capture one
    const std::string& key = kv.first;
    const auto& value = kv.second;
    auto* a = n->add_attribute();
    a->set_name(key);
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            a->set_type(onnx::AttributeProto::INT);
            a->set_i(x);
          } else if constexpr (std::is_same_v<T, float>) {
            a->set_type(onnx::AttributeProto::FLOAT);
            a->set_f(x);
          } else if constexpr (std::is_same_v<T, std::string>) {
            a->set_type(onnx::AttributeProto::STRING);
            a->set_s(x);
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            a->set_type(onnx::AttributeProto::INTS);
            for (int64_t i : x) a->add_ints(i);
          } else if constexpr (std::is_same_v<T, std::vector<float>>) {
            a->set_type(onnx::AttributeProto::FLOATS);
            for (float f : x) a->add_floats(f);
          } else {
            a->set_type(onnx::AttributeProto::TENSOR);
            fill_onnx_tensor(*a->mutable_t(), x, key);
          }
        },
        value);
  }
}

void OnnxBuilder::fail(const ir::Node& node, const std::string& why) const {
  throw ExportError("ONNX: node '" + node.name + "' (" + node.op + "): " + why,
                    {.tensor = node.name});
}

// ---- OnnxImporter helpers ----

void OnnxImporter::require_inputs(size_t min, size_t max) const {
  const size_t n = num_inputs();
  if (n < min || n > max)
    fail("has " + std::to_string(n) + " inputs, expected " +
         (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)));
  for (size_t i = 0; i < min; ++i)
    if (!has_input(i)) fail("required input " + std::to_string(i) + " is empty");
}

std::vector<int64_t> OnnxImporter::const_ints(size_t i) {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  const std::optional<Tensor> t = constant_input(i);
  if (!t)
    unsupported("input " + std::to_string(i) +
                " must be a constant (an initializer or a Constant node): cellar needs it at load "
                "time");
  if (t->rank() > 1)
    fail("input " + std::to_string(i) + " must be a scalar or 1-D, got " + t->shape().str());
  std::vector<int64_t> out(static_cast<size_t>(t->numel()));
  if (t->dtype() == DType::Int64) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = t->data<int64_t>()[k];
  } else if (t->dtype() == DType::Int32) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = t->data<int32_t>()[k];
  } else {
    fail("input " + std::to_string(i) + " must be int64 or int32, got " +
         std::string(mindspore_name(t->dtype())));
  }
  return out;
}

std::optional<std::vector<int64_t>> OnnxImporter::ints_attr_or_input(const std::string& attr,
                                                                     size_t i, int64_t moved_in) {
  if (opset() < moved_in) return attr_ints(attr);
  if (has_attr(attr))
    fail("attribute '" + attr + "' became input " + std::to_string(i) + " in opset " +
         std::to_string(moved_in) + "; this model declares opset " + std::to_string(opset()));
  if (num_inputs() > i && has_input(i)) return const_ints(i);
  return std::nullopt;
}

int64_t OnnxImporter::axis(int64_t a, int64_t rank) const {
  if (a < -rank || a >= rank)
    fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
  return a < 0 ? a + rank : a;
}

}  // namespace cellar::formats
