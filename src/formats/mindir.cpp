// MindIR reader and writer. The layout is described in mindir.h; the schema in mind_ir.proto.
//
// The reader works in three passes so that hostile files cannot make it recurse deeply or
// dereference a bad name: (1) index every name the graph defines (inputs, parameters, node
// outputs; duplicates refused), (2) walk from the graph outputs with an explicit stack, in
// post-order, refusing dangling names and cycles, (3) build the Graph in that order, so every
// node's inputs are resolved before the node.
#include "formats/mindir.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "formats/crypto.h"
#include "formats/external_file.h"
#include "mind_ir.pb.h"
#include "ops/op_table.h"

namespace cellar::formats {

namespace {

namespace pb = ::mind_ir;
using AttrType = pb::AttributeProto;

// protobuf refuses messages of 2 GiB or more; so do we, with a clear message.
constexpr uint64_t kMaxModelBytes = std::numeric_limits<int32_t>::max();
constexpr size_t kMaxTupleDepth = 64;
constexpr char kProducer[] = "cellar";
constexpr char kProducerVersion[] = "0.1.0";
constexpr char kIrVersion[] = "1.1";
constexpr char kModelVersion[] = "2.10.0";
constexpr int64_t kMindIrVersion = pb::IR_VERSION_WITH_SCALAR_GRAPH_HOLDER;

// ---- dtypes: TensorProto.DataType numbering ----

std::optional<DType> dtype_from_mindir(int64_t t) {
  switch (t) {
    case pb::TensorProto::FLOAT:
      return DType::Float32;
    case pb::TensorProto::UINT8:
      return DType::UInt8;
    case pb::TensorProto::INT8:
      return DType::Int8;
    case pb::TensorProto::UINT16:
      return DType::UInt16;
    case pb::TensorProto::INT16:
      return DType::Int16;
    case pb::TensorProto::INT32:
      return DType::Int32;
    case pb::TensorProto::INT64:
      return DType::Int64;
    case pb::TensorProto::BOOL:
      return DType::Bool;
    case pb::TensorProto::FLOAT16:
      return DType::Float16;
    case pb::TensorProto::DOUBLE:
      return DType::Float64;  // what MindSpore writes for float64
    case pb::TensorProto::UINT32:
      return DType::UInt32;
    case pb::TensorProto::UINT64:
      return DType::UInt64;
    case pb::TensorProto::BFLOAT16:
      return DType::BFloat16;
    case pb::TensorProto::FLOAT64:
      return DType::Float64;
    default:
      return std::nullopt;
  }
}

std::optional<int> dtype_to_mindir(DType t) {
  switch (t) {
    case DType::Bool:
      return pb::TensorProto::BOOL;
    case DType::Int8:
      return pb::TensorProto::INT8;
    case DType::Int16:
      return pb::TensorProto::INT16;
    case DType::Int32:
      return pb::TensorProto::INT32;
    case DType::Int64:
      return pb::TensorProto::INT64;
    case DType::UInt8:
      return pb::TensorProto::UINT8;
    case DType::UInt16:
      return pb::TensorProto::UINT16;
    case DType::UInt32:
      return pb::TensorProto::UINT32;
    case DType::UInt64:
      return pb::TensorProto::UINT64;
    case DType::Float16:
      return pb::TensorProto::FLOAT16;
    case DType::BFloat16:
      return pb::TensorProto::BFLOAT16;
    case DType::Float32:
      return pb::TensorProto::FLOAT;
    case DType::Float64:
      return pb::TensorProto::DOUBLE;
    case DType::String:
      return std::nullopt;
  }
  return std::nullopt;
}

bool is_integer_attr_type(int t) {
  switch (t) {
    case AttrType::UINT8:
    case AttrType::INT8:
    case AttrType::UINT16:
    case AttrType::INT16:
    case AttrType::INT32:
    case AttrType::INT64:
    case AttrType::UINT32:
    case AttrType::UINT64:
    case AttrType::BOOL:
      return true;
    default:
      return false;
  }
}

// ============================================================================================
// External weight files (MindSpore's `<name>_variables/data_N`), layout in mindir.h
// ============================================================================================

// The data files a model names, each opened (and decrypted) once. Tensors view the mapped file
// (plain) or the decrypted copy; either way they keep it alive.
class ExternalData {
 public:
  ExternalData(std::string file, const MindIRReadOptions& options)
      : file_(std::move(file)), options_(options) {}

