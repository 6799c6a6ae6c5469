// MindIR reader: file bytes → Graph. The layout is described in formats/mindir.h; the schema in
// mind_ir.proto; what MindSpore 1.x spells differently is in dialect_1x.cpp.
//
// The reader works in three passes so that hostile files cannot make it recurse deeply or
// dereference a bad name: (1) index every name the graph defines (inputs, parameters, node
// outputs; duplicates refused), (2) walk from the graph outputs with an explicit stack, in
// post-order, refusing dangling names and cycles, (3) build the Graph in that order, so every
// node's inputs are resolved before the node.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "formats/graph_reader.h"
#include "formats/mindir/mindir_impl.h"
#include "ops/op_table.h"

namespace cellar::formats {

using namespace mindir;  // NOLINT: this file is MindIR's

namespace {

// ============================================================================================
// External weight files (MindSpore's `<name>_variables/data_N`), layout in mindir.h
// ============================================================================================

// The data files a model names, each opened (and decrypted) once (graph_reader.h).
class ExternalData {
 public:
  ExternalData(std::string file, const MindIRReadOptions& options)
      : file_(std::move(file)), files_(options.base_dir, options.dec) {}

  Tensor read(const pb::TensorProto& t, const std::string& where, DType dt, const Shape& shape,
              uint64_t nbytes) {
    const auto& e = t.external_data();
    const std::string& location = e.location();
    auto fail = [&](const std::string& why) -> void {
      throw FormatError("external data '" + location + "': " + why,
                        {.file = file_, .tensor = where});
    };
    if (location.empty()) fail("no location");
    if (!files_.enabled())
      throw Error(
          ErrorCode::kUnsupported,
          "weights in external data ('" + location + "') need the model to be read from a folder",
          {.file = file_, .tensor = where});
    if (!files_.inside(location))
      fail("the path leaves the model's folder (only relative paths inside it are allowed)");
    if (!e.has_offset() || e.offset() < static_cast<int64_t>(kMindIRDataHeader))
      fail("offset " + std::to_string(e.offset()) + " lies in the file's " +
           std::to_string(kMindIRDataHeader) + "-byte header");
    if (!e.has_length() || e.length() < 0 || static_cast<uint64_t>(e.length()) != nbytes)
      fail("length " + std::to_string(e.length()) + " differs from the " + std::to_string(nbytes) +
           " bytes of " + std::string(mindspore_name(dt)) + shape.str());
    const ExternalFiles::Bytes& src = open(location, where);
    const auto off = static_cast<uint64_t>(e.offset());
    if (off > src.size || nbytes > src.size - off)
      fail("[" + std::to_string(off) + ", +" + std::to_string(nbytes) + ") lies outside the " +
           std::to_string(src.size) + " bytes of the file" + (src.map ? "" : " (decrypted)"));
    return ExternalFiles::tensor_at(src, off, nbytes, dt, shape);
  }

 private:
  // The file, checked once: its header says little-endian.
  const ExternalFiles::Bytes& open(const std::string& location, const std::string& where) {
    const ExternalFiles::Bytes& src = files_.open(location, where, [&](const std::string& reason) {
      throw FormatError("cannot read external data '" + location + "': " + reason,
                        {.file = file_, .tensor = where});
    });
    if (checked_.count(location)) return src;
    const std::filesystem::path path = files_.base_dir() / location;
    if (src.size < kMindIRDataHeader)
      throw FormatError("external data file is shorter than its " +
                            std::to_string(kMindIRDataHeader) + "-byte header",
                        {.file = path.string(), .tensor = where});
    const auto order = static_cast<uint8_t>(src.data[0]);
    if (order == 0)
      throw Error(ErrorCode::kUnsupported,
                  "external data file was written on a big-endian machine (header byte 0 is 0)",
                  {.file = path.string(), .tensor = where});
    if (order != 1)
      throw FormatError("external data file header byte 0 is " + std::to_string(order) +
                            ", not 1 (little-endian)",
                        {.file = path.string(), .tensor = where, .offset = 0});
    checked_.insert(location);
    return src;
  }

  std::string file_;
  ExternalFiles files_;
  std::set<std::string> checked_;
};

// ============================================================================================
// Op names
// ============================================================================================

using PrimitiveIndex = std::unordered_map<std::string, const pb::PrimitiveProto*>;

// The primitive a node calls, as MindSpore names it: "REF::<key>" looks the key up in the
// file's primitives (its op_type, else the key up to its ":<uid>"), anything else is the bare
// name 1.x wrote; without 1.x's "S-Prim-" prefix. nullopt: a "REF::" key the file does not define.
std::optional<std::string> node_primitive(const pb::NodeProto& n, const PrimitiveIndex& prims) {
  const std::string& op = n.op_type();
  std::string primitive;
  if (op.rfind("REF::", 0) == 0) {
    const std::string key = op.substr(5);
    auto it = prims.find(key);
    if (it == prims.end()) return std::nullopt;
    primitive = it->second->op_type();
    if (primitive.empty()) primitive = key.substr(0, key.find(':'));
  } else {
    primitive = bare_primitive_1x(op);
  }
  return strip_python_prefix_1x(std::move(primitive));
}

// MindSpore's graph-mode plumbing: understood by the reader, no op of the table (the names
// Reader::classify maps to its plumbing kinds).
bool is_plumbing(const std::string& primitive) {
  static const std::set<std::string> kPlumbing = {
      "Load", "Depend", "UpdateState", "MakeTuple", "make_list", "TupleGetItem", "Return"};
  return kPlumbing.count(primitive) > 0;
}

bool calls_subgraph(const pb::ModelProto& m, const std::string& op_type) {
  for (const auto& f : m.functions())
    if (f.name() == op_type) return true;
  return false;
}

// ============================================================================================
// Reader
// ============================================================================================

class Reader {
 public:
  // The reader takes parameters' raw_data strings out of `model` (see tensor_of's `take`).
  // `in_place`: per parameter, where its raw_data lies in `bytes` when the skeleton left it out of
  // `model` (in_place.cpp); `bytes` lie in options.source, which tensors may then view.
  Reader(pb::ModelProto& model, std::string file, const MindIRReadOptions& options,
         std::span<const std::byte> bytes = {},
         std::vector<std::optional<InPlaceBytes>> in_place = {})
      : model_(model),
        file_(std::move(file)),
        bytes_(bytes),
        source_(options.source),
        in_place_(std::move(in_place)),
        external_(file_, options) {}
  ir::Graph run();

 private:
  // What a file name resolves to while building the graph.
  struct Ref {
    enum Kind { kValue, kTuple, kMonad, kConst, kNone } kind = kNone;
    int value = -1;                                 // kValue
    std::shared_ptr<const std::vector<Ref>> items;  // kTuple
    size_t depth = 0;                               // tuple nesting
    const pb::AttributeProto* constant = nullptr;   // kConst: the Constant node's value
    int node = -1;                                  // kConst: the Constant node (file index)
  };
  enum class Kind {
    kConstant,
    kLoad,
    kDepend,
    kUpdateState,
    kMakeTuple,
    kTupleGetItem,
    kReturn,
    kOp
  };
  struct NodeInfo {
    Kind kind = Kind::kOp;
    std::string primitive;                     // primitive (op) name for kOp
    const pb::PrimitiveProto* prim = nullptr;  // null: attrs on the node itself (old files)
    const ops::OpDef* def = nullptr;
    const ops::MindIRVariant* variant = nullptr;  // the primitive is one of the row's variants
  };
  struct Def {
    enum Kind { kInput, kParam, kNode } kind;
    int index;  // value id for inputs/params, node index for nodes
  };

