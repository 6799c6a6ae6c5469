// The executor's form of ir::Graph::infer_at (private to src/).
#pragma once

#include <map>
#include <span>
#include <vector>

#include "cellar/ir/graph.h"

namespace cellar::ir {

// Graph::infer_at, also giving in `kernel_attrs` (when not null), per node index, the attributes
// its kernel is made with where they differ from the node's: the values of its value inputs
// written in, for rows whose value inputs stand for attributes (ops::OpDef::attrs_from_values:
// Reshape, Tile, Range, … to a tensor computed at run time), where those values are known; and
// in `representative` (when not null), per value id, whether its type is only a representative:
// it follows a value input whose values are unknown (a graph input's values, not given), so its
// shape is known only at run time.
std::vector<ValueType> infer_at(const Graph& g, const std::vector<Shape>& input_shapes,
                                const std::vector<size_t>& order,
                                std::span<const Tensor> input_values,
                                std::map<size_t, Attrs>* kernel_attrs,
                                std::vector<bool>* representative = nullptr);

}  // namespace cellar::ir