  Tensor read(const pb::TensorProto& t, const std::string& where, DType dt, const Shape& shape,
              uint64_t nbytes) {
    const auto& e = t.external_data();
    const std::string& location = e.location();
    auto fail = [&](const std::string& why) -> void {
      throw FormatError("external data '" + location + "': " + why,
                        {.file = file_, .tensor = where});
    };
    if (location.empty()) fail("no location");
    if (options_.base_dir.empty())
      throw Error(
          ErrorCode::kUnsupported,
          "weights in external data ('" + location + "') need the model to be read from a folder",
          {.file = file_, .tensor = where});
    if (!external_path_inside(options_.base_dir, location))
      fail("the path leaves the model's folder (only relative paths inside it are allowed)");
    if (!e.has_offset() || e.offset() < static_cast<int64_t>(kMindIRDataHeader))
      fail("offset " + std::to_string(e.offset()) + " lies in the file's " +
           std::to_string(kMindIRDataHeader) + "-byte header");
    if (!e.has_length() || e.length() < 0 || static_cast<uint64_t>(e.length()) != nbytes)
      fail("length " + std::to_string(e.length()) + " differs from the " + std::to_string(nbytes) +
           " bytes of " + std::string(mindspore_name(dt)) + shape.str());
    const Source& src = open(location, where);
    const auto off = static_cast<uint64_t>(e.offset());
    if (off > src.size || nbytes > src.size - off)
      fail("[" + std::to_string(off) + ", +" + std::to_string(nbytes) + ") lies outside the " +
           std::to_string(src.size) + " bytes of the file" + (src.map ? "" : " (decrypted)"));
    if (off % Storage::kAlignment == 0 && nbytes > 0 && dt != DType::Bool) {
      if (src.map) return Tensor(dt, shape, Storage::view(src.map, off, nbytes), 0);
      return Tensor(dt, shape, src.plain, off);
    }
    Tensor out(dt, shape);
    if (nbytes) std::memcpy(out.raw_data(), src.data + off, nbytes);
    if (dt == DType::Bool) {
      auto* p = reinterpret_cast<uint8_t*>(out.raw_data());
      for (uint64_t k = 0; k < nbytes; ++k) p[k] = p[k] != 0;
    }
    return out;
  }

 private:
  struct Source {
    std::shared_ptr<MappedFile> map;  // plain files
    std::shared_ptr<Storage> plain;   // decrypted files
    const std::byte* data = nullptr;
    uint64_t size = 0;
  };

  const Source& open(const std::string& location, const std::string& where) {
    auto it = files_.find(location);
    if (it != files_.end()) return it->second;
    const std::filesystem::path path = options_.base_dir / location;
    Source src;
    try {
      src.map = MappedFile::open(path);
    } catch (const Error& e) {
      throw FormatError("cannot read external data '" + location + "': " + e.reason(),
                        {.file = file_, .tensor = where});
    }
    src.data = src.map->data();
    src.size = src.map->size();
    const std::span<const std::byte> head{src.data, std::min<size_t>(src.size, 4)};
    if (is_encrypted(head)) {
      // MindSpore encrypts the data files with the model's key: the header and each parameter
      // as separate pieces, whose plaintexts concatenate to the plain layout.
      if (!options_.dec)
        throw Error(ErrorCode::kCrypto,
                    "external data '" + location + "' is encrypted; pass dec_key and dec_mode",
                    {.file = path.string(), .tensor = where});
      const std::vector<std::byte> plain =
          decrypt({src.data, src.size}, options_.dec->key, options_.dec->mode, path.string());
      src.plain = Storage::allocate(std::max<size_t>(plain.size(), 1), false);
      if (!plain.empty()) std::memcpy(src.plain->data(), plain.data(), plain.size());
      src.map.reset();
      src.data = src.plain->data();
      src.size = plain.size();
    }
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
    return files_.emplace(location, std::move(src)).first->second;
  }

  std::string file_;
  const MindIRReadOptions& options_;
  std::map<std::string, Source> files_;
};

// ============================================================================================
// Reader
// ============================================================================================

class Reader {
 public:
  Reader(const pb::ModelProto& model, std::string file, const MindIRReadOptions& options)
      : model_(model), file_(std::move(file)), external_(file_, options) {}
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
  Tensor tensor_of(const pb::TensorProto& t, const std::string& where) const;
  std::optional<ir::Attr> attr_of(const pb::AttributeProto& a, const std::string& where,
                                  bool strict) const;
  std::optional<std::vector<ops::TensorType>> output_types(const pb::NodeProto& n, int i) const;

  void index_primitives();
  void index_names();
  NodeInfo classify(int i) const;
  std::vector<int> dependencies(int i) const;
  std::vector<int> order_from(const std::vector<std::string>& roots);
  Ref resolve_name(const std::string& name, const std::string& where) const;
  void build_node(int i);
  int const_tensor(const Ref& r, const std::string& where);
  void flatten_outputs(const Ref& r, const std::string& where, std::vector<int>& out) const;
  void infer_missing_types();

