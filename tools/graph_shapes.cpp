#include "graph_shapes.h"

#include <optional>
#include <vector>

namespace cellar::cli {

ir::Graph with_batch(const ir::Graph& g, int64_t batch, const std::string& file) {
  auto refuse = [&](const std::string& why, const std::string& where = "") -> Error {
    return Error(ErrorCode::kShapeMismatch,
                 "the graph does not allow batch " + std::to_string(batch) + ": " + why,
                 {file, where});
  };
  if (batch < 1) throw refuse("the batch must be at least 1");
  if (g.inputs.empty()) throw refuse("it has no inputs");
  const int64_t old = g.value(g.inputs[0]).shape.rank() ? g.value(g.inputs[0]).shape[0] : -1;
  ir::Graph out = g;
  for (int id : out.inputs) {
    ir::ValueInfo& v = out.values.at(static_cast<size_t>(id));
    if (v.shape.rank() == 0) throw refuse("input " + v.name + " is a scalar", v.name);
    v.shape[0] = batch;
  }
  for (size_t idx : out.topological_order(file)) {
    ir::Node& n = out.nodes[idx];
    std::vector<ir::ValueType> in;
    for (int id : n.inputs) in.push_back({out.value(id).dtype, out.value(id).shape});
    std::optional<std::vector<ir::ValueType>> inferred;
    try {
      inferred = ir::infer_types(n.op, in, n.attrs);
    } catch (const Error& e) {
      throw refuse("node " + n.name + " (" + n.op + "): " + e.reason(), n.name);
    }
    if (!inferred) throw refuse("unknown op " + n.op, n.name);
    const std::vector<ir::ValueType>& types = *inferred;
    if (types.size() != n.outputs.size())
      throw refuse("node " + n.name + " (" + n.op + ") changes its number of outputs", n.name);
    for (size_t k = 0; k < types.size(); ++k) {
      ir::ValueInfo& v = out.values.at(static_cast<size_t>(n.outputs[k]));
      v.dtype = types[k].dtype;
      v.shape = types[k].shape;
    }
  }
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Shape& before = g.value(g.outputs[k]).shape;
    const Shape& after = out.value(out.outputs[k]).shape;
    if (before.rank() && before[0] == old && (after.rank() == 0 || after[0] != batch))
      throw refuse("output " + g.value(g.outputs[k]).name + " would have shape " + after.str() +
                       " (the graph fixes its batch somewhere, e.g. in a Reshape)",
                   g.value(g.outputs[k]).name);
  }
  out.validate(file);
  return out;
}

}  // namespace cellar::cli
