#include "runtime/optimizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/storage_pool.h"
#include "ops/attr.h"
#include "ops/gemm.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_winograd.h"
#include "ops/op_table.h"
#include "ops/transpose_plane.h"

namespace cellar::runtime {

namespace {

// The graph being rewritten, with who reads what. Nodes are removed by marking them dead;
// values stay (compact() drops the unread ones at the end).
class Rewriter {
 public:
  explicit Rewriter(ir::Graph& g) : g_(g), pool_(weight_bytes(g)), dead_(g.nodes.size(), false) {
    for (size_t i = 0; i < g.initializers.size(); ++i) init_[g.initializers[i].value] = i;
    for (int v : g.outputs) graph_output_.insert(v);
    recount();
  }

  ir::Graph& graph() { return g_; }
  // Where this run's new constants are made.
  StoragePool& pool() { return pool_; }
  bool dead(size_t n) const { return dead_[n]; }
  void kill(size_t n) { dead_[n] = true; }

  // Readers of each value among live nodes (a node reading it twice counts twice).
  void recount() {
    readers_.assign(g_.values.size(), 0);
    producer_.assign(g_.values.size(), -1);
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      if (dead_[n]) continue;
      for (int v : g_.nodes[n].inputs) ++readers_[static_cast<size_t>(v)];
      for (int v : g_.nodes[n].outputs) producer_[static_cast<size_t>(v)] = static_cast<int>(n);
    }
  }
  int readers(int v) const { return readers_[static_cast<size_t>(v)]; }
  int producer(int v) const { return producer_[static_cast<size_t>(v)]; }
  bool is_output(int v) const { return graph_output_.count(v) > 0; }
  // Read by exactly one node and not a graph output: an intermediate a fusion may swallow.
  bool private_value(int v) const { return readers(v) == 1 && !is_output(v); }
  bool unused(int v) const { return readers(v) == 0 && !is_output(v); }
  // The one live node reading a private value, or -1 (the fusions' way down a chain).
  int only_reader(int v) const {
    if (!private_value(v)) return -1;
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      if (!dead_[n])
        for (int u : g_.nodes[n].inputs)
          if (u == v) return static_cast<int>(n);
    return -1;
  }

  const Tensor* constant(int v) const {
    auto it = init_.find(v);
    return it == init_.end() ? nullptr : &g_.initializers[it->second].data;
  }
  // Constant `v`, when a pass may overwrite its bytes with their replacement: read by one live
  // node only and no graph output, its bytes wholly its own and shared with no other tensor or
  // graph, and either made by this optimiser (add_constant's `owned`) or a copy of a file's still
  // to be made (a MindIR weight at an address its dtype cannot be read at,
  // Storage::deferred_copy). Writing a replacement (BatchNorm folding, packing) over such bytes
  // needs no new buffer: every weight-sized buffer is fresh memory, ~3 µs per 4 KiB page to fault
  // in on this VM. nullptr otherwise: bytes the caller's graph, a file mapping or a user's array
  // hold stay untouched.
  Tensor* writable_constant(int v) {
    auto it = init_.find(v);
    if (it == init_.end() || !private_value(v)) return nullptr;
    Tensor& t = g_.initializers[it->second].data;
    const std::shared_ptr<Storage>& st = t.storage();
    if (st == nullptr || st.use_count() != 1 || t.storage_offset() != 0 ||
        t.nbytes() != st->nbytes() || st->is_mapped())
      return nullptr;
    if (!owned_.count(v) && !st->is_pending()) return nullptr;
    return &t;
  }
  // Where constant `v`'s bytes can be read by a pass that writes them out in a new layout
  // (transposed, packed): a deferred copy of a file's misaligned weight is read in the file, where
  // it lies (StoragePool::pending_source), not copied into fresh memory first only to be
  // rewritten into more (convnext_tiny's and vit_b_32's Dense weights: 2 of their 3 passes over
  // ~100 and ~340 MB at load). Also when the caller's graph holds the weight too (the Python
  // package's GraphCell): the caller's copy then stays to be made, if ever, rather than made here
  // and held beside the packed one. The address may be misaligned for the dtype: readers take
  // bytes or unaligned loads. release_if_unread gives back the file's pages the read made
  // resident, when the optimiser held the weight alone. A file's bytes are mapped in before the
  // read in one go (populate_pages).
  const void* source_bytes(int v) const {
    const Tensor& t = *constant(v);
    const std::shared_ptr<Storage>& st = t.storage();
    if (st != nullptr && t.storage_offset() == 0)
      if (const std::byte* src = StoragePool::pending_source(*st, st.use_count() == 1)) {
        populate_pages(src, t.nbytes());
        return src;
      }
    if (st != nullptr && st->is_mapped()) populate_pages(t.raw_data(), t.nbytes());
    return t.raw_data();
  }
  // `owned`: t's bytes were allocated by this optimiser for it alone (writable_constant).
  int add_constant(const std::string& hint, Tensor t, bool owned = false) {
    std::string name = hint;
    for (int k = 1; names().count(name); ++k) name = hint + "_" + std::to_string(k);
    names_.insert(name);
    const int v = g_.add_value(name, t.dtype(), t.shape());
    g_.initializers.push_back({.value = v, .data = std::move(t), .is_parameter = false});
    init_[v] = g_.initializers.size() - 1;
    readers_.push_back(0);
    producer_.push_back(-1);
    if (owned) owned_.insert(v);
    return v;
  }
  // Drops constant `v`'s bytes once no live node reads it and it is no graph output (the value
  // itself goes at compact()), so that a weight replaced by its folded, packed or transposed copy
  // is not held beside the copy while the rest of the graph is rewritten. Bytes another holder
  // shares (the caller's graph) stay alive there.
  void release_if_unread(int v) {
    auto it = init_.find(v);
    if (it == init_.end() || is_output(v)) return;
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      if (!dead_[n])
        for (int u : g_.nodes[n].inputs)
          if (u == v) return;
    Tensor& t = g_.initializers[it->second].data;
    give_back_view_pages(t);
    t = Tensor();
  }
  void release_if_unread(const std::vector<int>& vs) {
    for (int v : vs) release_if_unread(v);
  }
  // Every live reader of `from` reads `to` instead.
  void replace_uses(int from, int to) {
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      if (dead_[n]) continue;
      for (int& v : g_.nodes[n].inputs)
        if (v == from) v = to;
    }
    recount();
  }

