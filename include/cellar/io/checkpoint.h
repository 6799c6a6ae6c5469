// Checkpoints, as MindSpore's save_checkpoint / load_checkpoint / load_param_into_net.
// The .ckpt byte layout is documented in src/formats/ckpt.h.
#pragma once

#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "cellar/io/name_map.h"
#include "cellar/nn/cell.h"
#include "cellar/nn/parameter.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

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
  // Raw key bytes; empty: no encryption. 16, 24 or 32 bytes for AES (AES-128/192/256), 16 for
  // SM4. The serialized file is encrypted in MindSpore's 64 MiB block framing
  // (src/formats/crypto.h), streamed: memory stays one block whatever the file size. With
  // crc_check the crc_num trailer goes inside the plaintext, where MindSpore verifies it.
  // kCkpt only: MindSpore refuses enc_key for safetensors, and so do we (kUnsupported).
  std::string enc_key;
  // "AES-GCM" | "AES-CBC" | "SM4-CBC", as MindSpore spells them; used only with enc_key.
  std::string enc_mode = "AES-GCM";
  // Write in a background thread; save_checkpoint returns once the tensors are copied (a
  // snapshot: the caller may change the weights right away without changing what is saved).
  bool async_save = false;
  // .ckpt only: start every tensor's bytes at a 64-byte aligned file offset, so that a load can
  // view them in place (zero-copy) instead of copying misaligned ones on first use. The padding
  // is an unknown length-delimited field (number 2047) before TensorProto.tensor_content, which
  // protobuf parsers skip: MindSpore 2.10 and cellar load such files unchanged (checked), and
  // reading them back yields the same tensors. Off by default, deliberately: a default save
  // writes the very bytes MindSpore writes (byte-identical to its files, which tools that hash or
  // diff checkpoints rely on), and a reader older than these checks may not skip field 2047. For
  // fast zero-copy loads, turn it on, or use safetensors (aligned by construction).
  bool align_tensors = false;
  // Split the checkpoint into shards of at most this many bytes of tensor data each (0: one
  // file). A tensor larger than the limit gets a shard of its own. When more than one shard is
  // needed, `path` = "dir/model.safetensors" writes dir/model-00001-of-0000N.safetensors … and
  // then dir/model.safetensors.index.json (Hugging Face's layout; the same for .ckpt), each file
  // atomically and the index last, so a reader never sees an index naming a missing shard;
  // stale files of an earlier save under the same name (the single file, an index, shards of
  // another count) are removed once the index is written. One shard: `path` alone, as without
  // the option (and a stale index for it is removed).
  uint64_t max_shard_size = 0;
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
  // The key and mode of an encrypted .ckpt (see SaveOptions::enc_key). The file is decrypted
  // into memory, then parsed. An encrypted file without dec_key is an Error kCrypto naming the
  // file and its mode; a wrong key or mode is an Error (kCrypto, or kFormat for the rare CBC
  // wrong key whose padding happens to check out), never garbage. dec_key on a file that is not
  // encrypted, or on a .safetensors file (MindSpore refuses that combination), is an error.
  std::string dec_key;
  std::string dec_mode = "AES-GCM";
  // true: map the file (zero copy, tensors view its pages). false: read it with plain read()
  // into private memory first; use it on network filesystems (NFS, FUSE, …), where a mapped page
  // that cannot be fetched later raises SIGBUS instead of an error, and where reading the file
  // once sequentially is often faster than faulting pages in at random.
  bool use_mmap = true;
};

// Writes every parameter of `cell` (its parameters_and_names) or every entry of `params`, in
// order, atomically: a temporary file in the same folder, fsync, rename, fsync of the folder.
//
// Saves run one after another in call order, whatever their paths (as MindSpore's): a save,
// sync or async, starts writing only when every earlier save has finished. Without async_save
// the returned future is ready (errors are thrown by the call itself). With async_save, argument
// errors that need no writing (bad key, bad mode) are still thrown by the call; write errors
// are rethrown by the future's get(). Saves still pending at exit are finished before the
// process ends (static destruction waits for them).
std::shared_future<void> save_checkpoint(const nn::Cell& cell, const std::filesystem::path& path,
                                         const SaveOptions& options = {});
std::shared_future<void> save_checkpoint(const ParamDict& params, const std::filesystem::path& path,
                                         const SaveOptions& options = {});
template <class C>
std::shared_future<void> save_checkpoint(const std::shared_ptr<C>& cell,
                                         const std::filesystem::path& path,
                                         const SaveOptions& options = {}) {
  return save_checkpoint(static_cast<const nn::Cell&>(*cell), path, options);
}

// Reads a checkpoint into an ordered dict. Tensors view the mapped file (zero copy) where their
// bytes are aligned for their dtype; misaligned ones (usual in .ckpt, whose records pack data at
// any offset) are copied into aligned heap memory. The format is recognised from the bytes:
// .ckpt, .safetensors, or a PyTorch file (torch.save's zip or legacy layout, read only; see
// src/formats/pytorch.h for what its entries are named).
//
// `path` may also be a sharded checkpoint: an index (`*.safetensors.index.json` or
// `*.ckpt.index.json`: {"metadata": {"total_size"}, "weight_map": {tensor: shard file}}) or a
// folder (its one index, else every checkpoint file in it, in name order). Every shard is mapped
// (zero copy as above) and the result is one dict over all of them, shard by shard. Refused: a
// shard named outside the index's folder, a missing shard, a tensor in a shard the index does not
// map to it (or in two files), an index entry its shard lacks, a total_size that differs from
// the tensors' bytes (src/io/sharded.h has the details).
//
// Errors: IoError (cannot open), FormatError (bad bytes: names file, tensor and offset), Error
// kNotFound when the filters leave nothing.
ParamDict load_checkpoint(const std::filesystem::path& path, const LoadOptions& options = {});

