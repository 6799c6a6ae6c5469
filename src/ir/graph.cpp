#include "cellar/ir/graph.h"

#include <string>

#include "ops/op_table.h"

namespace cellar::ir {

int Graph::add_value(std::string value_name, DType dtype, Shape shape) {
  values.push_back({std::move(value_name), dtype, std::move(shape)});
  return static_cast<int>(values.size() - 1);
}

int Graph::find_value(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return static_cast<int>(i);
  return -1;
}

const Initializer* Graph::find_initializer(int v) const {
  for (const auto& init : initializers)
    if (init.value == v) return &init;
  return nullptr;
}

namespace {
[[noreturn]] void fail(const std::string& file, const std::string& where, const std::string& why) {
  throw FormatError(why, {.file = file, .tensor = where});
}
}  // namespace

std::vector<size_t> Graph::topological_order(const std::string& file) const {
  const size_t nv = values.size();
  // producer[v]: node index producing v, or -1 for inputs/initializers.
  std::vector<int> producer(nv, -2);  // -2: undefined
  for (int v : inputs) producer.at(static_cast<size_t>(v)) = -1;
  for (const auto& init : initializers) producer.at(static_cast<size_t>(init.value)) = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int v : nodes[i].outputs) producer.at(static_cast<size_t>(v)) = static_cast<int>(i);

  // Kahn's algorithm over node → node edges, stable in file order.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int v : nodes[i].inputs) {
      const int p = producer.at(static_cast<size_t>(v));
      if (p == -2)
        fail(file, nodes[i].name,
             "input '" + values[static_cast<size_t>(v)].name + "' is never defined");
      if (p >= 0) {
        ++pending[i];
        users[static_cast<size_t>(p)].push_back(i);
      }
    }
  }
  std::vector<size_t> order, ready;
  for (size_t i = nodes.size(); i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    const size_t n = ready.back();
    ready.pop_back();
    order.push_back(n);
    for (size_t u : users[n])
      if (--pending[u] == 0) ready.push_back(u);
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (pending[i] > 0) fail(file, nodes[i].name, "the graph has a cycle through this node");
  }
  return order;
}

void Graph::validate(const std::string& file) const {
  const size_t nv = values.size();
  std::vector<int> defined(nv, 0);
  auto check_id = [&](int v, const std::string& where) {
    if (v < 0 || static_cast<size_t>(v) >= nv)
      fail(file, where, "value id " + std::to_string(v) + " out of range");
  };
  for (const auto& info : values) {
    if (!info.shape.checked_numel()) fail(file, info.name, "invalid shape " + info.shape.str());
    if (info.dtype == DType::String) fail(file, info.name, "str values cannot appear in a graph");
  }
  for (int v : inputs) {
    check_id(v, "graph input");
    ++defined[static_cast<size_t>(v)];
  }
  for (const auto& init : initializers) {
    check_id(init.value, "initializer");
    const auto& info = values[static_cast<size_t>(init.value)];
    if (!init.data.defined() || init.data.dtype() != info.dtype || init.data.shape() != info.shape)
      fail(file, info.name, "initializer data does not match its declared dtype and shape");
    ++defined[static_cast<size_t>(init.value)];
  }
  const auto& table = ops::op_table();
  for (const auto& node : nodes) {
    const ops::OpDef* def = table.find(node.op);
    if (def == nullptr) fail(file, node.name, "unknown op '" + node.op + "'");
    if (def->make_kernel == nullptr)
      fail(file, node.name, "op '" + node.op + "' cannot appear in a graph");
    const int n = static_cast<int>(node.inputs.size());
    if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs))
      fail(file, node.name, "op " + node.op + " has " + std::to_string(n) + " inputs");
    if (def->num_outputs >= 0 && static_cast<int>(node.outputs.size()) != def->num_outputs)
      fail(file, node.name,
           "op " + node.op + " has " + std::to_string(node.outputs.size()) + " outputs, expected " +
               std::to_string(def->num_outputs));
    for (int v : node.inputs) check_id(v, node.name);
    for (int v : node.outputs) {
      check_id(v, node.name);
      ++defined[static_cast<size_t>(v)];
    }
  }
  for (size_t v = 0; v < nv; ++v)
    if (defined[v] > 1) fail(file, values[v].name, "value is defined more than once");
  for (int v : outputs) {
    check_id(v, "graph output");
    if (defined[static_cast<size_t>(v)] == 0)
      fail(file, values[static_cast<size_t>(v)].name, "graph output is never defined");
  }
  if (outputs.empty()) fail(file, name, "the graph has no outputs");
  const auto order = topological_order(file);
  // Shapes and dtypes agree with every op's rule, in execution order.
  for (size_t i : order) {
    const Node& node = nodes[i];
    const ops::OpDef* def = table.find(node.op);
    std::vector<ops::TensorType> in;
    for (int v : node.inputs)
      in.push_back({values[static_cast<size_t>(v)].dtype, values[static_cast<size_t>(v)].shape});
    std::vector<ops::TensorType> out;
    try {
      out = def->infer(in, node.attrs);
    } catch (const Error& e) {
      fail(file, node.name, e.reason());
    }
    if (out.size() != node.outputs.size())
      fail(file, node.name,
           "op " + node.op + " has " + std::to_string(node.outputs.size()) +
               " outputs, its rule gives " + std::to_string(out.size()));
    for (size_t k = 0; k < out.size(); ++k) {
      const auto& info = values[static_cast<size_t>(node.outputs[k])];
      if (out[k].dtype != info.dtype || out[k].shape != info.shape)
        fail(file, node.name,
             "output '" + info.name + "' is recorded as " +
                 std::string(mindspore_name(info.dtype)) + info.shape.str() + " but op " + node.op +
                 " gives " + std::string(mindspore_name(out[k].dtype)) + out[k].shape.str());
    }
  }
}

std::optional<std::vector<ValueType>> infer_types(const std::string& op,
                                                  const std::vector<ValueType>& inputs,
                                                  const Attrs& attrs) {
  const ops::OpDef* def = ops::op_table().find(op);
  if (!def) return std::nullopt;
  std::vector<ops::TensorType> in;
  in.reserve(inputs.size());
  for (const ValueType& t : inputs) in.push_back({t.dtype, t.shape});
  std::vector<ValueType> out;
  for (ops::TensorType& t : def->infer(in, attrs)) out.push_back({t.dtype, std::move(t.shape)});
  return out;
}

}  // namespace cellar::ir
