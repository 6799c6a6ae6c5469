// What the MindIR reader, writer and 1.x dialect share (private to src/formats/mindir/): the
// schema's namespace, the constants of the layout we write, dtype numbering, and the 1.x dialect's
// hooks. The layout itself is described in formats/mindir.h; the schema in mind_ir.proto.
//
//   reader.cpp      file → Graph (external data through graph_reader.h)
//   dialect_1x.cpp  what MindSpore 1.x files spell differently (bare op types, S-Prim-, untyped
//                   inputs, attributes on the node)
//   writer.cpp      Graph → file (save_mindir: external data, encryption)
//   format.cpp      the MindIRFormat interface, dtype numbering, the size limit
//   control_flow.cpp  sub-graphs (if/else) flattened before reading, loops reported
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cellar/dtype.h"
#include "formats/mindir.h"
#include "mind_ir.pb.h"

namespace cellar::formats::mindir {

namespace pb = ::mind_ir;
using AttrType = pb::AttributeProto;

// protobuf refuses messages of 2 GiB or more; so do we, with a clear message.
inline constexpr uint64_t kMaxModelBytes = std::numeric_limits<int32_t>::max();
inline constexpr size_t kMaxTupleDepth = 64;
inline constexpr char kProducer[] = "cellar";
inline constexpr char kIrVersion[] = "1.1";
inline constexpr char kModelVersion[] = "2.10.0";
inline constexpr int64_t kMindIrVersion = pb::IR_VERSION_WITH_SCALAR_GRAPH_HOLDER;

// ---- dtypes: TensorProto.DataType numbering ----
std::optional<DType> dtype_from_mindir(int64_t t);
std::optional<int> dtype_to_mindir(DType t);
bool is_integer_attr_type(int t);
// MindSpore's TypeId numbers (how MindSpore 2.x passes a dtype argument: Cast's dtype, 43 for
// Float32); nullopt for numbers cellar has no dtype for.
std::optional<DType> dtype_from_type_id(int64_t id);
std::optional<int64_t> type_id_of(DType t);

// kUnsupported: a model of `n` bytes is over protobuf's limit.
[[noreturn]] void too_big(const std::string& file, uint64_t n);

// ---- the MindSpore 1.x dialect (dialect_1x.cpp) ----

// The primitive a node's op_type names when it has no "REF::" prefix: MindSpore up to 1.6 wrote
// the bare primitive name, with the primitive's attributes on the node.
std::string bare_primitive_1x(const std::string& op_type);
// MindSpore 1.x names primitives that Python code calls (bprop graphs) "S-Prim-<Primitive>":
// the primitive without that prefix.
std::string strip_python_prefix_1x(std::string primitive);
// True for a graph input without any type (MindSpore 1.x bprop graphs); the reader refuses it
// with kUntypedInput1x.
bool is_untyped_input_1x(const pb::ValueInfoProto& in);
inline constexpr char kUntypedInput1x[] =
    "graph input is not a tensor: it has no type (MindSpore 1.x writes untyped inputs for "
    "functions such as bprop graphs; a GraphCell needs each input's dtype and shape)";
// Whether a node attribute of a 1.x file (attributes on the node) is one of the primitive's: all
// but the output abstract "shape".
bool is_primitive_attribute_1x(const pb::AttributeProto& a);
// Values the exporter of MindSpore 1.1 to 1.4 encoded its own way, which later versions' readers
// still accept: a tuple as one scalar attribute holding every element (the elements' type,
// `ints`/`floats`/`doubles`, ref_attr_name "scalar:Tuple[value1,value2,],"; an empty tuple as
// TENSORS without tensors), None as an attribute without type whose ref_attr_name is "none";
// and, in every 1.x and 2.x before the op yaml, a dtype (Cast's dst_type) as TENSORS holding one
// tensor that has only a data_type (no dims, no data; 1.1 adds ref_attr_name "type:value0").
struct LegacyValue1x {
  enum Kind { kNotLegacy, kNone, kInts, kFloats, kType, kUnknownType } kind = kNotLegacy;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  DType type = DType::Float32;  // kType
  int64_t data_type = 0;        // kUnknownType: the data_type cellar has no dtype for
};
LegacyValue1x legacy_value_1x(const pb::AttributeProto& a);

// ---- parameters read in place (in_place.cpp) ----

// Where a parameter's raw_data lies in the file: its `size` bytes from byte `offset`.
struct InPlaceBytes {
  uint64_t offset = 0, size = 0;
};
// Only raw_data of this many bytes or more is left in place (smaller tensors are copied by the
// parse, as before: a view per tiny tensor would gain nothing).
inline constexpr uint64_t kMinInPlace = 4096;
// The file's bytes with the graph parameters' raw_data left out, and per parameter (in the order
// protobuf numbers them) where its raw_data lies in the file, when it was left out.
struct Skeleton {
  std::string bytes;
  std::vector<std::optional<InPlaceBytes>> parameters;
};
// The skeleton of a ModelProto's bytes; nullopt when nothing was left out, or when the walk meets
// anything it does not follow (the file is then parsed as it stands): a malformed or truncated
// field, a group, sub-graphs (`functions`, which the control-flow pass may renumber).
std::optional<Skeleton> skeleton_of(std::span<const std::byte> bytes);

// ---- control flow (control_flow.cpp) ----

// A model with sub-graphs (MindSpore's if/else and loops on tensor values) made straight-line:
// each call replaced by the body it calls, an if/else by both branches and a Select. Refuses
// (kUnsupported) what it cannot flatten, a loop above all, with a report of the sub-graphs and
// control-flow ops the model holds. Does nothing to a model without sub-graphs.
void flatten_control_flow(pb::ModelProto& model, const std::string& file);

}  // namespace cellar::formats::mindir
