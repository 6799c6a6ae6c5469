// ONNX reader and writer. The layout is described in onnx.h; the per-op spellings live beside
// the op table (each op's own file under src/ops/) and work through onnx_builder.h.
//
// The reader works in passes so that a hostile file cannot make it recurse or dereference a bad
// name: (1) index every name the graph defines (inputs, initializers, node outputs; duplicates
// refused), (2) walk from the graph outputs with an explicit stack, in post-order, refusing
// dangling names and cycles, (3) import the nodes in that order through the op table's rules,
// (4) check declared types, materialize the constants that are used and drop everything else.
#include "formats/onnx.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cellar/version.h"
#include "formats/graph_reader.h"
#include "formats/onnx_builder.h"
#include "formats/onnx_sequence.h"
#include "formats/onnx_upgrade.h"
#include "onnx/onnx.pb.h"
#include "ops/op_table.h"

namespace cellar::formats {

namespace {

namespace fs = std::filesystem;
namespace pb = ::onnx;

constexpr uint64_t kMaxModelBytes = std::numeric_limits<int32_t>::max();
constexpr int64_t kIrVersion = 8;  // ONNX 1.12 (opset 17)
constexpr char kProducer[] = "cellar";
// Constant folding at load time runs a kernel; above this many output elements the node is kept
// in the graph instead (a hostile Tile of a constant must not allocate at load).
constexpr int64_t kMaxFoldElements = ops::kOnnxMaxConstElements;
// And all folds and made constants of one model together produce at most
// GraphReadOptions::max_load_constant_bytes: each fold is capped, but a small hostile file can
// chain hundreds of them (ConstantOfShape → Concat → Reshape → Slice, as the fuzzer found: 9 KB
// of ONNX allocated 930 MB and took 5 s). Past the budget, folds stay nodes in the graph and
// made constants are refused; real models fold shape arithmetic of a few kilobytes, but some make
// their weights with ConstantOfShape.

// The element types a cellar tensor holds (dtype_from_onnx), for the message that refuses others.
constexpr char kOnnxSupportedTypes[] =
    "float, float16, bfloat16, double, int8, int16, int32, int64, uint8, uint16, uint32, uint64, "
    "bool; no string, complex or 8-bit/4-bit float types";

const char* onnx_type_name(int t) {
  return pb::TensorProto::DataType_IsValid(t)
             ? pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(t)).c_str()
             : "unknown";
}

const char* attr_type_name(int t) {
  switch (t) {
    case pb::AttributeProto::FLOAT:
      return "FLOAT";
    case pb::AttributeProto::INT:
      return "INT";
    case pb::AttributeProto::STRING:
      return "STRING";
    case pb::AttributeProto::TENSOR:
      return "TENSOR";
    case pb::AttributeProto::GRAPH:
      return "GRAPH";
    case pb::AttributeProto::SPARSE_TENSOR:
      return "SPARSE_TENSOR";
    case pb::AttributeProto::TYPE_PROTO:
      return "TYPE_PROTO";
    case pb::AttributeProto::FLOATS:
      return "FLOATS";
    case pb::AttributeProto::INTS:
      return "INTS";
    case pb::AttributeProto::STRINGS:
      return "STRINGS";
    case pb::AttributeProto::TENSORS:
      return "TENSORS";
    case pb::AttributeProto::GRAPHS:
      return "GRAPHS";
    case pb::AttributeProto::SPARSE_TENSORS:
      return "SPARSE_TENSORS";
    case pb::AttributeProto::TYPE_PROTOS:
      return "TYPE_PROTOS";
    default:
      return "UNDEFINED";
  }
}

// ============================================================================================
// Reader
// ============================================================================================

// An ONNX node's op as the census names it: "<domain>:<op>" outside the default domain.
std::string onnx_op_name(const pb::NodeProto& n) {
  return n.domain().empty() || n.domain() == "ai.onnx" ? n.op_type()
                                                       : n.domain() + ":" + n.op_type();
}

// Whether a row of the op table or a rule of the format reads the node's op.
bool onnx_op_known(const pb::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return false;
  return ops::op_table().find_onnx_import(n.op_type()) != nullptr ||
         find_onnx_format_rule(n.op_type()) != nullptr || is_onnx_sequence_op(n.op_type());
}

// ONNX value name → which of its dimensions follow the open (symbolic) input dimensions: those
// that differ between two readings of the model at two open sizes.
using FollowsOpen = std::map<std::string, std::vector<bool>>;

class Reader final : public ops::OnnxImporter {
 public:
  // `open_size`: the size given to every open (symbolic) input dimension while importing.
  // `runtime_open`: shapes that read an open input dimension are computed at run time (Shape is
  // a node, not a constant), instead of folded at open_size (read()'s second try). `follows`
  // (with runtime_open): the dimensions of intermediate values that follow the open ones, as two
  // folded readings found them; rules see them open (info()), so that the Shape of an
  // intermediate value (swin's x.size(0) after a window partition) is read at run time too.
  Reader(const pb::ModelProto& model, std::string file, const GraphReadOptions& options,
         int64_t open_size, bool runtime_open = false, const FollowsOpen* follows = nullptr)
      : model_(model),
        file_(std::move(file)),
        external_(options.base_dir, options.dec),
        open_size_(open_size),
        runtime_open_(runtime_open),
        follows_(follows),
        budget_(options.max_load_constant_bytes) {}
  ir::Graph run();
  // After run(): every ONNX name bound to a tensor value, with its shape at this reading.
  std::map<std::string, Shape> bound_shapes() const {
    std::map<std::string, Shape> out;
    for (const auto& [name, v] : bound_) out.emplace(name, g_.value(v).shape);
    return out;
  }

  // ---- OnnxImporter ----
  const std::string& op_type() const override { return cur_->op_type(); }
  // Nodes of older opsets reach the rules upgraded to opset 13's form (onnx_upgrade.h).
  int64_t opset() const override { return std::max(opset_, kOnnxUpgradeTarget); }
  std::optional<DType> dtype_of_code(int64_t code) const override { return dtype_from_onnx(code); }
  size_t num_inputs() const override { return static_cast<size_t>(cur_->input_size()); }
  bool has_input(size_t i) const override {
    return i < num_inputs() && !cur_->input(static_cast<int>(i)).empty();
  }
  int input(size_t i) override;
  std::optional<Tensor> constant_input(size_t i) override;
  size_t num_outputs() const override { return static_cast<size_t>(cur_->output_size()); }
  bool has_output(size_t i) const override {
    return i < num_outputs() && !cur_->output(static_cast<int>(i)).empty();
  }
  ir::ValueInfo info(int value) const override {
    ir::ValueInfo i = g_.value(value);
    if (auto it = open_at_.find(value); it != open_at_.end()) {
      i.symbols.resize(i.shape.rank());
      for (size_t d = 0; d < i.shape.rank() && d < it->second.size(); ++d)
        if (it->second[d] && i.symbols[d].empty()) i.symbols[d] = "?";
    }
    return i;
  }
  bool shape_known(int value) const override { return !dyn_.count(value); }
  bool has_attr(const std::string& name) const override { return find_attr(name) != nullptr; }
  int64_t attr_int(const std::string& name, int64_t dflt) const override;
  double attr_float(const std::string& name, double dflt) const override;
  std::string attr_string(const std::string& name, const std::string& dflt) const override;
  std::optional<std::vector<int64_t>> attr_ints(const std::string& name) const override;
  std::optional<std::vector<double>> attr_floats(const std::string& name) const override;
  std::optional<Tensor> attr_tensor(const std::string& name) const override;
  std::vector<int> emit(const std::string& op, const std::vector<int>& inputs,
                        ir::Attrs attrs) override;
  int constant(const Tensor& t) override;
  void charge_generated(uint64_t bytes) override {
    if (!within_budget(bytes))
      unsupported("constants made at load time would exceed the limit of " + mib(budget_) +
                  " (GraphLoadOptions::max_load_constant_bytes; the CLI's --max-constant-mib): "
                  "raise it for a model you trust");
    folded_bytes_ += bytes;
  }
  void set_output(size_t i, int value) override;
  [[noreturn]] void fail(const std::string& why) const override {
    throw FormatError(where() + why, {.file = file_, .tensor = cur_label_});
  }
  [[noreturn]] void unsupported(const std::string& why) const override {
    throw Error(ErrorCode::kUnsupported, where() + why, {.file = file_, .tensor = cur_label_});
  }

