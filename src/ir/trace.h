// Tracing: recording the ops a Cell runs on symbolic tensors into a Graph (export's first step).
//
// A Tracer is active on the thread that constructs it until it is destroyed. While it is active,
// ops::call records any op whose inputs include a symbolic tensor or a Parameter's value, and the
// export-scope checks run: a Parameter no Cell of the exported tree owns, a random op, or a read
// of a traced tensor's value is an ExportError naming the culprit.
//
// The one piece of thread-local state in cellar: random ops have no symbolic input to carry the
// trace to them, so only a scope can tell that they run inside one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/nn/cell.h"
#include "cellar/value.h"
#include "ops/op_table.h"

namespace cellar::detail {
struct TraceRef {
  uint64_t trace_id;
  int value;
};
}  // namespace cellar::detail

namespace cellar::ir {

class Tracer {
 public:
  // `root` is the exported Cell: its parameters_and_names() are the parameters the graph may use.
  explicit Tracer(const nn::Cell& root);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // The tracer active on this thread, or null.
  static Tracer* current();

  // A new graph input and the symbolic tensor standing for it.
  Tensor add_input(const std::string& name, DType dtype, const Shape& shape);
  // Appends a node for `def` (types inferred by the table) and returns its symbolic outputs.
  std::vector<Tensor> record(const ops::OpDef& def, const std::vector<Tensor>& inputs,
                             ir::Attrs attrs);
  // Sets the graph outputs from construct's result; ExportError for anything but Tensors and
  // (nested) tuples of Tensors.
  void set_outputs(const Value& result, const std::string& cell_name);
  Graph finish() { return std::move(graph_); }

 private:
  int value_of(const Tensor& t, const std::string& op);
  void collect_outputs(const Value& v, const std::string& cell_name, const std::string& path);

  Graph graph_;
  uint64_t id_;
  Tracer* previous_;
  std::map<const detail::ParamState*, std::string> owned_;  // parameter → dotted name
  std::map<const Storage*, const detail::ParamState*> owned_storage_;
  std::map<const detail::ParamState*, int> param_values_;
  // Constants by their storage; the storage is kept alive for the trace, so that a temporary's
  // freed address, reused by the next constant, cannot alias it.
  std::map<std::pair<const Storage*, size_t>, std::pair<int, std::shared_ptr<Storage>>> constants_;
  int next_node_ = 0;
};

}  // namespace cellar::ir
