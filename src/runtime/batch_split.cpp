#include "runtime/batch_split.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "ops/attr.h"
#include "ops/op_table.h"

namespace cellar::runtime {

namespace {

// Ops whose one input maps element by element to their one output of the same shape.
const std::set<std::string>& elementwise_unary() {
  static const std::set<std::string> ops = {
      "ReLU",     "ReLU6",      "SiLU",   "GeLU",  "SeLU",  "Mish",     "LeakyReLU",
      "Softsign", "HSigmoid",   "HSwish", "Elu",   "Tanh",  "Sigmoid",  "Softplus",
      "Atan",     "Acosh",      "Rsqrt",  "Floor", "Sqrt",  "ACos",     "Exp",
      "Cos",      "Reciprocal", "Ceil",   "Tan",   "Expm1", "Log",      "Sin",
      "Sign",     "Square",     "Abs",    "Erfc",  "Neg",   "Atanh",    "Asin",
      "Erf",      "Cosh",       "Log1p",  "Sinh",  "Asinh", "Identity", "Cast"};
  return ops;
}

// Element-wise ops with numpy broadcasting over any number of inputs.
const std::set<std::string>& elementwise_broadcast() {
  static const std::set<std::string> ops = {"Add", "AddExt",  "Sub",     "SubExt", "Mul",
                                            "Div", "Maximum", "Minimum", "Pow"};
  return ops;
}

// Ops computing each index of their first input's leading axis (an image, NCHW or NHWC) from that
// index alone, with every other input a constant of the op (weights, bias, statistics).
const std::set<std::string>& per_image() {
  static const std::set<std::string> ops = {"Conv2D",    "FusedConv2D", "FusedPointwiseDepthwise",
                                            "Conv3D",    "MaxPool",     "AvgPool",
                                            "MaxPool3D", "AvgPool3D",   "BiasAdd",
                                            "BatchNorm", "PReLU"};
  return ops;
}

int64_t rank_of(const ir::ValueType& t) { return static_cast<int64_t>(t.shape.rank()); }

// The op's axes attribute normalised to [0, rank); nullopt-like empty + false when unreadable.
bool read_axes(const ir::Node& node, const std::string& key, int64_t rank,
               std::vector<int64_t>* axes) {
  try {
    *axes = ops::attr_ints(node.attrs, node.op, key);
    for (auto& a : *axes) a = ops::normalize_axis(node.op, a, rank);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::vector<bool> batch_values(const ir::Graph& g) {
  std::vector<bool> batched(g.values.size(), false);
  for (int v : g.inputs) batched[static_cast<size_t>(v)] = true;
  for (size_t n : g.topological_order()) {
    const ir::Node& node = g.nodes[n];
    bool any = false;
    for (int v : node.inputs) any = any || batched[static_cast<size_t>(v)];
    if (!any) continue;
    for (size_t k = 0; k < node.outputs.size(); ++k)
      // BatchNorm's outputs after the first are its statistics: copies of constant inputs.
      batched[static_cast<size_t>(node.outputs[k])] = !(node.op == "BatchNorm" && k > 0);
  }
  return batched;
}

bool batch_separable(const ir::Graph& g, const std::vector<ir::ValueType>& types,
                     std::string* why) {
  auto no = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (g.inputs.empty()) return no("the graph has no inputs");
  const auto& t0 = types.at(static_cast<size_t>(g.inputs[0]));
  if (t0.shape.rank() == 0) return no("input 0 is a scalar");
  const int64_t n = t0.shape[0];
  if (n < 2) return no("the batch is " + std::to_string(n));
  const std::vector<bool> batched = batch_values(g);
  auto type = [&](int v) -> const ir::ValueType& { return types.at(static_cast<size_t>(v)); };
  auto is_batched = [&](int v) { return batched[static_cast<size_t>(v)]; };
  // A value that follows the batch: rank ≥ 1 with the batch as its leading size.
  auto leads = [&](int v) { return rank_of(type(v)) >= 1 && type(v).shape[0] == n; };
  for (int v : g.inputs)
    if (!leads(v))
      return no("input '" + g.value(v).name + "' does not have the batch " + std::to_string(n) +
                " as its leading size");
  for (int v : g.outputs)
    if (!is_batched(v) || !leads(v))
      return no("output '" + g.value(v).name + "' does not follow the batch");
  const auto& table = ops::op_table();
  for (size_t idx : g.topological_order()) {
    const ir::Node& node = g.nodes[idx];
    const std::string where = "node '" + node.name + "' (" + node.op + ")";
    const ops::OpDef* def = table.find(node.op);
    if (def == nullptr) return no(where + ": unknown op");
    if (def->is_random) return no(where + ": random (each slice would draw its own numbers)");
    bool any = false;
    for (int v : node.inputs) any = any || is_batched(v);
    if (!any) continue;  // computed from constants alone: the same in every slice
    if (node.outputs.empty()) return no(where + ": no outputs");
    const int y = node.outputs[0];
    for (int v : node.outputs)
      if (is_batched(v) && !leads(v)) return no(where + ": an output loses the batch axis");
    const int64_t r = rank_of(type(y));
    const std::string& op = node.op;
    if (elementwise_unary().count(op)) {
      if (node.inputs.size() != 1 || node.outputs.size() != 1 ||
          type(node.inputs[0]).shape != type(y).shape)
        return no(where + ": not one input of its output's shape");
      continue;
    }
    if (elementwise_broadcast().count(op)) {
      if (node.outputs.size() != 1) return no(where + ": several outputs");
      for (int v : node.inputs) {
        const auto& t = type(v);
        if (is_batched(v)) {
          // Broadcasting never spans the batch axis: a batched operand has all of it.
          if (rank_of(t) != r || !leads(v))
            return no(where + ": an operand broadcast over the batch");
        } else if (rank_of(t) >= r && !(rank_of(t) == r && t.shape[0] == 1)) {
          // A constant with a leading axis of its own would differ per image.
          return no(where + ": a constant operand spans the batch axis");
        }
      }
      continue;
    }
    if (per_image().count(op)) {
      if (r < 2 || !is_batched(node.inputs[0])) return no(where + ": not per image");
      // One output (BatchNorm: then its statistics): no indices counted across the batch.
      if (node.outputs.size() != 1 && op != "BatchNorm") return no(where + ": several outputs");
      if (op == "BatchNorm" && ops::attr_bool(node.attrs, op, "is_training", false))
        return no(where + ": training mode (statistics over the batch)");
      for (size_t k = 1; k < node.inputs.size(); ++k) {
        const int v = node.inputs[k];
        if (!is_batched(v)) continue;
        // FusedConv2D's residual operand is added element by element to its output.
        if (!(op == "FusedConv2D" && type(v).shape == type(y).shape))
          return no(where + ": a batched operand other than its input");
      }
      continue;
    }
    if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin") {
      std::vector<int64_t> axes;
      const int64_t rx = rank_of(type(node.inputs[0]));
      if (node.inputs.size() != 1 || !read_axes(node, "axis", rx, &axes) || axes.empty())
        return no(where + ": reduces over all axes or axes it does not say");
      for (int64_t a : axes)
        if (a == 0) return no(where + ": reduces over the batch axis");
      continue;
    }
    if (op == "Softmax" || op == "LogSoftmax") {
      std::vector<int64_t> axes;
      if (node.inputs.size() != 1 || !read_axes(node, "axis", r, &axes) || axes.empty())
        return no(where + ": its axis is not given");
      for (int64_t a : axes)
        if (a == 0) return no(where + ": normalises over the batch axis");
      continue;
    }
    if (op == "MatMul" || op == "FusedMatMul") {
      // Rows of a 2-D left operand are the images; the weights (and bias) constants.
      const int a = node.inputs[0];
      if (!is_batched(a) || rank_of(type(a)) != 2 || r != 2 ||
          ops::attr_bool(node.attrs, op, "transpose_a", false))
        return no(where + ": the batch is not the rows of its left operand");
      for (size_t k = 1; k < node.inputs.size(); ++k)
        if (is_batched(node.inputs[k])) return no(where + ": the batch reaches its weights");
      continue;
    }
    if (op == "Concat") {
      std::vector<int64_t> axes;
      if (!read_axes(node, "axis", r, &axes) || axes.size() != 1 || axes[0] == 0)
        return no(where + ": concatenates along the batch axis");
      for (int v : node.inputs)
        if (!is_batched(v)) return no(where + ": concatenates a constant");
      continue;
    }
    if (op == "Flatten") {
      // MindSpore's Flatten keeps axis 0: [N, rest]; the image's elements stay its own.
      if (node.inputs.size() != 1 || r != 2 || !leads(node.inputs[0]))
        return no(where + ": does not keep the batch axis");
      continue;
    }
    if (op == "Transpose") {
      std::vector<int64_t> perm;
      if (node.inputs.size() != 1 || !read_axes(node, "perm", r, &perm) || perm.empty() ||
          perm[0] != 0)
        return no(where + ": moves the batch axis");
      continue;
    }
    if (op == "Pad") {
      // `paddings`: (before, after) per dimension, axis 0's first; any mode pads each image apart
      // when axis 0 gets nothing.
      std::vector<int64_t> pads;
      try {
        pads = ops::attr_ints(node.attrs, op, "paddings");
      } catch (const Error&) {
        pads.clear();
      }
      if (node.inputs.size() != 1 || pads.size() != 2 * static_cast<size_t>(r) || pads[0] != 0 ||
          pads[1] != 0)
        return no(where + ": pads the batch axis, or says not how");
      continue;
    }
    return no(where + ": not known to compute images apart");
  }
  return true;
}

bool slice_types_match(const ir::Graph& g, const std::vector<ir::ValueType>& full,
                       const std::vector<ir::ValueType>& slice, int64_t b) {
  if (full.size() != slice.size()) return false;
  const std::vector<bool> batched = batch_values(g);
  for (size_t v = 0; v < full.size(); ++v) {
    if (full[v].dtype != slice[v].dtype) return false;
    if (!batched[v]) {
      if (full[v].shape != slice[v].shape) return false;
      continue;
    }
    if (full[v].shape.rank() == 0 || full[v].shape.rank() != slice[v].shape.rank() ||
        slice[v].shape[0] != b)
      return false;
    for (size_t d = 1; d < full[v].shape.rank(); ++d)
      if (full[v].shape[d] != slice[v].shape[d]) return false;
  }
  return true;
}

size_t slice_budget() {
  // sysconf(_SC_LEVEL3_CACHE_SIZE) gives the socket's L3 on some VMs (384 MiB on this project's
  // Zen 5 VM, whose cores share 32 MiB); sysfs gives the cache the CPU's cores share.
  size_t l3 = size_t{32} << 20;
  if (std::FILE* f = std::fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r")) {
    unsigned long long v = 0;
    char unit = 0;
    if (std::fscanf(f, "%llu%c", &v, &unit) >= 1 && v > 0)
      l3 = static_cast<size_t>(v) * (unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1);
    std::fclose(f);
  }
  return l3 / 8;
}

size_t image_working_set(const ir::Graph& g, const std::vector<ir::ValueType>& types, int64_t n) {
  const std::vector<bool> batched = batch_values(g);
  auto bytes = [&](int v) {
    const auto& t = types.at(static_cast<size_t>(v));
    return batched[static_cast<size_t>(v)]
               ? static_cast<size_t>(t.shape.numel()) * itemsize(t.dtype)
               : size_t{0};
  };
  size_t most = 0;
  for (const ir::Node& node : g.nodes) {
    size_t step = 0;
    for (int v : node.inputs) step += bytes(v);
    for (int v : node.outputs) step += bytes(v);
    most = std::max(most, step);
  }
  return n > 0 ? most / static_cast<size_t>(n) : most;
}

int64_t choose_slice(int64_t n, size_t image_bytes, size_t budget, int parallel) {
  if (static_cast<size_t>(n) * image_bytes <= budget) return n;
  int64_t best = 1;
  for (int64_t b = 1; b < n; ++b)
    if (n % b == 0 &&
        static_cast<size_t>(b) * static_cast<size_t>(parallel) * image_bytes <= budget)
      best = b;
  return best;
}

}  // namespace cellar::runtime
