// GraphProtoBuilder (the ONNX writer's side of an op spelling) and the dtype numbers.
#include "formats/onnx_builder.h"

#include "cellar/error.h"
#include "onnx/onnx.pb.h"

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

void fill_onnx_tensor(TensorProto& out, const Tensor& t, const std::string& name, bool with_data) {
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
  if (!with_data) return;
  const auto b = t.bytes();  // cellar tensors are little-endian C order, as raw_data
  out.set_raw_data(reinterpret_cast<const char*>(b.data()), b.size());
}

// ---- OnnxBuilder ----

GraphProtoBuilder::GraphProtoBuilder(const ir::Graph& graph, onnx::GraphProto& out)
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

const ir::ValueInfo& GraphProtoBuilder::info(int value) const { return g_.value(value); }

const std::string& GraphProtoBuilder::name(int value) const {
  return names_.at(static_cast<size_t>(value));
}

bool GraphProtoBuilder::used(int value) const { return uses_.at(static_cast<size_t>(value)) > 0; }

std::string GraphProtoBuilder::fresh(const std::string& hint) {
  std::string n = hint.empty() ? "v" : hint;
  for (int k = 1; !taken_.insert(n).second; ++k) n = hint + "_" + std::to_string(k);
  return n;
}

std::string GraphProtoBuilder::constant(const std::string& hint, const Tensor& t) {
  const std::string n = fresh(hint);
  fill_onnx_tensor(*out_.add_initializer(), t, n);
  return n;
}

void GraphProtoBuilder::add(const std::string& op_type, const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs, const ops::OnnxAttrs& attrs) {
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

}  // namespace cellar::formats