 private:
  // A view of a file that nothing else holds, about to go: the mapping lives on for the other
  // tensors, and with it the pages this one made resident when it was read (to be transposed,
  // packed or folded into its replacement), unless they are given back here. vit_b_32 ran with
  // 71 MiB of its file resident beside its 334 MiB of weights (over the bound of weights +
  // arena + 32 MiB). MADV_DONTNEED on the pages wholly inside the tensor's own bytes, not its
  // storage's (a storage may span more than the one tensor that holds it): a file mapping
  // refaults them unchanged from the page cache, a file read into private memory
  // (MappedFile::read) as zeros, which nothing reads (readers refuse overlapping tensors, and no
  // other tensor holds this storage). Storage::materialize gives back a deferred copy's source
  // pages on the same terms.
  // A deferred copy never made (read where it lies, source_bytes) gives back its piece of the
  // file the same way.
  static void give_back_view_pages(const Tensor& t) {
    const std::shared_ptr<Storage>& st = t.storage();
    if (st == nullptr || st.use_count() != 1 || t.nbytes() == 0) return;
    if (const std::byte* src = StoragePool::pending_source(*st, true))
      give_back_pages(src, st->nbytes());
    else if (st->is_mapped())
      give_back_pages(st->data() + t.storage_offset(), t.nbytes());
  }

  const std::set<std::string>& names() {
    if (names_.empty())
      for (const auto& v : g_.values) names_.insert(v.name);
    return names_;
  }

  static size_t weight_bytes(const ir::Graph& g) {
    size_t n = 0;
    for (const auto& init : g.initializers) n += init.data.nbytes();
    return n;
  }

  ir::Graph& g_;
  StoragePool pool_;
  std::vector<bool> dead_;
  std::map<int, size_t> init_;
  std::set<int> graph_output_;
  std::vector<int> readers_, producer_;
  std::set<std::string> names_;
  std::set<int> owned_;
};

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

// A tensor for a pass to fill in full, not zero-filled first: a weight's copy is fresh memory, and
// writing it twice (zeros, then the values) costs a second pass over it at load time. Small ones
// share the run's huge-page blocks (core/storage_pool.h).
Tensor unfilled(StoragePool& pool, DType dt, Shape shape) {
  const size_t n = static_cast<size_t>(shape.numel()) * itemsize(dt);
  return Tensor(dt, std::move(shape), pool.allocate(n), 0);
}

// 1. Nodes whose inputs are all initializers, computed now.
int fold_constants(Rewriter& rw, const std::vector<size_t>& order) {
  ir::Graph& g = rw.graph();
  const auto& table = ops::op_table();
  int folded = 0;
  for (size_t n : order) {
    const ir::Node& node = g.nodes[n];
    const ops::OpDef* def = table.find(node.op);
    // (Rows with value inputs record representative output types: left to the plan.)
    if (def == nullptr || !def->make_kernel || def->is_random || node.inputs.empty() ||
        ops::has_value_inputs(*def, node.inputs.size()))
      continue;
    std::vector<Tensor> in;
    std::vector<ops::TensorType> types;
    bool all_constant = true;
    for (int v : node.inputs) {
      const Tensor* t = rw.constant(v);
      if (t == nullptr) {
        all_constant = false;
        break;
      }
      in.push_back(*t);
      types.push_back({t->dtype(), t->shape()});
    }
    if (!all_constant) continue;
    // Small outputs and bounded arithmetic (ops::kMaxFoldWork), checked before anything is
    // allocated: a costly product of constants stays a node and runs with the graph.
    std::vector<ops::TensorType> out_types;
    bool small = true;
    for (int v : node.outputs) {
      const auto& info = g.value(v);
      if (info.symbolic() ||
          static_cast<size_t>(info.shape.numel()) * itemsize(info.dtype) > kMaxFoldedBytes)
        small = false;
      out_types.push_back({info.dtype, info.shape});
    }
    if (!small || ops::node_work(*def, types, out_types, node.attrs) > ops::kMaxFoldWork) continue;
    std::vector<Tensor> out;
    for (const auto& t : out_types) out.emplace_back(t.dtype, t.shape);
    def->make_kernel(types, node.attrs)(in, out);
    // The node's outputs become constants; its readers read them.
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const int old = node.outputs[k];
      if (rw.is_output(old)) {
        // A graph output keeps its value id: it becomes an initializer itself.
        g.initializers.push_back({.value = old, .data = out[k], .is_parameter = false});
      } else {
        const int c = rw.add_constant(g.value(old).name, out[k]);
        rw.replace_uses(old, c);
      }
    }
    rw.kill(n);
    rw.recount();
    rw.release_if_unread(g.nodes[n].inputs);
    ++folded;
  }
  return folded;
}

// 2. Identity and no-op reshapes, bypassed.
int remove_identities(Rewriter& rw) {
  static const std::set<std::string> kReshapes = {"Reshape", "Flatten", "ExpandDims", "Squeeze",
                                                  "Cast"};
  ir::Graph& g = rw.graph();
  int removed = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    const ir::Node& node = g.nodes[n];
    if (node.inputs.empty() || node.outputs.size() != 1) continue;
    const int x = node.inputs[0], y = node.outputs[0];
    const bool identity = node.op == "Identity" && node.inputs.size() == 1;
    const auto& xi = g.value(x);
    const auto& yi = g.value(y);
    const bool noop_reshape = kReshapes.count(node.op) && xi.dtype == yi.dtype &&
                              xi.shape == yi.shape && !xi.symbolic() && !yi.symbolic();
    if (!(identity || noop_reshape) || rw.is_output(y)) continue;
    rw.kill(n);
    rw.replace_uses(y, x);
    ++removed;
  }
  return removed;
}

// 3. BatchNorm(Conv2D(x, w) [+ BiasAdd b]) → Conv2D(x, w') + BiasAdd(b').
// w' = w scaled by a[o] along its first dimension: into `in_place` (which is w) when given.
template <class T>
Tensor scaled_weight(StoragePool& pool, const Tensor& w, const std::vector<double>& a,
                     Tensor* in_place) {
  Tensor out = in_place ? *in_place : unfilled(pool, w.dtype(), w.shape());
  const int64_t per = w.numel() / w.shape()[0];
  const T* src = w.data<T>();
  T* dst = out.data<T>();
  for (int64_t o = 0; o < w.shape()[0]; ++o)
    for (int64_t i = 0; i < per; ++i)
      dst[o * per + i] =
          static_cast<T>(static_cast<double>(src[o * per + i]) * a[static_cast<size_t>(o)]);
  return out;
}

