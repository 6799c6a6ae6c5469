#include "cellar/nn/graph_cell.h"

namespace cellar::nn {

namespace {
ir::Graph with_params(ir::Graph g, const ParamDict& params) {
  for (auto& init : g.initializers) {
    if (!init.is_parameter) continue;
    const auto& info = g.value(init.value);
    if (!params.contains(info.name)) continue;
    const Tensor& t = params.at(info.name).data();
    if (t.dtype() != info.dtype || t.shape() != info.shape)
      throw ValueError(ErrorCode::kShapeMismatch,
                       "params_init entry '" + info.name + "' is " +
                           std::string(mindspore_name(t.dtype())) + t.shape().str() +
                           " but the graph parameter is " +
                           std::string(mindspore_name(info.dtype)) + info.shape.str(),
                       {.tensor = info.name});
    init.data = t;
  }
  return g;
}
}  // namespace

GraphCell::GraphCell(ir::Graph graph, const ParamDict& params_init,
                     runtime::ExecutorOptions options)
    : Cell("GraphCell"), executor_(with_params(std::move(graph), params_init), options) {}

Value GraphCell::construct(const std::vector<Value>& inputs) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].is_tensor())
      throw ValueError(ErrorCode::kInvalidArgument, "GraphCell input " + std::to_string(i) +
                                                        " is a " + inputs[i].kind_name() +
                                                        ", not a Tensor");
    xs.push_back(inputs[i].tensor());
  }
  auto outs = executor_.run(xs);
  if (outs.size() == 1) return outs[0];
  return Value(Value::Tuple(outs.begin(), outs.end()));
}

}  // namespace cellar::nn