  [[noreturn]] void fail(const std::string& where, const std::string& why) const {
    throw FormatError(why, {.file = file_, .tensor = where});
  }
  [[noreturn]] void unsupported(const std::string& where, const std::string& why) const {
    throw Error(ErrorCode::kUnsupported, why, {.file = file_, .tensor = where});
  }
  std::string strip(const std::string& name) const {
    if (!prefix_.empty() && name.size() > prefix_.size() &&
        name.compare(0, prefix_.size(), prefix_) == 0)
      return name.substr(prefix_.size());
    return name;
  }
  std::string node_label(int i) const {
    const auto& n = graph_proto().node(i);
    const std::string& nm = n.name().empty() && n.output_size() > 0 ? n.output(0) : n.name();
    return nm.empty() ? "node #" + std::to_string(i) : strip(nm);
  }
  const pb::GraphProto& graph_proto() const { return model_.graph(); }

  int new_value(const std::string& name, DType dtype, Shape shape, const std::string& where);
  Shape dims_of(const pb::TensorProto& t, const std::string& where) const;
  DType dtype_of(const pb::TensorProto& t, const std::string& where) const;
  // `take`: t is a parameter, read once, whose raw_data string the tensor may keep instead of a
  // copy of it (so the weights are held once, not twice, until the message is freed).
  // `in_place`: t's raw_data, left out of t by the skeleton, lies there in bytes_.
  Tensor tensor_of(const pb::TensorProto& t, const std::string& where,
                   pb::TensorProto* take = nullptr, const InPlaceBytes* in_place = nullptr) const;
  // The tensor over the raw_data bytes `at` of bytes_, whose size tensor_of has checked.
  Tensor in_place_tensor(DType dt, const Shape& shape, const InPlaceBytes& at) const;
  std::optional<ir::Attr> attr_of(const pb::AttributeProto& a, const std::string& where,
                                  bool strict) const;
  std::optional<std::vector<ops::TensorType>> output_types(const pb::NodeProto& n, int i) const;

  void index_primitives();
  void index_names();
  void check_ops_known() const;
  NodeInfo classify(int i) const;
  std::vector<int> dependencies(int i) const;
  std::vector<int> order_from(const std::vector<std::string>& roots);
  Ref resolve_name(const std::string& name, const std::string& where) const;
  void build_node(int i);
  int const_tensor(const Ref& r, const std::string& where);
  void promote_constants(const ops::OpDef& def, const std::vector<Ref>& tensors, ir::Node& node);
  int split_inputs(const ops::OpDef& def, const ops::MindIRSpelling& sp, std::vector<Ref>& ins,
                   const std::string& where) const;
  bool is_argument(const Ref& r) const;
  std::optional<ir::Attr> argument(const Ref& r, const std::string& where, const std::string& what,
                                   size_t depth) const;
  void flatten_outputs(const Ref& r, const std::string& where, std::vector<int>& out) const;
  void infer_missing_types();
  void drop_unread_constants();