template <class T>
Tensor from_doubles(StoragePool& pool, DType dt, const std::vector<double>& v) {
  Tensor out = unfilled(pool, dt, Shape{static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) out.data<T>()[i] = static_cast<T>(v[i]);
  return out;
}

std::vector<double> doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] =
        t.dtype() == DType::Float64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
  return v;
}

int fold_batch_norms(Rewriter& rw) {
  ir::Graph& g = rw.graph();
  int folded = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n) || g.nodes[n].op != "BatchNorm" || g.nodes[n].inputs.size() != 5) continue;
    const ir::Node bn = g.nodes[n];
    auto training = bn.attrs.find("is_training");
    if (training != bn.attrs.end() && std::holds_alternative<bool>(training->second) &&
        std::get<bool>(training->second))
      continue;
    bool stats_unused = true;
    for (size_t k = 1; k < bn.outputs.size(); ++k) stats_unused &= rw.unused(bn.outputs[k]);
    if (!stats_unused) continue;
    const Tensor* gamma = rw.constant(bn.inputs[1]);
    const Tensor* beta = rw.constant(bn.inputs[2]);
    const Tensor* mean = rw.constant(bn.inputs[3]);
    const Tensor* var = rw.constant(bn.inputs[4]);
    if (!gamma || !beta || !mean || !var) continue;
    // The producer chain: [BiasAdd ←] Conv2D.
    int x = bn.inputs[0];
    if (!rw.private_value(x) || rw.producer(x) < 0) continue;
    int bias_node = -1, conv_node = rw.producer(x);
    if (g.nodes[static_cast<size_t>(conv_node)].op == "BiasAdd") {
      bias_node = conv_node;
      const int y = g.nodes[static_cast<size_t>(bias_node)].inputs[0];
      if (!rw.private_value(y) || rw.producer(y) < 0 ||
          rw.constant(g.nodes[static_cast<size_t>(bias_node)].inputs[1]) == nullptr)
        continue;
      conv_node = rw.producer(y);
    }
    ir::Node& conv = g.nodes[static_cast<size_t>(conv_node)];
    if (conv.op != "Conv2D") continue;
    const Tensor* w = rw.constant(conv.inputs[1]);
    if (w == nullptr || !is_float(w->dtype()) || w->rank() != 4) continue;
    const int64_t channels = w->shape()[0];
    const DType dt = w->dtype();
    bool shapes_ok = true;
    for (const Tensor* t : {gamma, beta, mean, var})
      shapes_ok &= t->dtype() == dt && t->rank() == 1 && t->shape()[0] == channels;
    if (!shapes_ok) continue;

    double eps = 1e-5;
    if (auto e = bn.attrs.find("epsilon"); e != bn.attrs.end()) {
      if (const auto* d = std::get_if<double>(&e->second)) eps = *d;
      if (const auto* i = std::get_if<int64_t>(&e->second)) eps = static_cast<double>(*i);
    }
    const auto gv = doubles(*gamma), bv = doubles(*beta), mv = doubles(*mean), vv = doubles(*var);
    std::vector<double> a(static_cast<size_t>(channels)), b(static_cast<size_t>(channels));
    std::vector<double> old_bias(static_cast<size_t>(channels), 0.0);
    if (bias_node >= 0)
      old_bias = doubles(*rw.constant(g.nodes[static_cast<size_t>(bias_node)].inputs[1]));
    for (size_t j = 0; j < a.size(); ++j) {
      a[j] = gv[j] / std::sqrt(vv[j] + eps);
      b[j] = (old_bias[j] - mv[j]) * a[j] + bv[j];
    }
    const bool f64 = dt == DType::Float64;
    const std::string base = g.value(conv.outputs[0]).name;
    Tensor* own = rw.writable_constant(conv.inputs[1]);
    const int w2 = rw.add_constant(base + "/folded_weight",
                                   f64 ? scaled_weight<double>(rw.pool(), *w, a, own)
                                       : scaled_weight<float>(rw.pool(), *w, a, own),
                                   true);
    const int b2 =
        rw.add_constant(base + "/folded_bias", f64 ? from_doubles<double>(rw.pool(), dt, b)
                                                   : from_doubles<float>(rw.pool(), dt, b));
    std::vector<int> replaced{conv.inputs[1], bn.inputs[1], bn.inputs[2], bn.inputs[3],
                              bn.inputs[4]};
    if (bias_node >= 0) replaced.push_back(g.nodes[static_cast<size_t>(bias_node)].inputs[1]);
    conv.inputs[1] = w2;
    // The BatchNorm node becomes the BiasAdd (keeping its output value); a BiasAdd before it goes.
    ir::Node& out = g.nodes[n];
    out.op = "BiasAdd";
    out.inputs = {conv.outputs[0], b2};
    out.outputs = {bn.outputs[0]};
    out.attrs = {{"data_format", std::string("NCHW")}};
    if (bias_node >= 0) rw.kill(static_cast<size_t>(bias_node));
    rw.recount();
    rw.release_if_unread(replaced);
    ++folded;
  }
  return folded;
}

// Swish as MindSpore writes it (mindcv's EfficientNet): s = Sigmoid(v), y = Mul(v, s) (either
// order), v read by those two nodes only, s by the Mul only, neither a graph output, same dtype
// and shape (no broadcast). The Sigmoid and Mul nodes, or {-1, -1}.
std::pair<int, int> sigmoid_product(Rewriter& rw, int v) {
  const ir::Graph& g = rw.graph();
  if (rw.is_output(v) || rw.readers(v) != 2) return {-1, -1};
  int sig = -1, mul = -1;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    const ir::Node& node = g.nodes[n];
    if (std::find(node.inputs.begin(), node.inputs.end(), v) == node.inputs.end()) continue;
    if (node.op == "Sigmoid" && node.inputs.size() == 1 && node.outputs.size() == 1 &&
        node.attrs.empty())
      sig = static_cast<int>(n);
    else if (node.op == "Mul" && node.inputs.size() == 2 && node.outputs.size() == 1)
      mul = static_cast<int>(n);
  }
  if (sig < 0 || mul < 0) return {-1, -1};
  const int s = g.nodes[static_cast<size_t>(sig)].outputs[0];
  const ir::Node& m = g.nodes[static_cast<size_t>(mul)];
  const bool operands =
      (m.inputs[0] == v && m.inputs[1] == s) || (m.inputs[0] == s && m.inputs[1] == v);
  const auto& vi = g.value(v);
  const auto& yi = g.value(m.outputs[0]);
  if (!operands || !rw.private_value(s) || yi.dtype != vi.dtype || yi.shape != vi.shape)
    return {-1, -1};
  return {sig, mul};
}

