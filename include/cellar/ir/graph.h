// Graph: the intermediate representation export writes and load reads. A Graph is a list of
// SSA values (each with a name, dtype and shape), the inputs and outputs among them, the
// initializers (parameters and constants, with their tensors), and the nodes that compute the
// rest. Node ops are names of rows in the op table (MindSpore primitive names: "MatMul", …).
// A Graph is plain data: formats build and read it, validate() checks it, the Executor runs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::ir {

using Attr = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
                          std::vector<double>, Tensor>;
using Attrs = std::map<std::string, Attr>;

// A value's name, dtype and shape. A dimension may be *open* (symbolic): an ONNX dim_param, a
// MindIR -1, known only when inputs arrive. `symbols` then holds, per dimension, its symbol
// ("batch", or "?" for an unnamed one) or "" for a fixed dimension; an empty `symbols` means every
// dimension is fixed. An open dimension's entry in `shape` is a representative size (1 on inputs;
// what the op rules give from it elsewhere), so that a symbolic graph still validates and plans as
// a static one.
struct ValueInfo {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  std::vector<std::string> symbols;

  bool open(size_t dim) const { return dim < symbols.size() && !symbols[dim].empty(); }
  bool symbolic() const;  // some dimension is open
  // The shape as MindSpore prints a tuple, open dimensions by symbol: "(?, 1, 32, 32)", "(batch,
  // 4)".
  std::string shape_str() const;
  // dtype and shape: "Float32(batch, 4)".
  std::string type_str() const;
};

struct Node {
  std::string name;
  std::string op;            // op table name
  std::vector<int> inputs;   // value ids
  std::vector<int> outputs;  // value ids
  Attrs attrs;
};

struct Initializer {
  int value = -1;  // value id
  Tensor data;
  bool is_parameter = true;  // false: a constant
};

// A value's dtype and shape, as an op's shape rule sees them.
struct ValueType {
  DType dtype = DType::Float32;
  Shape shape;
};

class Graph {
 public:
  std::string name = "graph";
  std::vector<ValueInfo> values;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<Initializer> initializers;
  std::vector<Node> nodes;

  int add_value(std::string value_name, DType dtype, Shape shape);
  const ValueInfo& value(int id) const { return values.at(static_cast<size_t>(id)); }
  // Value id by name, or -1.
  int find_value(const std::string& name) const;
  const Initializer* find_initializer(int value) const;
  // Some graph input has an open dimension: the graph runs at any size there (Executor plans per
  // input shape).
  bool symbolic() const;

  // Structural checks: ids in range, `symbols` empty or one per dimension (never on initializers),
  // every value defined exactly once (input, initializer or node output), no cycle, every op known
  // to the op table with the right arity, and every node's recorded output dtype/shape agreeing
  // with the op's shape rule. Throws FormatError with `file` as context, naming the node and the
  // reason.
  void validate(const std::string& file = "") const;

  // Every value's dtype and shape (indexed by value id) when the inputs have `input_shapes`: the op
  // rules applied in `order` (topological_order()). An input must keep its rank and its fixed
  // dimensions; its open ones may take any size (ValueError kShapeMismatch naming the input and
  // the axis otherwise). An op rule's refusal is a ValueError naming the node.
  // Some shapes may depend on values (an op's value inputs, ops::OpDef::value_inputs: Expand to a
  // shape computed at run time). The nodes computing those values (Shape -> Gather -> Concat) are
  // run here, on the inputs' shapes, the initializers and `input_values` (empty, or one per input:
  // the values of shape_value_inputs(), the others may be undefined). Where a needed value stays
  // unknown (no input values given), the op's representative type is used. A shape computed from
  // values is held to the readers' limits (kMaxRank, kMaxDimension, a byte count within int64):
  // ValueError kShapeMismatch naming the node otherwise.
  // (src/ir/infer.h has the executor's form, which also gives the attributes each node's kernel
  // is made with.)
  std::vector<ValueType> infer_at(const std::vector<Shape>& input_shapes,
                                  const std::vector<size_t>& order,
                                  std::span<const Tensor> input_values = {}) const;

  // Per graph input: whether its values (not only its shape) decide some value's shape, through
  // an op's value input: an executor keys its plans on them as well as on the input shapes.
  std::vector<bool> shape_value_inputs() const;

  // Marks the open dimensions of every value that depends on an open input dimension: the
  // dimensions whose size changes when the inputs' open sizes do. A dimension that is exactly an
  // input's symbol gets its name, others "?". No-op for a static graph.
  void derive_symbols();

  // Node indices in an order where every node follows the producers of its inputs
  // (FormatError on a cycle or an undefined input).
  std::vector<size_t> topological_order(const std::string& file = "") const;
};

// The output types the op table's shape rule for `op` gives for inputs of `inputs`' types and
// `attrs` (to re-type a graph whose input shapes changed); nullopt when the table has no `op`.
// Throws the rule's Error when it refuses them.
std::optional<std::vector<ValueType>> infer_types(const std::string& op,
                                                  const std::vector<ValueType>& inputs,
                                                  const Attrs& attrs);

}  // namespace cellar::ir

CELLAR_API_END