 private:
  // What an ONNX name stands for.
  struct Entry {
    enum Kind { kInput, kInitializer, kNode } kind;
    int index;  // graph input / initializer / node index in the file
  };

  std::string where() const {
    return cur_ ? "node '" + cur_label_ + "' (" + cur_->op_type() + "): " : std::string();
  }
  [[noreturn]] void fail_at(const std::string& what, const std::string& why) const {
    throw FormatError(why, {.file = file_, .tensor = what});
  }
  [[noreturn]] void unsupported_at(const std::string& what, const std::string& why) const {
    throw Error(ErrorCode::kUnsupported, why, {.file = file_, .tensor = what});
  }
  std::string label(int i) const {
    const auto& n = gp().node(i);
    if (!n.name().empty()) return n.name();
    if (n.output_size() > 0 && !n.output(0).empty()) return n.output(0);
    return "#" + std::to_string(i);
  }
  const pb::GraphProto& gp() const { return model_.graph(); }
  const pb::AttributeProto* find_attr(const std::string& name) const;
  const pb::AttributeProto& attr_of_kind(const pb::AttributeProto& a, int kind) const;

  void read_opset();
  void index_names();
  void check_ops_known() const;
  std::vector<int> order_from(const std::vector<std::string>& roots);
  DType elem_dtype(const pb::TypeProto& t, const std::string& what) const;
  Tensor tensor_of(const pb::TensorProto& t, const std::string& what) const;
  // The tensor's data from its external file.
  Tensor read_external(const pb::TensorProto& t, const std::string& what, DType dt,
                       const Shape& shape, uint64_t nbytes) const;
  int resolve(const std::string& name);  // cellar value of an ONNX name
  int new_value(const std::string& name, DType dtype, Shape shape);
  std::string fresh(const std::string& hint);
  void import_node(int i);
  void import_one(const pb::NodeProto& n);  // through the rule for its op_type
  void check_declared(const pb::ValueInfoProto& vi, int value, const std::string& what) const;
  ir::Graph finish();

  const pb::ModelProto& model_;
  std::string file_;
  mutable ExternalFiles external_;  // files opened once, as tensors name them
  int64_t open_size_ = 1;
  bool runtime_open_ = false;
  const FollowsOpen* follows_ = nullptr;
  // Values bound to a name of follows_: the dimensions info() reports open.
  std::map<int, std::vector<bool>> open_at_;
  int64_t opset_ = 0;
  ir::Graph g_;
  NameIndex<Entry> defs_;
  std::unordered_map<std::string, int> bound_;  // ONNX name → cellar value
  OnnxSequences seqs_;                          // ONNX name → sequence (onnx_sequence.h)
  std::unordered_set<std::string> needed_;      // names some imported node or output reads
  std::set<std::string> taken_;                 // every name in use or reserved
  std::map<int, Tensor> const_;                 // value → its data (initializers, constants)
  std::set<int> params_;                        // values that are parameters
  // Values whose shapes are known only at run time: they follow a value input computed in the
  // graph (Expand to a shape input), or, with runtime_open_, an open input dimension. Their
  // dimensions are marked open ("?") and Shape reads them at run time.
  std::set<int> dyn_;
  // Values computed at run time from the shapes (TensorShape -> Gather -> Concat, at most
  // kMaxRepElements each): their values at this reading's open size, so that a row reading them
  // as value inputs (a Reshape to x.size(0), -1) gets its exact output shape here, as a plan will.
  std::map<int, Tensor> rep_;
  // The values of dyn_ whose shapes follow values unknown here (a graph input's, not its shape):
  // their dimensions are marked open ("?"). The others' open dimensions are found by comparing
  // the readings at two sizes (Graph::derive_symbols), as for a graph whose shapes all fold.
  std::set<int> by_value_;
  static constexpr int64_t kMaxRepElements = 1 << 12;
  // Of values in rep_: which elements are fixed at load (not computed from an open dimension),
  // in C order. A Shape of a (batch, H, W, C) value read at run time knows H, W and C; data
  // movement (Gather, Concat, ...) keeps track of them, and a node whose output elements are all
  // fixed folds to a constant (Swin's padding from H and W), as it does with every shape fixed.
  std::map<int, std::vector<bool>> fixed_elements_;
  std::optional<std::vector<bool>> fixed_of_output(const ops::OpDef& def,
                                                   const std::vector<int>& inputs,
                                                   const ir::Attrs& attrs,
                                                   const std::vector<ops::TensorType>& in,
                                                   const std::vector<Tensor>& known,
                                                   const ops::TensorType& out) const;
  // The node being imported.
  const pb::NodeProto* cur_ = nullptr;
  std::string cur_label_;
  std::set<int> cur_new_;  // values emitted for the current node, not yet bound
  int emitted_ = 0;
  uint64_t budget_;            // options.max_load_constant_bytes
  uint64_t folded_bytes_ = 0;  // bytes made at load time so far, never over budget_
  bool within_budget(uint64_t bytes) const { return bytes <= budget_ - folded_bytes_; }
  static std::string mib(uint64_t bytes) {
    return bytes % (1 << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                  : std::to_string(bytes) + " bytes";
  }
};

// ---- opset, names, order ----

void Reader::read_opset() {
  bool found = false;
  for (const auto& o : model_.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      if (found) fail_at("opset_import", "the default domain's opset is declared twice");
      found = true;
      opset_ = o.version();
    }
  }
  if (!found) fail_at("opset_import", "the model declares no opset for the default ONNX domain");
  if (opset_ < kOnnxMinReadOpset || opset_ > kOnnxMaxReadOpset)
    unsupported_at("opset_import", "opset " + std::to_string(opset_) +
                                       " is not supported (cellar reads opsets " +
                                       std::to_string(kOnnxMinReadOpset) + " to " +
                                       std::to_string(kOnnxMaxReadOpset) + ")");
}

void Reader::index_names() {
  auto define = [&](const std::string& name, Entry e, const std::string& what) {
    if (name.empty()) fail_at(what, what + " has an empty name");
    if (!defs_.define(name, e)) fail_at(name, "the name '" + name + "' is defined twice");
    taken_.insert(name);
  };
  const auto& g = gp();
  for (int i = 0; i < g.initializer_size(); ++i)
    define(g.initializer(i).name(), {Entry::kInitializer, i}, "initializer #" + std::to_string(i));
  for (int i = 0; i < g.input_size(); ++i) {
    const std::string& n = g.input(i).name();
    // An input with an initializer of the same name is the initializer (an overridable default
    // in ONNX; a parameter here).
    auto it = defs_.find(n);
    if (it != defs_.end() && it->second.kind == Entry::kInitializer) continue;
    define(n, {Entry::kInput, i}, "graph input #" + std::to_string(i));
  }
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& o : g.node(i).output())
      if (!o.empty()) define(o, {Entry::kNode, i}, "an output of node '" + label(i) + "'");
  for (const auto& n : g.node())
    for (const auto& in : n.input()) taken_.insert(in);
}