// 4. Conv2D [→ BiasAdd] [→ activation] → FusedConv2D.
int fuse_convolutions(Rewriter& rw) {
  static const std::map<std::string, std::string> kActivations = {{"ReLU", "relu"},
                                                                  {"ReLU6", "relu6"},
                                                                  {"HSwish", "hswish"},
                                                                  {"HSigmoid", "hsigmoid"},
                                                                  {"SiLU", "silu"}};
  ir::Graph& g = rw.graph();
  int fused = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n) || g.nodes[n].op != "Conv2D") continue;
    if (!is_float(g.value(g.nodes[n].outputs[0]).dtype)) continue;
    std::vector<int> inputs = g.nodes[n].inputs;
    int out = g.nodes[n].outputs[0];
    std::string activation = "none";
    std::vector<size_t> swallowed;
    if (int r = rw.only_reader(out); r >= 0 && g.nodes[static_cast<size_t>(r)].op == "BiasAdd" &&
                                     g.nodes[static_cast<size_t>(r)].inputs[0] == out) {
      const ir::Node& bias = g.nodes[static_cast<size_t>(r)];
      const auto& bi = g.value(bias.inputs[1]);
      if (bi.shape.rank() == 1 && !bi.symbolic()) {
        inputs.push_back(bias.inputs[1]);
        swallowed.push_back(static_cast<size_t>(r));
        out = bias.outputs[0];
      }
    }
    if (int r = rw.only_reader(out); r >= 0) {
      const ir::Node& act = g.nodes[static_cast<size_t>(r)];
      if (auto a = kActivations.find(act.op); a != kActivations.end() && act.attrs.empty()) {
        activation = a->second;
        swallowed.push_back(static_cast<size_t>(r));
        out = act.outputs[0];
      }
    } else if (const auto [sig, mul] = sigmoid_product(rw, out); sig >= 0) {
      activation = "x_sigmoid";
      swallowed.push_back(static_cast<size_t>(sig));
      swallowed.push_back(static_cast<size_t>(mul));
      out = g.nodes[static_cast<size_t>(mul)].outputs[0];
    }
    if (swallowed.empty()) continue;
    ir::Node& conv = g.nodes[n];
    conv.op = "FusedConv2D";
    conv.inputs = inputs;
    conv.outputs = {out};
    conv.attrs["activation"] = activation;
    for (size_t s : swallowed) rw.kill(s);
    rw.recount();
    ++fused;
  }
  return fused;
}

// 4c. A residual block's end: Add(c, r) [→ ReLU] with c a convolution's output (or AddExt with
// alpha 1, MindSpore 2.x's mint.add and `x += y`) → the convolution
// as a FusedConv2D with r as its residual input (ops/nn/fused_conv2d.cpp), which adds r to each
// output after its bias and before the activation, in the same pass as its store, and writes the
// Add's (or the ReLU's) output: ResNet's Add and ReLU no longer read and write the block's
// activation twice more. Only where that computes the same values:
//  - c is made by a Conv2D, or by a FusedConv2D applying no activation and no residual yet (an
//    activation inside the convolution comes before the Add: relu(conv) + r is not
//    relu(conv + r));
//  - c is read by the Add alone and is no graph output (its values are never stored now);
//  - r has c's dtype and shape, all known (no broadcast: the Add's output has that shape too), and
//    is not c itself (Add(c, c) is 2c);
//  - the ReLU, when taken in, is a plain one reading the Add's output, which nothing else reads
//    and which is no graph output (otherwise the Add alone is fused, activation none).
// The sums are rounded as the unfused ops round them ((conv + bias) + r, then the ReLU): the
// same bits. Either input of the Add may be the convolution's: the first that qualifies. The
// fused node reads r, so r lives until it runs, and its output is planned apart from r (the
// arena planner never places an output over an input of the same step).
int fuse_residual_adds(Rewriter& rw) {
  ir::Graph& g = rw.graph();
  int fused = 0;
  // The convolution node producing `c`, when an Add may fold into it; else -1.
  auto fusable_conv = [&](int c) -> int {
    if (!rw.private_value(c)) return -1;
    const int p = rw.producer(c);
    if (p < 0) return -1;
    const ir::Node& conv = g.nodes[static_cast<size_t>(p)];
    if (conv.outputs.size() != 1 || conv.outputs[0] != c) return -1;
    if (conv.op == "FusedConv2D") {
      auto act = conv.attrs.find("activation");
      const std::string* a =
          act == conv.attrs.end() ? nullptr : std::get_if<std::string>(&act->second);
      if ((a != nullptr && *a != "none") || ops::attr_bool(conv.attrs, conv.op, "residual", false))
        return -1;
    } else if (conv.op != "Conv2D" || conv.inputs.size() != 2) {
      return -1;
    }
    return p;
  };
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    const ir::Node& add = g.nodes[n];
    // Add, or AddExt (a + alpha·b: every residual add of a mindcv model exported by MindSpore
    // 2.10) with alpha 1, whose a + 1·b is a + b to the bit (either input may be the residual).
    if (add.inputs.size() != 2 || add.outputs.size() != 1 || add.inputs[0] == add.inputs[1])
      continue;
    if (add.op != "Add" &&
        !(add.op == "AddExt" && ops::attr_double(add.attrs, add.op, "alpha", 1) == 1.0))
      continue;
    const auto& yi = g.value(add.outputs[0]);
    if (!is_float(yi.dtype) || yi.symbolic()) continue;
    int conv = -1, residual = -1;
    for (size_t k = 0; k < 2 && conv < 0; ++k) {
      const int c = add.inputs[k], r = add.inputs[1 - k];
      const auto& ci = g.value(c);
      const auto& ri = g.value(r);
      if (ci.symbolic() || ri.symbolic() || ci.dtype != yi.dtype || ri.dtype != yi.dtype ||
          ci.shape != yi.shape || ri.shape != yi.shape || ci.shape.rank() != 4)
        continue;
      if (const int p = fusable_conv(c); p >= 0) conv = p, residual = r;
    }
    if (conv < 0) continue;
    int out = add.outputs[0];
    std::string activation = "none";
    std::vector<size_t> swallowed{n};
    if (const int r = rw.only_reader(out); r >= 0) {
      const ir::Node& relu = g.nodes[static_cast<size_t>(r)];
      if (relu.op == "ReLU" && relu.inputs.size() == 1 && relu.outputs.size() == 1 &&
          relu.attrs.empty()) {
        activation = "relu";
        swallowed.push_back(static_cast<size_t>(r));
        out = relu.outputs[0];
      }
    }
    ir::Node& c = g.nodes[static_cast<size_t>(conv)];
    c.op = "FusedConv2D";
    c.inputs.push_back(residual);
    c.outputs = {out};
    c.attrs["activation"] = activation;
    c.attrs["residual"] = true;
    for (size_t s : swallowed) rw.kill(s);
    rw.recount();
    ++fused;
  }
  return fused;
}

