// Checkpoints, as MindSpore's save_checkpoint / load_checkpoint / load_param_into_net.
// The .ckpt byte layout is documented in src/formats/ckpt.h.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "cellar/nn/cell.h"
#include "cellar/nn/parameter.h"

namespace cellar {

// An ordered name → Parameter map (insertion order is file order).
class ParamDict {
 public:
  ParamDict() = default;
  ParamDict(std::initializer_list<std::pair<std::string, Tensor>> items);

  // Inserts or replaces (a replaced entry keeps its position).
  void set(const std::string& name, Parameter p);
  void set(const std::string& name, Tensor t) { set(name, Parameter(std::move(t), name)); }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // NotFound Error naming the key when absent.
  const Parameter& at(const std::string& name) const;
  const Parameter& operator[](const std::string& name) const { return at(name); }
  bool erase(const std::string& name);
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::vector<std::string> keys() const;

 private:
  std::vector<std::pair<std::string, Parameter>> items_;
  std::unordered_map<std::string, size_t> index_;
};

// A list of names that prints as Python prints a list of str: `[]`, `['a', 'b']`.
class NameList : public std::vector<std::string> {
 public:
  using std::vector<std::string>::vector;
};
std::ostream& operator<<(std::ostream& os, const NameList& names);

// Scalars and strings saved beside the parameters (MindSpore's append_dict): int → Int64 scalar,
// double → Float32 scalar, bool → Bool scalar, string → str.
using AppendValue = std::variant<int64_t, double, bool, std::string>;

// The on-disk layout save_checkpoint writes (load_checkpoint recognises it from the bytes).
enum class CheckpointFormat { kCkpt, kSafetensors };

struct SaveOptions {
  // Keep a parameter only when this returns true (null: keep all).
  std::function<bool(const std::string&)> choice_func;
  std::vector<std::pair<std::string, AppendValue>> append_dict;
  // Append MindSpore's `crc_num` trailer (zlib CRC-32 of everything before it).
  bool crc_check = false;
  // kSafetensors writes the bytes MindSpore 2.10 writes: `__metadata__ {"format": "ms"}`, data
  // ordered by dtype size then name (safetensors.numpy's layout), entries in ascending offset
  // order; crc_check adds MindSpore's `crc_num` metadata entry.
  CheckpointFormat format = CheckpointFormat::kCkpt;
};

struct LoadOptions {
  // MindSpore's precedence: a name is kept when it starts with one of specify_prefix (if any)
  // and with none of filter_prefix; choice_func applies only when neither prefix list is given.
  std::vector<std::string> specify_prefix;
  std::vector<std::string> filter_prefix;
  std::function<bool(const std::string&)> choice_func;
  // Verify the crc_num trailer (.ckpt) or `crc_num` metadata (.safetensors) and fail when it is
  // absent or wrong (MindSpore only warns when absent). A trailer is always stripped; it is
  // only verified when asked.
  bool crc_check = false;
};

// Writes every parameter of `cell` (its parameters_and_names) or every entry of `params`, in
// order, atomically: a temporary file in the same folder, fsync, rename, fsync of the folder.
void save_checkpoint(const nn::Cell& cell, const std::filesystem::path& path,
                     const SaveOptions& options = {});
void save_checkpoint(const ParamDict& params, const std::filesystem::path& path,
                     const SaveOptions& options = {});
template <class C>
void save_checkpoint(const std::shared_ptr<C>& cell, const std::filesystem::path& path,
                     const SaveOptions& options = {}) {
  save_checkpoint(static_cast<const nn::Cell&>(*cell), path, options);
}

// Reads a checkpoint into an ordered dict. Tensors view the mapped file (zero copy) where their
// bytes are aligned for their dtype; misaligned ones (usual in .ckpt, whose records pack data at
// any offset) are copied into aligned heap memory. Errors:
// IoError (cannot open), FormatError (bad bytes: names file, tensor and offset), Error kNotFound
// when the filters leave nothing.
ParamDict load_checkpoint(const std::filesystem::path& path, const LoadOptions& options = {});

struct LoadResult {
  NameList param_not_load;  // network parameters with no checkpoint entry
  NameList ckpt_not_load;   // checkpoint entries the network did not use
};

// Copies matching entries into the network's parameters. A shape difference is a ValueError
// naming the parameter and both shapes. A dtype difference is converted (float↔float, int↔int)
// unless `strict_load`, where it is an error; other dtype differences are always errors.
LoadResult load_param_into_net(nn::Cell& net, const ParamDict& params, bool strict_load = false);
template <class C>
LoadResult load_param_into_net(const std::shared_ptr<C>& net, const ParamDict& params,
                               bool strict_load = false) {
  return load_param_into_net(static_cast<nn::Cell&>(*net), params, strict_load);
}

}  // namespace cellar