// Nodes the roots depend on, producers first (graph_reader.h: an iterative DFS; a node met again
// while on the stack is a cycle).
std::vector<int> Reader::order_from(const std::vector<std::string>& roots) {
  const auto& g = gp();
  PostOrder order(static_cast<size_t>(g.node_size()));
  auto producer = [&](const std::string& name, const std::string& user) -> int {
    auto it = defs_.find(name);
    if (it == defs_.end())
      fail_at(user,
              user == "graph output"
                  ? "graph output '" + name + "' is not defined by any input, initializer or node"
                  : "node '" + user + "' reads '" + name +
                        "', which no input, initializer or node defines");
    needed_.insert(name);
    return it->second.kind == Entry::kNode ? it->second.index : -1;
  };
  auto next = [&](int n, int k) -> int {
    const auto& node = g.node(n);
    if (k >= node.input_size()) return PostOrder::kEnd;
    const std::string& in = node.input(k);
    if (in.empty()) return PostOrder::kSkip;
    const int p = producer(in, label(n));
    return p < 0 ? PostOrder::kSkip : p;
  };
  auto cycle = [&](int n, int p) {
    fail_at(label(n),
            "the graph has a cycle through node '" + label(n) + "' and '" + label(p) + "'");
  };
  for (const auto& r : roots) {
    const int root = producer(r, "graph output");
    if (root >= 0) order.visit(root, next, cycle);
  }
  return order.take();
}

// ---- types and tensors ----

DType Reader::elem_dtype(const pb::TypeProto& t, const std::string& what) const {
  if (!t.has_tensor_type())
    unsupported_at(
        what, "'" + what + "' is not a tensor (sequences, maps and optionals are not supported)");
  if (!t.tensor_type().has_elem_type()) fail_at(what, "'" + what + "' has no elem_type");
  const auto dt = dtype_from_onnx(t.tensor_type().elem_type());
  if (!dt)
    unsupported_at(what, "'" + what + "' has elem_type " +
                             std::to_string(t.tensor_type().elem_type()) + " (" +
                             onnx_type_name(t.tensor_type().elem_type()) +
                             "), which cellar does not support: cellar computes on numbers "
                             "(" +
                             kOnnxSupportedTypes + ")");
  return *dt;
}

Tensor Reader::tensor_of(const pb::TensorProto& t, const std::string& what) const {
  if (!t.has_data_type()) fail_at(what, "tensor '" + what + "' has no data_type");
  const auto dt = dtype_from_onnx(t.data_type());
  if (!dt)
    unsupported_at(what, "tensor '" + what + "' has data_type " + std::to_string(t.data_type()) +
                             " (" + onnx_type_name(t.data_type()) +
                             "), which cellar does not support (" + kOnnxSupportedTypes + ")");
  if (t.has_segment()) unsupported_at(what, "tensor '" + what + "' is segmented");
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  for (int64_t d : dims)
    if (d < 0) fail_at(what, "tensor '" + what + "' has negative dimension " + std::to_string(d));
  const Shape shape(std::move(dims));
  const auto numel = shape.checked_numel();
  if (!numel) fail_at(what, "element count of tensor '" + what + "' " + shape.str() + " overflows");
  const auto checked_nbytes = tensor_nbytes(*dt, shape);
  if (!checked_nbytes)
    fail_at(what, "byte size of tensor '" + what + "' " + shape.str() + " overflows");
  const uint64_t nbytes = *checked_nbytes;

  Tensor out;
  if (t.data_location() == pb::TensorProto::EXTERNAL) {
    out = read_external(t, what, *dt, shape, nbytes);
  } else if (t.has_raw_data()) {
    if (t.raw_data().size() != nbytes)
      fail_at(what, "tensor '" + what + "' has " + std::to_string(t.raw_data().size()) +
                        " bytes of raw_data, but " + std::string(mindspore_name(*dt)) +
                        shape.str() + " needs " + std::to_string(nbytes));
    out = Tensor(*dt, shape);
    if (nbytes) std::memcpy(out.raw_data(), t.raw_data().data(), nbytes);
  } else {
    // Typed fields: the count must match before anything is allocated.
    const auto [count, field] = [&]() -> std::pair<int, const char*> {
      switch (*dt) {
        case DType::Float32:
          return {t.float_data_size(), "float_data"};
        case DType::Float64:
          return {t.double_data_size(), "double_data"};
        case DType::Int64:
          return {t.int64_data_size(), "int64_data"};
        case DType::UInt32:
        case DType::UInt64:
          return {t.uint64_data_size(), "uint64_data"};
        default:
          return {t.int32_data_size(), "int32_data"};
      }
    }();
    if (static_cast<uint64_t>(count) != static_cast<uint64_t>(*numel))
      fail_at(what, "tensor '" + what + "' has " + std::to_string(count) + " values in " + field +
                        ", but shape " + shape.str() + " holds " + std::to_string(*numel));
    out = Tensor(*dt, shape);
    const size_t n = static_cast<size_t>(*numel);
    switch (*dt) {
      case DType::Float32:
        if (n) std::memcpy(out.raw_data(), t.float_data().data(), nbytes);
        break;
      case DType::Float64:
        if (n) std::memcpy(out.raw_data(), t.double_data().data(), nbytes);
        break;
      case DType::Int64:
        if (n) std::memcpy(out.raw_data(), t.int64_data().data(), nbytes);
        break;
      case DType::UInt32:
      case DType::UInt64:
        for (size_t k = 0; k < n; ++k) {
          if (*dt == DType::UInt32)
            out.data<uint32_t>()[k] = static_cast<uint32_t>(t.uint64_data(static_cast<int>(k)));
          else
            out.data<uint64_t>()[k] = t.uint64_data(static_cast<int>(k));
        }
        break;
      default:  // int32_data holds INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
        for (size_t k = 0; k < n; ++k) {
          const int32_t v = t.int32_data(static_cast<int>(k));
          auto* p = out.raw_data() + k * itemsize(*dt);
          switch (itemsize(*dt)) {
            case 1: {
              const uint8_t b = *dt == DType::Bool ? uint8_t{v != 0} : static_cast<uint8_t>(v);
              std::memcpy(p, &b, 1);
              break;
            }
            case 2: {
              const uint16_t h = static_cast<uint16_t>(v);
              std::memcpy(p, &h, 2);
              break;
            }
            default:
              std::memcpy(p, &v, 4);
          }
        }
    }
  }
  normalize_bools(out);
  return out;
}

// external_data { location, offset, length }: bytes of a file beside the model. The location
// must be relative and stay inside the model's folder, symlinks resolved.
Tensor Reader::read_external(const pb::TensorProto& t, const std::string& what, DType dt,
                             const Shape& shape, uint64_t nbytes) const {
  std::string location;
  std::optional<uint64_t> offset, length;
  auto number = [&](const std::string& key, const std::string& v) -> uint64_t {
    if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), ::isdigit))
      fail_at(what, "tensor '" + what + "': external_data " + key + " '" + v +
                        "' is not a non-negative integer");
    return std::stoull(v);
  };
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = number("offset", kv.value());
    else if (kv.key() == "length")
      length = number("length", kv.value());
  }
  if (location.empty()) fail_at(what, "tensor '" + what + "' has external data but no location");
  if (!external_.enabled())
    unsupported_at(what, "tensor '" + what + "' keeps its data in '" + location +
                             "', but the model was not read from a folder");
  if (!external_.inside(location))
    fail_at(what, "tensor '" + what + "': external data path '" + location +
                      "' leaves the model's folder (only relative paths inside it are allowed)");
  if (length && *length != nbytes)
    fail_at(what, "tensor '" + what + "': external data length " + std::to_string(*length) +
                      " differs from the " + std::to_string(nbytes) + " bytes its shape needs");
  const ExternalFiles::Bytes& f = external_.open(location, what, [&](const std::string& reason) {
    fail_at(what, "tensor '" + what + "': cannot read external data '" + location + "': " + reason);
  });
  const uint64_t off = offset.value_or(0);
  if (off > f.size || nbytes > f.size - off)
    fail_at(what, "tensor '" + what + "': external data [" + std::to_string(off) + ", +" +
                      std::to_string(nbytes) + ") lies outside '" + location + "' (" +
                      std::to_string(f.size) + " bytes)");
  // A view of the mapping when aligned (the tensor keeps the file mapped), else a copy.
  return ExternalFiles::tensor_at(f, off, nbytes, dt, shape);
}