// 4b. MatMul [→ BiasAdd | Add of a [n] bias] [→ [Reshape →] ReLU | GeLU] → FusedMatMul
// (Float32): a Dense layer in one pass over its output, the bias and activation applied by the
// GEMM kernels as they store it.
int fuse_matmuls(Rewriter& rw) {
  ir::Graph& g = rw.graph();
  int fused = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n) || g.nodes[n].op != "MatMul" || g.nodes[n].inputs.size() != 2) continue;
    const int y = g.nodes[n].outputs[0];
    const auto& yi = g.value(y);
    if (yi.dtype != DType::Float32 || yi.shape.rank() != 2 || yi.symbolic()) continue;
    const int64_t cols = yi.shape[1];
    std::vector<int> inputs = g.nodes[n].inputs;
    int out = y;
    std::string activation = "none";
    std::vector<size_t> swallowed;
    if (int r = rw.only_reader(out); r >= 0) {
      const ir::Node& add = g.nodes[static_cast<size_t>(r)];
      // The bias: BiasAdd's second input, or either input of an Add whose other input is `out`,
      // a Float32 [n] (an Add's [1, n] would broadcast the same, but is left alone).
      int bias = -1;
      if (add.op == "BiasAdd" && add.inputs.size() == 2 && add.inputs[0] == out)
        bias = add.inputs[1];
      else if (add.op == "Add" && add.inputs.size() == 2 && add.inputs[0] != add.inputs[1])
        bias = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
      if (bias >= 0) {
        const auto& bi = g.value(bias);
        const auto& ai = g.value(add.outputs[0]);
        if (bi.dtype == DType::Float32 && !bi.symbolic() && bi.shape.rank() == 1 &&
            bi.shape[0] == cols && ai.shape == yi.shape) {
          inputs.push_back(bias);
          swallowed.push_back(static_cast<size_t>(r));
          out = add.outputs[0];
        }
      }
    }
    // The activation: read straight, or through a Reshape (MindSpore's Dense on a rank-3 input
    // is Reshape → MatMul → BiasAdd → Reshape, and the GeLU after it reads the last Reshape): an
    // element-wise function commutes with a Reshape, so the product applies it and the Reshape
    // writes what the activation wrote.
    auto activation_of = [&](int node) -> std::string {
      if (node < 0) return "";
      const ir::Node& act = g.nodes[static_cast<size_t>(node)];
      if (act.inputs.size() != 1 || act.outputs.size() != 1 || !act.attrs.empty()) return "";
      return act.op == "ReLU" ? "relu" : act.op == "GeLU" ? "gelu" : "";
    };
    int reshape = -1;
    if (int r = rw.only_reader(out); r >= 0) {
      const ir::Node& next = g.nodes[static_cast<size_t>(r)];
      if (const std::string a = activation_of(r); !a.empty()) {
        activation = a;
        swallowed.push_back(static_cast<size_t>(r));
        out = next.outputs[0];
      } else if (next.op == "Reshape" && next.outputs.size() == 1 && next.inputs[0] == out) {
        const int r2 = rw.only_reader(next.outputs[0]);
        if (const std::string a2 = activation_of(r2); !a2.empty()) {
          activation = a2;
          swallowed.push_back(static_cast<size_t>(r2));
          reshape = r;
        }
      }
    }
    if (swallowed.empty()) continue;
    if (reshape >= 0) {
      ir::Node& rs = g.nodes[static_cast<size_t>(reshape)];
      rs.outputs = {g.nodes[swallowed.back()].outputs[0]};
    }
    ir::Node& mm = g.nodes[n];
    mm.op = "FusedMatMul";
    mm.inputs = inputs;
    mm.outputs = {out};
    mm.attrs["activation"] = activation;
    for (size_t s : swallowed) rw.kill(s);
    rw.recount();
    ++fused;
  }
  return fused;
}

// Node n's weight when it is a live FusedConv2D whose weight is a Float32 [o, c, kh, kw] constant
// as the file gave it (not yet packed by pass 5 nor transformed by pass 5a); null otherwise.
const Tensor* as_given_conv_weight(Rewriter& rw, size_t n) {
  const ir::Node& node = rw.graph().nodes[n];
  if (rw.dead(n) || node.op != "FusedConv2D" || node.inputs.size() < 2) return nullptr;
  if (ops::attr_bool(node.attrs, node.op, "packed_weight", false) ||
      ops::attr_bool(node.attrs, node.op, "winograd_weight", false))
    return nullptr;
  const Tensor* w = rw.constant(node.inputs[1]);
  return w != nullptr && w->dtype() == DType::Float32 && w->rank() == 4 ? w : nullptr;
}