  pb::ModelProto& model_;
  std::string file_;
  std::span<const std::byte> bytes_;
  std::shared_ptr<MappedFile> source_;
  std::vector<std::optional<InPlaceBytes>> in_place_;
  std::string prefix_;
  ir::Graph g_;
  std::set<std::string> value_names_;
  PrimitiveIndex prims_;
  NameIndex<Def> defs_;
  std::vector<NodeInfo> info_;
  std::vector<Ref> refs_;  // per file node, once built
  std::vector<bool> built_;
  std::map<int, int> const_values_;                       // Constant node → initializer value id
  std::map<std::pair<int, DType>, int> promoted_values_;  // (Constant node, dtype) → value id
  std::vector<bool> typed_;  // value id → dtype/shape known from the file
  mutable ExternalData external_;
};

// Names in the file are unique (index_names checks); stripped of the "<graph>:" prefix they may
// not be (MindSpore names value nodes without the prefix: a constant "y" next to input "G:y").
// The first keeps the short name, later ones get a suffix.
int Reader::new_value(const std::string& name, DType dtype, Shape shape, const std::string& where) {
  if (const std::string why = shape_over_limits(shape); !why.empty())
    unsupported(where, "'" + name + "': " + why);
  std::string unique = name;
  for (int k = 1; !value_names_.insert(unique).second; ++k) unique = name + "_" + std::to_string(k);
  typed_.push_back(true);
  return g_.add_value(unique, dtype, std::move(shape));
}

Shape Reader::dims_of(const pb::TensorProto& t, const std::string& where) const {
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  for (int64_t d : dims)
    if (d < 0)
      unsupported(where, "negative dimension " + std::to_string(d) +
                             " (only a graph input's may be -1, a dynamic dimension)");
  Shape s(std::move(dims));
  if (!s.checked_numel()) fail(where, "element count of shape " + s.str() + " overflows");
  return s;
}

DType Reader::dtype_of(const pb::TensorProto& t, const std::string& where) const {
  if (!t.has_data_type()) fail(where, "tensor has no data_type");
  auto dt = dtype_from_mindir(t.data_type());
  if (!dt) unsupported(where, "data_type " + std::to_string(t.data_type()) + " is not supported");
  return *dt;
}

Tensor Reader::tensor_of(const pb::TensorProto& t, const std::string& where, pb::TensorProto* take,
                         const InPlaceBytes* in_place) const {
  const DType dt = dtype_of(t, where);
  Shape shape = dims_of(t, where);
  if (t.has_compression_type() && t.compression_type() != pb::TensorProto::NO_COMPRESSION)
    unsupported(where, "compressed tensors are not supported");
  const int64_t numel = *shape.checked_numel();
  const auto checked_nbytes = tensor_nbytes(dt, shape);
  if (!checked_nbytes) fail(where, "byte size of shape " + shape.str() + " overflows");
  const uint64_t nbytes = *checked_nbytes;
  if (t.has_external_data()) return external_.read(t, where, dt, shape, nbytes);
  Tensor out;
  auto copy_in = [&](const void* src, size_t n) {
    out = Tensor(dt, shape);
    if (n > 0) std::memcpy(out.raw_data(), src, n);
  };
  auto check_raw_size = [&](uint64_t size) {
    if (size != nbytes)
      fail(where, "raw_data has " + std::to_string(size) + " bytes, but " +
                      std::string(mindspore_name(dt)) + shape.str() + " needs " +
                      std::to_string(nbytes));
  };
  if (in_place != nullptr) {
    check_raw_size(in_place->size);
    if (dt != DType::String && dt != DType::Bool) return in_place_tensor(dt, shape, *in_place);
    copy_in(bytes_.data() + in_place->offset, nbytes);  // Bool bytes are normalised: a copy
    normalize_bools(out);
    return out;
  }
  if (t.has_raw_data()) {
    check_raw_size(t.raw_data().size());
    const size_t align = std::max<size_t>(1, itemsize(dt));
    if (take != nullptr && dt != DType::String && nbytes >= 4096 &&
        reinterpret_cast<uintptr_t>(t.raw_data().data()) % align == 0) {
      // The parsed string becomes the tensor's storage (kept alive by it).
      std::shared_ptr<std::string> bytes(take->release_raw_data());
      auto* data = reinterpret_cast<std::byte*>(bytes->data());
      out = Tensor(dt, shape, Storage::external(data, nbytes, std::move(bytes)), 0);
    } else {
      copy_in(t.raw_data().data(), nbytes);
    }
    normalize_bools(out);
    return out;
  }
  // ONNX-style typed fields, for files that do not use raw_data.
  auto typed = [&](int count, const void* src, DType want) -> bool {
    if (count == 0 || dt != want) return false;
    if (static_cast<uint64_t>(count) != static_cast<uint64_t>(numel))
      fail(where, std::to_string(count) + " values for shape " + shape.str());
    copy_in(src, nbytes);
    return true;
  };
  if (typed(t.float_data_size(), t.float_data().data(), DType::Float32) ||
      typed(t.double_data_size(), t.double_data().data(), DType::Float64) ||
      typed(t.int64_data_size(), t.int64_data().data(), DType::Int64) ||
      typed(t.int32_data_size(), t.int32_data().data(), DType::Int32) ||
      typed(t.uint64_data_size(), t.uint64_data().data(), DType::UInt64))
    return out;
  if (numel != 0) fail(where, "tensor has no data");
  return Tensor(dt, shape);
}

Tensor Reader::in_place_tensor(DType dt, const Shape& shape, const InPlaceBytes& at) const {
  // The skeleton's walk put [offset, offset + size) inside bytes_, which lie inside source_.
  const std::byte* src = bytes_.data() + at.offset;
  const auto in_source = static_cast<size_t>(src - source_->data());
  const auto n = static_cast<size_t>(at.size);
  // At an address the dtype's typed access allows: viewed where it lies, no copy at all. Otherwise
  // (protobuf aligns nothing: MindSpore's files put most weights at odd addresses) copied into
  // aligned memory on first use, once, as checkpoints' misaligned tensors are; most are replaced
  // by the optimiser's folded, transposed or packed forms before anything reads them as floats.
  if (reinterpret_cast<uintptr_t>(src) % std::max<size_t>(1, itemsize(dt)) == 0)
    return Tensor(dt, shape, Storage::view(source_, in_source, n), 0);
  return Tensor(dt, shape, Storage::deferred_copy(source_, {{in_source, n}}, n), 0);
}

// An attribute as a node attr. nullopt: None, or (not strict) a kind cellar has no attr for
// (MindSpore 1.x primitives carry e.g. lists of input names).
std::optional<ir::Attr> Reader::attr_of(const pb::AttributeProto& a, const std::string& where,
                                        bool strict) const {
  auto bad = [&](const std::string& why) -> std::optional<ir::Attr> {
    if (strict) fail(where, "attribute '" + a.name() + "': " + why);
    return std::nullopt;
  };
  auto int_value = [&](const pb::AttributeProto& e, int64_t& v) -> bool {
    if (e.has_i())
      v = e.i();
    else if (e.ints_size() == 1)
      v = e.ints(0);
    else
      return false;
    return true;
  };
  auto float_value = [&](const pb::AttributeProto& e, double& v) -> bool {
    // We write FLOAT attrs with the exact double in `d` as well (MindSpore reads `f`).
    if (e.type() == AttrType::FLOAT) {
      float f;
      if (e.has_f())
        f = e.f();
      else if (e.floats_size() == 1)
        f = e.floats(0);
      else
        return false;
      v = (e.has_d() && static_cast<float>(e.d()) == f) ? e.d() : f;
      return true;
    }
    if (e.has_d())
      v = e.d();
    else if (e.doubles_size() == 1)
      v = e.doubles(0);
    else
      return false;
    return true;
  };
  switch (LegacyValue1x l = legacy_value_1x(a); l.kind) {
    case LegacyValue1x::kNotLegacy:
      break;
    case LegacyValue1x::kNone:
      return std::nullopt;
    case LegacyValue1x::kInts:
      return ir::Attr(std::move(l.ints));
    case LegacyValue1x::kFloats:
      return ir::Attr(std::move(l.floats));
    case LegacyValue1x::kType:
      return ir::Attr(std::string(mindspore_name(l.type)));
    case LegacyValue1x::kUnknownType:
      return bad("a dtype of data_type " + std::to_string(l.data_type) + ", which cellar lacks");
  }
  const int type = a.type();
  if (type == AttrType::NONE) return std::nullopt;
  if (type == AttrType::BOOL) {
    int64_t v;
    if (!int_value(a, v)) return bad("BOOL without a value");
    return ir::Attr(v != 0);
  }
  if (is_integer_attr_type(type)) {
    int64_t v;
    if (!int_value(a, v)) return bad("integer without a value");
    return ir::Attr(v);
  }
  if (type == AttrType::FLOAT || type == AttrType::DOUBLE) {
    double v;
    if (!float_value(a, v)) return bad("float without a value");
    return ir::Attr(v);
  }
  if (type == AttrType::STRING) return ir::Attr(std::string(a.s()));
  if (type == AttrType::TUPLE || type == AttrType::LIST) {
    // A tuple of equal-length integer tuples (Pad's paddings), flattened row by row.
    if (a.values_size() > 0 && std::all_of(a.values().begin(), a.values().end(), [](const auto& e) {
          return e.type() == AttrType::TUPLE || e.type() == AttrType::LIST;
        })) {
      std::vector<int64_t> flat;
      for (const auto& row : a.values()) {
        if (row.values_size() != a.values(0).values_size())
          return bad("a tuple of tuples of different lengths");
        for (const auto& e : row.values()) {
          int64_t i;
          if (!is_integer_attr_type(e.type()) || !int_value(e, i))
            return bad("a tuple of tuples holding something other than integers");
          flat.push_back(i);
        }
      }
      return ir::Attr(std::move(flat));
    }
    bool any_float = false;
    for (const auto& e : a.values()) {
      if (e.type() == AttrType::FLOAT || e.type() == AttrType::DOUBLE)
        any_float = true;
      else if (!is_integer_attr_type(e.type()))
        return bad("tuple element of unsupported kind");
    }
    if (any_float) {
      std::vector<double> v;
      for (const auto& e : a.values()) {
        double d;
        int64_t i;
        if (float_value(e, d))
          v.push_back(d);
        else if (int_value(e, i))
          v.push_back(static_cast<double>(i));
        else
          return bad("tuple element without a value");
      }
      return ir::Attr(std::move(v));
    }
    std::vector<int64_t> v;
    for (const auto& e : a.values()) {
      int64_t i;
      if (!int_value(e, i)) return bad("tuple element without a value");
      v.push_back(i);
    }
    return ir::Attr(std::move(v));
  }
  if (type == AttrType::TENSORS) {
    if (a.tensors_size() != 1) return bad("TENSORS value must hold exactly one tensor");
    return ir::Attr(tensor_of(a.tensors(0), where));
  }
  if (type == AttrType::TENSOR) {
    if (!a.has_t()) return bad("TENSOR without a tensor");
    return ir::Attr(tensor_of(a.t(), where));
  }
  return bad("kind " + std::to_string(type) + " is not supported");
}

// The node's recorded output types (attribute "shape"); nullopt when the file does not say.
std::optional<std::vector<ops::TensorType>> Reader::output_types(const pb::NodeProto& n,
                                                                 int i) const {
  const std::string where = node_label(i);
  for (const auto& a : n.attribute()) {
    if (a.name() != "shape") continue;
    auto one = [&](const pb::AttributeProto& e) -> ops::TensorType {
      if (e.type() != AttrType::TENSORS || e.tensors_size() != 1)
        fail(where, "output abstract 'shape' is not a tensor type");
      return {dtype_of(e.tensors(0), where), dims_of(e.tensors(0), where)};
    };
    // A dynamic dimension (-1, -2) recorded on an output: the op table infers the types instead.
    auto dynamic = [](const pb::AttributeProto& e) {
      if (e.tensors_size() != 1) return false;
      for (int64_t d : e.tensors(0).dims())
        if (d < 0) return true;
      return false;
    };
    std::vector<ops::TensorType> out;
    if (a.type() == AttrType::TUPLE) {
      for (const auto& e : a.values())
        if (dynamic(e)) return std::nullopt;
      for (const auto& e : a.values()) out.push_back(one(e));
    } else {
      if (dynamic(a)) return std::nullopt;
      out.push_back(one(a));
    }
    return out;
  }
  return std::nullopt;
}

void Reader::index_primitives() {
  for (const auto& p : model_.primitives()) {
    if (p.name().empty()) fail("primitives", "a primitive has no name");
    if (!prims_.emplace(p.name(), &p).second)
      fail(p.name(), "primitive '" + p.name() + "' is defined twice");
  }
}

Reader::NodeInfo Reader::classify(int i) const {
  const auto& n = graph_proto().node(i);
  const std::string& op = n.op_type();
  NodeInfo info;
  if (op == "Constant") {
    info.kind = Kind::kConstant;
    return info;
  }
  if (op.empty()) fail(node_label(i), "node has no op_type");
  const auto primitive = node_primitive(n, prims_);
  if (!primitive) {
    const std::string key = op.substr(5);
    fail(node_label(i),
         "op_type '" + op + "' refers to primitive '" + key + "', which the file does not define");
  }
  info.primitive = *primitive;
  if (op.rfind("REF::", 0) == 0) info.prim = prims_.at(op.substr(5));
  static const std::map<std::string, Kind> plumbing = {{"Load", Kind::kLoad},
                                                       {"Depend", Kind::kDepend},
                                                       {"UpdateState", Kind::kUpdateState},
                                                       {"MakeTuple", Kind::kMakeTuple},
                                                       // 2.x: a Python list literal (Stack's
                                                       // input); a tuple here.
                                                       {"make_list", Kind::kMakeTuple},
                                                       {"TupleGetItem", Kind::kTupleGetItem},
                                                       {"Return", Kind::kReturn}};
  if (auto it = plumbing.find(info.primitive); it != plumbing.end()) {
    info.kind = it->second;
    return info;
  }
  info.def = ops::op_table().find_mindir(info.primitive);
  info.variant = ops::op_table().find_mindir_variant(info.primitive);
  if (info.def == nullptr) {
    if (calls_subgraph(model_, op))
      unsupported(node_label(i), "node calls sub-graph '" + op + "'; sub-graphs are not supported");
    unsupported(node_label(i), "unknown op '" + info.primitive + "' (op_type '" + op + "')");
  }
  return info;
}

// Every node whose primitive the op table lacks, reported at once (throw_unsupported_ops), so
// that a user sees how far the model is from running. Nodes with other faults (an undefined
// primitive, a sub-graph call) are left to classify, which names them.
void Reader::check_ops_known() const {
  std::vector<std::pair<std::string, std::string>> unknown;
  const auto& gp = graph_proto();
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    if (n.op_type() == "Constant" || n.op_type().empty()) continue;
    const auto primitive = node_primitive(n, prims_);
    if (!primitive || is_plumbing(*primitive) || calls_subgraph(model_, n.op_type())) continue;
    if (ops::op_table().find_mindir(*primitive) == nullptr)
      unknown.emplace_back(*primitive, node_label(i));
  }
  if (!unknown.empty()) throw_unsupported_ops(unknown, file_);
}

// The file nodes whose values node i needs (plumbing needs only some of its inputs).
std::vector<int> Reader::dependencies(int i) const {
  const auto& n = graph_proto().node(i);
  int take = n.input_size();
  switch (info_[static_cast<size_t>(i)].kind) {
    case Kind::kConstant:
    case Kind::kUpdateState:
      take = 0;
      break;
    case Kind::kLoad:
    case Kind::kDepend:
    case Kind::kReturn:
      take = std::min(take, 1);
      break;
    default:
      break;
  }
  std::vector<int> deps;
  for (int k = 0; k < take; ++k) {
    auto it = defs_.find(n.input(k));
    if (it == defs_.end())
      fail(node_label(i), "input " + std::to_string(k) + " '" + n.input(k) +
                              "' is not defined in the graph (dangling reference)");
    if (it->second.kind == Def::kNode) deps.push_back(it->second.index);
  }
  return deps;
}

void Reader::index_names() {
  const auto& gp = graph_proto();
  auto define = [&](const std::string& name, Def d, const std::string& what) {
    if (name.empty()) fail(what, what + " has no name");
    if (!defs_.define(name, d)) fail(strip(name), "name '" + name + "' is defined twice");
  };
  for (int k = 0; k < gp.input_size(); ++k) {
    const auto& in = gp.input(k);
    const std::string where = strip(in.name());
    if (is_untyped_input_1x(in))
      unsupported(where.empty() ? "graph input" : where, kUntypedInput1x);
    if (in.tensor_size() != 1)
      unsupported(where.empty() ? "graph input" : where,
                  "graph input is not a tensor (tuple or scalar inputs are not supported)");
    // A dynamic dimension (export with Tensor(shape=[None, ...])) is -1: an open dimension,
    // planned when inputs arrive (representative size 1). -2 (unknown rank) is refused.
    std::vector<std::string> symbols;
    auto dims = in.tensor(0).dims();
    pb::TensorProto fixed = in.tensor(0);
    for (int d = 0; d < dims.size(); ++d) {
      if (dims[d] == -2)
        unsupported(where.empty() ? "graph input" : where,
                    "graph input has a dynamic rank (dimension -2): cellar needs each input's "
                    "rank; export with a fixed rank (None per dimension is fine)");
      if (dims[d] == -1) {
        symbols.resize(static_cast<size_t>(dims.size()));
        symbols[static_cast<size_t>(d)] = "?";
        fixed.set_dims(d, 1);
      }
    }
    const int v = new_value(where, dtype_of(fixed, where), dims_of(fixed, where), where);
    g_.values[static_cast<size_t>(v)].symbols = std::move(symbols);
    define(in.name(), {Def::kInput, v}, "graph input #" + std::to_string(k));
    g_.inputs.push_back(v);
  }
  for (int k = 0; k < gp.parameter_size(); ++k) {
    pb::TensorProto& p = *model_.mutable_graph()->mutable_parameter(k);
    const std::string name =
        p.has_ref_key() && !p.ref_key().empty() ? p.ref_key() : strip(p.name());
    const std::string where = name.empty() ? "parameter #" + std::to_string(k) : name;
    const size_t ku = static_cast<size_t>(k);
    const InPlaceBytes* in_place =
        ku < in_place_.size() && in_place_[ku] ? &*in_place_[ku] : nullptr;
    Tensor data = tensor_of(p, where, &p, in_place);
    const int v = new_value(name, data.dtype(), data.shape(), where);
    define(p.name(), {Def::kParam, v}, "parameter #" + std::to_string(k));
    g_.initializers.push_back({.value = v, .data = std::move(data), .is_parameter = true});
  }
  if (gp.map_parameter_size() > 0) unsupported("map_parameter", "map parameters are not supported");
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    if (n.output_size() > 1) {
      for (const auto& o : n.output()) define(o, {Def::kNode, i}, node_label(i));
    } else {
      define(n.output_size() == 1 ? n.output(0) : n.name(), {Def::kNode, i}, node_label(i));
    }
  }
}

