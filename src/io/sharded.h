// Sharded checkpoints: the Hugging Face `*.safetensors.index.json` convention, and the same
// layout for .ckpt. Private to the library; the public API is load_checkpoint / save_checkpoint
// (cellar/io/checkpoint.h) on an index, a folder, or with SaveOptions::max_shard_size.
//
// An index (`model.safetensors.index.json`, `model.ckpt.index.json`) is UTF-8 JSON:
//
//   {"metadata": {"total_size": 1234, …},            optional; total_size = Σ tensor bytes
//    "weight_map": {"<tensor>": "<shard file>", …}}  every tensor of every shard, exactly once
//
// Shard files lie in the index's folder and are named by file name only
// (`model-00001-of-00003.safetensors` when cellar or transformers write them).
//
// What a load refuses (FormatError naming the index, the tensor and the shard, or IoError for a
// missing shard): an index that is not such a JSON object (duplicate keys at any level too); a
// shard name that is empty, absolute, has a '/' or '\', or is "." or ".." (outside the folder);
// a shard that does not exist; a tensor a shard holds that the index does not map to that
// shard (so no name is in two shards); an index entry its shard does not hold; a total_size
// that differs from the bytes loaded. A folder without an index loads every checkpoint file in
// it (.safetensors, .ckpt, .pt, .pth; not subfolders), in name order; a name in two files is
// refused. A folder with several indexes is refused (name the one to load).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cellar::io {

// True when the path names an index (its file name ends in ".index.json").
bool is_index_path(const std::filesystem::path& path);

struct ShardSet {
  std::filesystem::path index;               // empty for a folder without one
  std::vector<std::filesystem::path> files;  // in name order
  // The index's weight_map, by tensor name (empty without an index).
  std::vector<std::pair<std::string, std::string>> weight_map;
  std::optional<uint64_t> total_size;
};

// The shards of an index file or a folder, with the index parsed and every name checked (the
// files' contents are checked as they load).
ShardSet resolve_shards(const std::filesystem::path& index_or_folder);

// The index JSON for `weight_map` (written sorted by name, as transformers does).
std::string index_json(const std::vector<std::pair<std::string, std::string>>& weight_map,
                       uint64_t total_size);

// "model-00002-of-00005.safetensors" for `path` = ".../model.safetensors", k = 2, n = 5.
std::string shard_name(const std::filesystem::path& path, size_t k, size_t n);

// `path`'s shards of an earlier save ("<stem>-NNNNN-of-NNNNN<ext>" in its folder) whose file
// names `keep` does not hold.
std::vector<std::filesystem::path> stale_shards(const std::filesystem::path& path,
                                                const std::set<std::string>& keep);

}  // namespace cellar::io