// 5a. A 3 × 3 stride-1 pad-1 FusedConv2D that the Winograd kernel takes (ops/nn/conv_winograd.h:
// Float32, known shapes, planes of 14 × 14 or more, output channels a multiple of 8, kernels
// running AVX-512 now, at load) gets its weight transformed once, here ([o, c, 4, 4]; attribute
// winograd_weight), in place of the weight, which pass 5 then leaves alone; on planes of one chunk
// of tiles (14 × 14 and under: large weights, transformed once per image per run by the kernel)
// the weight is packed by pass 5 as for conv_taps and the node marked `winograd` instead
// (ops/nn/conv_winograd.h conv_winograd_from_packed: ResNet-50's six 256-channel layers
// transformed at load put it 13 MiB further, over the memory bound at batch 8).
int winograd_weights(Rewriter& rw) {
  ir::Graph& g = rw.graph();
  int transformed = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& node = g.nodes[n];
    if (as_given_conv_weight(rw, n) == nullptr) continue;
    bool known = !g.value(node.outputs[0]).symbolic();
    std::vector<ops::TensorType> types;
    for (int v : node.inputs) {
      known = known && !g.value(v).symbolic();
      types.push_back({g.value(v).dtype, g.value(v).shape});
    }
    if (!known) continue;
    ops::ConvGeometry geo{};
    try {
      geo = ops::conv_geometry("FusedConv2D", types, node.attrs);
    } catch (const Error&) {
      continue;
    }
    if (!ops::conv_winograd_pays(geo)) continue;
    ++transformed;
    if (ops::conv_winograd_from_packed(geo)) {
      node.attrs["winograd"] = true;  // pass 5 packs the weight; the kernel transforms it per run
      continue;
    }
    const int given = node.inputs[1];
    Tensor u = unfilled(rw.pool(), DType::Float32, Shape{geo.o, geo.c, 4, 4});
    ops::conv_winograd_transform(geo.o, geo.c, rw.source_bytes(given), u.data<float>());
    node.inputs[1] =
        rw.add_constant(g.value(node.outputs[0]).name + "/winograd_weight", std::move(u), true);
    node.attrs["winograd_weight"] = true;
    rw.release_if_unread(given);
  }
  rw.recount();
  return transformed;
}

// 5. FusedConv2D weights packed for gemm_packed.
int pack_weights(Rewriter& rw) {
  if (!ops::packed_kernels()) return 0;
  ir::Graph& g = rw.graph();
  int packed = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& node = g.nodes[n];
    const Tensor* w = as_given_conv_weight(rw, n);
    if (w == nullptr || w->numel() == 0) continue;
    const int64_t group = ops::attr_int(node.attrs, node.op, "group",
                                        ops::attr_int(node.attrs, node.op, "groups", 1));
    if (group < 1 || w->shape()[0] % group != 0 || (w->shape()[1] == 1 && group > 1)) continue;
    const int unpacked = node.inputs[1];
    Tensor packed_weight;
    if (Tensor* own = rw.writable_constant(unpacked)) {
      ops::pack_conv_weight_in_place(*own, group);  // the folded weight, or the file's copy
      packed_weight = std::move(*own);
    } else {
      packed_weight = ops::pack_conv_weight(*w, group);
    }
    node.inputs[1] = rw.add_constant(g.value(node.outputs[0]).name + "/packed_weight",
                                     std::move(packed_weight), true);
    node.attrs["packed_weight"] = true;
    rw.release_if_unread(unpacked);
    ++packed;
  }
  rw.recount();
  return packed;
}

// 5b. An inverted-residual block's expansion and depthwise convolution: a 1 × 1 FusedConv2D
// (packed weight, bias, no residual, stride 1, no padding, group 1) whose output only a depthwise
// FusedConv2D reads (one input channel per group, channel multiplier 1, bias, no residual,
// dilation 1, padding under the kernel's height) → one FusedPointwiseDepthwise node
// (ops/nn/pointwise_depthwise.cpp), which computes the expanded tensor a band of rows at a time
// into L2 instead of writing it out and reading it back. Float32 only, shapes known, the
// intermediate no graph output; and only where the expanded tensor of one image exceeds
// kBandedExpansionBytes: smaller ones stay in L2 or L3 between the two nodes, where the bands'
// overheads (shared rows copied, a band's set-up) cost more than they save (Zen 5,
// docs/benchmarks.md session 13: with 512 KiB, MobileNetV2's 192 channels of 28 × 28 ran 1.14×
// the unfused time with warm caches, and efficientnet_b0 as a whole 1.03×). The same values bit
// for bit: the same kernels compute every value.
constexpr int64_t kBandedExpansionBytes = int64_t{1} << 20;

int fuse_pointwise_depthwise(Rewriter& rw) {
  if (!ops::packed_kernels()) return 0;
  ir::Graph& g = rw.graph();
  int fused = 0;
  auto plain_fused_conv = [&](const ir::Node& node) {
    return node.op == "FusedConv2D" && node.inputs.size() == 3 &&
           !ops::attr_bool(node.attrs, node.op, "residual", false);
  };
  auto types = [&](const ir::Node& node) {
    std::vector<ops::TensorType> t;
    for (int v : node.inputs) t.push_back({g.value(v).dtype, g.value(v).shape});
    return t;
  };
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    const ir::Node& e = g.nodes[n];
    if (!plain_fused_conv(e) || !ops::attr_bool(e.attrs, e.op, "packed_weight", false)) continue;
    const int mid = e.outputs[0];
    const ir::ValueInfo& mv = g.value(mid);
    if (mv.dtype != DType::Float32 || mv.symbolic() || mv.shape.rank() != 4) continue;
    const int r = rw.only_reader(mid);
    if (r < 0) continue;
    ir::Node& d = g.nodes[static_cast<size_t>(r)];
    if (!plain_fused_conv(d) || d.inputs[0] != mid ||
        ops::attr_bool(d.attrs, d.op, "packed_weight", false))
      continue;
    bool known = true;
    for (const ir::Node* node : std::array<const ir::Node*, 2>{&e, &d})
      for (int v : node->inputs) known = known && !g.value(v).symbolic();
    if (!known || g.value(d.outputs[0]).symbolic()) continue;
    ops::ConvGeometry ge{}, gd{};
    try {
      ge = ops::conv_geometry("FusedConv2D", types(e), e.attrs);
      gd = ops::conv_geometry("FusedConv2D", types(d), d.attrs);
    } catch (const Error&) {
      continue;
    }
    if (ge.kh != 1 || ge.kw != 1 || ge.sh != 1 || ge.sw != 1 || ge.pt || ge.pb || ge.pl || ge.pr ||
        ge.group != 1)
      continue;
    if (gd.group != gd.c || gd.o != gd.c || gd.dh != 1 || gd.dw != 1 || gd.pt >= gd.kh ||
        gd.pb >= gd.kh)
      continue;
    if (mv.shape[1] * mv.shape[2] * mv.shape[3] * 4 <= kBandedExpansionBytes) continue;
    d.op = "FusedPointwiseDepthwise";
    d.inputs = {e.inputs[0], e.inputs[1], e.inputs[2], d.inputs[1], d.inputs[2]};
    auto act = e.attrs.find("activation");
    d.attrs["expand_activation"] =
        act == e.attrs.end() ? ir::Attr(std::string("none")) : act->second;
    d.attrs["packed_weight"] = true;
    rw.kill(n);
    rw.recount();
    ++fused;
  }
  return fused;
}