// Post-order of the nodes reachable from `roots` (graph_reader.h: no recursion).
std::vector<int> Reader::order_from(const std::vector<std::string>& roots) {
  const size_t nn = static_cast<size_t>(graph_proto().node_size());
  std::vector<std::vector<int>> deps(nn);
  std::vector<bool> have_deps(nn, false);
  PostOrder order(nn);
  auto next = [&](int i, int k) {
    const auto ui = static_cast<size_t>(i);
    if (!have_deps[ui]) {
      info_[ui] = classify(i);
      deps[ui] = dependencies(i);
      have_deps[ui] = true;
    }
    return static_cast<size_t>(k) < deps[ui].size() ? deps[ui][static_cast<size_t>(k)]
                                                    : PostOrder::kEnd;
  };
  auto cycle = [&](int, int d) { fail(node_label(d), "the graph has a cycle through this node"); };
  for (const auto& root : roots) {
    auto it = defs_.find(root);
    if (it == defs_.end())
      fail(strip(root), "graph output '" + root + "' is not defined in the graph");
    if (it->second.kind != Def::kNode) continue;
    order.visit(it->second.index, next, cycle);
  }
  return order.take();
}

Reader::Ref Reader::resolve_name(const std::string& name, const std::string& where) const {
  auto it = defs_.find(name);
  if (it == defs_.end())
    fail(where, "'" + name + "' is not defined in the graph (dangling reference)");
  if (it->second.kind != Def::kNode) return Ref{.kind = Ref::kValue, .value = it->second.index};
  const auto ui = static_cast<size_t>(it->second.index);
  if (!built_[ui]) fail(where, "'" + name + "' is used before it is computed");
  const Ref& r = refs_[ui];
  const auto& n = graph_proto().node(it->second.index);
  if (n.output_size() > 1) {  // one name per output
    for (int k = 0; k < n.output_size(); ++k)
      if (n.output(k) == name) {
        if (r.kind != Ref::kTuple || static_cast<size_t>(k) >= r.items->size())
          fail(where, "'" + name + "' names an output the node does not have");
        return (*r.items)[static_cast<size_t>(k)];
      }
  }
  return r;
}

