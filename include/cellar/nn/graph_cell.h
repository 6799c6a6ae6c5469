// GraphCell: a Cell that runs a loaded Graph, as MindSpore's nn.GraphCell. Its Executor is built
// once, at construction; calling it runs the planned graph. A graph with open input dimensions
// (a dynamic batch) runs at any size there: each new input shape is planned once and cached
// (runtime/executor.h); resize() plans ahead, as MindSpore Lite's Model::Resize.
#pragma once

#include <memory>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/ir/graph.h"
#include "cellar/nn/cell.h"
#include "cellar/runtime/executor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

class GraphCell : public Cell {
 public:
  // `params_init` replaces graph parameters of the same name (dtype and shape must agree);
  // `options` sets the executor's thread count (default: one worker per CPU).
  explicit GraphCell(ir::Graph graph, const ParamDict& params_init = {},
                     runtime::ExecutorOptions options = {});
  // Inputs must match the graph's recorded dtypes and shapes, open dimensions excepted; the result
  // is a Tensor for one output, a tuple for several.
  Value construct(const std::vector<Value>& inputs) override;
  using Cell::operator();
  const ir::Graph& graph() const { return executor_.graph(); }
  // Plans for these input shapes and makes them current (ValueError when a fixed axis or a rank
  // differs, or an op refuses the shapes), as MindSpore Lite's Model::Resize.
  void resize(const std::vector<Shape>& input_shapes) { executor_.resize(input_shapes); }
  // The current plan's input shapes and output types. An output whose shape depends on the
  // values of an input (an ONNX Reshape to a shape given as an input) is known only at run time:
  // output_shapes_known() is false for it, and its type here is a representative.
  std::vector<Shape> input_shapes() const { return executor_.input_shapes(); }
  std::vector<ir::ValueType> output_types() const { return executor_.output_types(); }
  std::vector<bool> output_shapes_known() const { return executor_.output_shapes_known(); }
  const runtime::Executor& executor() const { return executor_; }

 private:
  runtime::Executor executor_;
};

}  // namespace cellar::nn

CELLAR_API_END
