// MindIR writer: Graph → file bytes, laid out as formats/mindir.h describes (MindSpore 2.x
// conventions), and save_mindir's external data files and encryption.
#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <utility>
#include <variant>
#include <vector>

#include "cellar/version.h"
#include "formats/crypto.h"
#include "formats/mindir/mindir_impl.h"
#include "ops/op_table.h"

namespace cellar::formats {

using namespace mindir;  // NOLINT: this file is MindIR's

namespace {

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
  // A tensor's type, or (several values, or `tuple`) a tuple of them.
  void set_abstract(pb::AttributeProto* a, const std::vector<int>& values, bool tuple,
                    const std::string& where) const;
  std::string constant_node(pb::GraphProto* gp, const std::string& name, const ir::Attr& v,
                            const std::string& where);
  std::string none_node(pb::GraphProto* gp, const std::string& name);  // a None constant
  // A "Constant" node named after `name`: its name in the file and its "value" attribute, unset.
  std::pair<std::string, pb::AttributeProto*> add_constant(pb::GraphProto* gp,
                                                           const std::string& name);

  // The steps of run(), in order.
  void write_header(pb::ModelProto& m);
  void name_values();
  void write_inputs(pb::GraphProto* gp);
  void write_initializers(pb::GraphProto* gp);
  void write_node(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node);
  void write_outputs(pb::ModelProto& m, pb::GraphProto* gp);
  // Pieces of write_node.
  std::pair<const ops::MindIRSpelling*, ir::Attrs> spelling(const ir::Node& node,
                                                            const ops::OpDef& def) const;
  std::string write_tuple_input(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node,
                                const std::vector<std::string>& inputs);
  void write_attr_inputs(pb::GraphProto* gp, const ir::Node& node, const ops::MindIRSpelling& sp,
                         const ir::Attrs& attrs, std::vector<std::string>& inputs);
  void write_primitive_attrs(pb::PrimitiveProto* prim, const ir::Node& node,
                             const ops::MindIRSpelling& sp, const ir::Attrs& attrs) const;
  void write_tuple_outputs(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node,
                           const std::string& out_name);
  // A new PrimitiveProto named "<op_type>:<uid>" (PRIMITIVE_FUNCTION when `function`).
  pb::PrimitiveProto* add_primitive(pb::ModelProto& m, const std::string& op_type, bool function);