// The initializer value of a tensor constant (one per Constant node).
int Reader::const_tensor(const Ref& r, const std::string& where) {
  if (auto it = const_values_.find(r.node); it != const_values_.end()) return it->second;
  auto attr = attr_of(*r.constant, where, true);
  const Tensor* t = attr ? std::get_if<Tensor>(&*attr) : nullptr;
  if (t == nullptr)
    unsupported(where, "constant '" + node_label(r.node) +
                           "' is a scalar or tuple where a tensor is expected");
  const int v = new_value(node_label(r.node), t->dtype(), t->shape(), node_label(r.node));
  g_.initializers.push_back({.value = v, .data = *t, .is_parameter = false});
  const_values_[r.node] = v;
  return v;
}

// MindSpore's implicit type conversion: an op whose arguments form one dtype group (Div's input
// and other) has them converted to the group's dtype when MindSpore compiles the graph it loads,
// a pass that runs after export, so the file keeps the node as written: BiT's weight
// standardisation (`w.var()`) is Div(a Float32 tensor, an Int32 constant). cellar's rows require
// one dtype where MindSpore's group does. So when a row's shape rule refuses a node for a dtype
// mismatch, its computed inputs agree on one dtype and the odd ones are constants of a lower kind
// (Bool < integer < float) or a narrower width of the same kind, those constants are converted at
// load time, as MindSpore converts them. Anything else keeps the rule's error.
void Reader::promote_constants(const ops::OpDef& def, const std::vector<Ref>& tensors,
                               ir::Node& node) {
  if (node.inputs.size() < 2 || tensors.size() != node.inputs.size()) return;
  std::vector<ops::TensorType> in;
  std::optional<DType> computed;
  bool mixed = false;
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    const auto v = static_cast<size_t>(node.inputs[k]);
    if (!typed_[v]) return;
    in.push_back({g_.values[v].dtype, g_.values[v].shape});
    if (tensors[k].kind == Ref::kConst) continue;
    if (computed && *computed != in.back().dtype) return;  // computed inputs disagree
    computed = in.back().dtype;
  }
  if (!computed) return;
  for (const auto& t : in) mixed |= t.dtype != *computed;
  if (!mixed) return;
  try {
    def.infer(in, node.attrs);
    return;  // the row takes mixed dtypes (Gather's indices): nothing to convert
  } catch (const ValueError& e) {
    if (e.code() != ErrorCode::kDTypeMismatch) return;
  }
  auto kind = [](DType t) {
    return t == DType::Bool ? 0 : is_integral(t) ? 1 : is_floating(t) ? 2 : -1;
  };
  const int to = kind(*computed);
  if (to < 0) return;
  std::vector<size_t> convert;
  for (size_t k = 0; k < in.size(); ++k) {
    if (in[k].dtype == *computed) continue;
    const int from = kind(in[k].dtype);
    if (from < 0 || from > to || (from == to && itemsize(in[k].dtype) > itemsize(*computed)))
      return;
    in[k].dtype = *computed;
    convert.push_back(k);
  }
  try {
    def.infer(in, node.attrs);
  } catch (const Error&) {
    return;  // still refused: the rule's own error stands
  }
  for (size_t k : convert) {
    const Ref& r = tensors[k];
    const auto key = std::make_pair(r.node, *computed);
    auto it = promoted_values_.find(key);
    if (it == promoted_values_.end()) {
      const ir::Initializer* init = nullptr;
      for (const auto& i : g_.initializers)
        if (i.value == node.inputs[k]) init = &i;
      if (init == nullptr) return;
      Tensor data = init->data.to(*computed);
      const int v = new_value(node_label(r.node) + "_" + std::string(mindspore_name(*computed)),
                              *computed, data.shape(), node_label(r.node));
      g_.initializers.push_back({.value = v, .data = std::move(data), .is_parameter = false});
      it = promoted_values_.emplace(key, v).first;
    }
    node.inputs[k] = it->second;
  }
}

// A constant input that can only be an argument, never a tensor: a scalar, string, tuple, None
// or dtype constant, or a MakeTuple (of constants).
bool Reader::is_argument(const Ref& r) const {
  if (r.kind == Ref::kTuple) return true;
  if (r.kind != Ref::kConst) return false;
  const int t = r.constant->type();
  if (t == AttrType::TENSOR) return false;
  if (t == AttrType::TENSORS) return legacy_value_1x(*r.constant).kind != LegacyValue1x::kNotLegacy;
  return true;
}

// The reader's one rule for an op node's inputs, for every row and every MindSpore version.
// MindSpore passes an op's arguments after its tensors: 2.x (ops defined by its op yaml) passes
// every argument as an input; 1.x and 2.0-2.3 pass the leading ones as inputs and keep the
// others on the primitive (Gather(params, indices, axis) with batch_dims an attribute);
// PRIMITIVE ops pass none. So the inputs after the tensors are the row's attr_inputs, matched
// positionally, any prefix of them. Trailing monads (UMonad, IOMonad, an UpdateState's state),
// which order side effects, are dropped first. With optional tensor inputs (min_inputs <
// max_inputs) the tensors run as long as the inputs look like tensors. Returns how many of `ins`
// are tensors (1 for a tuple_input row: the tuple), after dropping the monads from `ins`.
int Reader::split_inputs(const ops::OpDef& def, const ops::MindIRSpelling& sp,
                         std::vector<Ref>& ins, const std::string& where) const {
  while (!ins.empty() && ins.back().kind == Ref::kMonad) ins.pop_back();
  const int k_all = static_cast<int>(ins.size());
  const int n_attr = static_cast<int>(sp.attr_inputs.size());
  int lo = def.min_inputs, hi = def.max_inputs < 0 ? k_all : def.max_inputs;
  // An older Python primitive (Pad, MirrorPad, PadV3) takes its arguments as constants, even one
  // MindSpore writes as a tensor (MirrorPad's paddings): its row's optional value inputs (Pad(x,
  // pads), the form ONNX's computed pads make) are never read from MindIR.
  if (def.attrs_from_values && !sp.primitive_function)
    for (size_t i : def.value_inputs)
      if (static_cast<int>(i) >= lo) hi = std::min(hi, static_cast<int>(i));
  if (sp.tuple_input) lo = hi = 1;
  auto arguments = [&] {
    std::string names;
    for (const auto& a : sp.attr_inputs) names += (names.empty() ? "" : ", ") + a;
    return n_attr == 0
               ? std::string(" and no argument inputs")
               : " and up to " + std::to_string(n_attr) + " argument inputs (" + names + ")";
  };
  auto tensors = [&] {
    if (sp.tuple_input) return std::string("one tuple of tensors");
    if (lo == hi) return std::to_string(lo) + " tensor input" + (lo == 1 ? "" : "s");
    return std::to_string(lo) + " to " +
           (def.max_inputs < 0 ? std::string("any number of") : std::to_string(hi)) +
           " tensor inputs";
  };
  if (k_all < lo)
    fail(where, def.name + " takes " + tensors() + arguments() + ", but has only " +
                    std::to_string(k_all) + " inputs");
  int n_tensor = std::max(lo, k_all - n_attr);
  while (n_tensor < std::min(hi, k_all) && !is_argument(ins[static_cast<size_t>(n_tensor)]))
    ++n_tensor;
  if (n_tensor > hi)
    fail(where, def.name + " takes " + tensors() + arguments() + ", but has " +
                    std::to_string(k_all) + " inputs" +
                    (n_attr == 0 ? " (extra constant inputs are arguments the op table does not "
                                   "name in the row's MindIR spelling)"
                                 : ""));
  return n_tensor;
}

