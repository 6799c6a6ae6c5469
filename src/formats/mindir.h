// MindIR (`.mindir`): one serialized protobuf `mind_ir.ModelProto` (schema: mind_ir.proto).
//
// What the writer lays out (MindSpore 2.x conventions, mind_ir_version 3, established by
// exporting networks with MindSpore 2.10 and reading its files; MindSpore 2.10's
// `mindspore.load` + `nn.GraphCell` runs files laid out this way):
//
//   ModelProto   ir_version "1.1", producer_name "cellar", producer_version <cellar version>,
//                model_version "2.10.0" (the MindSpore version whose conventions we follow),
//                little_endian true, mind_ir_version 3, graph, primitives
//   GraphProto   name G (the Graph's name); every value is named "G:<value name>"
//     input      ValueInfoProto { name "G:x", tensor { dims, data_type } }
//     parameter  TensorProto { dims, data_type, name "G:<param>", raw_data, ref_key "<param>" }
//     node       tensor constants:  op_type "Constant", attribute value (TENSORS, raw_data)
//                ops, in topological order: op_type "REF::<Primitive>:<uid>", input [tensor
//                  inputs..., attr inputs...], output = name = "G:<value>", attribute "shape"
//                  (the output's dtype and dims: TENSORS, or TUPLE of TENSORS)
//                attr inputs (the op table's `mindir.attr_inputs`, e.g. Reshape's shape, in
//                  MindSpore 2.x every primitive argument): a "Constant" node each, scalars in
//                  `i`/`f`/`s`, tuples as TUPLE of typed elements
//                ops whose MindSpore primitive takes its tensors as one tuple (the op table's
//                  `mindir.tuple_input`: Concat) get a MakeTuple node of the tensor inputs, its
//                  "shape" a TUPLE of TENSORS, as the op's input 0: Concat(MakeTuple(x0, x1), axis)
//                more than one graph output: a MakeTuple node, output marked denotation "Tuple"
//     output     ValueInfoProto { name "G:<value>", tensor { dims, data_type } }
//   PrimitiveProto { name "<Primitive>:<uid>", op_type "<Primitive>", prim_type
//                PRIMITIVE_FUNCTION, attribute: the node's attrs not passed as inputs }
//   No Load/UpdateState/Depend plumbing: MindSpore does not need it to run an inference graph.
//   Older Python primitives (Conv2D, MaxPool, Pad) are prim_type PRIMITIVE with every attribute
//   on the primitive, as MindSpore 2.10 writes them. Pad (nn.Pad mode "CONSTANT", the model
//   zoo's ResNet stem) carries `paddings` as a TUPLE of TUPLE (before, after) pairs, one per
//   dimension, and always pads with zeros; cellar keeps paddings flat (the op table's
//   `mindir.nested`), and the reader flattens any tuple of equal-length integer tuples.
//   Padding's other spellings are the Pad row's `mindir.variants` (src/ops/tensor/pad.cpp), as
//   MindSpore 2.10 exports them (tests/fixtures/mindspore/2.10/mindir/make_pad_fixtures.py):
//     MirrorPad  nn.Pad modes REFLECT / SYMMETRIC, nn.ReflectionPad*: PRIMITIVE, attribute mode
//                "REFLECT" / "SYMMETRIC", inputs (x, paddings), paddings a Constant int64 tensor
//                (rank, 2) of (before, after) per dimension in order. MindSpore runs rank 1-5.
//     PadV3      nn.ConstantPad*, nn.ZeroPad2d, nn.ReplicationPad* ("edge"), ops.pad: PRIMITIVE,
//                attributes mode ("constant", "reflect", "edge", "circular") and
//                paddings_contiguous (BOOL), inputs (x, paddings, value): paddings a TUPLE of
//                INT64 pairs for the LAST dimensions, last dimension first; value a scalar tensor
//                of x's dtype, or a NONE Constant outside constant mode. MindSpore's edge mode
//                takes exactly dimensions 2 and up of a rank-3 to rank-5 input, and ran a file
//                with more pairs silently wrong, so the writer refuses other edge paddings.
//   The writer keeps Pad for a zero fill, writes MirrorPad for reflect/symmetric and PadV3 for
//   edge and for other fills; the reader reads PadV3's reflect as well (not its circular).
//
// Checked against MindSpore 2.10 both ways, op by op (tests/interop/test_mindspore.cpp reads
// tests/fixtures/mindspore/2.10/mindir/ops_*.mindir that MindSpore exported; the "ops" net of
// tests/tools/export_models runs in mindspore.load + nn.GraphCell, tests/python/
// test_mindir_interop.py): AvgPool, BatchNorm (inference), Softmax, LogSoftmax, Sigmoid, Tanh,
// GeLU (tanh), Abs, Add/Sub/Mul/Div with broadcasting, MatMul, BatchMatMul (transpose flags as
// inputs), Reshape, Transpose, ExpandDims, Squeeze, Concat, Gather, Tile, ReduceSum, ReduceMean
// (axis and keep_dims as inputs). What those files taught:
//   - Concat is Concat(MakeTuple(...), axis). cellar's earlier spelling (Concat's tensors as
//     separate inputs, Squeeze's axis on the primitive) made MindSpore 2.10 die of SIGSEGV on the
//     ops net; with both fixed it runs (which of the two crashed it alone was not isolated).
//   - Squeeze's axis is a constant input (a TUPLE of INT64) in 2.10's files, like every other
//     yaml-defined op's arguments; nothing is left on its primitive.
//   - Div stays "Div" (not RealDiv) for float tensors; nn.Dropout leaves no node at inference.
//
// What the reader accepts, beyond that: files MindSpore wrote (1.x and 2.x): graph plumbing is
// mapped away (Load(p, u) → p, Depend(x, …) → x, UpdateState → dropped, MakeTuple/TupleGetItem →
// tuples resolved to values, Return(x) → the graph output), primitive attributes and constant
// attr inputs both become node attrs, node op_types without "REF::" are taken as primitive names
// with the node's own attributes. Only nodes the outputs depend on are read.
//
// MindSpore 1.x files (established from files 1.1.0 to 1.9.0 wrote, tests/test_mindspore_1x.cpp
// and the list in tests/fixtures/mindspore/1.x/README.md):
//   ModelProto   ir_version "0.1.0" (1.1 to 1.6) or "0.1.1" (1.7 to 1.9), producer_name
//                "MindSpore", model_version the MindSpore version ("1.1.0", "1.5.0rc1",
//                "1.6.0.20220112" for nightlies), mind_ir_version absent (to 1.6) or 1 (1.7 on;
//                2.x writes 3), little_endian from 1.6, no primitives before 1.7
//   GraphProto   name "<ids>_construct_wrapper[.N]" (bprop graphs "bprop.N"), values named
//                "<graph>:<name>" as in 2.x; inputs as ValueInfoProto with one TensorProto; a
//                node's output name may differ from its own name ("…:6:2" vs "…:5:1"); bprop
//                graphs carry bprop_hash and untyped inputs (no tensor, no attr_info)
//   node         to 1.6: op_type is the bare primitive name ("Add", "ReLU", 1.0/1.1's "TensorAdd"
//                for Add, op table `legacy_primitives`) with the primitive's attributes on the
//                node: an unnamed "shape" attribute (the output's type: a TensorProto named
//                "shape1", ref_attr_name "shape:shape1,"), "input_names"/"output_names" as STRING
//                lists (ref_attr_name "scalar:List[value1,…],"), domain the scope
//                ("Default/Add-op5"). From 1.7: "REF::<Primitive>:<uid>" with ModelProto.primitives
//                as in 2.x (LIST attributes of typed values). Primitives called from Python are
//                "S-Prim-<Primitive>" ("S-Prim-MakeTuple", "REF::S-Prim-ReluGrad:2"): the prefix
//                is dropped.
//   Encryption   1.7 on: the 2.x block layout (crypto.h). 1.3 wrote AES-GCM blocks without the
//                16-byte tag (magic, block length, IV length 16, IV, cipher length, cipher);
//                MindSpore 2.10 cannot read those; cellar does (crypto.h: recognised from the
//                first block, unauthenticated like CBC).
//
// Refused with a cellar::Error naming the file (and the node or tensor): a tuple_input op
// (Concat) whose input 0 is not a tuple, whose tuple is empty or holds a scalar or a tuple, or
// whose tensors' shapes disagree; files over 2 GiB, bytes that do not parse, a missing graph,
// duplicate or dangling names, cycles, unknown ops (kUnsupported), dtypes or attribute kinds cellar
// does not have, raw_data whose size is not numel × itemsize (checked arithmetic), negative
// dimensions, bad external data (see below), sub-graphs cellar cannot flatten (a loop; an
// if/else is flattened: mindir/control_flow.cpp) with a report of them (kUnsupported). Structural
// checks against the op table (arity, shapes) are Graph::validate's, which cellar::load() runs
// after read().
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cellar/io/inspect.h"
#include "formats/format.h"

