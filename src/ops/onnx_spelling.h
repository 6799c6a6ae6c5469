// The two contexts an op's ONNX spelling works in, seen from the op's side. The op table owns
// these interfaces; the ONNX format (src/formats/onnx*) implements them over protobuf, so an op's
// file can say how it is written and read without knowing anything of files.
//
// OnnxBuilder (export): the ONNX writer hands one to each node's `OpDef::onnx` function. It knows
// the cellar graph (value names, dtypes, shapes, which values are used) and collects ONNX nodes,
// constant initializers and fresh names.
//
// OnnxImporter (import): the ONNX reader hands one to the import rule registered for the current
// node's op_type. It answers questions about that node (inputs as cellar values, inputs that are
// constants, attributes checked for their kind, the opset) and emits cellar nodes whose output
// types are inferred through the op table at once, so a rule can look at shapes. Emitting a node
// whose inputs are all constants folds it: the kernel runs at load time and the result is a
// constant (how shape arithmetic such as Shape → Gather → Concat → Reshape disappears).
// Every error it throws names the file, the ONNX node and its op_type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cellar/error.h"
#include "cellar/ir/graph.h"
#include "cellar/tensor.h"
#include "ops/op_table.h"

namespace cellar::ops {

// Import rules make constant tensors at load time; above this many elements they refuse (or keep
// the node) instead, so a hostile file cannot make the reader allocate.
inline constexpr int64_t kOnnxMaxConstElements = int64_t{1} << 22;

// An ONNX attribute value as a spelling writes it.
using OnnxAttr =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;
using OnnxAttrs = std::vector<std::pair<std::string, OnnxAttr>>;

class OnnxBuilder {
 public:
  virtual ~OnnxBuilder() = default;

  virtual const ir::Graph& graph() const = 0;
  virtual const ir::ValueInfo& info(int value) const = 0;
  // The ONNX name of a cellar value.
  virtual const std::string& name(int value) const = 0;
  // True when another node or the graph's outputs read `value`.
  virtual bool used(int value) const = 0;
  // The opset being written.
  virtual int64_t opset() const = 0;
  // ONNX's TensorProto.DataType number for `t` (nullopt: ONNX has none).
  virtual std::optional<int64_t> dtype_code(DType t) const = 0;

  // A name no other ONNX value has, built from `hint`.
  virtual std::string fresh(const std::string& hint) = 0;
  // A constant initializer holding `t`; returns its name.
  virtual std::string constant(const std::string& hint, const Tensor& t) = 0;
  virtual void add(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::vector<std::string>& outputs, const OnnxAttrs& attrs = {}) = 0;

  // Writing `node` as ONNX is impossible: ExportError naming the node and op.
  [[noreturn]] void fail(const ir::Node& node, const std::string& why) const;

  // Helpers over the above.
  std::string ints(const std::string& hint, const std::vector<int64_t>& v);  // 1-D int64
  std::string scalar(const std::string& hint, double v, DType dtype);        // rank-0
  const Shape& shape(int value) const { return info(value).shape; }
  // The names of `node`'s inputs, in order.
  std::vector<std::string> input_names(const ir::Node& node) const;
};

class OnnxImporter {
 public:
  virtual ~OnnxImporter() = default;

  virtual const std::string& op_type() const = 0;
  virtual int64_t opset() const = 0;
  // The cellar dtype of ONNX's TensorProto.DataType number (nullopt: cellar has none).
  virtual std::optional<DType> dtype_of_code(int64_t code) const = 0;

  // Inputs as in the file; an empty name is an omitted optional input.
  virtual size_t num_inputs() const = 0;
  virtual bool has_input(size_t i) const = 0;
  // The cellar value of input i (FormatError when it is missing).
  virtual int input(size_t i) = 0;
  // Input i's value when it is known at load time (initializer, Constant, folded), else nullopt.
  virtual std::optional<Tensor> constant_input(size_t i) = 0;
  virtual size_t num_outputs() const = 0;
  // True when output i is named (an empty name is an omitted optional output).
  virtual bool has_output(size_t i) const = 0;
  // A copy, not a reference: input() and emit() add values to the graph being built and may move
  // the list a reference would point into (a rule that held `const Shape&` across them read freed
  // memory). `const Shape& s = m.info(x).shape;` stays valid: it extends the copy's lifetime.
  virtual ir::ValueInfo info(int value) const = 0;
  // False when the value's shape is known only at run time (it follows a shape input computed in
  // the graph): info() then holds a representative shape, which a rule must not fold into
  // constants or attributes.
  virtual bool shape_known(int value) const = 0;