  const pb::ModelProto& model_;
  std::string file_;
  std::string prefix_;
  ir::Graph g_;
  std::set<std::string> value_names_;
  std::unordered_map<std::string, const pb::PrimitiveProto*> prims_;
  std::unordered_map<std::string, Def> defs_;
  std::vector<NodeInfo> info_;
  std::vector<Ref> refs_;  // per file node, once built
  std::vector<bool> built_;
  std::map<int, int> const_values_;  // Constant node → initializer value id
  std::vector<bool> typed_;          // value id → dtype/shape known from the file
  mutable ExternalData external_;
};

// Names in the file are unique (index_names checks); stripped of the "<graph>:" prefix they may
// not be (MindSpore names value nodes without the prefix: a constant "y" next to input "G:y").
// The first keeps the short name, later ones get a suffix.
int Reader::new_value(const std::string& name, DType dtype, Shape shape, const std::string&) {
  std::string unique = name;
  for (int k = 1; !value_names_.insert(unique).second; ++k) unique = name + "_" + std::to_string(k);
  typed_.push_back(true);
  return g_.add_value(unique, dtype, std::move(shape));
}

Shape Reader::dims_of(const pb::TensorProto& t, const std::string& where) const {
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  for (int64_t d : dims)
    if (d < 0)
      unsupported(
          where, "negative dimension " + std::to_string(d) + " (dynamic shapes are not supported)");
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

Tensor Reader::tensor_of(const pb::TensorProto& t, const std::string& where) const {
  const DType dt = dtype_of(t, where);
  Shape shape = dims_of(t, where);
  if (t.has_compression_type() && t.compression_type() != pb::TensorProto::NO_COMPRESSION)
    unsupported(where, "compressed tensors are not supported");
  const int64_t numel = *shape.checked_numel();
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(itemsize(dt)),
                             &nbytes))
    fail(where, "byte size of shape " + shape.str() + " overflows");
  if (t.has_external_data()) return external_.read(t, where, dt, shape, nbytes);
  Tensor out;
  auto copy_in = [&](const void* src, size_t n) {
    out = Tensor(dt, shape);
    if (n > 0) std::memcpy(out.raw_data(), src, n);
  };
  if (t.has_raw_data()) {
    if (t.raw_data().size() != nbytes)
      fail(where, "raw_data has " + std::to_string(t.raw_data().size()) + " bytes, but " +
                      std::string(mindspore_name(dt)) + shape.str() + " needs " +
                      std::to_string(nbytes));
    copy_in(t.raw_data().data(), nbytes);
    if (dt == DType::Bool) {  // only 0/1 are valid bool bytes
      auto* p = reinterpret_cast<uint8_t*>(out.raw_data());
      for (uint64_t k = 0; k < nbytes; ++k) p[k] = p[k] != 0;
    }
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
    std::vector<ops::TensorType> out;
    if (a.type() == AttrType::TUPLE) {
      for (const auto& e : a.values()) out.push_back(one(e));
    } else {
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
  if (op.rfind("REF::", 0) == 0) {
    const std::string key = op.substr(5);
    auto it = prims_.find(key);
    if (it == prims_.end())
      fail(node_label(i), "op_type '" + op + "' refers to primitive '" + key +
                              "', which the file does not define");
    info.prim = it->second;
    info.primitive = it->second->op_type();
    if (info.primitive.empty()) {  // fall back to the "<Primitive>:<uid>" spelling
      info.primitive = key.substr(0, key.find(':'));
    }
  } else if (op.empty()) {
    fail(node_label(i), "node has no op_type");
  } else {
    info.primitive = op;  // old files: the primitive's name, attributes on the node
  }
  // MindSpore 1.x names primitives that Python code calls (bprop graphs) "S-Prim-<Primitive>".
  if (info.primitive.rfind("S-Prim-", 0) == 0 && info.primitive.size() > 7)
    info.primitive = info.primitive.substr(7);
  static const std::map<std::string, Kind> plumbing = {{"Load", Kind::kLoad},
                                                       {"Depend", Kind::kDepend},
                                                       {"UpdateState", Kind::kUpdateState},
                                                       {"MakeTuple", Kind::kMakeTuple},
                                                       {"TupleGetItem", Kind::kTupleGetItem},
                                                       {"Return", Kind::kReturn}};
  if (auto it = plumbing.find(info.primitive); it != plumbing.end()) {
    info.kind = it->second;
    return info;
  }
  info.def = ops::op_table().find_mindir(info.primitive);
  info.variant = ops::op_table().find_mindir_variant(info.primitive);
  if (info.def == nullptr) {
    for (const auto& f : model_.functions())
      if (f.name() == op)
        unsupported(node_label(i),
                    "node calls sub-graph '" + op + "'; sub-graphs are not supported");
    unsupported(node_label(i), "unknown op '" + info.primitive + "' (op_type '" + op + "')");
  }
  return info;
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
    if (!defs_.emplace(name, d).second) fail(strip(name), "name '" + name + "' is defined twice");
  };
  for (int k = 0; k < gp.input_size(); ++k) {
    const auto& in = gp.input(k);
    const std::string where = strip(in.name());
    if (in.tensor_size() == 0 && !in.has_denotation() && !in.has_attr_info())
      unsupported(where.empty() ? "graph input" : where,
                  "graph input is not a tensor: it has no type (MindSpore 1.x writes untyped "
                  "inputs for functions such as bprop graphs; a GraphCell needs each input's "
                  "dtype and shape)");
    if (in.tensor_size() != 1)
      unsupported(where.empty() ? "graph input" : where,
                  "graph input is not a tensor (tuple or scalar inputs are not supported)");
    const int v =
        new_value(where, dtype_of(in.tensor(0), where), dims_of(in.tensor(0), where), where);
    define(in.name(), {Def::kInput, v}, "graph input #" + std::to_string(k));
    g_.inputs.push_back(v);
  }
  for (int k = 0; k < gp.parameter_size(); ++k) {
    const auto& p = gp.parameter(k);
    const std::string name =
        p.has_ref_key() && !p.ref_key().empty() ? p.ref_key() : strip(p.name());
    const std::string where = name.empty() ? "parameter #" + std::to_string(k) : name;
    Tensor data = tensor_of(p, where);
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

// Post-order of the nodes reachable from `roots`, by an explicit stack (no recursion).
std::vector<int> Reader::order_from(const std::vector<std::string>& roots) {
  const size_t nn = static_cast<size_t>(graph_proto().node_size());
  std::vector<uint8_t> state(nn, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::vector<int>> deps(nn);
  std::vector<bool> have_deps(nn, false);
  std::vector<int> order;
  for (const auto& root : roots) {
    auto it = defs_.find(root);
    if (it == defs_.end())
      fail(strip(root), "graph output '" + root + "' is not defined in the graph");
    if (it->second.kind != Def::kNode) continue;
    std::vector<std::pair<int, size_t>> stack{{it->second.index, 0}};
    if (state[static_cast<size_t>(it->second.index)] != 0) continue;
    state[static_cast<size_t>(it->second.index)] = 1;
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      const auto ui = static_cast<size_t>(i);
      if (!have_deps[ui]) {
        info_[ui] = classify(i);
        deps[ui] = dependencies(i);
        have_deps[ui] = true;
      }
      if (next < deps[ui].size()) {
        const int d = deps[ui][next++];
        const auto ud = static_cast<size_t>(d);
        if (state[ud] == 1) fail(node_label(d), "the graph has a cycle through this node");
        if (state[ud] == 0) {
          state[ud] = 1;
          stack.emplace_back(d, 0);
        }
        continue;
      }
      state[ui] = 2;
      order.push_back(i);
      stack.pop_back();
    }
  }
  return order;
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
          if (a.name() != "shape")
            if (auto v = attr_of(a, where, false))
              node.attrs[cellar_name(a.name())] = std::move(*v);
      }
      const int k_all = n.input_size();
      const int n_attr = static_cast<int>(sp.attr_inputs.size());
      // MindSpore 2.x passes every attr input; older files may pass none (attrs on the
      // primitive instead).
      const int n_tensor = k_all >= def.min_inputs + n_attr ? k_all - n_attr : k_all;
      for (int k = n_tensor; k < k_all; ++k) {
        const std::string& key = sp.attr_inputs[static_cast<size_t>(k - n_tensor)];
        const Ref r = input(k);
        if (r.kind != Ref::kConst)
          unsupported(where, "input " + std::to_string(k) + " ('" + key + "' of " + def.name +
                                 ") must be a constant");
        if (auto v = attr_of(*r.constant, where, true)) {
          node.attrs[key] = std::move(*v);
        } else {
          node.attrs.erase(key);
        }
      }
      if (!sp.tuple_input && def.max_inputs >= 0 && n_tensor > def.max_inputs)
        fail(where, def.name + " takes at most " + std::to_string(def.max_inputs) +
                        " tensor inputs but has " + std::to_string(n_tensor) +
                        (n_attr == 0 ? " (extra constant inputs are attr inputs the op table "
                                       "does not name in its MindIR spelling)"
                                     : ""));
      // The tensors: the node's inputs, or (tuple_input: Concat) the items of its one tuple.
      std::vector<Ref> tensors;
      if (sp.tuple_input) {
        if (n_tensor != 1)
          fail(where, def.name + " takes one tuple of tensors (a MakeTuple) and its " +
                          std::to_string(n_attr) + " attribute inputs, but has " +
                          std::to_string(k_all) + " inputs");
        const Ref t = input(0);
        if (t.kind != Ref::kTuple)
          fail(where, def.name + "'s input 0 ('" + n.input(0) +
                          "') is not a tuple (MindSpore passes a MakeTuple of the tensors)");
        if (static_cast<int>(t.items->size()) < def.min_inputs ||
            (def.max_inputs >= 0 && static_cast<int>(t.items->size()) > def.max_inputs))
          fail(where, def.name + "'s tuple ('" + n.input(0) + "') has " +
                          std::to_string(t.items->size()) + " elements");
        tensors = *t.items;
      } else {
        for (int k = 0; k < n_tensor; ++k) tensors.push_back(input(k));
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
      if (types && static_cast<int>(types->size()) != def.num_outputs)
        fail(where, def.name + " has " + std::to_string(def.num_outputs) +
                        " outputs, the file records " + std::to_string(types->size()));
      const std::string base = strip(n.output_size() >= 1 ? n.output(0) : n.name());
      std::vector<Ref> outs;
      for (int k = 0; k < def.num_outputs; ++k) {
        std::string vname = base;
        if (n.output_size() > 1 && k < n.output_size())
          vname = strip(n.output(k));
        else if (def.num_outputs > 1)
          vname = base + ":" + std::to_string(k);
        const int v = types ? new_value(vname, (*types)[static_cast<size_t>(k)].dtype,
                                        (*types)[static_cast<size_t>(k)].shape, where)
                            : new_value(vname, DType::Float32, Shape{}, where);
        if (!types) typed_[static_cast<size_t>(v)] = false;
        node.outputs.push_back(v);
        outs.push_back(Ref{.kind = Ref::kValue, .value = v});
      }
      g_.nodes.push_back(std::move(node));
      if (outs.size() == 1)
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
    for (size_t k = 0; k < out.size(); ++k) {
      auto& info = g_.values[static_cast<size_t>(node.outputs[k])];
      info.dtype = out[k].dtype;
      info.shape = out[k].shape;
      typed_[static_cast<size_t>(node.outputs[k])] = true;
    }
  }
}

ir::Graph Reader::run() {
  if (!model_.has_graph()) fail("", "the model has no graph");
  const auto& gp = graph_proto();
  g_.name = gp.name().empty() ? "graph" : gp.name();
  if (!gp.name().empty()) prefix_ = gp.name() + ":";
  index_primitives();
  index_names();

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
  return std::move(g_);
}

// ============================================================================================
// Writer
// ============================================================================================

class Writer {
 public:
  // external: parameters get dims, type, name and ref_key but no raw_data (save_mindir places
  // their bytes in a data file and sets external_data).
  explicit Writer(const ir::Graph& g, bool external = false) : g_(g), external_(external) {}
  pb::ModelProto run();

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& why) const {
    throw ExportError("MindIR: " + why, {.tensor = where});
  }
  const ir::ValueInfo& value(int v, const std::string& where) const {
    if (v < 0 || static_cast<size_t>(v) >= g_.values.size())
      fail(where, "value id " + std::to_string(v) + " out of range");
    return g_.values[static_cast<size_t>(v)];
  }
  std::string unique(const std::string& want) {
    std::string name = want;
    for (int k = 1; !used_.insert(name).second; ++k) name = want + "_" + std::to_string(k);
    return name;
  }
  int mindir_dtype(DType t, const std::string& where) const {
    auto d = dtype_to_mindir(t);
    if (!d) fail(where, "dtype " + std::string(mindspore_name(t)) + " cannot be written to MindIR");
    return *d;
  }
  void fill_type(pb::TensorProto* t, DType dt, const Shape& s, const std::string& where) const {
    for (int64_t d : s) t->add_dims(d);
    t->set_data_type(mindir_dtype(dt, where));
  }
  void fill_tensor(pb::TensorProto* t, const Tensor& x, const std::string& where) const {
    fill_type(t, x.dtype(), x.shape(), where);
    const auto b = x.bytes();
    t->set_raw_data(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void set_attr(pb::AttributeProto* a, const ir::Attr& v, const std::string& where) const;
  void set_abstract(pb::AttributeProto* a, const std::vector<int>& values,
                    const std::string& where) const;
  std::string constant_node(pb::GraphProto* gp, const std::string& name, const ir::Attr& v,
                            const std::string& where);
  std::string none_node(pb::GraphProto* gp, const std::string& name);  // a None constant
  // A "Constant" node named after `name`: its name in the file and its "value" attribute, unset.
  std::pair<std::string, pb::AttributeProto*> add_constant(pb::GraphProto* gp,
                                                            const std::string& name);

  const ir::Graph& g_;
  bool external_ = false;
  std::string prefix_;
  std::vector<std::string> names_;  // value id → name in the file
  std::set<std::string> used_;
  int uid_ = 0;
};

void Writer::set_attr(pb::AttributeProto* a, const ir::Attr& v, const std::string& where) const {
  auto set_float = [](pb::AttributeProto* e, double d) {
    // MindSpore's float scalars are FP32 (read from `f`); `d` keeps the exact value for us.
    e->set_type(AttrType::FLOAT);
    e->set_f(static_cast<float>(d));
    e->set_d(d);
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          a->set_type(AttrType::BOOL);
          a->set_i(x ? 1 : 0);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          a->set_type(AttrType::INT64);
          a->set_i(x);
        } else if constexpr (std::is_same_v<T, double>) {
          set_float(a, x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          a->set_type(AttrType::STRING);
          a->set_s(x);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          a->set_type(AttrType::TUPLE);  // as MindSpore writes a shape: elements in `ints`
          for (int64_t i : x) {
            auto* e = a->add_values();
            e->set_type(AttrType::INT64);
            e->add_ints(i);
          }
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          a->set_type(AttrType::TUPLE);
          for (double d : x) set_float(a->add_values(), d);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          a->set_type(AttrType::TENSORS);
          if (!x.defined() || x.is_symbolic()) fail(where, "a tensor attribute has no data");
          fill_tensor(a->add_tensors(), x, where);
        }
      },
      v);
}

// The "shape" attribute MindSpore puts on every node: its output's dtype and dims.
void Writer::set_abstract(pb::AttributeProto* a, const std::vector<int>& values,
                          const std::string& where) const {
  a->set_name("shape");
  auto one = [&](pb::AttributeProto* e, int v) {
    const auto& info = value(v, where);
    e->set_type(AttrType::TENSORS);
    fill_type(e->add_tensors(), info.dtype, info.shape, where);
  };
  if (values.size() == 1) {
    one(a, values[0]);
    return;
  }
  a->set_type(AttrType::TUPLE);
  for (int v : values) one(a->add_values(), v);
  a->mutable_seq_info()->set_is_dyn_len(false);
}

std::pair<std::string, pb::AttributeProto*> Writer::add_constant(pb::GraphProto* gp,
                                                                 const std::string& name) {
  auto* n = gp->add_node();
  const std::string file_name = unique(name);
  n->set_name(file_name);
  n->add_output(file_name);
  n->set_op_type("Constant");
  auto* a = n->add_attribute();
  a->set_name("value");
  return {file_name, a};
}

std::string Writer::constant_node(pb::GraphProto* gp, const std::string& name, const ir::Attr& v,
                                  const std::string& where) {
  auto [file_name, a] = add_constant(gp, name);
  set_attr(a, v, where);
  return file_name;
}

std::string Writer::none_node(pb::GraphProto* gp, const std::string& name) {
  auto [file_name, a] = add_constant(gp, name);
  a->set_type(AttrType::NONE);
  return file_name;
}

pb::ModelProto Writer::run() {
  pb::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name(kProducer);
  m.set_producer_version(kProducerVersion);
  m.set_model_version(kModelVersion);
  m.set_little_endian(true);
  m.set_mind_ir_version(kMindIrVersion);
  auto* gp = m.mutable_graph();
  const std::string gname = g_.name.empty() ? "graph" : g_.name;
  gp->set_name(gname);
  prefix_ = gname + ":";

  names_.resize(g_.values.size());
  for (size_t v = 0; v < g_.values.size(); ++v) {
    names_[v] = prefix_ + g_.values[v].name;
    if (!used_.insert(names_[v]).second)
      fail(g_.values[v].name, "two values are named '" + g_.values[v].name + "'");
  }

  for (int v : g_.inputs) {
    const auto& info = value(v, "graph input");
    auto* in = gp->add_input();
    in->set_name(names_[static_cast<size_t>(v)]);
    fill_type(in->add_tensor(), info.dtype, info.shape, info.name);
  }
  for (const auto& init : g_.initializers) {
    const auto& info = value(init.value, "initializer");
    if (!init.data.defined() || init.data.is_symbolic())
      fail(info.name, "initializer '" + info.name + "' has no data");
    if (init.is_parameter) {
      auto* p = gp->add_parameter();
      if (external_)
        fill_type(p, init.data.dtype(), init.data.shape(), info.name);
      else
        fill_tensor(p, init.data, info.name);
      p->set_name(names_[static_cast<size_t>(init.value)]);
      p->set_ref_key(info.name);
    } else {  // constants are value nodes, as MindSpore writes them
      auto* n = gp->add_node();
      n->set_name(names_[static_cast<size_t>(init.value)]);
      n->add_output(names_[static_cast<size_t>(init.value)]);
      n->set_op_type("Constant");
      auto* a = n->add_attribute();
      a->set_name("value");
      set_attr(a, ir::Attr(init.data), info.name);
    }
  }

  std::vector<size_t> order;
  try {
    order = g_.topological_order();
  } catch (const std::out_of_range&) {
    fail(g_.name, "a node refers to a value id out of range");
  }
  const auto& table = ops::op_table();
  for (size_t idx : order) {
    const ir::Node& node = g_.nodes[idx];
    const ops::OpDef* def = table.find(node.op);
    if (def == nullptr || def->mindir.primitive.empty())
      fail(node.name, "op '" + node.op + "' has no MindIR spelling in the op table");
    if (node.outputs.empty()) fail(node.name, "node has no outputs");
    // The spelling: the row's own, or the first variant that takes the node (Pad in reflect
    // mode is MirrorPad), with the attributes rewritten into the variant's.
    const ops::MindIRSpelling* sp = &def->mindir;
    ir::Attrs attrs = node.attrs;
    if (!def->mindir.variants.empty()) {
      std::vector<ops::TensorType> in;
      for (int v : node.inputs)
        in.push_back({value(v, node.name).dtype, value(v, node.name).shape});
      for (const auto& variant : def->mindir.variants) {
        ir::Attrs a = node.attrs;
        bool take = false;
        try {
          take = variant.write(a, in);
        } catch (const Error& e) {
          fail(node.name, e.reason());
        }
        if (take) {
          sp = &variant.spelling;
          attrs = std::move(a);
          break;
        }
      }
    }
    std::vector<std::string> inputs;
    for (int v : node.inputs) {
      value(v, node.name);
      inputs.push_back(names_[static_cast<size_t>(v)]);
    }
    if (sp->tuple_input) {  // Concat(MakeTuple(x0, x1, ...), axis), as MindSpore writes
      const std::string tuple_prim = "MakeTuple:" + std::to_string(++uid_);
      auto* prim = m.add_primitives();
      prim->set_name(tuple_prim);
      prim->set_op_type("MakeTuple");
      prim->set_instance_name("");
      prim->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
      auto* t = gp->add_node();
      const std::string tuple_name = unique(prefix_ + node.name + ":tuple");
      for (auto& s : inputs) t->add_input(s);
      t->add_output(tuple_name);
      t->set_name(tuple_name);
      t->set_op_type("REF::" + tuple_prim);
      set_abstract(t->add_attribute(), node.inputs, node.name);
      inputs = {tuple_name};
    }
    for (const auto& key : sp->attr_inputs) {
      auto it = attrs.find(key);
      auto dflt = sp->defaults.find(key);
      if (it == attrs.end() && dflt == sp->defaults.end() &&
          std::find(sp->none_when_absent.begin(), sp->none_when_absent.end(), key) !=
              sp->none_when_absent.end()) {
        inputs.push_back(none_node(gp, prefix_ + node.name + ":" + key));
        continue;
      }
      if (it == attrs.end() && dflt == sp->defaults.end())
        fail(node.name, "op " + node.op + " passes attribute '" + key +
                            "' as an input in MindIR, but the node does not have it");
      const ir::Attr& v = it != attrs.end() ? it->second : dflt->second;
      inputs.push_back(constant_node(gp, prefix_ + node.name + ":" + key, v, node.name));
    }
    const std::string prim_name = sp->primitive + ":" + std::to_string(++uid_);
    auto* prim = m.add_primitives();
    prim->set_name(prim_name);
    prim->set_op_type(sp->primitive);
    prim->set_instance_name("");
    prim->set_prim_type(sp->primitive_function ? pb::PrimitiveProto::PRIMITIVE_FUNCTION
                                               : pb::PrimitiveProto::PRIMITIVE);
    ir::Attrs prim_attrs = attrs;
    for (const auto& k : sp->attr_inputs) prim_attrs.erase(k);
    if (!sp->primitive_function)  // MindSpore's loader reads every attribute it defines
      for (const auto& [key, v] : sp->defaults) prim_attrs.emplace(key, v);
    if (!sp->primitive_function && sp->complete) {
      try {
        sp->complete(prim_attrs);
      } catch (const Error& e) {
        fail(node.name, e.reason());
      }
    }
    for (const auto& [key, v] : prim_attrs) {
      auto* a = prim->add_attribute();
      auto r = sp->renamed.find(key);
      a->set_name(r == sp->renamed.end() ? key : r->second);
      const auto nest = sp->nested.find(key);
      const auto* flat = std::get_if<std::vector<int64_t>>(&v);
      if (nest != sp->nested.end() && flat != nullptr) {
        const size_t k = nest->second;
        if (k == 0 || flat->size() % k != 0)
          fail(node.name, "attribute '" + key + "' has " + std::to_string(flat->size()) +
                              " values, not a whole number of " + std::to_string(k) + "-tuples");
        a->set_type(AttrType::TUPLE);
        for (size_t i = 0; i < flat->size(); i += k)
          set_attr(a->add_values(),
                   std::vector<int64_t>(flat->begin() + static_cast<std::ptrdiff_t>(i),
                                        flat->begin() + static_cast<std::ptrdiff_t>(i + k)),
                   node.name);
      } else {
        set_attr(a, v, node.name);
      }
    }

    auto* n = gp->add_node();
    for (auto& s : inputs) n->add_input(s);
    for (int v : node.outputs) value(v, node.name);
    // MindSpore's nodes have one output, named like the node; an op with several outputs
    // (BatchNorm) yields a tuple that TupleGetItem nodes take apart (MindSpore's loader reads
    // a node's first output only).
    const std::string out_name = node.outputs.size() == 1
                                     ? names_[static_cast<size_t>(node.outputs[0])]
                                     : unique(prefix_ + node.name);
    n->add_output(out_name);
    n->set_name(out_name);
    n->set_op_type("REF::" + prim_name);
    set_abstract(n->add_attribute(), node.outputs, node.name);
    if (node.outputs.size() > 1) {
      const std::string get_name = "TupleGetItem:" + std::to_string(++uid_);
      auto* get = m.add_primitives();
      get->set_name(get_name);
      get->set_op_type("TupleGetItem");
      get->set_instance_name("");
      get->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        const int v = node.outputs[k];
        const std::string index = constant_node(gp, out_name + ":index" + std::to_string(k),
                                                ir::Attr(static_cast<int64_t>(k)), node.name);
        auto* g = gp->add_node();
        g->add_input(out_name);
        g->add_input(index);
        g->add_output(names_[static_cast<size_t>(v)]);
        g->set_name(names_[static_cast<size_t>(v)]);
        g->set_op_type("REF::" + get_name);
        set_abstract(g->add_attribute(), {v}, node.name);
      }
    }
  }

  if (g_.outputs.empty()) fail(gname, "the graph has no outputs");
  for (int v : g_.outputs) value(v, "graph output");
  if (g_.outputs.size() == 1) {
    const int v = g_.outputs[0];
    auto* o = gp->add_output();
    o->set_name(names_[static_cast<size_t>(v)]);
    fill_type(o->add_tensor(), value(v, "").dtype, value(v, "").shape, value(v, "").name);
  } else {
    const std::string prim_name = "MakeTuple:" + std::to_string(++uid_);
    auto* prim = m.add_primitives();
    prim->set_name(prim_name);
    prim->set_op_type("MakeTuple");
    prim->set_instance_name("");
    prim->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
    auto* n = gp->add_node();
    const std::string name = unique(prefix_ + "MakeTuple");
    for (int v : g_.outputs) n->add_input(names_[static_cast<size_t>(v)]);
    n->add_output(name);
    n->set_name(name);
    n->set_op_type("REF::" + prim_name);
    set_abstract(n->add_attribute(), g_.outputs, "graph output");
    auto* o = gp->add_output();
    o->set_name(name);
    o->set_denotation("Tuple");
    auto* info = o->mutable_attr_info();
    set_abstract(info, g_.outputs, "graph output");
    info->clear_name();
  }
  return m;
}

[[noreturn]] void too_big(const std::string& file, uint64_t n) {
  throw Error(
      ErrorCode::kUnsupported,
      "MindIR model of " + std::to_string(n) +
          " bytes is over protobuf's 2 GiB limit (a model whose weights go to external files "
          "should not reach it: are the constants that large?)",
      {.file = file});
}

}  // namespace

ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const MindIRReadOptions& options) {
  if (bytes.empty()) throw FormatError("empty file", {.file = file});
  if (bytes.size() > kMaxModelBytes) too_big(file, bytes.size());
  pb::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw FormatError(
        "not a valid mind_ir.ModelProto (protobuf parse failed: truncated or corrupt)",
        {.file = file});
  return Reader(model, file, options).run();
}

ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const std::filesystem::path& base_dir) {
  return read_mindir(bytes, file, MindIRReadOptions{.base_dir = base_dir});
}