namespace cellar::formats {

class MindIRFormat final : public GraphFormat {
 public:
  using GraphFormat::read;
  using GraphFormat::write;
  std::string_view name() const override { return "mindir"; }
  std::string_view extension() const override { return ".mindir"; }
  // A ModelProto starts with a field tag; ours and MindSpore's with ir_version, a short text.
  bool sniff(std::span<const std::byte> head) const override;
  // External data is resolved against options.base_dir and decrypted with options.dec.
  ir::Graph read(std::span<const std::byte> bytes, const std::string& file,
                 const GraphReadOptions& options) const override;
  // `path` with its extension dropped is the stem of save_mindir below.
  std::filesystem::path write(const ir::Graph& graph, const std::filesystem::path& path,
                              const GraphWriteOptions& options) const override;
  void write(const ir::Graph& graph, AtomicFile& out) const override;
};

// The same, over bytes in memory (tests, fuzzing, decrypted files). `file` names the source in
// errors; external data is resolved against `base_dir` (empty: external data is refused).
// The op census of a MindIR file's plaintext (graph_op_census in cellar/io/inspect.h).
std::vector<OpCount> mindir_op_census(std::span<const std::byte> bytes, const std::string& file);

ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const std::filesystem::path& base_dir = {});

// ---- External weight files and encryption ----
//
// MindSpore 2.x (`mindspore.export`, train/serialization.py `_save_mindir`): when the parameters
// hold more than 1 GiB (it sums sys.getsizeof of each parameter's bytes, i.e. bytes + 33, in KiB,
// against TOTAL_SAVE = 1024 * 1024), `export(net, ..., file_name="m")` writes, instead of
// m.mindir:
//   m_graph.mindir        the ModelProto, parameters without raw_data, each with
//                         external_data { location "m_variables/data_0", offset, length }
//                         (location relative to the graph file's folder; length unpadded)
//   m_variables/data_0    64-byte header: byte 0 = 1 (written on a little-endian machine), 63
//                         zero bytes; then every parameter, sorted by name, at its offset (the
//                         first at 64), each padded with zeros to a multiple of 64 bytes
// (A next data_N starts only past 1 TiB, PARAMETER_SPLIT_SIZE in KiB; we write one file.) There
// is no checksum. With enc_key, both files are encrypted (crypto.h's block layout): the graph
// file as one piece, the data file as one piece for the header and one per padded parameter;
// the decrypted pieces concatenate to the plain layout, whose offsets external_data gives.
// The reader refuses locations that leave the model's folder, offsets inside the header, a
// length other than the tensor's bytes, ranges past the end of the file, and a header byte 0
// other than 1.
inline constexpr size_t kMindIRDataHeader = 64;
inline constexpr uint64_t kMindIRBytesOverhead = 33;  // sys.getsizeof(b"") in CPython
inline constexpr uint64_t kMindIRExternalThreshold = uint64_t{1} << 30;

using MindIRCipher = Cipher;
using MindIRReadOptions = GraphReadOptions;
ir::Graph read_mindir(std::span<const std::byte> bytes, const std::string& file,
                      const MindIRReadOptions& options);

// external_threshold defaults to kMindIRExternalThreshold; enc encrypts every file written.
using MindIRWriteOptions = GraphWriteOptions;
static_assert(GraphWriteOptions{}.external_threshold == kMindIRExternalThreshold);
// Parameters' bytes as MindSpore counts them for the threshold.
uint64_t mindir_parameter_bytes(const ir::Graph& graph);
// Writes `stem`.mindir, or (external) `stem`_graph.mindir and `stem`_variables/data_0, every file
// atomically (the data file is committed before the graph file). Returns the graph file's path.
std::filesystem::path save_mindir(const ir::Graph& graph, const std::filesystem::path& stem,
                                  const MindIRWriteOptions& options);
std::string write_mindir(const ir::Graph& graph);

}  // namespace cellar::formats
