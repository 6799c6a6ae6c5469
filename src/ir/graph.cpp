#include "cellar/ir/graph.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "ir/infer.h"
#include "ir/limits.h"
#include "ops/op_table.h"

namespace cellar::ir {

bool ValueInfo::symbolic() const {
  for (const auto& s : symbols)
    if (!s.empty()) return true;
  return false;
}

std::string ValueInfo::shape_str() const {
  if (!symbolic()) return shape.str();
  std::string out = "(";
  for (size_t i = 0; i < shape.rank(); ++i)
    out += (i ? ", " : "") + (open(i) ? symbols[i] : std::to_string(shape[i]));
  return out + (shape.rank() == 1 ? ",)" : ")");
}

std::string ValueInfo::type_str() const { return std::string(mindspore_name(dtype)) + shape_str(); }

bool Graph::symbolic() const {
  for (int v : inputs)
    if (v >= 0 && static_cast<size_t>(v) < values.size() &&
        values[static_cast<size_t>(v)].symbolic())
      return true;
  return false;
}

int Graph::add_value(std::string value_name, DType dtype, Shape shape) {
  ValueInfo info;
  info.name = std::move(value_name);
  info.dtype = dtype;
  info.shape = std::move(shape);
  values.push_back(std::move(info));
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
    if (!info.symbols.empty() && info.symbols.size() != info.shape.rank())
      fail(file, info.name,
           "has " + std::to_string(info.symbols.size()) + " dimension symbols for rank " +
               std::to_string(info.shape.rank()));
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
    if (info.symbolic()) fail(file, info.name, "an initializer cannot have an open dimension");
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
  // Shapes and dtypes agree with every op's rule, in execution order: the types the rules give
  // from the recorded input shapes (with the values shapes depend on computed as a plan computes
  // them: a Reshape to a shape read from the input records its real shape), each node checked
  // while every node before it agrees.
  std::vector<Shape> input_shapes;
  for (int v : inputs) input_shapes.push_back(values[static_cast<size_t>(v)].shape);
  std::vector<ValueType> types;
  try {
    types = infer_at(input_shapes, order);
  } catch (const Error& e) {
    fail(file, e.tensor(), e.reason());
  }
  for (size_t i : order) {
    const Node& node = nodes[i];
    for (int v : node.outputs) {
      const auto& info = values[static_cast<size_t>(v)];
      const ValueType& t = types[static_cast<size_t>(v)];
      if (t.dtype != info.dtype || t.shape != info.shape)
        fail(file, node.name,
             "output '" + info.name + "' is recorded as " +
                 std::string(mindspore_name(info.dtype)) + info.shape.str() + " but op " + node.op +
                 " gives " + std::string(mindspore_name(t.dtype)) + t.shape.str());
    }
  }
}

namespace {

// The most elements a value computed while planning (a shape, from Shape -> Gather -> Concat) may
// have: shapes are short; a larger one means a hostile or mistaken graph.
constexpr int64_t kMaxPlanValueElements = int64_t{1} << 16;

// Per value: whether its value, not only its type, decides some shape. Follows the value inputs
// of every op back through their producers, stopping at ops whose outputs depend only on their
// inputs' types (Shape). Empty when no op has value inputs.
std::vector<bool> values_needed(const Graph& g) {
  const auto& table = ops::op_table();
  std::vector<int> stack;
  for (const auto& node : g.nodes)
    if (const ops::OpDef* def = table.find(node.op))
      for (size_t i : def->value_inputs)
        if (i < node.inputs.size()) stack.push_back(node.inputs[i]);
  if (stack.empty()) return {};
  const size_t nv = g.values.size();
  std::vector<int> producer(nv, -1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int v : g.nodes[n].outputs)
      if (v >= 0 && static_cast<size_t>(v) < nv)
        producer[static_cast<size_t>(v)] = static_cast<int>(n);
  std::vector<bool> need(nv, false);
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    if (v < 0 || static_cast<size_t>(v) >= nv || need[static_cast<size_t>(v)]) continue;
    need[static_cast<size_t>(v)] = true;
    const int p = producer[static_cast<size_t>(v)];
    if (p < 0) continue;
    const Node& node = g.nodes[static_cast<size_t>(p)];
    const ops::OpDef* def = table.find(node.op);
    if (def && def->values_from_types) continue;
    for (int u : node.inputs) stack.push_back(u);
  }
  return need;
}

}  // namespace

