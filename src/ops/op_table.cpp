#include "ops/op_table.h"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "ir/trace.h"
#include "ops/registry.h"

namespace cellar::ops {

std::vector<size_t> argument_positions(const MindIRSpelling& sp) {
  if (sp.argument_order.empty()) return {};
  std::vector<size_t> tensors, attrs(sp.attr_inputs.size(), sp.argument_order.size());
  for (size_t i = 0; i < sp.argument_order.size(); ++i) {
    const auto it = std::find(sp.attr_inputs.begin(), sp.attr_inputs.end(), sp.argument_order[i]);
    if (it == sp.attr_inputs.end()) {
      tensors.push_back(i);
    } else {
      auto& slot = attrs[static_cast<size_t>(it - sp.attr_inputs.begin())];
      if (slot != sp.argument_order.size())
        throw std::logic_error("MindIR spelling of '" + sp.primitive + "': argument '" + *it +
                               "' is named twice in argument_order");
      slot = i;
    }
  }
  for (size_t k = 0; k < attrs.size(); ++k)
    if (attrs[k] == sp.argument_order.size())
      throw std::logic_error("MindIR spelling of '" + sp.primitive + "': attr input '" +
                             sp.attr_inputs[k] + "' is missing from argument_order");
  tensors.insert(tensors.end(), attrs.begin(), attrs.end());
  return tensors;
}

void OpTable::add(OpDef def) {
  auto clash = [&](const std::string& what) {
    throw std::logic_error("op table: row '" + def.name + "' " + what);
  };
  if (def.name.empty()) clash("has no name");
  if (!def.infer) clash("has no shape rule");
  if (def.attrs_from_values && !def.infer_values) {
    if (def.value_inputs.empty()) clash("has attrs_from_values but no value_inputs");
    def.infer_values = [infer = def.infer, from = def.attrs_from_values](
                           std::span<const TensorType> types, std::span<const Tensor> values,
                           const ir::Attrs& attrs) {
      return infer(types, from(types, values, attrs));
    };
  }
  if (def.value_inputs.empty() != !def.infer_values)
    clash("needs both value_inputs and infer_values, or neither");
  if (ops_.count(def.name)) clash("is registered twice");
  (void)argument_positions(def.mindir);  // a malformed argument_order is a programming error
  for (const auto& v : def.mindir.variants) (void)argument_positions(v.spelling);
  // Every spelling the row answers to, checked before anything is inserted.
  std::vector<std::string> prims;
  if (!def.mindir.primitive.empty()) prims.push_back(def.mindir.primitive);
  for (const auto& legacy : def.mindir.legacy_primitives) prims.push_back(legacy);
  for (const auto& v : def.mindir.variants) prims.push_back(v.spelling.primitive);
  std::set<std::string> seen;
  for (const auto& p : prims) {
    if (!seen.insert(p).second) clash("lists MindIR primitive '" + p + "' twice");
    if (auto it = by_mindir_.find(p); it != by_mindir_.end())
      clash("spells MindIR primitive '" + p + "', which row '" + it->second + "' already spells");
  }
  seen.clear();
  for (const auto& imp : def.onnx_import) {
    if (imp.op_type.empty() || !imp.rule) clash("has an empty ONNX import rule");
    if (!seen.insert(imp.op_type).second) clash("imports ONNX '" + imp.op_type + "' twice");
    if (auto it = by_onnx_import_.find(imp.op_type); it != by_onnx_import_.end())
      clash("imports ONNX '" + imp.op_type + "', which row '" + it->second.first +
            "' already imports");
  }
  for (const auto& p : prims) by_mindir_[p] = def.name;
  for (size_t i = 0; i < def.mindir.variants.size(); ++i)
    by_mindir_variant_[def.mindir.variants[i].spelling.primitive] = {def.name, i};
  for (size_t i = 0; i < def.onnx_import.size(); ++i)
    by_onnx_import_[def.onnx_import[i].op_type] = {def.name, i};
  const std::string name = def.name;
  ops_.emplace(name, std::move(def));
}

std::vector<TensorType> infer_node(const OpDef& def, std::span<const TensorType> types,
                                   std::span<const Tensor> values, const ir::Attrs& attrs) {
  bool known = !def.value_inputs.empty() && def.infer_values && values.size() == types.size();
  for (size_t i : def.value_inputs) known = known && i < values.size() && values[i].defined();
  return known ? def.infer_values(types, values, attrs) : def.infer(types, attrs);
}

bool has_value_inputs(const OpDef& def, size_t n_inputs) {
  for (size_t i : def.value_inputs)
    if (i < n_inputs) return true;
  return false;
}

std::optional<ir::Attrs> node_attrs(const OpDef& def, std::span<const TensorType> types,
                                    std::span<const Tensor> values, const ir::Attrs& attrs) {
  if (!def.attrs_from_values || !has_value_inputs(def, types.size())) return attrs;
  bool known = values.size() == types.size();
  for (size_t i : def.value_inputs) known = known && (i >= values.size() || values[i].defined());
  if (!known) return std::nullopt;
  return def.attrs_from_values(types, values, attrs);
}

namespace {

// Elements of a shape as a double: no overflow, and a symbolic (negative) dimension counts as 0.
double elements(const Shape& s) {
  double n = 1;
  for (size_t d = 0; d < s.rank(); ++d) n *= static_cast<double>(std::max<int64_t>(s[d], 0));
  return n;
}

double total_elements(std::span<const TensorType> types) {
  double n = 0;
  for (const auto& t : types) n += elements(t.shape);
  return n;
}

// Every rule below adds the linear visit of inputs and outputs to its own term.
double linear(std::span<const TensorType> in, std::span<const TensorType> out) {
  return total_elements(in) + total_elements(out);
}

}  // namespace

double node_work(const OpDef& def, std::span<const TensorType> in, std::span<const TensorType> out,
                 const ir::Attrs& attrs) {
  if (!def.work) return linear(in, out);
  try {
    return def.work(in, out, attrs);
  } catch (...) {
    return std::numeric_limits<double>::infinity();
  }
}

double work_contraction(std::span<const TensorType> in, std::span<const TensorType> out,
                        const ir::Attrs&) {
  double k = 1;
  if (!in.empty()) {
    const Shape& a = in[0].shape;
    for (size_t d = a.rank() >= 2 ? a.rank() - 2 : 0; d < a.rank(); ++d)
      k = std::max(k, static_cast<double>(std::max<int64_t>(a[d], 0)));
  }
  return total_elements(out) * k + linear(in, out);
}

double work_weighted_window(std::span<const TensorType> in, std::span<const TensorType> out,
                            const ir::Attrs&) {
  double per_output = 1;
  if (in.size() >= 2 && in[1].shape.rank() >= 1) {
    const double rows = static_cast<double>(std::max<int64_t>(in[1].shape[0], 1));
    per_output = std::max(1.0, elements(in[1].shape) / rows);
  }
  return total_elements(out) * per_output + linear(in, out);
}

double work_plane_window(std::span<const TensorType> in, std::span<const TensorType> out,
                         const ir::Attrs&) {
  double plane = 1;
  if (!in.empty()) {
    const Shape& x = in[0].shape;
    plane = elements(x);
    for (size_t d = 0; d < 2 && d < x.rank(); ++d)
      plane /= static_cast<double>(std::max<int64_t>(x[d], 1));
    plane = std::max(plane, 1.0);
  }
  return total_elements(out) * plane + linear(in, out);
}

double work_recurrent(std::span<const TensorType> in, std::span<const TensorType> out,
                      const ir::Attrs&) {
  const double weights = in.size() > 1 ? total_elements(in.subspan(1)) : 1;
  return total_elements(out) * std::max(weights, 1.0) + linear(in, out);
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

const OnnxImportFn* OpTable::find_onnx_import(const std::string& op_type) const {
  auto it = by_onnx_import_.find(op_type);
  if (it == by_onnx_import_.end()) return nullptr;
  return &find(it->second.first)->onnx_import.at(it->second.second).rule;
}

// Each op file's registration function, as the build collected them (ops_index.inc is generated
// from the CELLAR_REGISTER_OPS lines under src/ops/ by cmake/ops_index.cmake).
#define CELLAR_OPS_FILE(id) void register_ops_##id(OpTable& table);
#include "ops_index.inc"
#undef CELLAR_OPS_FILE

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
#define CELLAR_OPS_FILE(id) register_ops_##id(t);
#include "ops_index.inc"
#undef CELLAR_OPS_FILE
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
    if (!t.defined())
      throw ValueError(ErrorCode::kInvalidArgument, "op " + op + " got an undefined tensor");
    types.push_back({t.dtype(), t.shape()});
  }
  const int n = static_cast<int>(inputs.size());
  if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "op " + op + " got " + std::to_string(n) + " inputs");
  const auto out_types = infer_node(*def, types, inputs, attrs);
  if (!def->make_kernel) {
    if (!def->eager) throw ValueError(ErrorCode::kUnsupported, "op " + op + " has no kernel");
    return def->eager(inputs, attrs);
  }
  std::vector<Tensor> outs;
  for (const auto& t : out_types) outs.emplace_back(t.dtype, t.shape);
  const Kernel kernel = def->make_kernel(types, *node_attrs(*def, types, inputs, attrs));
  kernel(inputs, outs);
  return outs;
}

}  // namespace cellar::ops