  // Attributes. Absent: the default. Present with another kind: FormatError naming it.
  virtual bool has_attr(const std::string& name) const = 0;
  virtual int64_t attr_int(const std::string& name, int64_t dflt) const = 0;
  virtual double attr_float(const std::string& name, double dflt) const = 0;
  virtual std::string attr_string(const std::string& name, const std::string& dflt) const = 0;
  virtual std::optional<std::vector<int64_t>> attr_ints(const std::string& name) const = 0;
  virtual std::optional<std::vector<double>> attr_floats(const std::string& name) const = 0;
  virtual std::optional<Tensor> attr_tensor(const std::string& name) const = 0;

  // A cellar node `op` with `attrs`; returns its output values (types from the op table).
  virtual std::vector<int> emit(const std::string& op, const std::vector<int>& inputs,
                                ir::Attrs attrs = {}) = 0;
  int emit1(const std::string& op, const std::vector<int>& inputs, ir::Attrs attrs = {}) {
    return emit(op, inputs, std::move(attrs)).at(0);
  }
  // A constant value (folded into later nodes, written as a non-parameter initializer).
  virtual int constant(const Tensor& t) = 0;
  // Before making `bytes` of constant data that the file does not hold (ConstantOfShape, padding
  // blocks): counts them against the model's load-time budget, which folding shares, and refuses
  // (kUnsupported) past it, so that a small file cannot make the loader allocate without bound.
  virtual void charge_generated(uint64_t bytes) = 0;
  // ONNX output i is cellar value `value`.
  virtual void set_output(size_t i, int value) = 0;

  [[noreturn]] virtual void fail(const std::string& why) const = 0;         // kFormat
  [[noreturn]] virtual void unsupported(const std::string& why) const = 0;  // kUnsupported

  // Helpers over the above.
  void require_inputs(size_t min, size_t max) const;
  // Input i must be a constant integer tensor of rank ≤ 1 (shapes, axes, repeats).
  std::vector<int64_t> const_ints(size_t i);
  // ints from the attribute (older opsets) or from input i (newer): `moved_in` is the opset
  // where ONNX turned the attribute into an input. nullopt when neither is given.
  std::optional<std::vector<int64_t>> ints_attr_or_input(const std::string& attr, size_t i,
                                                         int64_t moved_in);
  int64_t rank(int value) const { return static_cast<int64_t>(info(value).shape.rank()); }
  // axis in [-rank, rank) → [0, rank), FormatError otherwise.
  int64_t axis(int64_t a, int64_t rank) const;
  // The recurrent ops' (LSTM, GRU, RNN) optional sequence_lens, input i: cellar runs every
  // sequence to its end, so it must be absent or a constant of `batch` lengths that all equal
  // `seq_len` (kUnsupported otherwise, naming `op`).
  void require_full_sequence_lens(size_t i, int64_t batch, int64_t seq_len, const std::string& op);
  // Elements [indices…] of `x` along `axis` (slicing a static shape is a Gather of constant
  // indices); `x` itself when the indices are the whole axis in order.
  int take(int x, int64_t axis, const std::vector<int64_t>& indices);
};

// begin, begin + step, … up to (not including) end.
std::vector<int64_t> index_range(int64_t begin, int64_t end, int64_t step = 1);

// ---- Spellings many rows share ----

// Export: the node as one ONNX node of `op_type` with the same inputs and output 0.
OnnxExportFn onnx_same(std::string op_type);
// Import: an ONNX node with one (unary) or two (binary) inputs as one node of `op`.
OnnxImportFn onnx_unary(std::string op);
OnnxImportFn onnx_binary(std::string op);

// Runs `f`, turning the table's attribute errors (ValueError) into an ExportError naming the
// node: an export function reads attributes with the same accessors as the kernel.
template <class F>
auto onnx_checked(OnnxBuilder& b, const ir::Node& n, F f) {
  try {
    return f();
  } catch (const ValueError& e) {
    b.fail(n, e.reason());
  }
}

}  // namespace cellar::ops
