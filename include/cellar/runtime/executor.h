// Executor: runs a Graph on the CPU. Construction does all the planning once: validation,
// topological order, shape inference, a memory plan (one arena, buffers reused when their values
// are dead), and one immutable kernel per node from the op table. run() then allocates nothing.
// Not thread-safe: one run at a time per Executor (the arena is shared by runs).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/tensor.h"

namespace cellar::runtime {

class Executor {
 public:
  explicit Executor(ir::Graph graph);
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  const ir::Graph& graph() const;
  // Checks each input's dtype and shape against the graph (ValueError naming the input, the
  // expected and the given), runs every node, and writes the outputs into `outputs`, which must
  // have the graph's output dtypes and shapes (allocate them once with make_outputs()).
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // Convenience: fresh output tensors each call.
  std::vector<Tensor> run(std::span<const Tensor> inputs);
  std::vector<Tensor> make_outputs() const;
  // Bytes in the planned arena (intermediate values), for tests and `cellar bench`.
  size_t arena_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellar::runtime
