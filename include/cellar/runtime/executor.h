// Executor: runs a Graph on the CPU. Construction validates the graph and sorts it once; a *plan*
// then holds what one set of input shapes needs: every value's type (the op rules' shape
// inference), a memory plan (one arena, buffers reused when their values are dead) and one
// immutable kernel per node from the op table. A static graph has one plan, made at construction.
// A symbolic graph (open input dimensions, ir::ValueInfo::symbols) gets a plan per input-shape
// set, made when a run (or resize()) first meets it and kept in a small LRU cache; running at an
// already planned shape allocates nothing. Where a shape depends on an input's *values* (ONNX's
// Expand to a shape given as an input: ir::Graph::shape_value_inputs), those values are part of
// the plan's key: a run with the same shapes and values reuses its plan, a new value makes one.
// Threads: the executor owns a pool of ExecutorOptions::threads workers (the calling thread among
// them) that its kernels split their work over; nothing is shared with other executors. While an
// executor exists, OpenBLAS's own pool is kept at one thread (a process-wide setting: cellar
// splits GEMMs over its own workers instead of nesting two pools).
// Thread safety: run() may be called from several threads at once, as an ONNX Runtime session's
// Run may: the weights and kernels are shared, each concurrent run takes an arena of its own (made
// the first time that many runs overlap, then kept), and the run that finds the pool busy runs on
// its calling thread alone. Outputs do not depend on which. resize(), make_outputs() and the
// accessors are safe beside runs; moving or destroying the executor is not.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::runtime {

struct ExecutorOptions {
  // Workers that run the kernels, the calling thread included; 0: one per CPU the process may
  // run on (sched_getaffinity).
  int threads = 0;
  // Rewrite the graph once before planning (src/runtime/optimizer.h: constants folded, BatchNorm
  // folded into convolutions, convolution + bias + activation fused, weights packed).
  bool optimize = true;
  // Keep the graph as given (graph()) beside the optimised one. The optimiser replaces most
  // weights (folded, packed, transposed copies), so keeping the given graph keeps a second copy
  // of them unless the caller holds that graph anyway. false: only what runs is kept, graph() is
  // executed_graph(), and weights the optimiser replaced are released as it goes (pass the graph
  // with std::move, so that nothing else holds them): resident memory is then about the weights
  // once plus the arenas.
  bool keep_graph = true;
};

class Executor {
 public:
  // The most worker threads an executor takes.
  static constexpr int kMaxThreads = 1024;
  // Plans kept at most; the least recently used one is dropped past this.
  static constexpr size_t kMaxPlans = 8;

  explicit Executor(ir::Graph graph, ExecutorOptions options = {});
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  // The graph as given (what export writes); the executor runs its optimised form. With
  // ExecutorOptions::keep_graph false (or optimize false), the graph it runs.
  const ir::Graph& graph() const;
  // The graph the executor runs: graph() itself, or its optimised form.
  const ir::Graph& executed_graph() const;
  // Checks each input's dtype and shape against the graph (ValueError naming the input, the
  // expected and the given: a different rank or a different size on a fixed axis), picks (or
  // makes) the plan for the inputs' shapes, runs every node, and writes the outputs into
  // `outputs`, which must have that plan's output dtypes and shapes (allocate them once with
  // make_outputs() after resize(), or see output_types()).
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // Convenience: fresh output tensors each call.
  std::vector<Tensor> run(std::span<const Tensor> inputs);

  // Makes the plan for these input shapes the current one (as MindSpore Lite's Model::Resize):
  // make_outputs(), output_types(), output_shapes_known(), input_shapes() and arena_bytes() then
  // describe it. Same errors as run(). Shapes computed from the input shapes (a Reshape to
  // x.size(0), -1) are exact in it. Shapes that depend on input *values* (see above) are known
  // only at run time: they take representative sizes in such a plan, which runs never use (run()
  // plans with the values), and output_shapes_known() says which outputs they reach.
  void resize(const std::vector<Shape>& input_shapes);
  // The current plan's input shapes and output types (the graph's recorded ones until a run or
  // resize() at other shapes).
  std::vector<Shape> input_shapes() const;
  std::vector<ir::ValueType> output_types() const;
  // Per output of the current plan: false when its shape is known only at run time (it depends
  // on the values of an input, which resize() is not given: output_types() holds a representative
  // shape for it, and make_outputs() a tensor a run at other values would refuse). Always true
  // after a run made the current plan.
  std::vector<bool> output_shapes_known() const;
  std::vector<Tensor> make_outputs() const;
  // Plans cached (1 for a static graph; at most kMaxPlans).
  size_t plan_count() const;
  // Bytes in the current plan's arena (intermediate values), for tests and `cellar bench`.
  size_t arena_bytes() const;
  // The number of workers the kernels run on (ExecutorOptions::threads, resolved).
  int threads() const;

 private:
  struct Plan;
  struct Frame;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellar::runtime

CELLAR_API_END
