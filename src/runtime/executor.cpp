#include "cellar/runtime/executor.h"

#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "ir/infer.h"
#include "ops/blas.h"
#include "ops/op_table.h"
#include "runtime/batch_split.h"
#include "runtime/optimizer.h"
#include "runtime/thread_pool.h"

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

// The CPUs this process may run on.
int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// OpenBLAS's own pool to one thread: cellar splits its GEMMs over its workers (ops/blas.h: BLAS
// is loaded when first used; another BLAS behind the same interface is left alone).
void single_threaded_blas() { ops::blas::single_threaded(); }

}  // namespace

// What one run at one set of input shapes needs that runs share: the types, the memory plan
// (offsets into an arena of arena_bytes) and the kernels, immutable once made. A run's own
// memory is a Frame; a plan keeps the frames no run is using (`idle`, guarded by Impl::mutex),
// so that a run takes one and gives it back, and a new frame is made only when more runs than
// ever before are under way at once.
struct Executor::Frame {
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> values;  // one Tensor per value id: arena views, initializers
  struct Step {
    std::vector<Tensor> in;
    std::vector<Tensor> out;
  };
  std::vector<Step> steps;
  // The run's workers when the executor's pool is taken by another run: its own thread alone.
  ops::Parallel serial{1};
};

struct Executor::Plan {
  const ir::Graph* graph = nullptr;  // Impl::graph, or Impl::sliced for a slice plan
  std::vector<Shape> input_shapes;
  // Per input, for the inputs whose values decide shapes (Impl::value_keys): the values planned
  // for (copies); undefined when planned without them (at construction, by resize()).
  std::vector<Tensor> key_values;
  std::vector<ir::ValueType> types;  // per value id
  // Per value id: its type is a representative (it depends on input values this plan was made
  // without), its shape known only at run time.
  std::vector<bool> representative;
  std::vector<size_t> offset;  // per value id: its arena offset, or kForever
  size_t arena_bytes = 0;
  std::vector<ops::Kernel> kernels;  // per step
  std::vector<std::unique_ptr<Frame>> idle;
  // Set when the batch runs in slices (runtime/batch_split.h): the plan of one slice, run
  // `slices` times on consecutive parts of the inputs' and outputs' leading axis. This plan then
  // has no kernels or arena of its own (arena_bytes is the slice's, times `parallel`).
  std::shared_ptr<Plan> slice;
  int64_t slices = 1;
  // Slices run at once, one per worker of the pool, each on a frame of its own (`pool_frames`,
  // used only by the run holding Impl::pool_mutex), its kernels on that worker alone: no barrier
  // between ops. 1: one slice after the other, each op split over the pool.
  int parallel = 1;
  std::vector<std::unique_ptr<Frame>> pool_frames;
};

struct Executor::Impl {
  // Guards `plans` and every plan's idle frames; held only to pick a plan and a frame, never
  // while kernels run.
  std::mutex mutex;
  // Held by the run using `pool`; a run that finds it taken runs on its own thread.
  std::mutex pool_mutex;
  ir::Graph original;  // as given, when `graph` (what runs) is its optimised form
  bool optimized = false;
  ir::Graph graph;
  std::unique_ptr<ThreadPool> pool;
  std::vector<size_t> order;
  std::vector<size_t> last_use;  // per value: the last step reading it (kForever: a graph output)
  std::vector<bool> is_init, read;
  // Per input: its values decide some shape (ir::Graph::shape_value_inputs), so plans are keyed
  // on them too.
  std::vector<bool> value_keys;
  bool any_value_key = false;
  std::vector<std::shared_ptr<Plan>> plans;  // most recently used first
  int threads = 1;
  // Images per slice when a batch runs in slices: 0 chooses (slice_size), -1 never slices; from
  // CELLAR_BATCH_SLICE, read at construction.
  int64_t slice_setting = 0;
  bool slice_parallel = true;
  // `graph` with every input's leading axis open, for slice plans (made when first needed, with
  // `mutex` held or during construction).
  mutable std::unique_ptr<ir::Graph> sliced;

