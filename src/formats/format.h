// The one small interface every file format implements. A format knows bytes, not ops: graph
// formats map nodes through the op table (src/ops/op_table.h).
#pragma once

#include <filesystem>
#include <functional>
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

// Where one entry's bytes lie in the file it was read from: (offset, size) pieces, in order (a
// .ckpt tensor over 512 MiB is several). Empty: the entry's bytes are not a run of the file's
// (a str entry, decoded from UTF-32; a PyTorch entry).
using FilePieces = std::vector<std::pair<uint64_t, uint64_t>>;

// Where a checkpoint writer takes each tensor's bytes from. The default (own_bytes()) takes the
// tensor's own bytes. The streaming copy (src/io/stream.cpp) hands the writers lazily loaded
// tensors whose bytes it sends straight from the source file's pages (copy_file_range where the
// sink is a plain file), dropping them from the process's memory once written, so a writer never
// makes the whole checkpoint resident.
class EntryBytes {
 public:
  using Visitor = std::function<void(std::span<const std::byte>)>;
  virtual ~EntryBytes() = default;
  // Writes bytes [begin, begin + n) of `t` to `out`; a non-null `seen` is handed the same bytes,
  // in order (a CRC over what is written).
  virtual void write(const Tensor& t, uint64_t begin, uint64_t n, ByteSink& out,
                     const Visitor* seen) const;
  // Hands every byte of `t` to `seen`, in order, writing nothing.
  virtual void visit(const Tensor& t, const Visitor& seen) const;
  // Called once a file's bytes are all written, before it is committed: a source that checks
  // its bytes while they are written (replicas compared on another thread) throws here, which
  // leaves the target untouched.
  virtual void finish() const {}
};
const EntryBytes& own_bytes();

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
  // As read(), and where each entry's bytes lie in the file (`pieces[i]` for entry i). A format
  // that cannot say returns empty pieces (the default). With `drop_behind` (only for a file
  // mapped from disk, never a private copy) the reader drops the pages it has parsed from the
  // process's resident set as it goes (they read back from the page cache), so that scanning a
  // file of many small records does not make it all resident.
  virtual NamedTensors read_located(const std::shared_ptr<MappedFile>& file,
                                    const LoadOptions& options, std::vector<FilePieces>& pieces,
                                    bool drop_behind) const;
  // Streams the file's bytes to `out` (an AtomicFile, or an Encryptor in front of one), each
  // tensor's bytes taken through `bytes`.
  virtual void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options,
                     const EntryBytes& bytes) const = 0;
  void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options) const {
    write(entries, out, options, own_bytes());
  }
};

// What a graph reader may need beyond the bytes: where the model's external data files lie and
// the key they are encrypted with. The model's own bytes arrive decrypted (crypto.h plaintext()).
struct GraphReadOptions {
  std::filesystem::path base_dir;  // external data is resolved against it; empty: refused
  std::optional<Cipher> dec;       // for encrypted external data files
  // Constant bytes the reader may make beyond the file's own (GraphLoadOptions has the story).
  uint64_t max_load_constant_bytes = kDefaultMaxLoadConstantBytes;
  // The mapping (or private copy) the bytes lie in, when they do: a reader may then make tensors
  // that view their bytes there (Storage::view, which keeps it alive) or copy them on first use
  // (Storage::deferred_copy) instead of copying them now. Null: every tensor's bytes are copied.
  std::shared_ptr<MappedFile> source;
};

// How a graph is written to disk: encryption of every file written, and for formats that split
// large weights into external files, the size above which they do.
struct GraphWriteOptions {
  // Parameters' bytes (as the format counts them) above which the weights go to external data
  // files. Tests lower it.
  uint64_t external_threshold = uint64_t{1} << 30;
  // Weights in external data whatever the size: MindIR's `_variables/` layout, ONNX's
  // `<file>.data` for every initializer of 1 KiB or more (ONNX writes external data by itself
  // only when the model would pass protobuf's 2 GiB limit).
  bool external_data = false;
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
