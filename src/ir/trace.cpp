#include "ir/trace.h"

#include <atomic>

namespace cellar::ir {

namespace {
thread_local Tracer* t_current = nullptr;
std::atomic<uint64_t> g_next_trace_id{1};  // distinguishes tensors of finished traces
}  // namespace

Tracer::Tracer(const nn::Cell& root) : id_(g_next_trace_id++), previous_(t_current) {
  for (const auto& [name, p] : root.parameters_and_names()) {
    owned_[p.state().get()] = name;
    if (p.data().defined() && p.data().storage())
      owned_storage_[p.data().storage().get()] = p.state().get();
  }
  t_current = this;
}

Tracer::~Tracer() { t_current = previous_; }

Tracer* Tracer::current() { return t_current; }

Tensor Tracer::add_input(const std::string& name, DType dtype, const Shape& shape) {
  const int v = graph_.add_value(name, dtype, shape);
  graph_.inputs.push_back(v);
  return Tensor::symbolic(dtype, shape,
                          std::make_shared<detail::TraceRef>(detail::TraceRef{id_, v}));
}

int Tracer::value_of(const Tensor& t, const std::string& op) {
  if (!t.defined()) throw ExportError("op " + op + " got an undefined tensor during tracing");
  if (t.is_symbolic()) {
    if (t.trace_ref()->trace_id != id_)
      throw ExportError("op " + op + " got a symbolic tensor from another (finished) trace");
    return t.trace_ref()->value;
  }
  const detail::ParamState* ps = t.param_state().get();
  if (ps == nullptr && t.storage()) {
    // A parameter's tensor used without Parameter::value() is still that parameter.
    auto it = owned_storage_.find(t.storage().get());
    if (it != owned_storage_.end() && t.storage_offset() == it->second->data.storage_offset() &&
        t.shape() == it->second->data.shape() && t.dtype() == it->second->data.dtype())
      ps = it->second;
  }
  if (ps != nullptr) {
    auto owner = owned_.find(ps);
    if (owner == owned_.end())
      throw ExportError(
          "Parameter '" + ps->name + "' used by op " + op +
              " is not owned by any Cell of the exported network (a Parameter created globally "
              "or held by a non-Cell object cannot be exported); register it on a Cell",
          {.tensor = ps->name});
    auto known = param_values_.find(ps);
    if (known != param_values_.end()) return known->second;
    const int v = graph_.add_value(owner->second, ps->data.dtype(), ps->data.shape());
    graph_.initializers.push_back({v, ps->data, true});
    param_values_[ps] = v;
    return v;
  }
  if (t.dtype() == DType::String)
    throw ExportError("a str tensor cannot enter an exported graph (op " + op + ")");
  auto key = std::make_pair(t.storage().get(), t.storage_offset());
  auto known = constants_.find(key);
  if (known != constants_.end() && graph_.value(known->second.first).shape == t.shape() &&
      graph_.value(known->second.first).dtype == t.dtype())
    return known->second.first;
  const int v =
      graph_.add_value("const_" + std::to_string(constants_.size()), t.dtype(), t.shape());
  graph_.initializers.push_back({v, t.clone(), false});
  constants_[key] = {v, t.storage()};
  return v;
}

std::vector<Tensor> Tracer::record(const ops::OpDef& def, const std::vector<Tensor>& inputs,
                                   ir::Attrs attrs) {
  Node node;
  node.op = def.name;
  node.name = def.name + "-op" + std::to_string(next_node_++);
  std::vector<ops::TensorType> types;
  for (const Tensor& t : inputs) {
    node.inputs.push_back(value_of(t, def.name));
    types.push_back({t.dtype(), t.shape()});
  }
  const auto out_types = def.infer(types, attrs);
  std::vector<Tensor> outs;
  for (size_t i = 0; i < out_types.size(); ++i) {
    const std::string name =
        out_types.size() == 1 ? node.name : node.name + ":" + std::to_string(i);
    const int v = graph_.add_value(name, out_types[i].dtype, out_types[i].shape);
    node.outputs.push_back(v);
    outs.push_back(Tensor::symbolic(out_types[i].dtype, out_types[i].shape,
                                    std::make_shared<detail::TraceRef>(detail::TraceRef{id_, v})));
  }
  node.attrs = std::move(attrs);
  graph_.nodes.push_back(std::move(node));
  return outs;
}

void Tracer::collect_outputs(const Value& v, const std::string& cell_name,
                             const std::string& path) {
  if (v.is_tensor()) {
    graph_.outputs.push_back(value_of(v.tensor(), "Return"));
    return;
  }
  if (v.is_tuple()) {
    const auto& items = v.tuple();
    for (size_t i = 0; i < items.size(); ++i)
      collect_outputs(items[i], cell_name, path + "[" + std::to_string(i) + "]");
    return;
  }
  throw ExportError(cell_name + ".construct returns a " + v.kind_name() + " (output" + path +
                    "); export supports only a Tensor or a tuple of Tensors as the return value");
}

void Tracer::set_outputs(const Value& result, const std::string& cell_name) {
  collect_outputs(result, cell_name, "");
  if (graph_.outputs.empty())
    throw ExportError(cell_name + ".construct returns no Tensor; nothing to export");
}

}  // namespace cellar::ir
