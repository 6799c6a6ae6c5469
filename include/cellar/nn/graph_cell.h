// GraphCell: a Cell that runs a loaded Graph, as MindSpore's nn.GraphCell. Its Executor is built
// once, at construction; calling it runs the planned graph.
#pragma once

#include <memory>

#include "cellar/io/checkpoint.h"
#include "cellar/ir/graph.h"
#include "cellar/nn/cell.h"
#include "cellar/runtime/executor.h"

namespace cellar::nn {

class GraphCell : public Cell {
 public:
  // `params_init` replaces graph parameters of the same name (dtype and shape must agree).
  explicit GraphCell(ir::Graph graph, const ParamDict& params_init = {});
  // Inputs must match the graph's recorded dtypes and shapes; the result is a Tensor for one
  // output, a tuple for several.
  Value construct(const std::vector<Value>& inputs) override;
  using Cell::operator();
  const ir::Graph& graph() const { return executor_.graph(); }

 private:
  runtime::Executor executor_;
};

}  // namespace cellar::nn