// ---- values ----

std::string Reader::fresh(const std::string& hint) {
  std::string n = hint;
  for (int k = 1; !taken_.insert(n).second; ++k) n = hint + "_" + std::to_string(k);
  return n;
}

int Reader::new_value(const std::string& name, DType dtype, Shape shape) {
  if (const std::string why = shape_over_limits(shape); !why.empty())
    unsupported_at(cur_ ? cur_label_ : name, where() + "'" + name + "': " + why);
  return g_.add_value(name, dtype, std::move(shape));
}

int Reader::resolve(const std::string& name) {
  if (auto it = bound_.find(name); it != bound_.end()) return it->second;
  auto it = defs_.find(name);
  if (it == defs_.end()) fail("reads '" + name + "', which nothing defines");
  switch (it->second.kind) {
    case Entry::kInitializer: {
      Tensor t = tensor_of(gp().initializer(it->second.index), name);
      const int v = new_value(name, t.dtype(), t.shape());
      // Weights are parameters; integer tensors and scalars (shapes, indices, exponents) are
      // constants.
      if (is_floating(t.dtype()) && t.rank() > 0) params_.insert(v);
      const_[v] = std::move(t);
      bound_[name] = v;
      return v;
    }
    case Entry::kInput: {
      const auto& vi = gp().input(it->second.index);
      const DType dt = elem_dtype(vi.type(), name);
      if (!vi.type().tensor_type().has_shape())
        unsupported_at(name, "input '" + name +
                                 "' has no shape (its rank is unknown; cellar needs each input's "
                                 "rank, its dimensions may be symbolic)");
      // A dim_param (or a dimension with neither value nor param) is open: named by its
      // dim_param, "?" without one, and imported at open_size_.
      std::vector<int64_t> dims;
      std::vector<std::string> symbols;
      const auto& ds = vi.type().tensor_type().shape().dim();
      for (int k = 0; k < ds.size(); ++k) {
        if (ds[k].has_dim_value()) {
          if (ds[k].dim_value() < 0)
            fail_at(name,
                    "'" + name + "' has negative dimension " + std::to_string(ds[k].dim_value()));
          dims.push_back(ds[k].dim_value());
          continue;
        }
        symbols.resize(static_cast<size_t>(ds.size()));
        symbols[static_cast<size_t>(k)] = ds[k].dim_param().empty() ? "?" : ds[k].dim_param();
        dims.push_back(open_size_);
      }
      Shape shape(std::move(dims));
      if (!shape.checked_numel())
        fail_at(name, "element count of '" + name + "' " + shape.str() + " overflows");
      const int v = new_value(name, dt, std::move(shape));
      if (runtime_open_ && !symbols.empty()) dyn_.insert(v);
      g_.values[static_cast<size_t>(v)].symbols = std::move(symbols);
      g_.inputs.push_back(v);
      bound_[name] = v;
      return v;
    }
    case Entry::kNode:
      break;
  }
  if (seqs_.count(name))
    unsupported("reads '" + name +
                "', a sequence, as a tensor (only sequence ops read sequences; a sequence graph "
                "output is not supported)");
  // A node output that its node did not bind (an optional output the rule does not produce).
  fail("reads '" + name + "', an output of node '" + label(it->second.index) +
       "' that cellar does not compute");
}

int Reader::input(size_t i) {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  return resolve(cur_->input(static_cast<int>(i)));
}

std::optional<Tensor> Reader::constant_input(size_t i) {
  if (!has_input(i)) return std::nullopt;
  const std::string& name = cur_->input(static_cast<int>(i));
  if (auto b = bound_.find(name); b != bound_.end()) {
    auto c = const_.find(b->second);
    if (c == const_.end()) return std::nullopt;
    return c->second;
  }
  auto it = defs_.find(name);
  if (it != defs_.end() && it->second.kind == Entry::kInitializer)
    return tensor_of(gp().initializer(it->second.index), name);  // not materialized as a value
  if (it != defs_.end() && it->second.kind == Entry::kNode) resolve(name);  // fails: unbound
  return std::nullopt;
}

int Reader::constant(const Tensor& t) {
  const int v = new_value(fresh(cur_label_ + "/const"), t.dtype(), t.shape());
  const_[v] = t;
  cur_new_.insert(v);
  return v;
}

// ---- attributes ----