  std::shared_ptr<Plan> make_plan(std::vector<Shape> input_shapes,
                                  std::span<const Tensor> input_values = {}) const;
  std::shared_ptr<Plan> make_plan(const ir::Graph& g, std::vector<Shape> input_shapes,
                                  std::span<const Tensor> input_values, bool may_slice) const;
  // Images per slice for a plan at batch n that batch_split allows, or n for no slicing; and in
  // `parallel`, how many slices run at once (Plan::parallel).
  int64_t slice_size(const ir::Graph& g, const Plan& full, int64_t n, int* parallel) const;
  std::unique_ptr<Frame> make_frame(const Plan& plan) const;
  // The plan whose input shapes `shape_of(i)` gives (and, for the inputs in value_keys, whose
  // values `inputs` holds: empty for none known), moved to the front; made (and the least
  // recently used dropped: runs still using it keep it alive) when there is none. Finding one
  // allocates nothing. Called with `mutex` held.
  template <class ShapeOf>
  const std::shared_ptr<Plan>& select(ShapeOf&& shape_of, std::span<const Tensor> inputs = {}) {
    const size_t n = graph.inputs.size();
    for (size_t p = 0; p < plans.size(); ++p) {
      bool same = true;
      for (size_t i = 0; same && i < n; ++i) same = plans[p]->input_shapes[i] == shape_of(i);
      for (size_t i = 0; same && any_value_key && i < n; ++i) {
        if (!value_keys[i]) continue;
        const Tensor& want = plans[p]->key_values[i];
        if (inputs.empty()) {
          same = !want.defined();
        } else {
          same = want.defined() && want.nbytes() == inputs[i].nbytes() &&
                 (want.nbytes() == 0 ||
                  std::memcmp(want.raw_data(), inputs[i].raw_data(), want.nbytes()) == 0);
        }
      }
      if (same) {
        std::rotate(plans.begin(), plans.begin() + static_cast<std::ptrdiff_t>(p),
                    plans.begin() + static_cast<std::ptrdiff_t>(p) + 1);
        return plans.front();
      }
    }
    std::vector<Shape> shapes;
    for (size_t i = 0; i < n; ++i) shapes.push_back(shape_of(i));
    auto plan = make_plan(std::move(shapes), any_value_key ? inputs : std::span<const Tensor>{});
    if (plans.size() >= kMaxPlans) plans.pop_back();
    plans.insert(plans.begin(), std::move(plan));
    return plans.front();
  }
};

constexpr size_t kForever = std::numeric_limits<size_t>::max();

Executor::Executor(ir::Graph graph, ExecutorOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.threads < 0 || options.threads > kMaxThreads)
    throw ValueError(ErrorCode::kInvalidArgument, "threads must be 0 (one per CPU) or 1 to " +
                                                      std::to_string(kMaxThreads) + ", got " +
                                                      std::to_string(options.threads));
  graph.validate();
  if (options.optimize && options.keep_graph) {
    impl_->graph = optimize(graph);
    impl_->graph.validate();
    impl_->original = std::move(graph);
    impl_->optimized = true;
  } else if (options.optimize) {
    // The optimiser holds the only copy (when the caller moved it in): the weights it replaces
    // are freed as it replaces them.
    impl_->graph = optimize(std::move(graph));
    impl_->graph.validate();
  } else {
    impl_->graph = std::move(graph);
  }
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
  impl_->value_keys = g.shape_value_inputs();
  for (bool k : impl_->value_keys) impl_->any_value_key = impl_->any_value_key || k;

  impl_->threads = options.threads ? options.threads : available_cpus();
  // Batches in slices (runtime/batch_split.h): CELLAR_BATCH_SLICE=k forces k images per slice
  // (where k divides the batch), 0 never slices; CELLAR_BATCH_SLICE_PARALLEL=0 keeps slices one
  // after the other at any thread count. For measurements; unset, the executor chooses.
  if (const char* e = std::getenv("CELLAR_BATCH_SLICE"); e != nullptr && *e != '\0') {
    const long long k = std::strtoll(e, nullptr, 10);
    impl_->slice_setting = k > 0 ? k : std::string(e) == "0" ? -1 : 0;
  }
  if (const char* e = std::getenv("CELLAR_BATCH_SLICE_PARALLEL"); e != nullptr)
    impl_->slice_parallel = std::string(e) != "0";
  // The recorded shapes (for a symbolic graph: its representative sizes) are the first plan.
  std::vector<Shape> shapes;
  for (int v : g.inputs) shapes.push_back(g.value(v).shape);
  impl_->plans.push_back(impl_->make_plan(std::move(shapes)));
  single_threaded_blas();
  impl_->pool = std::make_unique<ThreadPool>(impl_->threads);
#ifdef __GLIBC__
  // Loading and optimising freed about the weights' size again (the file's parsed message, the
  // weights the optimiser replaced), which glibc keeps in its heap: given back now, resident
  // memory while running is the weights once plus the arenas (15 MiB less on a ResNet-18 of
  // 43 MiB). Under a millisecond.
  malloc_trim(0);
