// Weights in external data files on demand. export_graph (cellar/io/export.h) moves a graph's
// weights out of the model file by itself only past the formats' limits: MindIR over 1 GiB of
// parameters (MindSpore's rule: `<name>_graph.mindir` + `<name>_variables/data_0`), ONNX when the
// model would pass protobuf's 2 GiB (`<file>.onnx.data` beside it, every initializer of 1 KiB or
// more, ONNX's external_data {location, offset, length}). This asks for that layout at any size
// (`cellar convert --external-data`).
#pragma once

#include <filesystem>
#include <string>

#include "cellar/io/export.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

struct ExternalDataOptions {
  bool always = true;  // false: only past the limits, as export_graph without this argument
};

std::filesystem::path export_graph(const ir::Graph& graph, const std::string& file_name,
                                   FileFormat format, const ExportOptions& options,
                                   const ExternalDataOptions& external);

}  // namespace cellar

CELLAR_API_END