const pb::AttributeProto* Reader::find_attr(const std::string& name) const {
  for (const auto& a : cur_->attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

const pb::AttributeProto& Reader::attr_of_kind(const pb::AttributeProto& a, int kind) const {
  if (a.has_ref_attr_name())
    unsupported("attribute '" + a.name() + "' refers to a function attribute");
  int t = a.type();
  if (t == pb::AttributeProto::UNDEFINED) {  // files before IR version 2 leave type unset
    if (a.has_i())
      t = pb::AttributeProto::INT;
    else if (a.has_f())
      t = pb::AttributeProto::FLOAT;
    else if (a.has_s())
      t = pb::AttributeProto::STRING;
    else if (a.has_t())
      t = pb::AttributeProto::TENSOR;
    else if (a.ints_size())
      t = pb::AttributeProto::INTS;
    else if (a.floats_size())
      t = pb::AttributeProto::FLOATS;
  }
  if (t != kind)
    fail("attribute '" + a.name() + "' must be " + attr_type_name(kind) + ", but is " +
         attr_type_name(t));
  return a;
}

int64_t Reader::attr_int(const std::string& name, int64_t dflt) const {
  const auto* a = find_attr(name);
  return a ? attr_of_kind(*a, pb::AttributeProto::INT).i() : dflt;
}
double Reader::attr_float(const std::string& name, double dflt) const {
  const auto* a = find_attr(name);
  return a ? attr_of_kind(*a, pb::AttributeProto::FLOAT).f() : dflt;
}
std::string Reader::attr_string(const std::string& name, const std::string& dflt) const {
  const auto* a = find_attr(name);
  return a ? attr_of_kind(*a, pb::AttributeProto::STRING).s() : dflt;
}
std::optional<std::vector<int64_t>> Reader::attr_ints(const std::string& name) const {
  const auto* a = find_attr(name);
  if (!a) return std::nullopt;
  const auto& x = attr_of_kind(*a, pb::AttributeProto::INTS);
  return std::vector<int64_t>(x.ints().begin(), x.ints().end());
}
std::optional<std::vector<double>> Reader::attr_floats(const std::string& name) const {
  const auto* a = find_attr(name);
  if (!a) return std::nullopt;
  const auto& x = attr_of_kind(*a, pb::AttributeProto::FLOATS);
  return std::vector<double>(x.floats().begin(), x.floats().end());
}
std::optional<Tensor> Reader::attr_tensor(const std::string& name) const {
  const auto* a = find_attr(name);
  if (!a) return std::nullopt;
  return tensor_of(attr_of_kind(*a, pb::AttributeProto::TENSOR).t(), cur_label_ + "." + name);
}

// ---- emitting cellar nodes ----

std::vector<int> Reader::emit(const std::string& op, const std::vector<int>& inputs,
                              ir::Attrs attrs) {
  const ops::OpDef* def = ops::op_table().find(op);
  if (def == nullptr) unsupported("needs cellar op '" + op + "', which the op table does not have");
  const int n = static_cast<int>(inputs.size());
  if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs))
    fail("cellar op " + op + " cannot take " + std::to_string(n) + " inputs");
  std::vector<ops::TensorType> in;
  bool all_const = true;
  for (int v : inputs) {
    in.push_back({g_.value(v).dtype, g_.value(v).shape});
    all_const &= const_.count(v) && !params_.count(v);
  }
  // The output shapes are known only at run time when an input's are, or when a value input
  // (Expand's target) is computed in the graph. Ops whose outputs follow their input types
  // (Shape) give outputs of a fixed shape.
  bool dyn = false;
  if (!def->values_from_types) {
    for (int v : inputs) dyn = dyn || dyn_.count(v);
    for (size_t i : def->value_inputs) dyn = dyn || (i < inputs.size() && !const_.count(inputs[i]));
  }
  // Inputs' values where known: constants, and the representative values of shapes computed at
  // run time (rep_).
  std::vector<Tensor> known(inputs.size());
  bool all_known = true;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (auto c = const_.find(inputs[k]); c != const_.end() && !params_.count(inputs[k]))
      known[k] = c->second;
    else if (auto r = rep_.find(inputs[k]); r != rep_.end())
      known[k] = r->second;
    all_known = all_known && known[k].defined();
  }
  std::vector<ops::TensorType> out;
  try {
    out = ops::infer_node(*def, in, known, attrs);
  } catch (const Error& e) {
    fail(e.reason());
  } catch (const std::exception& e) {  // a shape rule tripping on hostile shapes
    fail(std::string("cellar op ") + op + ": " + e.what());
  }
  // Before folding runs a kernel over them (new_value checks every value too).
  for (const auto& t : out)
    if (const std::string why = shape_over_limits(t.shape); !why.empty())
      unsupported("cellar op " + op + "'s output: " + why);
  int64_t total = 0;
  uint64_t bytes = 0;
  for (const auto& t : out) {
    const auto c = t.shape.checked_numel();
    if (!c || __builtin_add_overflow(total, *c, &total))
      total = kMaxFoldElements + 1;
    else
      bytes += static_cast<uint64_t>(*c) * itemsize(t.dtype);  // ≤ 2^22 × 8 per output
  }
  const std::string base = cur_label_ + "/" + op;
  std::vector<int> values;
  // Folding runs the kernel now: only for nodes whose arithmetic is bounded (a product of two
  // large constants stays a node, computed at run time like any other).
  if (all_const && !def->is_random && def->make_kernel && total <= kMaxFoldElements &&
      within_budget(bytes) && ops::node_work(*def, in, out, attrs) <= ops::kMaxFoldWork) {
    folded_bytes_ += bytes;
    // Everything is known: run the kernel now, the results are constants.
    std::vector<Tensor> xs, ys;
    for (int v : inputs) xs.push_back(const_.at(v));
    for (const auto& t : out) ys.emplace_back(t.dtype, t.shape);
    try {
      def->make_kernel(in, *ops::node_attrs(*def, in, xs, attrs))(xs, ys);
    } catch (const Error& e) {
      fail(e.reason());
    } catch (const std::exception& e) {
      fail(std::string("cellar op ") + op + ": " + e.what());
    }
    for (auto& y : ys) values.push_back(constant(y));
    return values;
  }
  bool follows_value = false;  // an input's shape follows values unknown here
  for (int v : inputs) follows_value = follows_value || by_value_.count(v);
  bool by_value = dyn && follows_value;
  for (size_t i : def->value_inputs)
    by_value = by_value || (dyn && i < inputs.size() && !known[i].defined());
  // A small value computed from shapes (not all constant, but every input's value known here):
  // its representative value, as a plan will compute it from the shapes at run time.
  std::vector<Tensor> rep;
  if (!all_const && all_known && !def->is_random && (def->make_kernel || def->values_from_types) &&
      total <= kMaxRepElements) {
    try {
      if (def->values_from_types) {
        rep = def->values_from_types(in, attrs);
      } else {
        for (const auto& t : out) rep.emplace_back(t.dtype, t.shape);
        def->make_kernel(in, *ops::node_attrs(*def, in, known, attrs))(known, rep);
      }
    } catch (const std::exception&) {
      rep.clear();  // left to the plan, which names the node if the values are bad
    }
  } else if (def->values_from_types && !follows_value && total <= kMaxRepElements) {
    rep = def->values_from_types(in, attrs);
  }
  std::optional<std::vector<bool>> fixed;
  if (rep.size() == 1 && out.size() == 1)
    fixed = fixed_of_output(*def, inputs, attrs, in, known, out[0]);
  if (fixed && std::find(fixed->begin(), fixed->end(), false) == fixed->end() &&
      within_budget(bytes)) {
    folded_bytes_ += bytes;
    values.push_back(constant(rep[0]));
    return values;
  }
  ir::Node node;
  node.name = emitted_++ == 0 ? cur_label_ : base + "_" + std::to_string(emitted_ - 1);
  node.op = op;
  node.inputs = inputs;
  node.attrs = std::move(attrs);
  for (size_t k = 0; k < out.size(); ++k) {
    const int v = new_value(fresh(base + (out.size() > 1 ? ":" + std::to_string(k) : "")),
                            out[k].dtype, out[k].shape);
    if (dyn) dyn_.insert(v);
    if (by_value) {
      by_value_.insert(v);
      g_.values[static_cast<size_t>(v)].symbols.assign(out[k].shape.rank(), "?");
    }
    if (k < rep.size()) rep_[v] = std::move(rep[k]);
    if (fixed) fixed_elements_[v] = std::move(*fixed);
    node.outputs.push_back(v);
    values.push_back(v);
    cur_new_.insert(v);
  }
  g_.nodes.push_back(std::move(node));
  return values;
}

// Which elements of a node's one output are fixed at load, when the node reads a value with
// fixed_elements_: TensorShape's are its input's dimensions that are not open; data movement
// (the ops below, whose indices or attributes are constants) is run on the elements' positions in
// its inputs, each output element then naming the input element it came from. nullopt: no
// input has fixed elements, or the op computes rather than moves (its output is then fixed only
// when all its inputs are constants, and folds as such).
std::optional<std::vector<bool>> Reader::fixed_of_output(const ops::OpDef& def,
                                                         const std::vector<int>& inputs,
                                                         const ir::Attrs& attrs,
                                                         const std::vector<ops::TensorType>& in,
                                                         const std::vector<Tensor>& known,
                                                         const ops::TensorType& out) const {
  auto is_index = [](DType dt) { return dt == DType::Int64 || dt == DType::Int32; };
  if (def.name == "TensorShape") {
    const ir::ValueInfo x = info(inputs.at(0));
    if (!runtime_open_ || out.shape != Shape{static_cast<int64_t>(x.shape.rank())}) return {};
    std::vector<bool> fixed(x.shape.rank());
    for (size_t d = 0; d < fixed.size(); ++d) fixed[d] = !x.open(d) && !by_value_.count(inputs[0]);
    return fixed;
  }
  static const std::set<std::string> kMoves = {"Gather",  "Concat", "ExpandDims",  "Squeeze",
                                               "Reshape", "Cast",   "StridedSlice"};
  if (!kMoves.count(def.name) || !def.make_kernel || !is_index(out.dtype)) return {};
  // Reshape and StridedSlice move elements only in their one-input forms (the others take their
  // shape or bounds at run time); Gather's indices must be constants.
  if ((def.name == "Reshape" || def.name == "StridedSlice") && inputs.size() != 1) return {};
  const size_t moved = def.name == "Gather" ? 1 : inputs.size();
  for (size_t k = moved; k < inputs.size(); ++k)
    if (!const_.count(inputs[k])) return {};
  std::vector<bool> source;  // per element of the moved inputs, in order: fixed at load
  std::vector<Tensor> ids(known.begin(), known.end());
  bool any = false;
  for (size_t k = 0; k < moved; ++k) {
    if (!is_index(in[k].dtype) || !known[k].defined()) return {};
    const int64_t n = known[k].numel();
    if (static_cast<int64_t>(source.size()) + n > kMaxRepElements) return {};
    const auto f = fixed_elements_.find(inputs[k]);
    any = any || f != fixed_elements_.end();
    const bool whole = const_.count(inputs[k]) > 0;
    Tensor id(in[k].dtype, in[k].shape);
    for (int64_t e = 0; e < n; ++e) {
      const auto pos = static_cast<int64_t>(source.size());
      if (in[k].dtype == DType::Int64)
        id.data<int64_t>()[e] = pos;
      else
        id.data<int32_t>()[e] = static_cast<int32_t>(pos);
      source.push_back(whole ||
                       (f != fixed_elements_.end() && static_cast<size_t>(e) < f->second.size() &&
                        f->second[static_cast<size_t>(e)]));
    }
    ids[k] = std::move(id);
  }
  if (!any) return {};
  std::vector<Tensor> y{Tensor(out.dtype, out.shape)};
  try {
    const auto a = ops::node_attrs(def, in, ids, attrs);
    if (!a) return {};
    def.make_kernel(in, *a)(ids, y);
  } catch (const std::exception&) {
    return {};
  }
  std::vector<bool> fixed(static_cast<size_t>(y[0].numel()));
  for (size_t j = 0; j < fixed.size(); ++j) {
    const int64_t from =
        out.dtype == DType::Int64 ? y[0].data<int64_t>()[j] : y[0].data<int32_t>()[j];
    if (from < 0 || from >= static_cast<int64_t>(source.size())) return {};
    fixed[j] = source[static_cast<size_t>(from)];
  }
  return fixed;
}