#endif
}

std::shared_ptr<Executor::Plan> Executor::Impl::make_plan(
    std::vector<Shape> input_shapes, std::span<const Tensor> input_values) const {
  return make_plan(graph, std::move(input_shapes), input_values, true);
}

int64_t Executor::Impl::slice_size(const ir::Graph& g, const Plan& full, int64_t n,
                                   int* parallel) const {
  int64_t b = n;
  if (slice_setting > 0) {
    b = slice_setting < n && n % slice_setting == 0 ? slice_setting : n;
  } else {
    b = choose_slice(n, image_working_set(g, full.types, n), slice_budget(), threads);
    // Several workers with too few slices for each to take one: one slice of everything, split
    // over the workers op by op.
    if (threads > 1 && n / b < threads)
      b = choose_slice(n, image_working_set(g, full.types, n), slice_budget(), 1);
  }
  // Whole slices per worker when there are enough of them (CELLAR_BATCH_SLICE_PARALLEL=0: never).
  *parallel = threads > 1 && n / b >= threads && slice_parallel ? threads : 1;
  return b;
}

std::shared_ptr<Executor::Plan> Executor::Impl::make_plan(const ir::Graph& g,
                                                          std::vector<Shape> input_shapes,
                                                          std::span<const Tensor> input_values,
                                                          bool may_slice) const {
  const size_t nv = g.values.size();
  auto plan = std::make_shared<Plan>();
  plan->graph = &g;
  std::map<size_t, ir::Attrs> kernel_attrs;  // nodes whose value inputs stand for attributes
  plan->types =
      ir::infer_at(g, input_shapes, order, input_values, &kernel_attrs, &plan->representative);
  plan->input_shapes = std::move(input_shapes);
  plan->key_values.resize(g.inputs.size());
  for (size_t i = 0; i < input_values.size() && i < g.inputs.size(); ++i)
    if (value_keys[i]) plan->key_values[i] = input_values[i].clone();

  // The batch in slices, where every op computes its images apart (runtime/batch_split.h) and a
  // slice is worth it: the slice's plan does the work, this one only describes the whole batch.
  const bool exact = std::none_of(plan->representative.begin(), plan->representative.end(),
                                  [](bool r) { return r; });
  if (may_slice && slice_setting >= 0 && !any_value_key && exact && !g.inputs.empty() &&
      batch_separable(g, plan->types)) {
    const int64_t n = plan->input_shapes[0][0];
    int parallel = 1;
    const int64_t b = slice_size(g, *plan, n, &parallel);
    if (b >= 1 && b < n && n % b == 0) {
      if (!sliced) {
        auto copy = std::make_unique<ir::Graph>(g);
        for (int v : copy->inputs) {
          ir::ValueInfo& info = copy->values[static_cast<size_t>(v)];
          info.symbols.resize(info.shape.rank());
          if (info.symbols[0].empty()) info.symbols[0] = "cellar_batch_slice";
        }
        sliced = std::move(copy);
      }
      std::vector<Shape> shapes = plan->input_shapes;
      for (Shape& s : shapes) s[0] = b;
      std::shared_ptr<Plan> part;
      try {
        part = make_plan(*sliced, std::move(shapes), {}, false);
      } catch (const Error&) {
        part.reset();  // a shape rule refusing the slice: run the batch whole
      }
      if (part && slice_types_match(g, plan->types, part->types, b)) {
        plan->slice = std::move(part);
        plan->slices = n / b;
        plan->parallel = parallel;
        plan->arena_bytes = plan->slice->arena_bytes * static_cast<size_t>(parallel);
        if (parallel > 1) {
          // The workers' frames: the one made with the slice's plan and more (a run beside this
          // one, which finds the pool taken, makes its own frame then).
          plan->pool_frames.push_back(std::move(plan->slice->idle.back()));
          plan->slice->idle.pop_back();
          for (int w = 1; w < parallel; ++w) plan->pool_frames.push_back(make_frame(*plan->slice));
        }
        return plan;
      }
    }
  }

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
  // Ops whose output is their input's bytes (tensor::copy_kernel, which skips the copy when
  // both are the same memory).
  static const std::set<std::string> kViews = {"Reshape", "Flatten", "ExpandDims", "Squeeze",
                                               "Identity"};
  for (size_t s = 0; s < order.size(); ++s) {
    const ir::Node& node = g.nodes[order[s]];
    // A view of an arena value read last here takes over its bytes: no copy, no new block (the
    // input is released with the output, never before).
    if (kViews.count(node.op) && node.outputs.size() == 1 && !node.inputs.empty()) {
      const auto x = static_cast<size_t>(node.inputs[0]);
      const int y = node.outputs[0];
      if (offset[x] != kForever && !is_init[x] && !released[x] && last_use[x] == s &&
          bytes_of(node.inputs[0]) == bytes_of(y)) {
        offset[static_cast<size_t>(y)] = offset[x];
        released[x] = true;
        for (int v : node.inputs)
          if (last_use[static_cast<size_t>(v)] == s) release(static_cast<size_t>(v));
        if (!read[static_cast<size_t>(y)]) release(static_cast<size_t>(y));
        continue;
      }
    }
    // Allocate outputs before releasing this step's inputs: a kernel never writes over its input.
    for (int v : node.outputs) offset[static_cast<size_t>(v)] = planner.allocate(bytes_of(v));
    for (int v : node.inputs)
      if (last_use[static_cast<size_t>(v)] == s) release(static_cast<size_t>(v));
    for (int v : node.outputs)
      if (!read[static_cast<size_t>(v)]) release(static_cast<size_t>(v));  // dead on arrival
  }
  plan->arena_bytes = planner.size();
  plan->offset = std::move(offset);

  const auto& table = ops::op_table();
  for (size_t s : order) {
    const ir::Node& node = g.nodes[s];
    const ops::OpDef* def = table.find(node.op);
    std::vector<ops::TensorType> types;
    for (int v : node.inputs) {
      const auto& t = plan->types[static_cast<size_t>(v)];
      types.push_back({t.dtype, t.shape});
    }
    const auto resolved = kernel_attrs.find(s);
    if (resolved == kernel_attrs.end() && def->attrs_from_values &&
        ops::has_value_inputs(*def, node.inputs.size())) {
      // Planned without the values its attributes come from (at construction or by resize(),
      // for a value given as a graph input): runs never use this plan (run() plans with them).
      plan->kernels.push_back([name = node.name](std::span<const Tensor>, std::span<Tensor>) {
        throw ValueError(ErrorCode::kInvalidArgument,
                         "node '" + name + "' was planned without its value inputs");
      });
      continue;
    }
    try {
      plan->kernels.push_back(
          def->make_kernel(types, resolved == kernel_attrs.end() ? node.attrs : resolved->second));
    } catch (const Error& e) {
      throw ValueError(e.code(), "node '" + node.name + "' (" + node.op + "): " + e.reason(),
                       {.tensor = node.name});
    }
  }
  // One frame made with the plan: planning allocates, running at a planned shape does not.
  plan->idle.push_back(make_frame(*plan));
  return plan;
}