  const ir::Graph& g_;
  bool external_ = false;
  std::string gname_;
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
void Writer::set_abstract(pb::AttributeProto* a, const std::vector<int>& values, bool tuple,
                          const std::string& where) const {
  a->set_name("shape");
  auto one = [&](pb::AttributeProto* e, int v) {
    const auto& info = value(v, where);
    e->set_type(AttrType::TENSORS);
    fill_type(e->add_tensors(), info.dtype, info.shape, where);
  };
  if (values.size() == 1 && !tuple) {
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

// The model, in the order MindSpore lays it out: header, inputs, parameters and constants, the
// nodes in topological order, the outputs.
pb::ModelProto Writer::run() {
  pb::ModelProto m;
  write_header(m);
  name_values();
  auto* gp = m.mutable_graph();
  write_inputs(gp);
  write_initializers(gp);
  std::vector<size_t> order;
  try {
    order = g_.topological_order();
  } catch (const std::out_of_range&) {
    fail(g_.name, "a node refers to a value id out of range");
  }
  for (size_t idx : order) write_node(m, gp, g_.nodes[idx]);
  write_outputs(m, gp);
  return m;
}

void Writer::write_header(pb::ModelProto& m) {
  m.set_ir_version(kIrVersion);
  m.set_producer_name(kProducer);
  m.set_producer_version(kVersion);
  m.set_model_version(kModelVersion);
  m.set_little_endian(true);
  m.set_mind_ir_version(kMindIrVersion);
  gname_ = g_.name.empty() ? "graph" : g_.name;
  m.mutable_graph()->set_name(gname_);
  prefix_ = gname_ + ":";
}

void Writer::name_values() {
  names_.resize(g_.values.size());
  for (size_t v = 0; v < g_.values.size(); ++v) {
    names_[v] = prefix_ + g_.values[v].name;
    if (!used_.insert(names_[v]).second)
      fail(g_.values[v].name, "two values are named '" + g_.values[v].name + "'");
  }
}

void Writer::write_inputs(pb::GraphProto* gp) {
  for (int v : g_.inputs) {
    const auto& info = value(v, "graph input");
    auto* in = gp->add_input();
    in->set_name(names_[static_cast<size_t>(v)]);
    fill_type(in->add_tensor(), info.dtype, info.shape, info.name);
  }
}

// Parameters (raw_data inline, or only their type when external) and constants (value nodes, as
// MindSpore writes them).
void Writer::write_initializers(pb::GraphProto* gp) {
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
    } else {
      auto* n = gp->add_node();
      n->set_name(names_[static_cast<size_t>(init.value)]);
      n->add_output(names_[static_cast<size_t>(init.value)]);
      n->set_op_type("Constant");
      auto* a = n->add_attribute();
      a->set_name("value");
      set_attr(a, ir::Attr(init.data), info.name);
    }
  }
}

pb::PrimitiveProto* Writer::add_primitive(pb::ModelProto& m, const std::string& op_type,
                                          bool function) {
  auto* prim = m.add_primitives();
  prim->set_name(op_type + ":" + std::to_string(++uid_));
  prim->set_op_type(op_type);
  prim->set_instance_name("");
  prim->set_prim_type(function ? pb::PrimitiveProto::PRIMITIVE_FUNCTION
                               : pb::PrimitiveProto::PRIMITIVE);
  return prim;
}

// The spelling: the row's own, or the first variant that takes the node (Pad in reflect mode is
// MirrorPad), with the attributes rewritten into the variant's.
std::pair<const ops::MindIRSpelling*, ir::Attrs> Writer::spelling(const ir::Node& node,
                                                                  const ops::OpDef& def) const {
  const ops::MindIRSpelling* sp = &def.mindir;
  ir::Attrs attrs = node.attrs;
  if (!def.mindir.variants.empty()) {
    std::vector<ops::TensorType> in;
    for (int v : node.inputs) in.push_back({value(v, node.name).dtype, value(v, node.name).shape});
    for (const auto& variant : def.mindir.variants) {
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
  return {sp, std::move(attrs)};
}

// Concat(MakeTuple(x0, x1, ...), axis), as MindSpore writes it: the MakeTuple node's name.
std::string Writer::write_tuple_input(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node,
                                      const std::vector<std::string>& inputs) {
  const std::string tuple_prim = add_primitive(m, "MakeTuple", false)->name();
  auto* t = gp->add_node();
  const std::string tuple_name = unique(prefix_ + node.name + ":tuple");
  for (auto& s : inputs) t->add_input(s);
  t->add_output(tuple_name);
  t->set_name(tuple_name);
  t->set_op_type("REF::" + tuple_prim);
  set_abstract(t->add_attribute(), node.inputs, true, node.name);
  return tuple_name;
}

// The spelling's attr inputs, each a Constant node (a None one when absent and allowed).
void Writer::write_attr_inputs(pb::GraphProto* gp, const ir::Node& node,
                               const ops::MindIRSpelling& sp, const ir::Attrs& attrs,
                               std::vector<std::string>& inputs) {
  for (const auto& key : sp.attr_inputs) {
    auto it = attrs.find(key);
    auto dflt = sp.defaults.find(key);
    if (it == attrs.end() && dflt == sp.defaults.end() &&
        std::find(sp.none_when_absent.begin(), sp.none_when_absent.end(), key) !=
            sp.none_when_absent.end()) {
      inputs.push_back(none_node(gp, prefix_ + node.name + ":" + key));
      continue;
    }
    if (it == attrs.end() && dflt == sp.defaults.end())
      fail(node.name, "op " + node.op + " passes attribute '" + key +
                          "' as an input in MindIR, but the node does not have it");
    ir::Attr v = it != attrs.end() ? it->second : dflt->second;
    if (std::find(sp.type_id_inputs.begin(), sp.type_id_inputs.end(), key) !=
        sp.type_id_inputs.end()) {  // a dtype name, written as MindSpore's TypeId number
      const std::string* name = std::get_if<std::string>(&v);
      const auto dt = name ? dtype_from_mindspore_name(*name) : std::nullopt;
      const auto id = dt ? type_id_of(*dt) : std::nullopt;
      if (!id) fail(node.name, "op " + node.op + "'s '" + key + "' is not a dtype MindSpore has");
      v = *id;
    }
    inputs.push_back(constant_node(gp, prefix_ + node.name + ":" + key, v, node.name));
  }
}

// The attributes not passed as inputs, on the primitive (all of an older Python primitive's,
// defaults and completions included; nested tuples where the spelling says).
void Writer::write_primitive_attrs(pb::PrimitiveProto* prim, const ir::Node& node,
                                   const ops::MindIRSpelling& sp, const ir::Attrs& attrs) const {
  ir::Attrs prim_attrs = attrs;
  for (const auto& k : sp.attr_inputs) prim_attrs.erase(k);
  if (!sp.primitive_function)  // MindSpore's loader reads every attribute it defines
    for (const auto& [key, v] : sp.defaults) prim_attrs.emplace(key, v);
  if (!sp.primitive_function && sp.complete) {
    try {
      sp.complete(prim_attrs);
    } catch (const Error& e) {
      fail(node.name, e.reason());
    }
  }
  for (const auto& [key, v] : prim_attrs) {
    auto* a = prim->add_attribute();
    auto r = sp.renamed.find(key);
    a->set_name(r == sp.renamed.end() ? key : r->second);
    const auto nest = sp.nested.find(key);
    const auto* flat = std::get_if<std::vector<int64_t>>(&v);
    if (nest != sp.nested.end() && flat != nullptr) {
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
}

// An op with several outputs (BatchNorm) yields a tuple that TupleGetItem nodes take apart
// (MindSpore's loader reads a node's first output only).
void Writer::write_tuple_outputs(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node,
                                 const std::string& out_name) {
  const std::string get_name = add_primitive(m, "TupleGetItem", false)->name();
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
    set_abstract(g->add_attribute(), {v}, false, node.name);
  }
}

// One cellar node: its tuple and attr inputs, its primitive, the node, its tuple outputs.
void Writer::write_node(pb::ModelProto& m, pb::GraphProto* gp, const ir::Node& node) {
  const ops::OpDef* def = ops::op_table().find(node.op);
  if (def == nullptr || def->mindir.primitive.empty())
    fail(node.name, "op '" + node.op + "' has no MindIR spelling in the op table");
  if (node.outputs.empty()) fail(node.name, "node has no outputs");
  // The forms whose optional value inputs stand for attributes (Reshape(x, shape), Pad(x, pads),
  // TopkExt(x, k), read from ONNX with those computed at run time): MindSpore's primitive takes
  // the argument as a constant.
  if (def->attrs_from_values)
    for (size_t i : def->value_inputs)
      if (static_cast<int>(i) >= def->min_inputs && i < node.inputs.size())
        fail(node.name, "op " + node.op + "'s input " + std::to_string(i) +
                            " is computed at run time, but MindIR takes that argument of " +
                            def->mindir.primitive + " as a constant: export to ONNX instead");
  const auto [sp, attrs] = spelling(node, *def);
  std::vector<std::string> inputs;
  for (int v : node.inputs) {
    value(v, node.name);
    inputs.push_back(names_[static_cast<size_t>(v)]);
  }
  if (sp->tuple_input) inputs = {write_tuple_input(m, gp, node, inputs)};
  write_attr_inputs(gp, node, *sp, attrs, inputs);
  if (const auto pos = ops::argument_positions(*sp); !pos.empty()) {  // GroupNorm's order
    if (pos.size() != inputs.size())
      fail(node.name, "op " + node.op + " has " + std::to_string(inputs.size()) +
                          " inputs and attr inputs, its MindIR spelling " +
                          std::to_string(pos.size()) + " arguments");
    std::vector<std::string> ordered(inputs.size());
    for (size_t k = 0; k < pos.size(); ++k) ordered[pos[k]] = inputs[k];
    inputs = std::move(ordered);
  }
  pb::PrimitiveProto* prim = add_primitive(m, sp->primitive, sp->primitive_function);
  const std::string prim_name = prim->name();
  write_primitive_attrs(prim, node, *sp, attrs);

  auto* n = gp->add_node();
  for (auto& s : inputs) n->add_input(s);
  for (int v : node.outputs) value(v, node.name);
  // MindSpore's nodes have one output, named like the node.
  // Ops with a variable output count (Split, Unstack) yield a tuple even of one tensor.
  const bool tuple_out = node.outputs.size() > 1 || def->num_outputs < 0;
  if (def->num_outputs >= 0 && static_cast<int>(node.outputs.size()) != def->num_outputs)
    fail(node.name, "op " + node.op + " has " + std::to_string(node.outputs.size()) +
                        " outputs, expected " + std::to_string(def->num_outputs));
  const std::string out_name =
      !tuple_out ? names_[static_cast<size_t>(node.outputs[0])] : unique(prefix_ + node.name);
  n->add_output(out_name);
  n->set_name(out_name);
  n->set_op_type("REF::" + prim_name);
  set_abstract(n->add_attribute(), node.outputs, tuple_out, node.name);
  if (tuple_out) write_tuple_outputs(m, gp, node, out_name);
}

// One output as itself; several as a MakeTuple node, the output marked "Tuple".
void Writer::write_outputs(pb::ModelProto& m, pb::GraphProto* gp) {
  if (g_.outputs.empty()) fail(gname_, "the graph has no outputs");
  for (int v : g_.outputs) value(v, "graph output");
  if (g_.outputs.size() == 1) {
    const int v = g_.outputs[0];
    auto* o = gp->add_output();
    o->set_name(names_[static_cast<size_t>(v)]);
    fill_type(o->add_tensor(), value(v, "").dtype, value(v, "").shape, value(v, "").name);
    return;
  }
  const std::string prim_name = add_primitive(m, "MakeTuple", false)->name();
  auto* n = gp->add_node();
  const std::string name = unique(prefix_ + "MakeTuple");
  for (int v : g_.outputs) n->add_input(names_[static_cast<size_t>(v)]);
  n->add_output(name);
  n->set_name(name);
  n->set_op_type("REF::" + prim_name);
  set_abstract(n->add_attribute(), g_.outputs, false, "graph output");
  auto* o = gp->add_output();
  o->set_name(name);
  o->set_denotation("Tuple");
  auto* info = o->mutable_attr_info();
  set_abstract(info, g_.outputs, false, "graph output");
  info->clear_name();
}

}  // namespace

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
  const bool external =
      options.external_data || mindir_parameter_bytes(graph) > options.external_threshold;
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

std::filesystem::path MindIRFormat::write(const ir::Graph& graph, const std::filesystem::path& path,
                                          const GraphWriteOptions& options) const {
  std::filesystem::path stem = path;
  if (stem.extension() == extension()) stem.replace_extension();
  return save_mindir(graph, stem, options);
}

void MindIRFormat::write(const ir::Graph& graph, AtomicFile& out) const {
  const std::string bytes = write_mindir(graph);
  out.write(bytes.data(), bytes.size());
}

}  // namespace cellar::formats