std::vector<bool> Graph::shape_value_inputs() const {
  const auto need = values_needed(*this);
  std::vector<bool> out(inputs.size(), false);
  for (size_t i = 0; i < inputs.size() && !need.empty(); ++i)
    out[i] = need.at(static_cast<size_t>(inputs[i]));
  return out;
}

std::vector<ValueType> Graph::infer_at(const std::vector<Shape>& input_shapes,
                                       const std::vector<size_t>& order,
                                       std::span<const Tensor> input_values) const {
  return ir::infer_at(*this, input_shapes, order, input_values, nullptr, nullptr);
}

std::vector<ValueType> infer_at(const Graph& g, const std::vector<Shape>& input_shapes,
                                const std::vector<size_t>& order,
                                std::span<const Tensor> input_values,
                                std::map<size_t, Attrs>* kernel_attrs,
                                std::vector<bool>* representative) {
  const auto& values = g.values;
  const auto& inputs = g.inputs;
  const auto& nodes = g.nodes;
  const auto& initializers = g.initializers;
  std::vector<ValueType> types(values.size());
  for (size_t v = 0; v < values.size(); ++v) types[v] = {values[v].dtype, values[v].shape};
  if (input_shapes.size() != inputs.size())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "the graph takes " + std::to_string(inputs.size()) + " inputs, got " +
                         std::to_string(input_shapes.size()) + " shapes");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = g.value(inputs[i]);
    const Shape& s = input_shapes[i];
    auto refuse = [&](const std::string& why) {
      throw ValueError(ErrorCode::kShapeMismatch,
                       "input " + std::to_string(i) + " ('" + info.name + "') expects " +
                           info.type_str() + ", given " + std::string(mindspore_name(info.dtype)) +
                           s.str() + ": " + why,
                       {.tensor = info.name});
    };
    if (s.rank() != info.shape.rank())
      refuse("rank " + std::to_string(s.rank()) + " instead of " +
             std::to_string(info.shape.rank()));
    for (size_t d = 0; d < s.rank(); ++d) {
      if (s[d] < 0) refuse("negative dimension");
      if (!info.open(d) && s[d] != info.shape[d])
        refuse("axis " + std::to_string(d) + " is fixed at " + std::to_string(info.shape[d]));
    }
    if (!s.checked_numel()) refuse("the element count overflows");
    types[static_cast<size_t>(inputs[i])].shape = s;
  }
  // The values shapes depend on, where known: initializers, input_values, computed below.
  const std::vector<bool> need = values_needed(g);
  std::vector<Tensor> known(need.empty() ? 0 : values.size());
  if (!need.empty()) {
    for (const auto& init : initializers)
      if (need[static_cast<size_t>(init.value)]) known[static_cast<size_t>(init.value)] = init.data;
    for (size_t i = 0; i < inputs.size() && i < input_values.size(); ++i) {
      const size_t v = static_cast<size_t>(inputs[i]);
      const Tensor& t = input_values[i];
      if (!need[v] || !t.defined()) continue;
      if (t.dtype() != types[v].dtype || t.shape() != types[v].shape)
        throw ValueError(ErrorCode::kShapeMismatch,
                         "input " + std::to_string(i) + " ('" + values[v].name +
                             "'): its value is given as " + std::string(mindspore_name(t.dtype())) +
                             t.shape().str() + " for a shape of " +
                             std::string(mindspore_name(types[v].dtype)) + types[v].shape.str(),
                         {.tensor = values[v].name});
      known[v] = t;
    }
  }
  // Per value: its type is a representative, not its own (it follows a value input whose values
  // are unknown here).
  std::vector<bool> rep(values.size(), false);
  const auto& table = ops::op_table();
  std::vector<ops::TensorType> in;
  std::vector<Tensor> vals;
  for (size_t n : order) {
    const Node& node = nodes[n];
    const ops::OpDef* def = table.find(node.op);
    if (def == nullptr)
      throw ValueError(ErrorCode::kUnsupported,
                       "node '" + node.name + "': unknown op '" + node.op + "'",
                       {.tensor = node.name});
    in.clear();
    vals.clear();
    for (int v : node.inputs)
      in.push_back({types[static_cast<size_t>(v)].dtype, types[static_cast<size_t>(v)].shape});
    if (!known.empty())
      for (int v : node.inputs) vals.push_back(known[static_cast<size_t>(v)]);
    auto refuse = [&](const std::string& why) {
      throw ValueError(ErrorCode::kShapeMismatch,
                       "node '" + node.name + "' (" + node.op + "): " + why, {.tensor = node.name});
    };
    std::vector<ops::TensorType> out;
    // The attributes its kernel takes: with the values of its value inputs written in, for rows
    // whose values stand for attributes (nullopt while those values are unknown).
    std::optional<Attrs> resolved;
    const Attrs* attrs = &node.attrs;
    const bool by_values = ops::has_value_inputs(*def, node.inputs.size());
    try {
      if (by_values) {
        resolved = ops::node_attrs(*def, in, vals, node.attrs);
        attrs = resolved ? &*resolved : nullptr;
      }
      out = ops::infer_node(*def, in, vals, node.attrs);
    } catch (const Error& e) {
      throw ValueError(e.code(), "node '" + node.name + "' (" + node.op + "): " + e.reason(),
                       {.tensor = node.name});
    } catch (const std::exception& e) {  // a shape rule tripping on shapes it did not expect
      throw ValueError(ErrorCode::kShapeMismatch,
                       "node '" + node.name + "' (" + node.op + "): " + e.what(),
                       {.tensor = node.name});
    }
    if (out.size() != node.outputs.size())
      refuse("op " + node.op + " has " + std::to_string(node.outputs.size()) +
             " outputs, its rule gives " + std::to_string(out.size()));
    bool follows_rep = false;
    for (int v : node.inputs) follows_rep = follows_rep || rep[static_cast<size_t>(v)];
    if (by_values) {
      // Shapes computed from values: held to the limits a reader holds a file's shapes to.
      bool from_values = !vals.empty();
      for (size_t i : def->value_inputs)
        from_values = from_values && (i >= vals.size() || vals[i].defined());
      follows_rep = follows_rep || !from_values;
      for (size_t k = 0; from_values && k < out.size(); ++k) {
        if (const std::string why = shape_over_limits(out[k].shape); !why.empty())
          refuse("the shape computed from its value inputs: " + why);
        int64_t bytes = 0;
        if (__builtin_mul_overflow(out[k].shape.numel(),
                                   static_cast<int64_t>(itemsize(out[k].dtype)), &bytes))
          refuse("the shape computed from its value inputs, " + out[k].shape.str() +
                 ", has more bytes than int64 counts");
      }
      if (kernel_attrs && resolved && def->attrs_from_values) (*kernel_attrs)[n] = *resolved;
    }
    for (size_t k = 0; k < out.size() && k < node.outputs.size(); ++k) {
      if (!out[k].shape.checked_numel())
        throw ValueError(ErrorCode::kShapeMismatch,
                         "node '" + node.name + "' (" + node.op + "): output shape " +
                             out[k].shape.str() + " overflows",
                         {.tensor = node.name});
      types[static_cast<size_t>(node.outputs[k])] = {out[k].dtype, std::move(out[k].shape)};
      rep[static_cast<size_t>(node.outputs[k])] = follows_rep;
    }
    // A value some shape depends on: computed now, from the types (Shape) or by the kernel; not
    // from representative types, which would give values as wrong as they are.
    bool wanted = false;
    for (int v : node.outputs) wanted = wanted || (!need.empty() && need[static_cast<size_t>(v)]);
    if (!wanted || follows_rep) continue;
    std::vector<Tensor> ys;
    if (!def->values_from_types) {
      bool all = def->make_kernel != nullptr && !def->is_random;
      for (const Tensor& t : vals) all = all && t.defined();
      if (!all) continue;  // an input's value is not known here: the representative type stays
      for (int v : node.outputs)
        if (const auto& t = types[static_cast<size_t>(v)]; t.shape.numel() > kMaxPlanValueElements)
          refuse("computes a value of shape " + t.shape.str() +
                 " that a shape depends on; cellar computes at most " +
                 std::to_string(kMaxPlanValueElements) + " elements while planning");
      std::vector<ops::TensorType> out_types;
      for (int v : node.outputs)
        out_types.push_back(
            {types[static_cast<size_t>(v)].dtype, types[static_cast<size_t>(v)].shape});
      if (const double work = ops::node_work(*def, in, out_types, attrs ? *attrs : node.attrs);
          work > ops::kMaxFoldWork)
        refuse("computing the value a shape depends on takes about " +
               std::to_string(static_cast<int64_t>(std::min(work, 9e18))) +
               " operations; cellar does at most " +
               std::to_string(static_cast<int64_t>(ops::kMaxFoldWork)) + " while planning");
    }
    try {
      if (def->values_from_types) {
        ys = def->values_from_types(in, node.attrs);
      } else {
        for (int v : node.outputs)
          ys.emplace_back(types[static_cast<size_t>(v)].dtype, types[static_cast<size_t>(v)].shape);
        if (!attrs) continue;  // its own value inputs are unknown: so is its value
        def->make_kernel(in, *attrs)(vals, ys);
      }
    } catch (const Error& e) {
      refuse(e.reason());
    } catch (const std::exception& e) {
      refuse(e.what());
    }
    for (size_t k = 0; k < ys.size() && k < node.outputs.size(); ++k)
      known[static_cast<size_t>(node.outputs[k])] = std::move(ys[k]);
  }
  if (representative) *representative = std::move(rep);
  return types;
}