std::unique_ptr<Executor::Frame> Executor::Impl::make_frame(const Plan& plan) const {
  const ir::Graph& g = *plan.graph;
  const size_t nv = g.values.size();
  auto f = std::make_unique<Frame>();
  f->arena = Storage::allocate(plan.arena_bytes, true);
  f->values.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (plan.offset[v] == kForever) continue;
    f->values[v] = Tensor(plan.types[v].dtype, plan.types[v].shape, f->arena, plan.offset[v]);
  }
  for (const auto& init : g.initializers) f->values[static_cast<size_t>(init.value)] = init.data;
  for (size_t s : order) {
    const ir::Node& node = g.nodes[s];
    Frame::Step step;
    for (int v : node.inputs) step.in.push_back(f->values[static_cast<size_t>(v)]);
    for (int v : node.outputs) step.out.push_back(f->values[static_cast<size_t>(v)]);
    f->steps.push_back(std::move(step));
  }
  return f;
}

Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;

const ir::Graph& Executor::graph() const {
  return impl_->optimized ? impl_->original : impl_->graph;
}
const ir::Graph& Executor::executed_graph() const { return impl_->graph; }
size_t Executor::arena_bytes() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->plans.front()->arena_bytes;
}
size_t Executor::plan_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->plans.size();
}
int Executor::threads() const { return impl_->pool->threads(); }

std::vector<Shape> Executor::input_shapes() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->plans.front()->input_shapes;
}

std::vector<ir::ValueType> Executor::output_types() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<ir::ValueType> out;
  for (int v : impl_->graph.outputs)
    out.push_back(impl_->plans.front()->types[static_cast<size_t>(v)]);
  return out;
}

