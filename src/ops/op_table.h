// The op table: the one place an op is defined. Per op, one row: its name (MindSpore's primitive
// name), arity, shape/dtype rule, CPU kernel factory, whether it draws random numbers, its MindIR
// spellings (2.x and 1.x) and its ONNX spellings (export, and the ONNX op types read as it).
// Tracing, the executor and every graph format ask this table; none keeps its own list.
//
// One op is one file under src/ops/<domain>/ that registers its row (CELLAR_REGISTER_OPS in
// ops/registry.h); the build collects the registrations, so adding an op touches nothing else.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/tensor.h"
#include "ops/parallel.h"

namespace cellar::ops {

class OnnxBuilder;   // ops/onnx_spelling.h
class OnnxImporter;  // ops/onnx_spelling.h

struct TensorType {
  DType dtype = DType::Float32;
  Shape shape;
  bool operator==(const TensorType&) const = default;
};

// A kernel computes outputs (preallocated with the inferred types) from inputs. It is built once
// per node and is immutable: run it any number of times. It is made from a callable taking
// (inputs, outputs) or (inputs, outputs, Parallel&); the second kind may split its work over the
// Parallel's workers and use their scratch (ops/parallel.h), the first runs on the caller's
// thread. Called without a Parallel, it gets a serial one of its own.
class Kernel {
 public:
  using Fn = std::function<void(std::span<const Tensor>, std::span<Tensor>, Parallel&)>;
  Kernel() = default;
  Kernel(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  template <class F>
  requires(!std::is_same_v<std::decay_t<F>, Kernel> &&
           std::is_invocable_v<F&, std::span<const Tensor>, std::span<Tensor>, Parallel&>)
      Kernel(F f)
      : fn_(std::move(f)) {}  // NOLINT(google-explicit-constructor)
  template <class F>
  requires(!std::is_invocable_v<F&, std::span<const Tensor>, std::span<Tensor>, Parallel&> &&
           std::is_invocable_v<F&, std::span<const Tensor>, std::span<Tensor>>)
      Kernel(F f)  // NOLINT(google-explicit-constructor)
      : fn_([f = std::move(f)](std::span<const Tensor> in, std::span<Tensor> out,
                               Parallel&) mutable { f(in, out); }) {}

  void operator()(std::span<const Tensor> inputs, std::span<Tensor> outputs,
                  Parallel& parallel) const {
    fn_(inputs, outputs, parallel);
  }
  void operator()(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
    Parallel serial;
    fn_(inputs, outputs, serial);
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Fn fn_;
};

struct MindIRVariant;

struct MindIRSpelling {
  std::string primitive;  // written as op_type "REF::<primitive>:<uid>"
  // Older names of the same primitive that the reader also accepts (MindSpore 1.0/1.1 wrote Add
  // as "TensorAdd"); never written.
  std::vector<std::string> legacy_primitives;
  // Attributes MindSpore passes as constant inputs after the tensor inputs, in order
  // (Reshape's `shape`); every other attribute is a primitive attribute.
  std::vector<std::string> attr_inputs;
  // Values written for attr inputs a node does not carry (MindSpore needs every one of them:
  // MatMul without its two transpose flags crashes MindSpore 2.10's loader).
  ir::Attrs defaults;
  // Attr inputs MindSpore 2.x passes as a TypeId number (its op yaml's arg_handler
  // dtype_to_type_id: Cast's dtype); the row keeps the dtype's MindSpore name ("Float32"). The
  // reader converts the number (and takes 1.x's dtype constants as they are), the writer writes it.
  std::vector<std::string> type_id_inputs;
  // Attr inputs a node may lack: written as a None constant (PadV3's constant_value outside
  // constant mode), and a None read back is no attribute.
  std::vector<std::string> none_when_absent;
  // MindSpore 2.x writes ops defined by its ops_def yaml as PRIMITIVE_FUNCTION (every argument an
  // input: attr_inputs above); older Python primitives (Conv2D, MaxPool, Pad) as PRIMITIVE with
  // their attributes on the primitive, which MindSpore's loader reads by its own names.
  bool primitive_function = true;
  // MindSpore's op takes its tensors as one tuple (Concat(MakeTuple(x0, x1, ...), axis)); cellar's
  // node takes them as its inputs. The writer packs them into a MakeTuple node, the reader unpacks
  // the tuple (and refuses anything else in its place).
  bool tuple_input = false;
  // cellar attribute name → the name MindSpore gives it on the primitive (Conv2D's and MaxPool's
  // "data_format" is "format"); the reader maps back.
  std::map<std::string, std::string> renamed;
  // For PRIMITIVE ops: adds attributes MindSpore's loader reads that cellar derives from others
  // (Conv2D's pad_list). Null: nothing to add.
  std::function<void(ir::Attrs&)> complete;
  // Integer-list attributes MindSpore writes as a tuple of tuples of this length (Pad's
  // `paddings`: (before, after) per dimension). cellar keeps them flat; the reader flattens any
  // tuple of equal-length integer tuples.
  std::map<std::string, size_t> nested;
  // MindSpore's argument order where it interleaves tensors and attr inputs (GroupNorm: input,
  // num_groups, weight, bias, eps): every argument's name in order, the names in attr_inputs
  // being those, the others the row's tensor inputs in the row's order. Empty: the tensors, then
  // attr_inputs. The writer writes a node's inputs in this order; the reader takes a node with
  // exactly this many inputs in it (argument_positions below).
  std::vector<std::string> argument_order;
  // Other MindSpore primitives that compute this op with attributes of their own (Pad: MirrorPad
  // for the mirror modes, PadV3 for edge and for fills other than 0). The reader maps each of
  // them to this row; the writer picks one per node.
  std::vector<MindIRVariant> variants;
};

struct MindIRVariant {
  // The variant's primitive and how its attributes are written (its own `variants` stay empty).
  MindIRSpelling spelling;
  // Reading: turns the variant's attributes (its primitive's, and its attr inputs') into the
  // row's, given the types of the node's tensor inputs. Throws ValueError saying what is wrong.
  std::function<void(ir::Attrs&, std::span<const TensorType>)> read;
  // Writing: whether a node with these attributes and input types is written as this variant
  // (the first variant that says so wins; none: the row's own spelling); if so, rewrites the
  // attributes into the variant's. Throws ExportError for attributes no spelling carries.
  std::function<bool(ir::Attrs&, std::span<const TensorType>)> write;
};

// For a spelling with an argument_order: position k of the tensors-then-attr-inputs order is
// argument position result[k] (the tensors in their order, then attr_inputs in theirs). Empty
// when the spelling has no argument_order. A programming error (std::logic_error) when the order
// does not name every attr input once.
std::vector<size_t> argument_positions(const MindIRSpelling& sp);

// ONNX spellings (ops/onnx_spelling.h has the two interfaces; src/formats/onnx* implements them).
// Export: writes one cellar node as one or more ONNX nodes through the builder, which knows the
// graph's value names and types and hands out constant initializers and fresh names. Throws
// ExportError naming the node when its attributes have no ONNX equivalent.
using OnnxExportFn = std::function<void(OnnxBuilder&, const ir::Node&)>;
// Import: reads the importer's current ONNX node (inputs, constant inputs, typed attributes, the
// opset) and emits one or more cellar nodes for it, binding each ONNX output to a cellar value.
// Throws FormatError / kUnsupported through the importer, which names file, node and op.
using OnnxImportFn = std::function<void(OnnxImporter&)>;

// An ONNX op type this row reads, and how.
struct OnnxImport {
  std::string op_type;
  OnnxImportFn rule;
};

struct OpDef {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: any number
  // -1: as many as `infer` gives for the node's attributes and input shapes (Split, Unstack);
  // MindIR then holds a tuple even of one tensor.
  int num_outputs = 1;
  // Output types from input types and attributes. Throws ValueError (kShapeMismatch,
  // kDTypeMismatch, kInvalidArgument) saying what disagrees.
  std::function<std::vector<TensorType>(std::span<const TensorType>, const ir::Attrs&)> infer;
  // Inputs whose *values*, not only their types, decide the output types (Expand's target shape
  // given as a tensor computed at run time). `infer` then gives a representative type (what is
  // recorded while the values are unknown: at load, in Graph::validate) and `infer_values` the
  // exact one, from one Tensor per input (defined at least at these indices). An executor plans
  // with the values (ir::Graph::infer_at); see infer_node below.
  std::vector<size_t> value_inputs;
  std::function<std::vector<TensorType>(std::span<const TensorType>, std::span<const Tensor>,
                                        const ir::Attrs&)>
      infer_values;
  // For rows whose value inputs stand for attributes (Reshape's `shape`, Tile's `multiples` given
  // as tensors computed at run time): the node's attributes with the values written in (`values`:
  // one Tensor per input, defined at the value inputs). Throws ValueError for values no attribute
  // can hold (negative sizes, too many entries). OpTable::add then derives `infer_values` (`infer`
  // over these attributes), and the kernel is `make_kernel` over them: an executor makes such a
  // node's kernel per plan (plans are keyed on the values), so it stays immutable and allocates
  // nothing per run. See node_attrs below.
  std::function<ir::Attrs(std::span<const TensorType>, std::span<const Tensor>, const ir::Attrs&)>
      attrs_from_values;
  // Set for ops whose outputs depend only on their inputs' types (Shape): the outputs from them,
  // so that a plan knows them without running the graph.
  std::function<std::vector<Tensor>(std::span<const TensorType>, const ir::Attrs&)>
      values_from_types;
  // Null for ops that only run eagerly (random ops).
  std::function<Kernel(std::span<const TensorType>, const ir::Attrs&)> make_kernel;
  // Set only for rows with no kernel (random ops): computes the outputs of an eager ops::call
  // (typed as `infer` says) from its inputs and attributes.
  std::function<std::vector<Tensor>(std::span<const Tensor>, const ir::Attrs&)> eager;
  bool is_random = false;
  // Made only by the load-time graph optimiser (src/runtime/optimizer.h) from rows that have
  // spellings (FusedConv2D): never read from or written to a file, so it has none, and the
  // catalog (cellar ops, docs/ops.md) leaves it out.
  bool internal = false;
  MindIRSpelling mindir;
  OnnxExportFn onnx;  // null: the op cannot be written to ONNX
  // The ONNX op types read as this op (Relu for ReLU; Min for Minimum, folding its N inputs).
  // Decompositions with no row of their own (Gemm, Slice, Shape, …) belong to the ONNX format.
  std::vector<OnnxImport> onnx_import;
  // The arithmetic one run of a node does, in multiply-adds or element visits, from its input and
  // output types and attributes (see node_work). Load-time constant folding weighs it before it
  // runs a kernel, so that a few kilobytes of hostile file cannot make a load take hours (a
  // convolution of two constant 16 MiB tensors is 10^13 multiply-adds). Null: one visit per
  // input and output element, right for every op whose cost is linear in its operands.
  std::function<double(std::span<const TensorType>, std::span<const TensorType>, const ir::Attrs&)>
      work;
};

// A node's work (OpDef::work, or the linear default when the row has none), for inputs `in`
// giving outputs `out`. Never throws; a rule tripping on odd types gives +infinity (too costly).
double node_work(const OpDef& def, std::span<const TensorType> in, std::span<const TensorType> out,
                 const ir::Attrs& attrs);

// Folding at load time (ONNX reader, optimiser, planning) runs a node's kernel only when its work
// is at most this: 2^28 multiply-adds, a few tenths of a second on one core at worst. Real models
// fold shape arithmetic and small weight transforms, far below it.
inline constexpr double kMaxFoldWork = 268435456.0;

// Work rules shared by rows (OpDef::work), each an upper bound.
// Matrix products (MatMul, BatchMatMul, ...): each output element sums over the contraction
// axis, at most the larger of input 0's last two dimensions.
double work_contraction(std::span<const TensorType> in, std::span<const TensorType> out,
                        const ir::Attrs& attrs);
// Convolutions with a weight as input 1 (dim 0 the output channels): each output element sums
// over the rest of the weight (input channels per group × window).
double work_weighted_window(std::span<const TensorType> in, std::span<const TensorType> out,
                            const ir::Attrs& attrs);
// Windows without weights (pooling, LRN): each output element visits at most every element of
// one (batch, channel) plane of input 0, i.e. input 0's elements over its first two dimensions.
double work_plane_window(std::span<const TensorType> in, std::span<const TensorType> out,
                         const ir::Attrs& attrs);
// Recurrent cells (LSTM): each output element takes at most every weight element once per step.
double work_recurrent(std::span<const TensorType> in, std::span<const TensorType> out,
                      const ir::Attrs& attrs);

// The output types of `def` for inputs of `types`: `infer_values` when the row has value inputs
// and `values` (empty, or one per input) holds every one of them, `infer` otherwise.
std::vector<TensorType> infer_node(const OpDef& def, std::span<const TensorType> types,
                                   std::span<const Tensor> values, const ir::Attrs& attrs);

// Whether a node of `def` with `n_inputs` inputs has one of the row's value inputs (Reshape has
// one only in its two-input form; its one-input form takes `shape` as an attribute).
bool has_value_inputs(const OpDef& def, size_t n_inputs);

// The attributes a node's kernel is made with: `attrs` with the values of its value inputs
// written in (OpDef::attrs_from_values) when the row has that and `values` (empty, or one per
// input) holds them; nullopt when the row needs them and they are unknown (a representative plan,
// which never runs); `attrs` itself otherwise.
std::optional<ir::Attrs> node_attrs(const OpDef& def, std::span<const TensorType> types,
                                    std::span<const Tensor> values, const ir::Attrs& attrs);

class OpTable {
 public:
  // Registers a row. A programming error (std::logic_error naming the clash) when the name, one of
  // its MindIR primitives (own, legacy, variants) or one of its ONNX import op types is taken, or
  // when the row has no shape rule: two rows can never answer to one spelling.
  void add(OpDef def);
  const OpDef* find(const std::string& name) const;
  // By MindIR primitive name (the row's own, a legacy one or a variant's).
  const OpDef* find_mindir(const std::string& primitive) const;
  // The variant a MindIR primitive name is; null for a row's own (or legacy) primitive.
  const MindIRVariant* find_mindir_variant(const std::string& primitive) const;
  std::vector<std::string> names() const;

  // The import rule a row registered for an ONNX op type; null when no row reads it.
  const OnnxImportFn* find_onnx_import(const std::string& op_type) const;

 private:
  std::map<std::string, OpDef> ops_;
  std::map<std::string, std::string> by_mindir_;
  std::map<std::string, std::pair<std::string, size_t>> by_mindir_variant_;  // row, index
  std::map<std::string, std::pair<std::string, size_t>> by_onnx_import_;     // row, index
};

// The table, built once on first use (the only global state of cellar, and immutable after).
const OpTable& op_table();

// Runs `op` eagerly, or records it when an export trace is active and an input is symbolic or a
// Parameter's value. Every function of cellar/ops.h goes through here.
std::vector<Tensor> call(const std::string& op, std::vector<Tensor> inputs, ir::Attrs attrs = {});

}  // namespace cellar::ops
