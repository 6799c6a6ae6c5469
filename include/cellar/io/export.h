// Export a network (structure and weights) to an IR file, and load it back.
//
// export_model traces `net` on symbolic tensors shaped like `inputs` and writes the recorded
// graph. It refuses, with ExportError naming the culprit and nothing written:
//  - a construct returning anything but a Tensor or a (nested) tuple of Tensors;
//  - a Parameter used in construct that no Cell of the exported tree owns;
//  - a random-number op (randn, uniform, randperm) inside the traced computation;
//  - reading a traced tensor's value (data-dependent control flow).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cellar/ir/graph.h"
#include "cellar/nn/cell.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

enum class FileFormat { MINDIR, ONNX };

// The graph `net` computes on inputs shaped and typed like `inputs`.
ir::Graph trace(nn::Cell& net, const std::vector<Tensor>& inputs);

// Writes `file_name` + ".mindir" or ".onnx" (the suffix is added unless already there); returns
// the path.
// MINDIR over 1 GiB of parameters and encryption: see export_graph.
struct ExportOptions;
std::filesystem::path export_model(nn::Cell& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format);
std::filesystem::path export_model(nn::Cell& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format,
                                   const ExportOptions& options);
template <class C>
std::filesystem::path export_model(const std::shared_ptr<C>& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format) {
  return export_model(static_cast<nn::Cell&>(*net), inputs, file_name, format);
}

// MindSpore's export(..., enc_key=, enc_mode=): MINDIR only (ONNX refuses a key).
struct ExportOptions {
  std::string enc_key;               // the key's bytes (16/24/32 for AES, 16 for SM4); empty: none
  std::string enc_mode = "AES-GCM";  // "AES-GCM", "AES-CBC" or "SM4-CBC"
};

// Writes an already-built graph (e.g. one load() returned): the same suffix rule and atomic write
// as export_model, so `cellar convert a.onnx b.mindir` is load + export_graph. The graph is
// validated first (a FormatError names the node); a node whose op has no spelling in `format` is
// an ExportError naming the node and op. Nothing is written when it throws.
//
// MINDIR, as MindSpore does it: when the parameters hold more than 1 GiB, the weights go to
// `<name>_variables/data_0` beside `<name>_graph.mindir` (the returned path), not `<name>.mindir`.
// With options.enc_key every file written is encrypted.
std::filesystem::path export_graph(const ir::Graph& graph, const std::string& file_name,
                                   FileFormat format, const ExportOptions& options = {});

// How load() opens an IR file. MindSpore's `mindspore.load(file, dec_key=, dec_mode=)`: an
// encrypted MindIR needs the key; a plain file ignores it.
// The default of GraphLoadOptions::max_load_constant_bytes: 2 GiB.
inline constexpr uint64_t kDefaultMaxLoadConstantBytes = uint64_t{2} << 30;

struct GraphLoadOptions {
  std::string dec_key;               // the key's bytes (16/24/32 for AES, 16 for SM4); empty: none
  std::string dec_mode = "AES-GCM";  // "AES-GCM", "AES-CBC" or "SM4-CBC", as MindSpore spells them
  // The most bytes of constant data the loader may make that the file does not hold: ONNX
  // ConstantOfShape (models whose weights are made so, as ONNX's `light` VGG-19 is), constants
  // folded at load time (shape arithmetic), padding blocks. A small hostile file can ask for
  // gigabytes this way; past the limit the load is refused with kUnsupported naming the limit.
  // The CLI's --max-constant-mib sets it; the fuzzers use 64 MiB.
  uint64_t max_load_constant_bytes = kDefaultMaxLoadConstantBytes;
};

// Reads an IR file (format recognised from its bytes) into a validated Graph.
ir::Graph load(const std::filesystem::path& path);
ir::Graph load(const std::filesystem::path& path, const GraphLoadOptions& options);

}  // namespace cellar

CELLAR_API_END
