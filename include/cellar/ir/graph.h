// Graph: the intermediate representation export writes and load reads. A Graph is a list of
// SSA values (each with a name, dtype and shape), the inputs and outputs among them, the
// initializers (parameters and constants, with their tensors), and the nodes that compute the
// rest. Node ops are names of rows in the op table (MindSpore primitive names: "MatMul", …).
// A Graph is plain data: formats build and read it, validate() checks it, the Executor runs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cellar/tensor.h"

namespace cellar::ir {

using Attr = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
                          std::vector<double>, Tensor>;
using Attrs = std::map<std::string, Attr>;

struct ValueInfo {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
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

  // Structural checks: ids in range, every value defined exactly once (input, initializer or
  // node output), no cycle, every op known to the op table with the right arity, and every
  // node's recorded output dtype/shape agreeing with the op's shape rule. Throws FormatError with
  // `file` as context, naming the node and the reason.
  void validate(const std::string& file = "") const;

  // Node indices in an order where every node follows the producers of its inputs
  // (FormatError on a cycle or an undefined input).
  std::vector<size_t> topological_order(const std::string& file = "") const;
};

// A value's dtype and shape, as an op's shape rule sees them.
struct ValueType {
  DType dtype = DType::Float32;
  Shape shape;
};

// The output types the op table's shape rule for `op` gives for inputs of `inputs`' types and
// `attrs` (to re-type a graph whose input shapes changed); nullopt when the table has no `op`.
// Throws the rule's Error when it refuses them.
std::optional<std::vector<ValueType>> infer_types(const std::string& op,
                                                  const std::vector<ValueType>& inputs,
                                                  const Attrs& attrs);

}  // namespace cellar::ir