// A MatMul's (or FusedMatMul's) constant Float32 B that pass 7 packs in column tiles: A of at
// least 8 rows known here, neither operand read transposed by the kernel yet (transpose_b, a Dense
// weight as stored, is packed from Bᵀ), B not packed already.
bool packs_columns(Rewriter& rw, const ir::Node& node) {
  const ir::Graph& g = rw.graph();
  if ((node.op != "MatMul" && node.op != "FusedMatMul") || node.inputs.size() < 2 ||
      ops::attr_bool(node.attrs, node.op, "transpose_a", false) ||
      ops::attr_bool(node.attrs, node.op, "packed_b", false))
    return false;
  const auto& ai = g.value(node.inputs[0]);
  if (ai.dtype != DType::Float32 || ai.symbolic() || ai.shape.rank() != 2 || ai.shape[0] < 8)
    return false;
  const Tensor* b = rw.constant(node.inputs[1]);
  return b != nullptr && b->dtype() == DType::Float32 && b->rank() == 2 && b->numel() > 0;
}

// 6. A MatMul's constant Float32 B stored once, here, the way its kernel reads it fastest. With A
// of several rows (or an open number of them): as k × n (MatMul(a, B, transpose_b) → MatMul(a, Bᵀ
// as a new constant)), since cellar's GEMM kernels read B's rows as vectors, which a transposed
// B (a Dense weight [out, in], as MindSpore and ONNX store it) does not offer, and BLAS would
// transpose-pack it on every call. With one known row of A (batch 1): as n × k (transpose_b), the
// other way round, since the one-row kernel takes each output as a dot product over a contiguous
// row of B, which streams B 1.5-2x faster than walking down a k × n B (docs/benchmarks.md,
// Session 8); a Dense weight is then used as the file stores it, with no copy at all. A B that
// pass 7 packs is left to it: it packs from Bᵀ as well, in one pass over the weight instead of
// a transposed copy first (one fresh weight-sized buffer fewer at load).
int transpose_constant_operands(Rewriter& rw) {
  if (!ops::packed_kernels()) return 0;
  ir::Graph& g = rw.graph();
  int turned = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& node = g.nodes[n];
    if (rw.dead(n) || (node.op != "MatMul" && node.op != "FusedMatMul") || node.inputs.size() < 2)
      continue;
    if (ops::attr_bool(node.attrs, node.op, "transpose_a", false) ||
        ops::attr_bool(node.attrs, node.op, "packed_b", false) || packs_columns(rw, node))
      continue;
    const auto& ai = g.value(node.inputs[0]);
    const bool one_row = ai.shape.rank() == 2 && !ai.symbolic() && ai.shape[0] == 1;
    const bool transposed = ops::attr_bool(node.attrs, node.op, "transpose_b", false);
    if (transposed == one_row) continue;  // already as its kernel wants it
    const Tensor* b = rw.constant(node.inputs[1]);
    if (b == nullptr || b->dtype() != DType::Float32 || b->rank() != 2) continue;
    const int64_t rows = b->shape()[0], cols = b->shape()[1];
    Tensor t = unfilled(rw.pool(), DType::Float32, Shape{cols, rows});
    // Bᵀ in 32 × 32 tiles of SIMD blocks (ops/transpose_plane.h): the column-order writes of a
    // plain double loop miss the cache on every element (a 2.7 MB Dense weight took ~3 ms of a
    // small net's cold start), and element by element the tiles were still 165 ms of vit_b_32's.
    const int given = node.inputs[1];
    ops::transpose_plane32(rw.source_bytes(given), rows, cols, cols, t.data<float>(), rows);
    node.inputs[1] = rw.add_constant(g.value(given).name + "/transposed", std::move(t), true);
    node.attrs["transpose_b"] = one_row;
    rw.release_if_unread(given);
    ++turned;
  }
  rw.recount();
  return turned;
}

// 7. MatMul / FusedMatMul (A × constant Float32 B, A not transposed and of at least 8 rows that
// are known here) → FusedMatMul with B packed in column tiles (ops/gemm.h pack_columns, or
// pack_columns_transposed from a B read transposed: a Dense weight as the file stores it): the
// kernels then read each tile's rows one after another. One-row products (batch 1) keep B as it
// is: their kernel streams B's rows once whatever the layout.
int pack_matmul_operands(Rewriter& rw) {
  if (!ops::packed_kernels()) return 0;
  ir::Graph& g = rw.graph();
  int packed = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    ir::Node& node = g.nodes[n];
    if (rw.dead(n) || !packs_columns(rw, node)) continue;
    const int given = node.inputs[1];
    const Shape& bs = rw.constant(given)->shape();
    const bool transposed = ops::attr_bool(node.attrs, node.op, "transpose_b", false);
    const int64_t k = transposed ? bs[1] : bs[0], cols = transposed ? bs[0] : bs[1];
    Tensor t = unfilled(rw.pool(), DType::Float32, Shape{k, cols});
    if (transposed)
      ops::pack_columns_transposed(k, cols, rw.source_bytes(given), k, t.data<float>());
    else
      ops::pack_columns(k, cols, rw.source_bytes(given), cols, t.data<float>());
    node.inputs[1] = rw.add_constant(g.value(given).name + "/packed_columns", std::move(t), true);
    if (node.op == "MatMul") {
      node.op = "FusedMatMul";
      node.attrs["activation"] = std::string("none");
    }
    node.attrs["transpose_b"] = false;
    node.attrs["packed_b"] = true;
    rw.release_if_unread(given);
    ++packed;
  }
  rw.recount();
  return packed;
}