void Reader::set_output(size_t i, int value) {
  if (!has_output(i)) return;  // an omitted optional output
  const std::string& name = cur_->output(static_cast<int>(i));
  if (bound_.count(name)) fail("output '" + name + "' is bound twice");
  if (cur_new_.erase(value)) g_.values[static_cast<size_t>(value)].name = name;  // own value
  bound_[name] = value;
  if (!follows_) return;
  if (auto it = follows_->find(name); it != follows_->end()) {
    auto& open = open_at_[value];
    open.resize(std::max(open.size(), it->second.size()), false);
    for (size_t d = 0; d < it->second.size(); ++d) open[d] = open[d] || it->second[d];
  }
}

void Reader::check_declared(const pb::ValueInfoProto& vi, int value,
                            const std::string& what) const {
  if (!vi.has_type()) return;
  const auto& info = g_.value(value);
  if (vi.type().has_tensor_type() && vi.type().tensor_type().has_elem_type()) {
    const auto dt = dtype_from_onnx(vi.type().tensor_type().elem_type());
    if (!dt || *dt != info.dtype)
      fail_at(what, "'" + what + "' is declared with elem_type " +
                        std::to_string(vi.type().tensor_type().elem_type()) + ", but is " +
                        std::string(mindspore_name(info.dtype)));
  }
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return;
  const auto& dims = vi.type().tensor_type().shape().dim();
  bool agree = static_cast<size_t>(dims.size()) == info.shape.rank();
  for (int k = 0; agree && k < dims.size(); ++k)
    if (dims[k].has_dim_value() && !info.open(static_cast<size_t>(k)) && !dyn_.count(value) &&
        dims[k].dim_value() != info.shape[static_cast<size_t>(k)])
      agree = false;
  if (!agree) {
    std::string decl = "(";
    for (int k = 0; k < dims.size(); ++k)
      decl += (k ? ", " : "") +
              (dims[k].has_dim_value() ? std::to_string(dims[k].dim_value()) : dims[k].dim_param());
    decl += dims.size() == 1 ? ",)" : ")";
    fail_at(what, "'" + what + "' is declared with shape " + decl + ", but the ops give " +
                      info.shape.str());
  }
}

// Every node whose op type no rule reads, reported at once (throw_unsupported_ops).
void Reader::check_ops_known() const {
  std::vector<std::pair<std::string, std::string>> unknown;
  for (int i = 0; i < gp().node_size(); ++i) {
    const auto& n = gp().node(i);
    if (!onnx_op_known(n)) unknown.emplace_back(onnx_op_name(n), label(i));
  }
  if (!unknown.empty()) throw_unsupported_ops(unknown, file_);
}

void Reader::import_node(int i) {
  const auto& n = gp().node(i);
  cur_ = &n;
  cur_label_ = label(i);
  cur_new_.clear();
  emitted_ = 0;
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    unsupported("op domain '" + n.domain() + "' is not supported (only the default ONNX domain)");
  std::set<std::string> seen;
  for (const auto& a : n.attribute()) {
    if (!seen.insert(a.name()).second) fail("attribute '" + a.name() + "' is given twice");
    if (a.type() == pb::AttributeProto::GRAPH || a.type() == pb::AttributeProto::GRAPHS ||
        a.has_g() || a.graphs_size())
      unsupported("sub-graphs (control flow) are not supported");
  }
  std::vector<pb::NodeProto> upgraded;
  if (opset_ < kOnnxUpgradeTarget) {
    const OnnxUpgradeContext ctx{
        .rank = [&](const std::string& name) { return rank(resolve(name)); },
        .elem_type = [&](const std::string& name) -> int64_t {
          return dtype_to_onnx(g_.value(resolve(name)).dtype).value_or(0);
        },
        .fresh = [&](const std::string& hint) { return fresh(hint); },
        .fail = [&](const std::string& why) { fail(why); },
        .unsupported = [&](const std::string& why) { unsupported(why); }};
    upgraded = upgrade_onnx_node(n, opset_, ctx);
  }
  if (upgraded.empty()) {
    import_one(n);
  } else {
    // Every step is named after the file's node in errors; only the last binds its outputs.
    for (const auto& step : upgraded) import_one(step);
  }
  for (int k = 0; k < n.output_size(); ++k) {
    const std::string& o = n.output(k);
    if (!o.empty() && !bound_.count(o) && !seqs_.count(o) && needed_.count(o))
      unsupported("output " + std::to_string(k) + " ('" + o + "') is not supported");
  }
  cur_ = nullptr;
}

void Reader::import_one(const pb::NodeProto& n) {
  const pb::NodeProto* outer = cur_;
  cur_ = &n;
  try {
    if (is_onnx_sequence_op(n.op_type())) {
      const std::vector<std::string> ins(n.input().begin(), n.input().end());
      const std::vector<std::string> outs(n.output().begin(), n.output().end());
      import_onnx_sequence_op(*this, ins, outs, seqs_);
    } else {
      const ops::OnnxImportFn* rule = ops::op_table().find_onnx_import(n.op_type());
      if (rule == nullptr) rule = find_onnx_format_rule(n.op_type());
      if (rule == nullptr) unsupported("op type '" + n.op_type() + "' is not supported");
      (*rule)(*this);
    }
  } catch (const ValueError& e) {
    // A helper's refusal (an index range too large, a tensor's shape check) carries no file or
    // node: name them. The rule's own fail() and unsupported() have named them already.
    if (!e.file().empty()) throw;
    throw ValueError(e.code(), where() + e.reason(), {.file = file_, .tensor = cur_label_});
  }
  cur_ = outer;
}

