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

struct Executor::Plan {
  std::vector<Shape> input_shapes;
  std::vector<ir::ValueType> types;  // per value id
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> values;  // one Tensor per value id: arena views, initializers
  struct Step {
    ops::Kernel kernel;
    std::vector<Tensor> in;
    std::vector<Tensor> out;
  };
  std::vector<Step> steps;
};

struct Executor::Impl {
  ir::Graph graph;
  std::vector<size_t> order;
  std::vector<size_t> last_use;  // per value: the last step reading it (kForever: a graph output)
  std::vector<bool> is_init, read;
  std::vector<std::unique_ptr<Plan>> plans;  // most recently used first

  std::unique_ptr<Plan> make_plan(std::vector<Shape> input_shapes) const;
  // The plan whose input shapes `shape_of(i)` gives, moved to the front; made (and the least
  // recently used dropped) when there is none. Finding one allocates nothing.
  template <class ShapeOf>
  Plan& select(ShapeOf&& shape_of) {
    const size_t n = graph.inputs.size();
    for (size_t p = 0; p < plans.size(); ++p) {
      bool same = true;
      for (size_t i = 0; same && i < n; ++i) same = plans[p]->input_shapes[i] == shape_of(i);
      if (same) {
        std::rotate(plans.begin(), plans.begin() + static_cast<std::ptrdiff_t>(p),
                    plans.begin() + static_cast<std::ptrdiff_t>(p) + 1);
        return *plans.front();
      }
    }
    std::vector<Shape> shapes;
    for (size_t i = 0; i < n; ++i) shapes.push_back(shape_of(i));
    auto plan = make_plan(std::move(shapes));
    if (plans.size() >= kMaxPlans) plans.pop_back();
    plans.insert(plans.begin(), std::move(plan));
    return *plans.front();
  }
};

constexpr size_t kForever = std::numeric_limits<size_t>::max();

Executor::Executor(ir::Graph graph) : impl_(std::make_unique<Impl>()) {
  graph.validate();
  impl_->graph = std::move(graph);
  const ir::Graph& g = impl_->graph;
  impl_->order = g.topological_order();
  const auto& order = impl_->order;
  const size_t nv = g.values.size();

  // Liveness: the last step using each value; graph outputs live to the end.
  impl_->last_use.assign(nv, 0);
  for (size_t s = 0; s < order.size(); ++s)
    for (int v : g.nodes[order[s]].inputs) impl_->last_use[static_cast<size_t>(v)] = s;
  for (int v : g.outputs) impl_->last_use[static_cast<size_t>(v)] = kForever;
  impl_->is_init.assign(nv, false);
  for (const auto& init : g.initializers) impl_->is_init[static_cast<size_t>(init.value)] = true;
  impl_->read.assign(nv, false);
  for (const auto& node : g.nodes)
    for (int v : node.inputs) impl_->read[static_cast<size_t>(v)] = true;
  for (int v : g.outputs) impl_->read[static_cast<size_t>(v)] = true;

  // The recorded shapes (for a symbolic graph: its representative sizes) are the first plan.
  std::vector<Shape> shapes;
  for (int v : g.inputs) shapes.push_back(g.value(v).shape);
  impl_->plans.push_back(impl_->make_plan(std::move(shapes)));
}

std::unique_ptr<Executor::Plan> Executor::Impl::make_plan(std::vector<Shape> input_shapes) const {
  const ir::Graph& g = graph;
  const size_t nv = g.values.size();
  auto plan = std::make_unique<Plan>();
  plan->types = g.infer_at(input_shapes, order);
  plan->input_shapes = std::move(input_shapes);

  auto bytes_of = [&](int v) {
    const auto& t = plan->types[static_cast<size_t>(v)];
    return static_cast<size_t>(t.shape.numel()) * itemsize(t.dtype);
  };
  // Inputs are copied into the arena at the start of a run, so that every step's tensors can be
  // built once, here.
  ArenaPlanner planner;
  std::vector<size_t> offset(nv, kForever);
  std::vector<bool> released(nv, false);
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
  plan->arena = Storage::allocate(planner.size(), true);
  plan->values.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (offset[v] == kForever) continue;
    plan->values[v] = Tensor(plan->types[v].dtype, plan->types[v].shape, plan->arena, offset[v]);
  }
  for (const auto& init : g.initializers) plan->values[static_cast<size_t>(init.value)] = init.data;

  const auto& table = ops::op_table();
  for (size_t s : order) {
    const ir::Node& node = g.nodes[s];
    const ops::OpDef* def = table.find(node.op);
    Plan::Step step;
    std::vector<ops::TensorType> types;
    for (int v : node.inputs) {
      step.in.push_back(plan->values[static_cast<size_t>(v)]);
      const auto& t = plan->types[static_cast<size_t>(v)];
      types.push_back({t.dtype, t.shape});
    }
    for (int v : node.outputs) step.out.push_back(plan->values[static_cast<size_t>(v)]);
    try {
      step.kernel = def->make_kernel(types, node.attrs);
    } catch (const Error& e) {
      throw ValueError(e.code(), "node '" + node.name + "' (" + node.op + "): " + e.reason(),
                       {.tensor = node.name});
    }
    plan->steps.push_back(std::move(step));
  }
  return plan;
}

Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;

