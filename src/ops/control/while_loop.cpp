// WhileLoop(x...; loop, node, report): where a MindIR model calls a sub-graph that calls itself
// (MindSpore's `while` on tensor values: a header sub-graph computing the condition, a Switch
// between the body, which calls the header again, and the exit), the reader's control-flow
// flattener (src/formats/mindir/control_flow.cpp) puts one WhileLoop node: its inputs are the
// loop's arguments, `loop` names the header sub-graph, `node` the node, and `report` says what the
// model holds (its sub-graphs, their sizes, which call themselves, the control-flow ops). The
// model then loads and `cellar inspect` shows the loop; cellar does not run loops (it runs
// straight-line graphs), so running the node is a typed error (kUnsupported) naming the loop.
// The result is typed as the first argument (a while loop's variable keeps its type).
// Only the MindIR reader makes it: no MindSpore primitive of this name exists (a file cellar
// writes with it reads back in cellar only), and writing it to ONNX is refused with the report.
#include <variant>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

constexpr const char* kOp = "WhileLoop";

// A text attribute, `dflt` when absent; kInvalidArgument when it is not text.
std::string text(const ir::Attrs& a, const std::string& key, const std::string& dflt) {
  const auto it = a.find(key);
  if (it == a.end()) return dflt;
  const auto* s = std::get_if<std::string>(&it->second);
  if (s == nullptr)
    throw ValueError(ErrorCode::kInvalidArgument,
                     std::string(kOp) + ": attribute '" + key + "' must be text");
  return *s;
}

std::string describe(const ir::Attrs& a) {
  const std::string loop = text(a, "loop", "?"), node = text(a, "node", "?"),
                    report = text(a, "report", "");
  return "node '" + node + "' (" + kOp + "): MindSpore's while loop over sub-graph '" + loop +
         "' loads, but cellar runs straight-line graphs and does not run loops (their number of "
         "iterations depends on the data). " +
         report;
}

}  // namespace

CELLAR_REGISTER_OPS(while_loop) {
  table.add({.name = kOp,
             .min_inputs = 1,
             .max_inputs = -1,
             .infer =
                 [](std::span<const TensorType> in, const ir::Attrs& attrs) {
                   (void)describe(attrs);  // the attributes are strings when present
                   return std::vector<TensorType>{in[0]};
                 },
             .make_kernel = [](std::span<const TensorType>, const ir::Attrs& attrs) -> Kernel {
               return [why = describe(attrs)](std::span<const Tensor>, std::span<Tensor>) {
                 throw Error(ErrorCode::kUnsupported, why);
               };
             },
             .mindir = {.primitive = kOp, .primitive_function = false},
             // ONNX's Loop would need the sub-graphs, which the node does not hold.
             .onnx = [](OnnxBuilder& b, const ir::Node& n) { b.fail(n, describe(n.attrs)); }});
}

}  // namespace cellar::ops