// Values and nodes are kept only when something reads them; constants become initializers.
ir::Graph Reader::finish() {
  std::vector<int> used(g_.values.size(), 0);
  for (int v : g_.inputs) used[static_cast<size_t>(v)] = 1;
  for (int v : g_.outputs) used[static_cast<size_t>(v)] = 1;
  // Nodes in reverse: a node is live when one of its outputs is used.
  std::vector<bool> live(g_.nodes.size(), false);
  for (size_t k = g_.nodes.size(); k-- > 0;) {
    for (int v : g_.nodes[k].outputs) live[k] = live[k] || used[static_cast<size_t>(v)];
    if (live[k]) {
      for (int v : g_.nodes[k].inputs) used[static_cast<size_t>(v)] = 1;
      for (int v : g_.nodes[k].outputs) used[static_cast<size_t>(v)] = 1;
    }
  }
  ir::Graph out;
  out.name = g_.name;
  std::vector<int> remap(g_.values.size(), -1);
  for (size_t v = 0; v < g_.values.size(); ++v)
    if (used[v])
      remap[v] = out.add_value(g_.values[v].name, g_.values[v].dtype, g_.values[v].shape);
  for (size_t v = 0; v < g_.values.size(); ++v)
    if (used[v]) out.values[static_cast<size_t>(remap[v])].symbols = g_.values[v].symbols;
  auto m = [&](int v) { return remap[static_cast<size_t>(v)]; };
  for (int v : g_.inputs) out.inputs.push_back(m(v));
  for (const auto& [v, t] : const_)
    if (used[static_cast<size_t>(v)])
      out.initializers.push_back({.value = m(v), .data = t, .is_parameter = params_.count(v) > 0});
  for (size_t k = 0; k < g_.nodes.size(); ++k) {
    if (!live[k]) continue;
    ir::Node n = std::move(g_.nodes[k]);
    for (int& v : n.inputs) v = m(v);
    for (int& v : n.outputs) v = m(v);
    out.nodes.push_back(std::move(n));
  }
  for (int v : g_.outputs) out.outputs.push_back(m(v));
  return out;
}

ir::Graph Reader::run() {
  if (!model_.has_graph()) fail_at("", "the model has no graph");
  if (!model_.has_ir_version()) fail_at("", "the model has no ir_version");
  if (model_.functions_size() > 0) unsupported_at("", "model-local functions are not supported");
  read_opset();
  const auto& g = gp();
  g_.name = g.name().empty() ? "graph" : g.name();
  if (g.sparse_initializer_size() > 0)
    unsupported_at(g.sparse_initializer(0).values().name(),
                   "sparse initializers are not supported");
  index_names();
  // Text before ops: a model on string tensors fails for that, whatever ops read them.
  for (const auto& in : g.input())
    if (in.type().has_tensor_type() &&
        in.type().tensor_type().elem_type() == pb::TensorProto::STRING)
      unsupported_at(in.name(),
                     "input '" + in.name() +
                         "' is a string tensor (ONNX elem_type 8, STRING); cellar's tensors hold "
                         "numbers (fixed-size elements in one buffer), so text ops such as "
                         "StringNormalizer are out of its scope, see docs/onnx_backend.md");
  check_ops_known();

  std::vector<std::string> roots;
  for (const auto& o : g.output()) {
    if (o.name().empty()) fail_at("graph output", "a graph output has no name");
    roots.push_back(o.name());
  }
  if (roots.empty()) fail_at(g_.name, "the graph declares no outputs");
  // Every declared input is an input of the graph, used or not, in file order.
  for (const auto& in : g.input()) resolve(in.name());
  for (int i : order_from(roots)) import_node(i);

  for (const auto& o : g.output()) {
    const int v = resolve(o.name());
    check_declared(o, v, o.name());
    g_.outputs.push_back(v);
  }
  for (const auto& vi : g.value_info())
    if (auto it = bound_.find(vi.name()); it != bound_.end())
      check_declared(vi, it->second, vi.name());
  return finish();
}

// ============================================================================================
// Writer
// ============================================================================================

void set_value_info(pb::ValueInfoProto* vi, const std::string& name, const ir::ValueInfo& info) {
  vi->set_name(name);
  const auto dt = dtype_to_onnx(info.dtype);
  if (!dt)
    throw ExportError("ONNX: value '" + info.name + "' has dtype " +
                          std::string(mindspore_name(info.dtype)) + ", which ONNX cannot hold",
                      {.tensor = info.name});
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(*dt);
  auto* shape = tt->mutable_shape();
  for (int64_t d : info.shape) shape->add_dim()->set_dim_value(d);
}

// An initializer whose bytes build_model left out (`held`): the writer places them inline or in
// external data once it knows the model's size.
struct HeldTensor {
  int index;  // in GraphProto.initializer
  const Tensor* data;
};

// ONNX's own convention (onnx.external_data_helper's size_threshold): smaller tensors stay inline.
constexpr uint64_t kExternalMinBytes = 1024;

pb::ModelProto build_model(const ir::Graph& g, std::vector<HeldTensor>* held = nullptr) {
  pb::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name(kProducer);
  m.set_producer_version(kVersion);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(kOnnxWriteOpset);
  auto* gp = m.mutable_graph();
  gp->set_name(g.name.empty() ? "graph" : g.name);

  const size_t nv = g.values.size();
  auto check = [&](int v, const std::string& where) {
    if (v < 0 || static_cast<size_t>(v) >= nv)
      throw ExportError("ONNX: " + where + " refers to value id " + std::to_string(v) +
                        ", out of range");
  };
  std::set<std::string> names;
  for (const auto& v : g.values)
    if (!names.insert(v.name).second)
      throw ExportError("ONNX: two values are named '" + v.name + "'", {.tensor = v.name});
  if (g.outputs.empty()) throw ExportError("ONNX: the graph has no outputs");

  GraphProtoBuilder b(g, *gp);
  std::vector<bool> defined_outside(nv, false);  // inputs and initializers
  for (int v : g.inputs) {
    check(v, "a graph input");
    set_value_info(gp->add_input(), b.name(v), g.value(v));
    defined_outside[static_cast<size_t>(v)] = true;
  }
  for (const auto& init : g.initializers) {
    check(init.value, "an initializer");
    if (!init.data.defined() || init.data.is_symbolic())
      throw ExportError("ONNX: initializer '" + g.value(init.value).name + "' has no data");
    const bool hold = held && init.data.nbytes() >= kExternalMinBytes;
    if (hold) held->push_back({gp->initializer_size(), &init.data});
    fill_onnx_tensor(*gp->add_initializer(), init.data, b.name(init.value), !hold);
    defined_outside[static_cast<size_t>(init.value)] = true;
  }
  for (const auto& n : g.nodes)
    for (int v : n.inputs) check(v, "node '" + n.name + "'");
  const auto& table = ops::op_table();
  for (size_t idx : g.topological_order()) {
    const ir::Node& node = g.nodes[idx];
    for (int v : node.outputs) check(v, "node '" + node.name + "'");
    const ops::OpDef* def = table.find(node.op);
    if (def == nullptr || !def->onnx)
      throw ExportError("ONNX: op '" + node.op + "' (node '" + node.name +
                            "') has no ONNX spelling in the op table",
                        {.tensor = node.name});
    def->onnx(b, node);
  }
  std::set<int> written;
  for (int v : g.outputs) {
    check(v, "a graph output");
    std::string name = b.name(v);
    // ONNX outputs are produced by nodes, once each: an input, an initializer or a repeated
    // output goes through an Identity.
    if (defined_outside[static_cast<size_t>(v)] || !written.insert(v).second) {
      const std::string copy = b.fresh(name + "_output");
      b.add("Identity", {name}, {copy});
      name = copy;
    }
    set_value_info(gp->add_output(), name, g.value(v));
  }
  return m;
}

}  // namespace

ir::Graph read_onnx(std::span<const std::byte> bytes, const std::string& file,
                    const std::filesystem::path& base_dir, uint64_t max_load_constant_bytes) {
  return onnx_format().read(
      bytes, file,
      GraphReadOptions{.base_dir = base_dir, .max_load_constant_bytes = max_load_constant_bytes});
}

