// External weight files that a model file names by a path relative to its own folder (ONNX's
// external_data, MindIR's `<name>_variables/data_N`). Both readers refuse the same paths: the model
// names files beside it, never elsewhere on the machine.
#pragma once

#include <filesystem>
#include <string>

namespace cellar::formats {

// True when `location` is a relative path that, once resolved against `base` (symlinks and `..`
// included), names something strictly inside `base`. False for absolute paths, root names, NUL
// bytes, and paths that leave `base`.
bool external_path_inside(const std::filesystem::path& base, const std::string& location);

}  // namespace cellar::formats