std::vector<bool> Executor::output_shapes_known() const {
  std::lock_guard lock(impl_->mutex);
  const auto& rep = impl_->plans.front()->representative;
  std::vector<bool> out;
  for (int v : impl_->graph.outputs) out.push_back(!rep.at(static_cast<size_t>(v)));
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
  std::lock_guard lock(impl_->mutex);
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
  Impl& im = *impl_;
  // The pool first: a plan whose slices run side by side (Plan::parallel) does so only on it.
  std::unique_lock pool(im.pool_mutex, std::try_to_lock);
  std::shared_ptr<Plan> plan_ref;
  std::unique_ptr<Frame> frame;
  bool side_by_side = false;
  {
    std::lock_guard lock(im.mutex);
    plan_ref = im.select([&](size_t i) -> const Shape& { return inputs[i].shape(); }, inputs);
    side_by_side = pool.owns_lock() && plan_ref->parallel > 1;
    Plan& exec = plan_ref->slice ? *plan_ref->slice : *plan_ref;
    if (!side_by_side && !exec.idle.empty()) {
      frame = std::move(exec.idle.back());
      exec.idle.pop_back();
    }
  }
  // The frame goes back to its plan however the run ends.
  struct Lease {
    Impl& im;
    Plan& plan;
    std::unique_ptr<Frame>& frame;
    ~Lease() {
      if (!frame) return;
      std::lock_guard lock(im.mutex);
      plan.idle.push_back(std::move(frame));
    }
  } lease{im, plan_ref->slice ? *plan_ref->slice : *plan_ref, frame};
  Plan& plan = *plan_ref;
  // What runs: the plan, or its slice's plan once per slice.
  const Plan& exec = plan.slice ? *plan.slice : plan;
  if (!side_by_side && !frame) frame = im.make_frame(exec);  // more runs at once than ever before
  if (outputs.size() != g.outputs.size())
    throw ValueError(ErrorCode::kInvalidArgument, "wrong number of output tensors");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& t = plan.types[static_cast<size_t>(g.outputs[i])];
    if (!outputs[i].defined() || outputs[i].dtype() != t.dtype || outputs[i].shape() != t.shape)
      throw ValueError(ErrorCode::kShapeMismatch,
                       "output tensor " + std::to_string(i) + " must be " +
                           std::string(mindspore_name(t.dtype)) + t.shape.str());
  }
  // Slice k reads and writes bytes [k × slot, (k + 1) × slot) of every input and output: the
  // leading axis is the outermost, so a slice of it is one contiguous range. Each output is
  // computed by the same kernels on the same values whichever frame and worker run its slice.
  auto run_slice = [&](Frame& f, int64_t k, ops::Parallel& par) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor& slot = f.values[static_cast<size_t>(g.inputs[i])];
      if (slot.nbytes())
        std::memcpy(slot.raw_data(), inputs[i].raw_data() + static_cast<size_t>(k) * slot.nbytes(),
                    slot.nbytes());
    }
    for (size_t s = 0; s < exec.kernels.size(); ++s)
      exec.kernels[s](f.steps[s].in, f.steps[s].out, par);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& src = f.values[static_cast<size_t>(g.outputs[i])];
      if (src.nbytes())
        std::memcpy(outputs[i].raw_data() + static_cast<size_t>(k) * src.nbytes(), src.raw_data(),
                    src.nbytes());
    }
  };
  if (side_by_side) {
    // Worker w runs slices w, w + parallel, …, on its frame, its kernels on its thread alone.
    im.pool->for_range(plan.parallel, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t w = begin; w < end; ++w) {
        Frame& f = *plan.pool_frames[static_cast<size_t>(w)];
        for (int64_t k = w; k < plan.slices; k += plan.parallel) run_slice(f, k, f.serial);
      }
    });
    return;
  }
  ops::Parallel& par = pool.owns_lock() ? static_cast<ops::Parallel&>(*im.pool) : frame->serial;
  for (int64_t k = 0; k < plan.slices; ++k) run_slice(*frame, k, par);
}

std::vector<Tensor> Executor::run(std::span<const Tensor> inputs) {
  check_inputs(impl_->graph, inputs);
  std::vector<Tensor> outs;
  {
    std::lock_guard lock(impl_->mutex);
    const auto& plan =
        impl_->select([&](size_t i) -> const Shape& { return inputs[i].shape(); }, inputs);
    for (int v : impl_->graph.outputs) {
      const auto& t = plan->types[static_cast<size_t>(v)];
      outs.emplace_back(t.dtype, t.shape);
    }
  }
  run(inputs, outs);
  return outs;
}

}  // namespace cellar::runtime
