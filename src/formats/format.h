// The one small interface every file format implements. A format knows bytes, not ops: graph
// formats map nodes through the op table (src/ops/op_table.h).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/io/export.h"
#include "cellar/io/inspect.h"
#include "cellar/ir/graph.h"
#include "cellar/storage.h"
#include "formats/atomic_file.h"
#include "formats/crypto.h"

namespace cellar::formats {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class CheckpointFormat {
 public:
  virtual ~CheckpointFormat() = default;
  virtual std::string_view name() const = 0;
  // True when `head` (the first bytes of a file, possibly all of it) looks like this format.
  virtual bool sniff(std::span<const std::byte> head) const = 0;
  // Every entry of the file, in file order; tensors view `file`. Throws FormatError naming the
  // file, the tensor and the offset.
  virtual NamedTensors read(const std::shared_ptr<MappedFile>& file,
                            const LoadOptions& options) const = 0;
  // Streams the file's bytes to `out` (an AtomicFile, or an Encryptor in front of one).
  virtual void write(const NamedTensors& entries, ByteSink& out,
                     const SaveOptions& options) const = 0;
};

// What a graph reader may need beyond the bytes: where the model's external data files lie and
// the key they are encrypted with. The model's own bytes arrive decrypted (crypto.h plaintext()).
struct GraphReadOptions {
  std::filesystem::path base_dir;  // external data is resolved against it; empty: refused
  std::optional<Cipher> dec;       // for encrypted external data files
  // Constant bytes the reader may make beyond the file's own (GraphLoadOptions has the story).
  uint64_t max_load_constant_bytes = kDefaultMaxLoadConstantBytes;
};

// How a graph is written to disk: encryption of every file written, and for formats that split
// large weights into external files, the size above which they do.
struct GraphWriteOptions {
  // Parameters' bytes (as the format counts them) above which the weights go to external data
  // files. Tests lower it.
  uint64_t external_threshold = uint64_t{1} << 30;
  std::optional<Cipher> enc;  // encrypt every file written (formats that cannot: kInvalidArgument)
};

class GraphFormat {
 public:
  virtual ~GraphFormat() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view extension() const = 0;  // ".mindir"
  virtual bool sniff(std::span<const std::byte> head) const = 0;
  // A graph from the file's plaintext bytes (validated by the caller). `file` names the source in
  // errors. FormatError names file, node and reason.
  virtual ir::Graph read(std::span<const std::byte> bytes, const std::string& file,
                         const GraphReadOptions& options) const = 0;
  // Writes `path` (and any external data files beside it) atomically; returns the path of the
  // graph file, which a format that splits its weights may name differently (MindIR's
  // `<stem>_graph.mindir`). Nothing is left behind when it throws.
  virtual std::filesystem::path write(const ir::Graph& graph, const std::filesystem::path& path,
                                      const GraphWriteOptions& options) const = 0;
  // The whole graph, weights inline, as one stream of bytes (tests, in-memory use).
  virtual void write(const ir::Graph& graph, AtomicFile& out) const = 0;

  // The file at `path` mapped and read, its folder as base_dir (a plain file only).
  ir::Graph read(const std::filesystem::path& path) const;
};

const CheckpointFormat& ckpt_format();
const CheckpointFormat& safetensors_format();
const GraphFormat& mindir_format();
const GraphFormat& onnx_format();

// The format that reads and writes a kind of file: how io/ reaches a format without naming it.
const CheckpointFormat& format_for(cellar::CheckpointFormat format);
const GraphFormat& format_for(FileKind kind);  // kMindIR or kOnnx (an internal error otherwise)

}  // namespace cellar::formats