// An argument input's value: a constant (a scalar, string, tuple, tensor, dtype, or None:
// nullopt) or a MakeTuple of constants (a list). Anything computed in the graph is refused.
std::optional<ir::Attr> Reader::argument(const Ref& r, const std::string& where,
                                         const std::string& what, size_t depth) const {
  if (depth > kMaxTupleDepth) fail(where, what + ": tuples nested too deeply");
  if (r.kind == Ref::kTuple) {
    std::vector<int64_t> ints;
    std::vector<double> floats;
    bool any_float = false;
    for (const Ref& e : *r.items) {
      std::optional<ir::Attr> v = argument(e, where, what, depth + 1);
      if (!v) fail(where, what + " is a tuple holding None");
      if (const auto* i = std::get_if<int64_t>(&*v)) {
        ints.push_back(*i);
        floats.push_back(static_cast<double>(*i));
      } else if (const auto* b = std::get_if<bool>(&*v)) {
        ints.push_back(*b ? 1 : 0);
        floats.push_back(*b ? 1 : 0);
      } else if (const auto* d = std::get_if<double>(&*v)) {
        any_float = true;
        floats.push_back(*d);
      } else if (const auto* l = std::get_if<std::vector<int64_t>>(&*v)) {  // nested: flattened
        ints.insert(ints.end(), l->begin(), l->end());
        for (int64_t x : *l) floats.push_back(static_cast<double>(x));
      } else {
        fail(where, what + " is a tuple holding something other than numbers");
      }
    }
    if (any_float) return ir::Attr(std::move(floats));
    return ir::Attr(std::move(ints));
  }
  if (r.kind == Ref::kValue)
    unsupported(where, what + " is computed in the graph, but must be a constant");
  if (r.kind != Ref::kConst) fail(where, what + " is not a constant");
  // A tensor stays one: the op's attribute readers take 0-d and 1-d integer tensors as numbers
  // (MindSpore 1.x passed some axes so) and variants read their own (MirrorPad's paddings).
  return attr_of(*r.constant, where, true);
}

