// The one small interface every file format implements. A format knows bytes, not ops: graph
// formats map nodes through the op table (src/ops/op_table.h).
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/ir/graph.h"
#include "cellar/storage.h"
#include "formats/atomic_file.h"

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

class GraphFormat {
 public:
  virtual ~GraphFormat() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view extension() const = 0;  // ".mindir"
  virtual bool sniff(std::span<const std::byte> head) const = 0;
  // A graph as in the file (validated by the caller). FormatError names file, node and reason.
  virtual ir::Graph read(const std::filesystem::path& path) const = 0;
  virtual void write(const ir::Graph& graph, AtomicFile& out) const = 0;
};

const CheckpointFormat& ckpt_format();
const GraphFormat& mindir_format();

}  // namespace cellar::formats