const ir::Graph& Executor::graph() const { return impl_->graph; }
size_t Executor::arena_bytes() const {
  const Plan& p = *impl_->plans.front();
  return p.arena ? p.arena->nbytes() : 0;
}
size_t Executor::plan_count() const { return impl_->plans.size(); }

std::vector<Shape> Executor::input_shapes() const { return impl_->plans.front()->input_shapes; }

std::vector<ir::ValueType> Executor::output_types() const {
  std::vector<ir::ValueType> out;
  for (int v : impl_->graph.outputs)
    out.push_back(impl_->plans.front()->types[static_cast<size_t>(v)]);
  return out;
}

std::vector<Tensor> Executor::make_outputs() const {
  std::vector<Tensor> outs;
  for (const auto& t : output_types()) outs.emplace_back(t.dtype, t.shape);
  return outs;
}

void Executor::resize(const std::vector<Shape>& input_shapes) {
  const ir::Graph& g = impl_->graph;
  if (input_shapes.size() != g.inputs.size())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "the graph takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                         std::to_string(input_shapes.size()) + " shapes");
  impl_->select([&](size_t i) -> const Shape& { return input_shapes[i]; });
}

namespace {
void check_inputs(const ir::Graph& g, std::span<const Tensor> inputs) {
  if (inputs.size() != g.inputs.size())
    throw ValueError(ErrorCode::kInvalidArgument,
                     "the graph takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& info = g.value(g.inputs[i]);
    const Tensor& x = inputs[i];
    bool fits = x.defined() && x.dtype() == info.dtype && x.rank() == info.shape.rank();
    for (size_t d = 0; fits && d < info.shape.rank(); ++d)
      fits = info.open(d) || x.shape()[d] == info.shape[d];
    if (!fits)
      throw ValueError(x.defined() && x.dtype() != info.dtype ? ErrorCode::kDTypeMismatch
                                                              : ErrorCode::kShapeMismatch,
                       "input " + std::to_string(i) + " ('" + info.name + "') expects " +
                           info.type_str() + ", given " +
                           (x.defined() ? std::string(mindspore_name(x.dtype())) + x.shape().str()
                                        : "an undefined tensor"),
                       {.tensor = info.name});
  }
}
}  // namespace

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
  const ir::Graph& g = impl_->graph;
  check_inputs(g, inputs);
  Plan& plan = impl_->select([&](size_t i) -> const Shape& { return inputs[i].shape(); });
  if (outputs.size() != g.outputs.size())
    throw ValueError(ErrorCode::kInvalidArgument, "wrong number of output tensors");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& t = plan.types[static_cast<size_t>(g.outputs[i])];
    if (!outputs[i].defined() || outputs[i].dtype() != t.dtype || outputs[i].shape() != t.shape)
      throw ValueError(ErrorCode::kShapeMismatch,
                       "output tensor " + std::to_string(i) + " must be " +
                           std::string(mindspore_name(t.dtype)) + t.shape.str());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& slot = plan.values[static_cast<size_t>(g.inputs[i])];
    if (slot.nbytes()) std::memcpy(slot.raw_data(), inputs[i].raw_data(), slot.nbytes());
  }
  for (auto& step : plan.steps) step.kernel(step.in, step.out);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& src = plan.values[static_cast<size_t>(g.outputs[i])];
    if (src.nbytes()) std::memcpy(outputs[i].raw_data(), src.raw_data(), src.nbytes());
  }
}

std::vector<Tensor> Executor::run(std::span<const Tensor> inputs) {
  check_inputs(impl_->graph, inputs);
  impl_->select([&](size_t i) -> const Shape& { return inputs[i].shape(); });
  auto outs = make_outputs();
  run(inputs, outs);
  return outs;
}

}  // namespace cellar::runtime