uint64_t mindir_parameter_bytes(const ir::Graph& graph) {
  uint64_t total = 0;
  for (const auto& init : graph.initializers)
    if (init.is_parameter && init.data.defined() && !init.data.is_symbolic())
      total += init.data.nbytes() + kMindIRBytesOverhead;
  return total;
}

std::filesystem::path save_mindir(const ir::Graph& graph, const std::filesystem::path& stem,
                                  const MindIRWriteOptions& options) {
  namespace fs = std::filesystem;
  if (options.enc) check_key(options.enc->key, options.enc->mode);
  const bool external = mindir_parameter_bytes(graph) > options.external_threshold;
  const pb::ModelProto m = Writer(graph, external).run();
  const size_t n = m.ByteSizeLong();
  if (n > kMaxModelBytes) too_big("", n);
  std::string model;
  if (!m.SerializeToString(&model)) throw ExportError("MindIR: protobuf serialization failed");

  auto write = [&](AtomicFile& out, std::span<const std::byte> bytes) {
    if (options.enc)  // one encrypted piece per call, as MindSpore writes them
      encrypt_to(bytes, options.enc->key, options.enc->mode, out);
    else
      out.write(bytes);
  };
  const auto as_bytes = [](const std::string& s) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  if (!external) {
    const fs::path path = fs::path(stem) += ".mindir";
    AtomicFile out(path);
    write(out, as_bytes(model));
    out.commit();
    return path;
  }

  // The external layout: parameters sorted by name, each at a 64-byte aligned offset after the
  // 64-byte header, padded with zeros to a multiple of 64; the model proto refers to them.
  const std::string prefix = stem.filename().string();
  const fs::path dir = stem.parent_path().empty() ? fs::path(".") : stem.parent_path();
  const std::string location = prefix + "_variables/data_0";
  std::error_code ec;
  fs::create_directories(dir / (prefix + "_variables"), ec);
  if (ec)
    throw IoError("cannot create the folder: " + ec.message(),
                  {.file = (dir / (prefix + "_variables")).string()});
  std::map<std::string, const ir::Initializer*> params;
  for (const auto& init : graph.initializers)
    if (init.is_parameter) params[graph.value(init.value).name] = &init;

  pb::ModelProto placed = m;
  std::map<std::string, pb::TensorProto*> protos;
  for (auto& p : *placed.mutable_graph()->mutable_parameter()) protos[p.ref_key()] = &p;
  AtomicFile data(dir / location);
  std::array<std::byte, kMindIRDataHeader> header{};
  header[0] = std::byte{1};  // little-endian, as MindSpore's check code says
  write(data, header);
  uint64_t offset = kMindIRDataHeader;
  static const std::array<std::byte, kMindIRDataHeader> zeros{};
  for (const auto& [name, init] : params) {
    auto it = protos.find(name);
    if (it == protos.end()) throw ExportError("MindIR: parameter '" + name + "' was not written");
    const auto bytes = init->data.bytes();
    const size_t pad = (kMindIRDataHeader - bytes.size() % kMindIRDataHeader) % kMindIRDataHeader;
    auto* e = it->second->mutable_external_data();
    e->set_location(location);
    e->set_offset(static_cast<int64_t>(offset));
    e->set_length(static_cast<int64_t>(bytes.size()));
    if (options.enc) {
      Encryptor enc(options.enc->key, options.enc->mode, data);
      enc.write(bytes);
      enc.write(std::span<const std::byte>(zeros.data(), pad));
      enc.finish();
    } else {
      data.write(bytes);
      data.write(zeros.data(), pad);
    }
    offset += bytes.size() + pad;
  }
  std::string graph_bytes;
  if (!placed.SerializeToString(&graph_bytes))
    throw ExportError("MindIR: protobuf serialization failed");
  const fs::path path = dir / (prefix + "_graph.mindir");
  AtomicFile out(path);
  write(out, as_bytes(graph_bytes));
  data.commit();  // the weights first: a committed graph never names missing bytes
  out.commit();
  return stem.parent_path().empty() ? fs::path(prefix + "_graph.mindir") : path;
}