// 8. The constant B of every one-row product (a batch-1 Dense layer: MatMul / FusedMatMul with
// transpose_b and one known row of A, as pass 6 leaves it) copied into one block of transparent
// huge pages, one weight after another. The one-row kernel streams each weight once per run from
// L3 (the tutorial MLP's 2.6 MiB do not fit a 1 MiB L2); on 4 KiB pages its hardware prefetch
// stops at every page's end and each page needs its own TLB entry: on 2 MiB pages the MLP's run
// takes 23.0 instead of 26.4 µs at one thread (Zen 5, docs/benchmarks.md, Session 11). Only weights
// the optimiser holds alone (not the caller's graph, kept beside: ExecutorOptions::keep_graph), so
// that resident memory does not grow but by the block's last huge page; and only when they come to
// more than an L2 holds, since what fits stays in L2. Where the CPU has the one-row kernels (AVX2,
// AVX-512), each weight is written with its rows interleaved (ops/gemm.h interleave_rows; a
// MatMul becomes a FusedMatMul with activation none and rows_interleaved): the kernel then reads
// 4 rows from one stream instead of 4 streams, the weights of a run one stream through the block,
// prefetched ahead (docs/benchmarks.md, Session 13), with each output's bits unchanged.
int gather_row_weights(Rewriter& rw) {
  constexpr size_t kHugePage = size_t{2} << 20;
  constexpr size_t kMinBytes = size_t{1} << 20;
  ir::Graph& g = rw.graph();
  std::vector<std::pair<size_t, int>> uses;  // (node, its B)
  std::map<int, size_t> offset;              // B → its offset in the block (read by two: once)
  size_t total = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (rw.dead(n) || (node.op != "MatMul" && node.op != "FusedMatMul") || node.inputs.size() < 2)
      continue;
    if (ops::attr_bool(node.attrs, node.op, "transpose_a", false) ||
        !ops::attr_bool(node.attrs, node.op, "transpose_b", false) ||
        ops::attr_bool(node.attrs, node.op, "packed_b", false))
      continue;
    const auto& ai = g.value(node.inputs[0]);
    if (ai.shape.rank() != 2 || ai.symbolic() || ai.shape[0] != 1) continue;
    const int v = node.inputs[1];
    const Tensor* b = rw.constant(v);
    if (b == nullptr || b->dtype() != DType::Float32 || b->rank() != 2 || b->nbytes() == 0 ||
        b->storage() == nullptr || b->storage().use_count() != 1 || rw.is_output(v))
      continue;
    uses.emplace_back(n, v);
    offset.emplace(v, 0);
  }
  // A weight something else reads too (a Gather of tied embeddings) would be held twice: left.
  std::map<int, int> one_row_readers;
  for (const auto& [n, v] : uses) ++one_row_readers[v];
  for (auto it = offset.begin(); it != offset.end();) {
    if (one_row_readers[it->first] != rw.readers(it->first)) {
      it = offset.erase(it);
      continue;
    }
    it->second = total;
    const size_t bytes = rw.constant(it->first)->nbytes();
    total += (bytes + Storage::kAlignment - 1) / Storage::kAlignment * Storage::kAlignment;
    ++it;
  }
  std::erase_if(uses, [&](const auto& u) { return !offset.count(u.second); });
  if (total < kMinBytes) return 0;
  // Whole huge pages (Storage::allocate asks for them on the 2 MiB units a block covers in full).
  const auto block = Storage::allocate((total + kHugePage - 1) / kHugePage * kHugePage, false);
  const bool interleave = ops::packed_kernels();
  std::map<int, int> moved;  // B → its copy's value
  for (const auto& [v, off] : offset) {
    const Tensor& b = *rw.constant(v);
    std::byte* to = block->data() + off;
    if (interleave)
      ops::interleave_rows(b.shape()[0], b.shape()[1], rw.source_bytes(v), b.shape()[1],
                           reinterpret_cast<float*>(to));
    else
      std::memcpy(to, rw.source_bytes(v), b.nbytes());
    moved[v] = rw.add_constant(g.value(v).name + (interleave ? "/interleaved" : "/huge_pages"),
                               Tensor(DType::Float32, b.shape(), block, off));
  }
  for (const auto& [n, v] : uses) {
    ir::Node& node = g.nodes[n];
    node.inputs[1] = moved.at(v);
    if (!interleave) continue;
    if (node.op == "MatMul") {
      node.op = "FusedMatMul";
      node.attrs["activation"] = std::string("none");
    }
    node.attrs["rows_interleaved"] = true;
  }
  rw.recount();
  for (const auto& [v, off] : offset) rw.release_if_unread(v);
  return interleave ? static_cast<int>(offset.size()) : 0;
}

// Live nodes only; values nothing defines-and-uses dropped; ids renumbered.
ir::Graph compact(const ir::Graph& g, const Rewriter& rw) {
  std::vector<bool> keep(g.values.size(), false);
  for (int v : g.inputs) keep[static_cast<size_t>(v)] = true;
  for (int v : g.outputs) keep[static_cast<size_t>(v)] = true;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    for (int v : g.nodes[n].inputs) keep[static_cast<size_t>(v)] = true;
    for (int v : g.nodes[n].outputs) keep[static_cast<size_t>(v)] = true;
  }
  ir::Graph out;
  out.name = g.name;
  std::vector<int> id(g.values.size(), -1);
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!keep[v]) continue;
    id[v] = static_cast<int>(out.values.size());
    out.values.push_back(g.values[v]);
  }
  auto map = [&](int v) { return id[static_cast<size_t>(v)]; };
  for (int v : g.inputs) out.inputs.push_back(map(v));
  for (int v : g.outputs) out.outputs.push_back(map(v));
  for (const auto& init : g.initializers)
    if (keep[static_cast<size_t>(init.value)])
      out.initializers.push_back({map(init.value), init.data, init.is_parameter});
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (rw.dead(n)) continue;
    ir::Node node = g.nodes[n];
    for (int& v : node.inputs) v = map(v);
    for (int& v : node.outputs) v = map(v);
    out.nodes.push_back(std::move(node));
  }
  return out;
}

}  // namespace

ir::Graph optimize(ir::Graph graph, OptimizeReport* report) {
  OptimizeReport r;
  r.nodes_before = static_cast<int>(graph.nodes.size());
  const std::vector<size_t> order = graph.topological_order();
  Rewriter rw(graph);
  r.constants_folded = fold_constants(rw, order);
  r.identities_removed = remove_identities(rw);
  r.batch_norms_folded = fold_batch_norms(rw);
  r.convolutions_fused = fuse_convolutions(rw);
  r.residuals_fused = fuse_residual_adds(rw);
  r.matmuls_fused = fuse_matmuls(rw);
  r.weights_winograd = winograd_weights(rw);
  r.weights_packed = pack_weights(rw);
  r.pointwise_depthwise_fused = fuse_pointwise_depthwise(rw);
  r.operands_transposed = transpose_constant_operands(rw);
  r.operands_packed = pack_matmul_operands(rw);
  r.rows_interleaved = gather_row_weights(rw);
  ir::Graph out = compact(rw.graph(), rw);
  r.nodes_after = static_cast<int>(out.nodes.size());
  if (report) *report = r;
  return out;
}

}  // namespace cellar::runtime
