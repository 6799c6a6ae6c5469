#include "cellar/runtime/executor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>

#include "ops/op_table.h"

namespace cellar::runtime {

namespace {

size_t align_up(size_t n) {
  return (n + Storage::kAlignment - 1) / Storage::kAlignment * Storage::kAlignment;
}

// First-fit allocator over one arena, used only while planning: it hands out offsets, and
// freed ranges are reused by later values. The arena is allocated once, after planning.
class ArenaPlanner {
 public:
  size_t allocate(size_t bytes) {
    bytes = std::max<size_t>(align_up(bytes), Storage::kAlignment);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes) {
        const size_t off = it->first;
        const size_t rest = it->second - bytes;
        free_.erase(it);
        if (rest) free_[off + bytes] = rest;
        sizes_[off] = bytes;
        return off;
      }
    }
    const size_t off = end_;
    end_ += bytes;
    sizes_[off] = bytes;
    return off;
  }
  void release(size_t off) {
    size_t size = sizes_.at(off);
    sizes_.erase(off);
    auto next = free_.lower_bound(off);
    if (next != free_.end() && next->first == off + size) {  // merge with the range after
      size += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {  // and with the one before
      auto prev = std::prev(next);
      if (prev->first + prev->second == off) {
        prev->second += size;
        return;
      }
    }
    free_[off] = size;
  }
  size_t size() const { return end_; }

 private:
  std::map<size_t, size_t> free_;   // offset → size
  std::map<size_t, size_t> sizes_;  // live offset → size
  size_t end_ = 0;
};

}  // namespace

struct Executor::Impl {
  ir::Graph graph;
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> values;  // one Tensor per value id: arena views, initializers
  struct Step {
    ops::Kernel kernel;
    std::vector<Tensor> in;
    std::vector<Tensor> out;
  };
  std::vector<Step> steps;
};

Executor::Executor(ir::Graph graph) : impl_(std::make_unique<Impl>()) {
  graph.validate();
  impl_->graph = std::move(graph);
  const ir::Graph& g = impl_->graph;
  const auto order = g.topological_order();
  const size_t nv = g.values.size();

  // Liveness: the last step using each value; graph outputs live to the end.
  constexpr size_t kForever = std::numeric_limits<size_t>::max();
  std::vector<size_t> last_use(nv, 0);
  for (size_t s = 0; s < order.size(); ++s)
    for (int v : g.nodes[order[s]].inputs) last_use[static_cast<size_t>(v)] = s;
  for (int v : g.outputs) last_use[static_cast<size_t>(v)] = kForever;
  std::vector<bool> is_init(nv, false);
  for (const auto& init : g.initializers) is_init[static_cast<size_t>(init.value)] = true;

  auto bytes_of = [&](int v) {
    const auto& info = g.value(v);
    return static_cast<size_t>(info.shape.numel()) * itemsize(info.dtype);
  };
  // Inputs are copied into the arena at the start of a run, so that every step's tensors can be
  // built once, here.
  ArenaPlanner planner;
  std::vector<size_t> offset(nv, kForever);
  std::vector<bool> released(nv, false);
  std::vector<bool> read(nv, false);
  for (const auto& node : g.nodes)
    for (int v : node.inputs) read[static_cast<size_t>(v)] = true;
  for (int v : g.outputs) read[static_cast<size_t>(v)] = true;
  auto release = [&](size_t u) {
    if (!released[u] && offset[u] != kForever && !is_init[u]) {
      planner.release(offset[u]);
      released[u] = true;
    }
  };
  for (int v : g.inputs) offset[static_cast<size_t>(v)] = planner.allocate(bytes_of(v));
  for (size_t s = 0; s < order.size(); ++s) {
    const ir::Node& node = g.nodes[order[s]];
    // Allocate outputs before releasing this step's inputs: a kernel never writes over its input.
    for (int v : node.outputs) offset[static_cast<size_t>(v)] = planner.allocate(bytes_of(v));
    for (int v : node.inputs)
      if (last_use[static_cast<size_t>(v)] == s) release(static_cast<size_t>(v));
    for (int v : node.outputs)
      if (!read[static_cast<size_t>(v)]) release(static_cast<size_t>(v));  // dead on arrival
  }
  impl_->arena = Storage::allocate(planner.size(), true);
  impl_->values.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (offset[v] == kForever) continue;
    impl_->values[v] = Tensor(g.values[v].dtype, g.values[v].shape, impl_->arena, offset[v]);
  }
  for (const auto& init : g.initializers)
    impl_->values[static_cast<size_t>(init.value)] = init.data;

  const auto& table = ops::op_table();
  for (size_t s : order) {
    const ir::Node& node = g.nodes[s];
    const ops::OpDef* def = table.find(node.op);
    Impl::Step step;
    std::vector<ops::TensorType> types;
    for (int v : node.inputs) {
      step.in.push_back(impl_->values[static_cast<size_t>(v)]);
      types.push_back({g.value(v).dtype, g.value(v).shape});
    }
    for (int v : node.outputs) step.out.push_back(impl_->values[static_cast<size_t>(v)]);
    step.kernel = def->make_kernel(types, node.attrs);
    impl_->steps.push_back(std::move(step));
  }
}

Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;

const ir::Graph& Executor::graph() const { return impl_->graph; }
size_t Executor::arena_bytes() const { return impl_->arena ? impl_->arena->nbytes() : 0; }

std::vector<Tensor> Executor::make_outputs() const {
  std::vector<Tensor> outs;
  for (int v : impl_->graph.outputs)
    outs.emplace_back(impl_->graph.value(v).dtype, impl_->graph.value(v).shape);
  return outs;
}

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
  const ir::Graph& g = impl_->graph;
  if (inputs.size() != g.inputs.size())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "the graph takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& info = g.value(g.inputs[i]);
    const Tensor& x = inputs[i];
    if (!x.defined() || x.dtype() != info.dtype || x.shape() != info.shape)
      throw ValueError(x.defined() && x.dtype() != info.dtype ? ErrorCode::kDTypeMismatch
                                                              : ErrorCode::kShapeMismatch,
                       "input " + std::to_string(i) + " ('" + info.name + "') expects " +
                           std::string(mindspore_name(info.dtype)) + info.shape.str() + ", given " +
                           (x.defined() ? std::string(mindspore_name(x.dtype())) + x.shape().str()
                                        : "an undefined tensor"),
                       {.tensor = info.name});
  }
  if (outputs.size() != g.outputs.size())
    throw ValueError(ErrorCode::kInvalidArgument, "wrong number of output tensors");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& info = g.value(g.outputs[i]);
    if (!outputs[i].defined() || outputs[i].dtype() != info.dtype ||
        outputs[i].shape() != info.shape)
      throw ValueError(ErrorCode::kShapeMismatch,
                       "output tensor " + std::to_string(i) + " must be " +
                           std::string(mindspore_name(info.dtype)) + info.shape.str());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& slot = impl_->values[static_cast<size_t>(g.inputs[i])];
    if (slot.nbytes()) std::memcpy(slot.raw_data(), inputs[i].raw_data(), slot.nbytes());
  }
  for (auto& step : impl_->steps) step.kernel(step.in, step.out);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& src = impl_->values[static_cast<size_t>(g.outputs[i])];
    if (src.nbytes()) std::memcpy(outputs[i].raw_data(), src.raw_data(), src.nbytes());
  }
}

std::vector<Tensor> Executor::run(std::span<const Tensor> inputs) {
  auto outs = make_outputs();
  run(inputs, outs);
  return outs;
}

}  // namespace cellar::runtime
