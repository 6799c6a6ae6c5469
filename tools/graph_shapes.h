// Re-batching a loaded graph for `cellar run` and `cellar bench --batch`: the graph's inputs get a
// new leading dimension and every node's output types are inferred again through the op table.
#pragma once

#include <cstdint>
#include <string>

#include "cellar/ir/graph.h"

namespace cellar::cli {

// A copy of `g` whose every input has leading dimension `batch`. Error kShapeMismatch naming
// `file` (and the node) when the graph does not allow it: an input of rank 0, an op whose shape
// rule refuses the new shapes (a Reshape to a recorded constant shape, say), or an output whose
// leading dimension followed the inputs' before and does not follow the new batch.
ir::Graph with_batch(const ir::Graph& g, int64_t batch, const std::string& file);

}  // namespace cellar::cli