void Reader::build_node(int i) {
  const auto ui = static_cast<size_t>(i);
  const auto& n = graph_proto().node(i);
  const NodeInfo& info = info_[ui];
  const std::string where = node_label(i);
  auto input = [&](int k) {
    if (k >= n.input_size())
      fail(where, info.primitive + " node needs at least " + std::to_string(k + 1) + " inputs");
    return resolve_name(n.input(k), where);
  };
  Ref out;
  switch (info.kind) {
    case Kind::kConstant: {
      const pb::AttributeProto* value = nullptr;
      for (const auto& a : n.attribute())
        if (a.name() == "value") value = &a;
      if (value == nullptr) fail(where, "Constant node has no 'value' attribute");
      if (value->type() == AttrType::UMONAD || value->type() == AttrType::IOMONAD)
        out.kind = Ref::kMonad;
      else
        out = Ref{.kind = Ref::kConst, .constant = value, .node = i};
      break;
    }
    case Kind::kLoad:
    case Kind::kDepend:
    case Kind::kReturn:
      out = input(0);
      break;
    case Kind::kUpdateState:
      out.kind = Ref::kMonad;
      break;
    case Kind::kMakeTuple: {
      auto items = std::make_shared<std::vector<Ref>>();
      size_t depth = 0;
      for (int k = 0; k < n.input_size(); ++k) {
        items->push_back(input(k));
        depth = std::max(depth, items->back().depth);
      }
      if (depth + 1 > kMaxTupleDepth) fail(where, "tuples nested too deeply");
      out = Ref{.kind = Ref::kTuple, .items = std::move(items), .depth = depth + 1};
      break;
    }
    case Kind::kTupleGetItem: {
      const Ref t = input(0), idx = input(1);
      if (t.kind != Ref::kTuple) fail(where, "TupleGetItem of something that is not a tuple");
      std::optional<ir::Attr> a;
      if (idx.kind == Ref::kConst) a = attr_of(*idx.constant, where, true);
      const int64_t* k = a ? std::get_if<int64_t>(&*a) : nullptr;
      if (k == nullptr) fail(where, "TupleGetItem index is not a constant integer");
      if (*k < 0 || static_cast<uint64_t>(*k) >= t.items->size())
        fail(where, "TupleGetItem index " + std::to_string(*k) +
                        " is out of range for a tuple of " + std::to_string(t.items->size()));
      out = (*t.items)[static_cast<size_t>(*k)];
      break;
    }
    case Kind::kOp: {
      const ops::OpDef& def = *info.def;
      const ops::MindIRSpelling& sp = info.variant ? info.variant->spelling : def.mindir;
      ir::Node node;
      node.op = def.name;
      node.name = where;
      // Attributes: the primitive's (or, in old files, the node's own), then attr inputs.
      auto cellar_name = [&](const std::string& key) {
        for (const auto& [ours, theirs] : sp.renamed)
          if (theirs == key) return ours;
        return key;
      };
      if (info.prim != nullptr) {
        for (const auto& a : info.prim->attribute())
          if (auto v = attr_of(a, where, false)) node.attrs[cellar_name(a.name())] = std::move(*v);
      } else {
        for (const auto& a : n.attribute())
          if (is_primitive_attribute_1x(a))
            if (auto v = attr_of(a, where, false))
              node.attrs[cellar_name(a.name())] = std::move(*v);
      }
      // The node's inputs: tensors, then the row's arguments (reader rule in split_inputs).
      std::vector<Ref> ins;
      for (int k = 0; k < n.input_size(); ++k) ins.push_back(input(k));
      int n_tensor = 0;
      // MindSpore's argument order where it interleaves tensors and attr inputs (GroupNorm):
      // exactly that many inputs, put into the tensors-then-attr-inputs order first.
      if (const auto pos = ops::argument_positions(sp); !pos.empty()) {
        while (!ins.empty() && ins.back().kind == Ref::kMonad) ins.pop_back();
        const size_t n_attr = sp.attr_inputs.size();
        // MindSpore 1.x kept some trailing arguments as attributes of the primitive (OneHot's
        // axis): fewer inputs are read when the missing ones end both the argument order and
        // the attr inputs, and the primitive carries each of them.
        size_t missing = pos.size() > ins.size() ? pos.size() - ins.size() : 0;
        for (size_t k = 0; k < missing && missing <= n_attr; ++k) {
          const std::string& arg = sp.argument_order[pos.size() - 1 - k];
          if (arg != sp.attr_inputs[n_attr - 1 - k] || !node.attrs.count(arg)) missing = 0;
        }
        if (missing > n_attr) missing = 0;
        if (pos.size() != ins.size() + missing)
          fail(where, def.name + " takes " + std::to_string(pos.size()) + " arguments (" +
                          std::to_string(n_attr) + " of them attr inputs), but has " +
                          std::to_string(ins.size()) + " inputs");
        std::vector<Ref> ordered;
        for (size_t p : pos)
          if (p < ins.size()) ordered.push_back(ins[p]);
        ins = std::move(ordered);
        n_tensor = static_cast<int>(ins.size() + missing - n_attr);
      } else {
        n_tensor = split_inputs(def, sp, ins, where);
      }
      for (size_t k = static_cast<size_t>(n_tensor); k < ins.size(); ++k) {
        const std::string& key = sp.attr_inputs[k - static_cast<size_t>(n_tensor)];
        const std::string what = "input " + std::to_string(k) + " ('" +
                                 n.input(static_cast<int>(k)) + "', argument '" + key + "' of " +
                                 info.primitive + ")";
        std::optional<ir::Attr> v = argument(ins[k], where, what, 0);
        if (v && std::find(sp.type_id_inputs.begin(), sp.type_id_inputs.end(), key) !=
                     sp.type_id_inputs.end()) {
          if (const int64_t* id = std::get_if<int64_t>(&*v)) {  // 2.x: a TypeId number
            const auto dt = dtype_from_type_id(*id);
            if (!dt)
              unsupported(where, what + " is MindSpore TypeId " + std::to_string(*id) +
                                     ", a dtype cellar does not have");
            v = ir::Attr(std::string(mindspore_name(*dt)));
          } else if (!std::holds_alternative<std::string>(*v)) {
            fail(where, what + " is neither a TypeId number nor a dtype");
          }
        }
        if (v)
          node.attrs[key] = std::move(*v);
        else
          node.attrs.erase(key);
      }
      // The tensors: the node's inputs, or (tuple_input: Concat) the items of its one tuple.
      std::vector<Ref> tensors;
      if (sp.tuple_input) {
        const Ref& t = ins[0];
        if (t.kind != Ref::kTuple)
          fail(where, def.name + "'s input 0 ('" + n.input(0) +
                          "') is not a tuple (MindSpore passes a MakeTuple of the tensors)");
        if (static_cast<int>(t.items->size()) < def.min_inputs ||
            (def.max_inputs >= 0 && static_cast<int>(t.items->size()) > def.max_inputs))
          fail(where, def.name + "'s tuple ('" + n.input(0) + "') has " +
                          std::to_string(t.items->size()) + " elements");
        tensors = *t.items;
      } else {
        tensors.assign(ins.begin(), ins.begin() + n_tensor);
      }
      for (size_t k = 0; k < tensors.size(); ++k) {
        const Ref& r = tensors[k];
        const std::string what =
            sp.tuple_input
                ? "element " + std::to_string(k) + " of the tuple ('" + n.input(0) + "')"
                : "input " + std::to_string(k) + " ('" + n.input(static_cast<int>(k)) + "')";
        if (r.kind == Ref::kValue)
          node.inputs.push_back(r.value);
        else if (r.kind == Ref::kConst)
          node.inputs.push_back(const_tensor(r, where));
        else
          fail(where, what + " is not a tensor");
      }
      // Shape rules and variant readers may assume their input count (checked again, with every
      // node, when the graph is validated).
      if (const int nin = static_cast<int>(node.inputs.size());
          nin < def.min_inputs || (def.max_inputs >= 0 && nin > def.max_inputs))
        fail(where, def.name + " has " + std::to_string(nin) + " tensor inputs");
      promote_constants(def, tensors, node);
      if (info.variant != nullptr) {  // e.g. MirrorPad's attributes → Pad's
        std::vector<ops::TensorType> in;
        for (int v : node.inputs) {
          if (!typed_[static_cast<size_t>(v)])
            fail(where, info.primitive +
                            " needs the types of its inputs, which the file does not "
                            "record");
          in.push_back({g_.value(v).dtype, g_.value(v).shape});
        }
        try {
          info.variant->read(node.attrs, in);
        } catch (const Error& e) {
          fail(where, info.primitive + ": " + e.reason());
        }
      }
      auto types = output_types(n, i);
      if (types && def.num_outputs >= 0 && static_cast<int>(types->size()) != def.num_outputs)
        fail(where, def.name + " has " + std::to_string(def.num_outputs) +
                        " outputs, the file records " + std::to_string(types->size()));
      // Ops whose output count follows from their attributes and input shapes (Split, Unstack)
      // yield a tuple even of one tensor; its length is what the file records, else the rule's.
      int num_outputs = def.num_outputs;
      if (num_outputs < 0) {
        std::vector<ops::TensorType> in;
        for (int v : node.inputs) {
          if (!typed_[static_cast<size_t>(v)])
            fail(where,
                 def.name + " needs the types of its inputs, which the file does not record");
          in.push_back({g_.value(v).dtype, g_.value(v).shape});
        }
        std::vector<ops::TensorType> want;
        try {
          want = def.infer(in, node.attrs);
        } catch (const Error& e) {
          fail(where, e.reason());
        }
        if (types && types->size() != want.size())
          fail(where, def.name + " gives " + std::to_string(want.size()) +
                          " outputs, the file records " + std::to_string(types->size()));
        if (!types) types = std::move(want);
        num_outputs = static_cast<int>(types->size());
      }
      const std::string base = strip(n.output_size() >= 1 ? n.output(0) : n.name());
      std::vector<Ref> outs;
      for (int k = 0; k < num_outputs; ++k) {
        std::string vname = base;
        if (n.output_size() > 1 && k < n.output_size())
          vname = strip(n.output(k));
        else if (num_outputs > 1 || def.num_outputs < 0)
          vname = base + ":" + std::to_string(k);
        const int v = types ? new_value(vname, (*types)[static_cast<size_t>(k)].dtype,
                                        (*types)[static_cast<size_t>(k)].shape, where)
                            : new_value(vname, DType::Float32, Shape{}, where);
        if (!types) typed_[static_cast<size_t>(v)] = false;
        node.outputs.push_back(v);
        outs.push_back(Ref{.kind = Ref::kValue, .value = v});
      }
      g_.nodes.push_back(std::move(node));
      if (outs.size() == 1 && def.num_outputs >= 0)
        out = outs[0];
      else
        out = Ref{.kind = Ref::kTuple,
                  .items = std::make_shared<std::vector<Ref>>(std::move(outs)),
                  .depth = 1};
      break;
    }
  }
  refs_[ui] = std::move(out);
  built_[ui] = true;
}

void Reader::flatten_outputs(const Ref& r, const std::string& where, std::vector<int>& out) const {
  // Tuples here are at most kMaxTupleDepth deep, so this recursion is bounded.
  switch (r.kind) {
    case Ref::kValue:
      out.push_back(r.value);
      return;
    case Ref::kTuple:
      for (const Ref& e : *r.items) flatten_outputs(e, where, out);
      return;
    default:
      unsupported(where, "graph output is not a tensor or a tuple of tensors");
  }
}

