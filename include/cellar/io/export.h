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

namespace cellar {

enum class FileFormat { MINDIR, ONNX };

// The graph `net` computes on inputs shaped and typed like `inputs`.
ir::Graph trace(nn::Cell& net, const std::vector<Tensor>& inputs);

// Writes `file_name` + ".mindir" or ".onnx" (the suffix is added unless already there); returns
// the path.
std::filesystem::path export_model(nn::Cell& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format);
template <class C>
std::filesystem::path export_model(const std::shared_ptr<C>& net, const std::vector<Tensor>& inputs,
                                   const std::string& file_name, FileFormat format) {
  return export_model(static_cast<nn::Cell&>(*net), inputs, file_name, format);
}

// Reads an IR file (format recognised from its bytes) into a validated Graph.
ir::Graph load(const std::filesystem::path& path);

}  // namespace cellar
