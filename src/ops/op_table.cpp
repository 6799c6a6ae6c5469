#include "ops/op_table.h"

#include "cellar/ops.h"
#include "ir/trace.h"
#include "ops/registry.h"

namespace cellar::ops {

void OpTable::add(OpDef def) {
  if (!def.mindir.primitive.empty()) by_mindir_[def.mindir.primitive] = def.name;
  for (const auto& legacy : def.mindir.legacy_primitives) by_mindir_[legacy] = def.name;
  for (size_t i = 0; i < def.mindir.variants.size(); ++i) {
    const std::string& prim = def.mindir.variants[i].spelling.primitive;
    by_mindir_[prim] = def.name;
    by_mindir_variant_[prim] = {def.name, i};
  }
  const std::string name = def.name;
  ops_.emplace(name, std::move(def));
}

const OpDef* OpTable::find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

const OpDef* OpTable::find_mindir(const std::string& primitive) const {
  auto it = by_mindir_.find(primitive);
  return it == by_mindir_.end() ? nullptr : find(it->second);
}

const MindIRVariant* OpTable::find_mindir_variant(const std::string& primitive) const {
  auto it = by_mindir_variant_.find(primitive);
  if (it == by_mindir_variant_.end()) return nullptr;
  return &find(it->second.first)->mindir.variants.at(it->second.second);
}

std::vector<std::string> OpTable::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : ops_) out.push_back(n);
  return out;
}

bool OpTable::set_onnx_export(const std::string& name, OnnxExportFn fn) {
  auto it = ops_.find(name);
  if (it == ops_.end()) return false;
  it->second.onnx = std::move(fn);
  return true;
}

void OpTable::add_onnx_import(const std::string& op_type, OnnxImportFn fn) {
  onnx_import_[op_type] = std::move(fn);
}

const OnnxImportFn* OpTable::find_onnx_import(const std::string& op_type) const {
  auto it = onnx_import_.find(op_type);
  return it == onnx_import_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpTable::onnx_import_types() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : onnx_import_) out.push_back(n);
  return out;
}

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
    register_nn_ops(t);
    register_array_ops(t);
    register_math_ops(t);
    register_random_ops(t);
    register_conv_ops(t);
    register_pool_ops(t);
    register_norm_ops(t);
    register_activation_ops(t);
    register_shape_ops(t);
    register_reduce_ops(t);
    register_math2_ops(t);
    register_elementwise_ops(t);
    register_pad_ops(t);
    register_onnx_spellings(t);  // last: it fills the ONNX spelling of rows registered above
    return t;
  }();
  return table;
}

void shape_error(const std::string& op, const std::string& why) {
  throw ValueError(ErrorCode::kShapeMismatch, op + ": " + why);
}
void dtype_error(const std::string& op, const std::string& why) {
  throw ValueError(ErrorCode::kDTypeMismatch, op + ": " + why);
}
void require_same_dtype(const std::string& op, std::span<const TensorType> in) {
  for (const auto& t : in)
    if (t.dtype != in[0].dtype)
      dtype_error(op, "inputs have different dtypes " + std::string(mindspore_name(in[0].dtype)) +
                          " and " + std::string(mindspore_name(t.dtype)));
}
void require_dtype_in(const std::string& op, DType t, std::initializer_list<DType> allowed) {
  for (DType a : allowed)
    if (a == t) return;
  std::string list;
  for (DType a : allowed) list += (list.empty() ? "" : ", ") + std::string(mindspore_name(a));
  throw ValueError(ErrorCode::kUnsupported, op + ": dtype " + std::string(mindspore_name(t)) +
                                                " is not supported (supported: " + list + ")");
}

namespace {
const ir::Attr* find_attr(const ir::Attrs& a, const std::string& key) {
  auto it = a.find(key);
  return it == a.end() ? nullptr : &it->second;
}
[[noreturn]] void attr_error(const std::string& op, const std::string& key, const std::string& why) {
  throw ValueError(ErrorCode::kInvalidArgument, op + ": attribute '" + key + "' " + why);
}
}  // namespace

int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key) {
  const ir::Attr* v = find_attr(a, key);
  if (v == nullptr) attr_error(op, key, "is missing");
  if (auto* i = std::get_if<int64_t>(v)) return *i;
  attr_error(op, key, "must be an integer");
}
int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key, int64_t dflt) {
  return find_attr(a, key) ? attr_int(a, op, key) : dflt;
}
bool attr_bool(const ir::Attrs& a, const std::string& op, const std::string& key, bool dflt) {
  const ir::Attr* v = find_attr(a, key);
  if (v == nullptr) return dflt;
  if (auto* b = std::get_if<bool>(v)) return *b;
  if (auto* i = std::get_if<int64_t>(v)) return *i != 0;
  attr_error(op, key, "must be a bool");
}
std::vector<int64_t> attr_ints(const ir::Attrs& a, const std::string& op, const std::string& key) {
  const ir::Attr* v = find_attr(a, key);
  if (v == nullptr) attr_error(op, key, "is missing");
  if (auto* i = std::get_if<std::vector<int64_t>>(v)) return *i;
  attr_error(op, key, "must be a list of integers");
}

std::vector<Tensor> call(const std::string& op, std::vector<Tensor> inputs, ir::Attrs attrs) {
  const OpDef* def = op_table().find(op);
  if (def == nullptr) throw ValueError(ErrorCode::kUnsupported, "unknown op '" + op + "'");
  if (ir::Tracer* tracer = ir::Tracer::current()) {
    bool record = false;
    for (const Tensor& t : inputs) record |= t.is_symbolic() || t.param_state() != nullptr;
    if (record) return tracer->record(*def, inputs, std::move(attrs));
  }
  std::vector<TensorType> types;
  for (const Tensor& t : inputs) {
    if (t.is_symbolic())
      throw ExportError("op " + op + " got a symbolic tensor outside of its export trace");
    if (!t.defined()) throw ValueError(ErrorCode::kInvalidArgument, "op " + op + " got an undefined tensor");
    types.push_back({t.dtype(), t.shape()});
  }
  const int n = static_cast<int>(inputs.size());
  if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs))
    throw ValueError(ErrorCode::kInvalidArgument, "op " + op + " got " + std::to_string(n) + " inputs");
  const auto out_types = def->infer(types, attrs);
  std::vector<Tensor> outs;
  for (const auto& t : out_types) outs.emplace_back(t.dtype, t.shape);
  const Kernel kernel = def->make_kernel(types, attrs);
  kernel(inputs, outs);
  return outs;
}

// ---- the functional API (cellar/ops.h): each names a row and its attributes ----

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  return call("MatMul", {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}})[0];
}
Tensor bias_add(const Tensor& x, const Tensor& bias) { return call("BiasAdd", {x, bias})[0]; }
Tensor relu(const Tensor& x) { return call("ReLU", {x})[0]; }
Tensor flatten(const Tensor& x) { return call("Flatten", {x})[0]; }
Tensor reshape(const Tensor& x, const Shape& shape) {
  return call("Reshape", {x}, {{"shape", shape.dims()}})[0];
}
Tensor add(const Tensor& a, const Tensor& b) { return call("Add", {a, b})[0]; }
Tensor mul(const Tensor& a, const Tensor& b) { return call("Mul", {a, b})[0]; }

}  // namespace cellar::ops