// Files without per-node "shape" attributes: compute the output types with the op table, in
// build order (which is topological).
void Reader::infer_missing_types() {
  for (auto& node : g_.nodes) {
    bool missing = false;
    for (int v : node.outputs) missing |= !typed_[static_cast<size_t>(v)];
    if (!missing) continue;
    const ops::OpDef* def = ops::op_table().find(node.op);
    std::vector<ops::TensorType> in;
    for (int v : node.inputs) in.push_back({g_.value(v).dtype, g_.value(v).shape});
    const int n = static_cast<int>(in.size());
    if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs))
      fail(node.name, node.op + " has " + std::to_string(n) + " inputs");
    std::vector<ops::TensorType> out;
    try {
      out = def->infer(in, node.attrs);
    } catch (const Error& e) {
      fail(node.name, e.reason());
    }
    if (out.size() != node.outputs.size()) fail(node.name, "output count disagrees with the op");
    for (const auto& t : out)
      if (const std::string why = shape_over_limits(t.shape); !why.empty())
        unsupported(node.name, node.op + "'s output: " + why);
    for (size_t k = 0; k < out.size(); ++k) {
      auto& info = g_.values[static_cast<size_t>(node.outputs[k])];
      info.dtype = out[k].dtype;
      info.shape = out[k].shape;
      typed_[static_cast<size_t>(node.outputs[k])] = true;
    }
  }
}

// A constant every reader of which took a converted copy (promote_constants) is read by no node:
// dropped, so that no writer carries it (ONNX Runtime warns of an unused initializer in a
// converted file). Parameters stay: they are the model's, read or not.
void Reader::drop_unread_constants() {
  std::vector<bool> read(g_.values.size(), false);
  for (const auto& node : g_.nodes)
    for (int v : node.inputs) read[static_cast<size_t>(v)] = true;
  for (int v : g_.outputs) read[static_cast<size_t>(v)] = true;
  std::erase_if(g_.initializers, [&](const ir::Initializer& init) {
    return !init.is_parameter && !read[static_cast<size_t>(init.value)];
  });
}

ir::Graph Reader::run() {
  if (!model_.has_graph()) fail("", "the model has no graph");
  const auto& gp = graph_proto();
  g_.name = gp.name().empty() ? "graph" : gp.name();
  if (!gp.name().empty()) prefix_ = gp.name() + ":";
  index_primitives();
  index_names();
  check_ops_known();

  const size_t nn = static_cast<size_t>(gp.node_size());
  info_.resize(nn);
  refs_.resize(nn);
  built_.assign(nn, false);

  // Roots: the declared outputs, else a Return node.
  std::vector<std::string> roots;
  for (const auto& o : gp.output()) {
    if (o.name().empty()) fail("graph output", "a graph output has no name");
    roots.push_back(o.name());
  }
  if (roots.empty()) {
    for (int i = 0; i < gp.node_size(); ++i) {
      const std::string& op = gp.node(i).op_type();
      if (op == "Return" || op.rfind("REF::Return:", 0) == 0)
        roots.push_back(gp.node(i).output_size() ? gp.node(i).output(0) : gp.node(i).name());
    }
  }
  if (roots.empty()) fail(g_.name, "the graph declares no outputs");

  for (int i : order_from(roots)) build_node(i);
  for (const auto& root : roots)
    flatten_outputs(resolve_name(root, strip(root)), strip(root), g_.outputs);
  infer_missing_types();
  drop_unread_constants();
  g_.derive_symbols();
  return std::move(g_);
}

// The file's bytes as a ModelProto, size-checked first; read_mindir and the census share it.
pb::ModelProto parse_model(std::span<const std::byte> bytes, const std::string& file) {
  if (bytes.empty()) throw FormatError("empty file", {.file = file});
  if (bytes.size() > kMaxModelBytes) too_big(file, bytes.size());
  pb::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError(
        "not a valid mind_ir.ModelProto (protobuf parse failed: truncated or corrupt)",
        {.file = file});
  return model;
}

}  // namespace

ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const MindIRReadOptions& options) {
  // Bytes that lie in options.source: the parameters' raw_data stays there (in_place.cpp), the
  // rest is parsed. The file's size is checked first, as parse_model does.
  const MappedFile* src = options.source.get();
  if (src != nullptr && !bytes.empty() && bytes.size() <= kMaxModelBytes &&
      bytes.data() >= src->data() && bytes.data() + bytes.size() <= src->data() + src->size()) {
    if (auto skeleton = skeleton_of(bytes)) {
      // The message on an arena: its thousands of small nodes, strings and attributes in a few
      // blocks, freed at once (malloc and free were a third of a small model's read). Its large
      // raw_data are not in it, so the reader takes no string out of it (which an arena copies).
      google::protobuf::Arena arena;
      auto* model = google::protobuf::Arena::CreateMessage<pb::ModelProto>(&arena);
      if (model->ParseFromArray(skeleton->bytes.data(), static_cast<int>(skeleton->bytes.size()))) {
        skeleton->bytes = std::string();     // parsed: its memory back before the weights are read
        flatten_control_flow(*model, file);  // nothing to do: the skeleton has no sub-graphs
        return Reader(*model, file, options, bytes, std::move(skeleton->parameters)).run();
      }
      // Not reached for a skeleton of a valid file; parsing the file itself says what is wrong.
    }
  }
  pb::ModelProto model = parse_model(bytes, file);
  flatten_control_flow(model, file);  // sub-graphs (if/else) inlined, or a report of them
  return Reader(model, file, options).run();
}

std::vector<OpCount> mindir_op_census(std::span<const std::byte> bytes, const std::string& file) {
  const pb::ModelProto model = parse_model(bytes, file);
  PrimitiveIndex prims;
  for (const auto& p : model.primitives()) prims.emplace(p.name(), &p);
  // Control flow (sub-graphs, their calls, Switch, Partial) counts as supported when cellar can
  // flatten it (an if/else), not when it cannot (a loop: it loads as a WhileLoop, which does not
  // run).
  bool flattens = true;
  if (model.functions_size() > 0) {
    pb::ModelProto copy = model;
    try {
      flatten_control_flow(copy, file);
      for (const auto& p : copy.primitives()) flattens = flattens && p.op_type() != "WhileLoop";
    } catch (const Error&) {
      flattens = false;
    }
  }
  std::vector<CensusEntry> nodes;
  auto count = [&](const pb::GraphProto& g) {
    for (const auto& n : g.node()) {
      if (n.op_type() == "Constant") continue;
      if (calls_subgraph(model, n.op_type())) {
        nodes.push_back({"(sub-graph call)", flattens});
        continue;
      }
      const auto primitive = node_primitive(n, prims);
      if (!primitive) {
        // "REF::<a value>": a call of what a Switch chose, when the model has sub-graphs.
        if (model.functions_size() > 0)
          nodes.push_back({"(sub-graph call)", flattens});
        else
          nodes.push_back({"(undefined primitive " + n.op_type() + ")", false});
        continue;
      }
      if (primitive->empty() || is_plumbing(*primitive)) continue;
      if (*primitive == "Switch" || *primitive == "Partial") {
        nodes.push_back({*primitive + " (control flow)", flattens});
        continue;
      }
      nodes.push_back({*primitive, ops::op_table().find_mindir(*primitive) != nullptr});
    }
  };
  count(model.graph());
  for (const auto& f : model.functions()) count(f);
  return count_ops(nodes);
}

ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const std::filesystem::path& base_dir) {
  return read_mindir(bytes, file, MindIRReadOptions{.base_dir = base_dir});
}

ir::Graph MindIRFormat::read(std::span<const std::byte> bytes, const std::string& file,
                             const GraphReadOptions& options) const {
  return read_mindir(bytes, file, options);
}

}  // namespace cellar::formats