void Graph::derive_symbols() {
  if (!symbolic()) return;
  const auto order = topological_order();
  // Each input symbol gets its own probe size, far from the representative sizes, so that a
  // dimension that moves with exactly one symbol can be named after it.
  std::map<std::string, std::pair<int64_t, int64_t>> probe;  // symbol → (recorded, probe) size
  std::vector<Shape> base, probed;
  for (int v : inputs) {
    const ValueInfo& info = value(v);
    base.push_back(info.shape);
    Shape s = info.shape;
    for (size_t d = 0; d < s.rank(); ++d)
      if (info.open(d)) {
        auto [it, fresh] = probe.emplace(info.symbols[d], std::pair<int64_t, int64_t>{s[d], 0});
        if (fresh) it->second.second = 7 + 4 * static_cast<int64_t>(probe.size() - 1);
        s[d] = it->second.second;
      }
    probed.push_back(std::move(s));
  }
  std::vector<ValueType> a, b;
  try {
    a = infer_at(base, order);
    b = infer_at(probed, order);
  } catch (const Error&) {
    return;  // the ops refuse the probe sizes: leave the intermediate values unmarked
  }
  std::vector<bool> is_input(values.size(), false);
  for (int v : inputs) is_input[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < values.size(); ++v) {
    if (is_input[v]) continue;
    ValueInfo& info = values[v];
    const Shape& sa = a[v].shape;
    const Shape& sb = b[v].shape;
    std::vector<std::string> symbols(sa.rank());
    bool any = false;
    for (size_t d = 0; d < sa.rank() && d < sb.rank(); ++d) {
      if (sa[d] == sb[d]) {
        // Open for another reason than the input sizes (it follows run-time values): stays so.
        if (info.open(d)) {
          symbols[d] = "?";
          any = true;
        }
        continue;
      }
      any = true;
      symbols[d] = "?";
      for (const auto& [symbol, sizes] : probe)
        if (sa[d] == sizes.first && sb[d] == sizes.second && symbol != "?") symbols[d] = symbol;
    }
    info.symbols = any ? std::move(symbols) : std::vector<std::string>{};
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
