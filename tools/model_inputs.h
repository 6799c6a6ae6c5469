// Input tensors for a graph, for `cellar run` and `cellar bench`: constant, random, or read from
// .npy files named on the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/tensor.h"

namespace cellar::cli {

struct ModelInputs {
  std::vector<Tensor> tensors;       // in the graph's input order
  std::vector<std::string> sources;  // per input: "ones", "random", or the .npy file
  // Set when the given inputs share a leading dimension other than the recorded one (every other
  // dimension as recorded): the graph must be re-batched (graph_shapes.h) before running them.
  std::optional<int64_t> batch;
};

// Every input filled with `value`, in its recorded dtype and shape.
ModelInputs constant_inputs(const ir::Graph& g, double value);
// Every input random (floats uniform in [0, 1), integers in [0, 10), bools 0/1) from `seed`.
ModelInputs random_inputs(const ir::Graph& g, uint64_t seed);
// `specs` are "NAME=FILE.npy" (or "FILE.npy" alone for a one-input graph). UsageError for an
// unknown or repeated NAME or a missing input; FormatError (naming the .npy file) for data that
// cannot go into its input: another kind of dtype, another shape.
ModelInputs npy_inputs(const ir::Graph& g, const std::vector<std::string>& specs);

}  // namespace cellar::cli
