// ONNX (`.onnx`): one serialized protobuf `onnx.ModelProto` (schema: the onnx.proto Debian's
// libonnx-dev 1.12 installs, compiled by the build; not a copy of the schema).
//
// What the writer lays out:
//   ModelProto   ir_version 8, opset_import [{domain "", version 17}], producer_name "cellar",
//                producer_version <cellar version>, graph
//   GraphProto   name (the Graph's name)
//     input      ValueInfoProto { name, type.tensor_type { elem_type, shape.dim[].dim_value } }
//     initializer every parameter and constant: TensorProto { name, dims, data_type, raw_data }
//                (little-endian C order), plus the small constants spellings add (shapes, axes)
//     node       each cellar node in topological order, written by its op table row's `onnx`
//                spelling as one or more ONNX nodes (src/ops/<domain>/<op>.cpp); ops without a
//                spelling are refused with an ExportError naming the node and op
//     output     ValueInfoProto as for inputs
//
// What the reader accepts: opsets 6 to 25 of the default domain ("" or "ai.onnx"); nodes of
// opsets below 13 are rewritten into their opset-13 form first (onnx_upgrade.h), and the rules
// follow the attribute→input moves of the later opsets; static shapes (every input dimension a
// dim_value); tensors inline (raw_data or typed fields) or in external files inside the model's
// folder. Only nodes the graph outputs depend on are read; they are sorted topologically (ONNX
// requires that order, but a hostile file may not keep it). Each node goes through the op table's
// ONNX import rule for its op_type; shapes are inferred through the table as nodes are emitted, and
// value_info / output shapes the file declares must agree with them.
//
// Refused with a cellar::Error naming the file (and the node, its op_type, or the tensor): files
// over 2 GiB, bytes that do not parse, a missing graph or opset, opsets outside 6–25, other
// domains, duplicate or dangling names, cycles, unknown op types (kUnsupported), attributes of
// the wrong kind, dtypes cellar lacks, data whose size is not numel × itemsize, negative or
// symbolic dimensions, declared shapes that disagree with the op table, external data whose path
// is absolute or leaves the model's folder, or whose range lies outside its file, sub-graphs
// (kUnsupported).
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "cellar/io/inspect.h"
#include "formats/format.h"

namespace cellar::formats {

class OnnxFormat final : public GraphFormat {
 public:
  using GraphFormat::read;
  using GraphFormat::write;
  std::string_view name() const override { return "onnx"; }
  std::string_view extension() const override { return ".onnx"; }
  // ModelProto serializers write ir_version (field 1, a varint) first: 0x08 and a small number.
  bool sniff(std::span<const std::byte> head) const override;
  // External data is resolved against options.base_dir.
  ir::Graph read(std::span<const std::byte> bytes, const std::string& file,
                 const GraphReadOptions& options) const override;
  // One file, weights inline. options.enc: ValueError kInvalidArgument (MindSpore encrypts ONNX
  // only with a custom function), before anything is written.
  std::filesystem::path write(const ir::Graph& graph, const std::filesystem::path& path,
                              const GraphWriteOptions& options) const override;
  void write(const ir::Graph& graph, AtomicFile& out) const override;
};

// The same, over bytes in memory (tests and fuzzing). `file` names the source in errors;
// external data is resolved against `base_dir` (empty: external data is refused). Fuzzers and
// mutation tests pass a small max_load_constant_bytes (64 MiB).
ir::Graph read_onnx(std::span<const std::byte> bytes, const std::string& file,
                    const std::filesystem::path& base_dir = {},
                    uint64_t max_load_constant_bytes = kDefaultMaxLoadConstantBytes);
std::string write_onnx(const ir::Graph& graph);
// The op census of an ONNX model's bytes (graph_op_census in cellar/io/inspect.h).
std::vector<OpCount> onnx_op_census(std::span<const std::byte> bytes, const std::string& file);

}  // namespace cellar::formats