// The files a load of `path` reads: `path` itself, or the shards of an index or a folder (the
// index is parsed and checked; the shards are not opened).
std::vector<std::filesystem::path> checkpoint_files(const std::filesystem::path& path);

// MindSpore's (param_not_load, ckpt_not_load) pair, plus what cellar also reports. Structured
// bindings see the pair only, as in Python: `auto [param_not_load, ckpt_not_load] = ...`.
struct LoadResult {
  NameList param_not_load;  // network parameters with no checkpoint entry
  NameList ckpt_not_load;   // checkpoint entries the network did not use
  NameList converted;       // network parameters loaded with a dtype conversion (not strict)
  // Network parameters left as they were because the entry's shape differs (only with
  // LoadIntoNetOptions::skip_shape_mismatch; otherwise a shape difference is an error). Such an
  // entry is also in ckpt_not_load, and the parameter in param_not_load, as MindSpore reports a
  // parameter it did not load.
  NameList shape_mismatched;

  template <size_t I>
  const NameList& get() const {
    static_assert(I < 2);
    if constexpr (I == 0)
      return param_not_load;
    else
      return ckpt_not_load;
  }
  template <size_t I>
  NameList& get() {
    static_assert(I < 2);
    if constexpr (I == 0)
      return param_not_load;
    else
      return ckpt_not_load;
  }
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

// What fine-tuning needs beyond MindSpore's arguments.
struct LoadIntoNetOptions {
  bool strict_load = false;  // as above
  // Renames the dict's entries before they are matched with the network's parameters (strip
  // "module.", add a prefix, rename by pattern, drop entries; cellar/io/name_map.h). Two entries
  // becoming one name is an error. Reports (ckpt_not_load) use the renamed names.
  NameMap name_map;
  // Leave a parameter whose entry has another shape as it is and report it in shape_mismatched
  // (a classifier head with a new class count), instead of refusing the whole load.
  bool skip_shape_mismatch = false;
};
LoadResult load_param_into_net(nn::Cell& net, const ParamDict& params,
                               const LoadIntoNetOptions& options);
template <class C>
LoadResult load_param_into_net(const std::shared_ptr<C>& net, const ParamDict& params,
                               const LoadIntoNetOptions& options) {
  return load_param_into_net(static_cast<nn::Cell&>(*net), params, options);
}

// MindSpore's load_checkpoint(ckpt_file_name, net=...): loads the file (as above) and then its
// entries into `net` (load_param_into_net with `into`); returns the dict, as MindSpore does.
// `result`, when given, receives what load_param_into_net reported.
ParamDict load_checkpoint(const std::filesystem::path& path, nn::Cell& net,
                          const LoadOptions& options = {}, const LoadIntoNetOptions& into = {},
                          LoadResult* result = nullptr);
template <class C>
ParamDict load_checkpoint(const std::filesystem::path& path, const std::shared_ptr<C>& net,
                          const LoadOptions& options = {}, const LoadIntoNetOptions& into = {},
                          LoadResult* result = nullptr) {
  return load_checkpoint(path, static_cast<nn::Cell&>(*net), options, into, result);
}

// MindSpore's ckpt_to_safetensors / safetensors_to_ckpt. `file_path` is
// - a file, which must end in ".ckpt" (".safetensors"): written next to it, or into `save_path`
//   (created when missing), under the same name with the other suffix;
// - a folder: every file ending in the suffix inside each of its subfolders whose name starts
//   with "rank" (MindSpore's layout of a parallel run: rank_0/, rank_1/, …; files at the top
//   and deeper folders are ignored, as MindSpore does) is converted into the same subfolder of
//   `save_path` (created), or in place. A folder without "rank*" subfolders is an error.
// `save_path` must be a folder name (a name with an extension is refused, as MindSpore does).
// The .ckpt written by safetensors_to_ckpt lists the tensors in name order, as MindSpore's does
// (its safetensors loader yields sorted names). ValueError kInvalidArgument for a bad path or
// suffix; the loaders' and writers' errors otherwise (an encrypted .ckpt cannot be converted; a
// str entry cannot be written to safetensors). Each output is written atomically.
struct ConvertOptions {
  // Renames parameters: a name found here is written under the mapped name, others as they are
  // (MindSpore's name_map). Two parameters ending up with one name are refused (MindSpore would
  // silently keep the last), ValueError kInvalidArgument naming both.
  std::map<std::string, std::string> name_map;
  // Only files whose name this regular expression finds a match in are converted (MindSpore's
  // file_name_regex, Python's re.search; here ECMAScript syntax, std::regex). For a folder the
  // file's name is searched; for a single file its whole path, and a file that does not match
  // is an error, as in MindSpore. An invalid expression is ValueError kInvalidArgument.
  std::string file_name_regex;
  // Files converted at once in a folder (MindSpore's processes_num; threads here). ≥ 1.
  int processes_num = 1;
};
void ckpt_to_safetensors(const std::filesystem::path& file_path,
                         const std::filesystem::path& save_path = {},
                         const ConvertOptions& options = {});
void safetensors_to_ckpt(const std::filesystem::path& file_path,
                         const std::filesystem::path& save_path = {},
                         const ConvertOptions& options = {});

}  // namespace cellar

// Structured bindings of LoadResult: the MindSpore pair (param_not_load, ckpt_not_load).
namespace std {
template <>
struct tuple_size<cellar::LoadResult> : integral_constant<size_t, 2> {};
template <size_t I>
struct tuple_element<I, cellar::LoadResult> {
  using type = cellar::NameList;
};
}  // namespace std

CELLAR_API_END
