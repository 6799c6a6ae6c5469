// Executor: runs a Graph on the CPU. Construction validates the graph and sorts it once; a *plan*
// then holds what one set of input shapes needs: every value's type (the op rules' shape
// inference), a memory plan (one arena, buffers reused when their values are dead) and one
// immutable kernel per node from the op table. A static graph has one plan, made at construction.
// A symbolic graph (open input dimensions, ir::ValueInfo::symbols) gets a plan per input-shape
// set, made when a run (or resize()) first meets it and kept in a small LRU cache; running at an
// already planned shape allocates nothing.
// Not thread-safe: one run at a time per Executor (the arenas are shared by runs).
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
  // Plans kept at most; the least recently used one is dropped past this.
  static constexpr size_t kMaxPlans = 8;

  explicit Executor(ir::Graph graph);
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  const ir::Graph& graph() const;
  // Checks each input's dtype and shape against the graph (ValueError naming the input, the
  // expected and the given: a different rank or a different size on a fixed axis), picks (or
  // makes) the plan for the inputs' shapes, runs every node, and writes the outputs into
  // `outputs`, which must have that plan's output dtypes and shapes (allocate them once with
  // make_outputs() after resize(), or see output_types()).
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // Convenience: fresh output tensors each call.
  std::vector<Tensor> run(std::span<const Tensor> inputs);

  // Makes the plan for these input shapes the current one (as MindSpore Lite's Model::Resize):
  // make_outputs(), output_types(), input_shapes() and arena_bytes() then describe it. Same
  // errors as run().
  void resize(const std::vector<Shape>& input_shapes);
  // The current plan's input shapes and output types (the graph's recorded ones until a run or
  // resize() at other shapes).
  std::vector<Shape> input_shapes() const;
  std::vector<ir::ValueType> output_types() const;
  std::vector<Tensor> make_outputs() const;
  // Plans cached (1 for a static graph; at most kMaxPlans).
  size_t plan_count() const;
  // Bytes in the current plan's arena (intermediate values), for tests and `cellar bench`.
  size_t arena_bytes() const;

 private:
  struct Plan;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellar::runtime