ir::Graph OnnxFormat::read(std::span<const std::byte> bytes, const std::string& file,
                           const GraphReadOptions& options) const {
  if (bytes.empty()) throw FormatError("empty file", {.file = file});
  if (bytes.size() > kMaxModelBytes)
    throw Error(ErrorCode::kUnsupported,
                "ONNX model of " + std::to_string(bytes.size()) +
                    " bytes is over protobuf's 2 GiB limit (keep weights in external data)",
                {.file = file});
  pb::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError("not a valid onnx.ModelProto (protobuf parse failed: truncated or corrupt)",
                      {.file = file});
  // Open (symbolic) input dimensions: the reader folds shape arithmetic into constants, so the
  // model is imported at two sizes of its open dimensions and must give the same graph; a Reshape
  // to the batch read from the input (torch's x.view(x.size(0), -1)) is repaired to follow it, and
  // a model whose ops or constants change with them otherwise would compute with the wrong size
  // at any other, and is refused (reconcile_open_dims).
  // When that refuses the model, it is read once more with the shapes that read an open
  // dimension computed at run time (a Shape node feeding Expand's target: the executor plans with
  // the values), which must give the same graph at both sizes too. An open dimension there is an
  // open input dimension or one of an intermediate value that the two first readings gave
  // different sizes (Swin's windows, 64 × batch).
  FollowsOpen follows;
  std::map<std::string, Shape> shapes_at_1;
  ir::Graph g;
  {
    Reader first(model, file, options, 1);
    g = first.run();
    if (!g.symbolic()) return g;
    shapes_at_1 = first.bound_shapes();
  }
  constexpr int64_t kProbe = 7;
  auto reconciled = [&](ir::Graph a, bool runtime_open) {
    ir::Graph probe;
    try {
      Reader r(model, file, options, kProbe, runtime_open, runtime_open ? &follows : nullptr);
      probe = r.run();
      if (!runtime_open)
        for (const auto& [name, s7] : r.bound_shapes()) {
          auto it = shapes_at_1.find(name);
          if (it == shapes_at_1.end() || it->second.rank() != s7.rank()) continue;
          std::vector<bool> moves(s7.rank(), false);
          bool any = false;
          for (size_t d = 0; d < s7.rank(); ++d) {
            moves[d] = it->second[d] != s7[d];
            any = any || moves[d];
          }
          if (any) follows.emplace(name, std::move(moves));
        }
    } catch (const Error& e) {
      throw Error(ErrorCode::kUnsupported,
                  "the model loads with its symbolic dimensions at 1 but not at " +
                      std::to_string(kProbe) + " (" + e.reason() +
                      "): it does not run at other sizes; export with fixed input sizes",
                  {.file = file, .tensor = e.tensor()});
    }
    reconcile_open_dims(a, probe, 1, kProbe, file);
    a.derive_symbols();
    return a;
  };
  try {
    return reconciled(std::move(g), false);
  } catch (const Error& folded) {
    if (folded.code() != ErrorCode::kUnsupported) throw;
    try {
      return reconciled(Reader(model, file, options, 1, true, &follows).run(), true);
    } catch (const Error& second) {
      // The first reason leads (the one about the model as exported); the second says what stops
      // computing its shapes at run time.
      const std::string at = second.tensor().empty() ? "" : "'" + second.tensor() + "': ";
      throw Error(ErrorCode::kUnsupported,
                  folded.reason() + ". Read with its shapes computed at run time, it stops at " +
                      at + second.reason(),
                  {.file = file, .tensor = folded.tensor()});
    }
  }
}

std::vector<OpCount> onnx_op_census(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.empty()) throw FormatError("empty file", {.file = file});
  pb::ModelProto model;
  if (bytes.size() > kMaxModelBytes ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError("not a valid onnx.ModelProto (protobuf parse failed: truncated or corrupt)",
                      {.file = file});
  std::vector<CensusEntry> nodes;
  for (const auto& n : model.graph().node()) nodes.push_back({onnx_op_name(n), onnx_op_known(n)});
  return count_ops(nodes);
}

std::string write_onnx(const ir::Graph& graph) {
  const pb::ModelProto m = build_model(graph);
  const size_t n = m.ByteSizeLong();
  if (n > kMaxModelBytes)
    throw Error(ErrorCode::kUnsupported,
                "ONNX model of " + std::to_string(n) +
                    " bytes is over protobuf's 2 GiB limit: write it to a file, where its weights "
                    "go to external data");
  std::string out;
  if (!m.SerializeToString(&out)) throw ExportError("ONNX: protobuf serialization failed");
  return out;
}

bool OnnxFormat::sniff(std::span<const std::byte> head) const {
  if (head.size() < 2) return false;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(head[i]); };
  // Field 1 (ir_version) as a varint: tag 0x08, then a small version (1 to 127 in one byte).
  return b(0) == 0x08 && b(1) >= 1 && b(1) < 0x80;
}

std::filesystem::path OnnxFormat::write(const ir::Graph& graph, const std::filesystem::path& path,
                                        const GraphWriteOptions& options) const {
  if (options.enc)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "enc_key: only MindIR files are encrypted (MindSpore encrypts ONNX only with "
                     "a custom function)");
  std::vector<HeldTensor> held;
  pb::ModelProto m = build_model(graph, &held);
  // The model's size with every held tensor inline: its bytes, the raw_data key and length
  // (≤ 11 bytes) and the growth of the TensorProto's own length prefix (≤ 5 bytes).
  uint64_t inline_size = m.ByteSizeLong();
  for (const HeldTensor& h : held) inline_size += h.data->nbytes() + 16;
  auto* gp = m.mutable_graph();
  const auto serialize = [&](std::string& out) {
    const size_t n = m.ByteSizeLong();
    if (n > kMaxModelBytes)
      throw Error(ErrorCode::kUnsupported,
                  "ONNX model of " + std::to_string(n) +
                      " bytes without its weights is over protobuf's "
                      "2 GiB limit",
                  {.file = path.string()});
    if (!m.SerializeToString(&out)) throw ExportError("ONNX: protobuf serialization failed");
  };
  if (!options.external_data && inline_size <= kMaxModelBytes) {
    for (const HeldTensor& h : held) {
      const auto b = h.data->bytes();
      gp->mutable_initializer(h.index)->set_raw_data(reinterpret_cast<const char*>(b.data()),
                                                     b.size());
    }
    std::string bytes;
    serialize(bytes);
    AtomicFile out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
    return path;
  }
  // External data (onnx/docs/ExternalData.md): every held tensor in one file beside the model,
  // `<model file name>.data`, named relative to the model's folder; offsets aligned to 64 bytes
  // (4096 for tensors of 1 MiB or more, a page, for readers that map them), zeros between.
  const std::string location = path.filename().string() + ".data";
  const std::filesystem::path dir = path.parent_path();
  AtomicFile data(dir / location);
  static const std::array<char, 4096> zeros{};
  uint64_t offset = 0;
  for (const HeldTensor& h : held) {
    const uint64_t n = h.data->nbytes();
    const uint64_t align = n >= (uint64_t{1} << 20) ? 4096 : 64;
    const uint64_t pad = (align - offset % align) % align;
    data.write(zeros.data(), pad);
    offset += pad;
    data.write(h.data->bytes());
    auto* t = gp->mutable_initializer(h.index);
    t->set_data_location(pb::TensorProto::EXTERNAL);
    auto add = [&](const char* key, const std::string& value) {
      auto* kv = t->add_external_data();
      kv->set_key(key);
      kv->set_value(value);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(n));
    offset += n;
  }
  std::string bytes;
  serialize(bytes);
  AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  data.commit();  // the weights first: a committed model never names missing bytes
  out.commit();
  return path;
}

void OnnxFormat::write(const ir::Graph& graph, AtomicFile& out) const {
  const std::string bytes = write_onnx(graph);
  out.write(bytes.data(), bytes.size());
}

const GraphFormat& onnx_format() {
  static const OnnxFormat format;
  return format;
}

}  // namespace cellar::formats