std::string write_mindir(const ir::Graph& graph) {
  const pb::ModelProto m = Writer(graph).run();
  const size_t n = m.ByteSizeLong();
  if (n > kMaxModelBytes) too_big("", n);
  std::string out;
  if (!m.SerializeToString(&out)) throw ExportError("MindIR: protobuf serialization failed");
  return out;
}

bool MindIRFormat::sniff(std::span<const std::byte> head) const {
  if (head.empty()) return false;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(head[i]); };
  // Tags of ModelProto fields: length-delimited 1-9, 11, 12, 14; varint 10, 13.
  static constexpr uint8_t kTags[] = {0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A,
                                      0x42, 0x4A, 0x50, 0x5A, 0x62, 0x68, 0x72};
  if (std::find(std::begin(kTags), std::end(kTags), b(0)) == std::end(kTags)) return false;
  if (b(0) != 0x0A) return true;
  // ir_version first (ours and MindSpore's): a short printable string. This tells a MindIR
  // file from a checkpoint, whose first field 1 is a message starting with a tag byte.
  if (head.size() < 2 || b(1) == 0 || b(1) > 32) return false;
  for (size_t i = 2; i < head.size() && i < 2 + static_cast<size_t>(b(1)); ++i)
    if (b(i) < 0x20 || b(i) > 0x7E) return false;
  return true;
}

ir::Graph MindIRFormat::read(const std::filesystem::path& path) const {
  const auto file = MappedFile::open(path);
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  return read_mindir({file->data(), file->size()}, path.string(), dir);
}

void MindIRFormat::write(const ir::Graph& graph, AtomicFile& out) const {
  const std::string bytes = write_mindir(graph);
  out.write(bytes.data(), bytes.size());
}

const GraphFormat& mindir_format() {
  static const MindIRFormat format;
  return format;
}

}  // namespace cellar::formats
