// save_checkpoint / load_checkpoint / load_param_into_net with MindSpore 2.x's semantics
// (mindspore/train/serialization.py). The bytes are the formats' business (src/formats/).
#include "cellar/io/checkpoint.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "cellar/io/inspect.h"
#include "formats/crypto.h"
#include "formats/format.h"
#include "formats/pytorch.h"
#include "io/checkpoint_internal.h"
#include "io/sharded.h"

namespace cellar {

// ---- ParamDict ----

ParamDict::ParamDict(std::initializer_list<std::pair<std::string, Tensor>> items) {
  for (const auto& [name, t] : items) set(name, t);
}

void ParamDict::set(const std::string& name, Parameter p) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    items_[it->second].second = std::move(p);
    return;
  }
  index_.emplace(name, items_.size());
  items_.emplace_back(name, std::move(p));
}

const Parameter& ParamDict::at(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error(ErrorCode::kNotFound, "no entry named '" + name + "' in the parameter dict",
                {{}, name});
  return items_[it->second].second;
}

bool ParamDict::erase(const std::string& name) {
  auto it = index_.find(name);
  if (it == index_.end()) return false;
  const size_t at = it->second;
  items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(at));
  index_.erase(it);
  for (auto& [_, i] : index_)
    if (i > at) --i;
  return true;
}

std::vector<std::string> ParamDict::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [name, _] : items_) out.push_back(name);
  return out;
}

// ---- NameList ----

namespace {
// Python's repr() of a str: single quotes unless the text holds ' and no ".
void put_repr(std::ostream& os, const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  os << q;
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      os << '\\' << c;
    } else if (c == '\n') {
      os << "\\n";
    } else if (c == '\r') {
      os << "\\r";
    } else if (c == '\t') {
      os << "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      os << "\\x" << kHex[c >> 4] << kHex[c & 15];
    } else {
      os << c;  // UTF-8 passes through, as Python 3 prints printable non-ASCII
    }
  }
  os << q;
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const NameList& names) {
  os << '[';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) os << ", ";
    put_repr(os, names[i]);
  }
  return os << ']';
}

// ---- save ----

namespace {

Tensor append_tensor(const AppendValue& v) {
  struct Visitor {
    Tensor operator()(int64_t i) const { return Tensor::scalar<int64_t>(i); }
    // MindSpore: Tensor(python float) is Float32.
    Tensor operator()(double d) const { return Tensor::scalar<float>(static_cast<float>(d)); }
    Tensor operator()(bool b) const { return Tensor::scalar<bool>(b); }
    Tensor operator()(const std::string& s) const { return Tensor::from_string(s); }
  };
  return std::visit(Visitor{}, v);
}

std::span<const std::byte> key_bytes(const std::string& key) {
  return {reinterpret_cast<const std::byte*>(key.data()), key.size()};
}

// The options' encryption mode, checked with the key before anything is written (nullopt: no
// encryption). MindSpore refuses enc_key and a non-default enc_mode for safetensors.
std::optional<formats::EncMode> save_enc_mode(const SaveOptions& o) {
  if (o.format == CheckpointFormat::kSafetensors) {
    if (!o.enc_key.empty() || o.enc_mode != "AES-GCM")
      throw ValueError(ErrorCode::kUnsupported,
                       "enc_key/enc_mode cannot be used with the safetensors format (MindSpore "
                       "refuses them too: safetensors has no encryption); save as .ckpt");
    return std::nullopt;
  }
  if (o.enc_key.empty()) return std::nullopt;  // enc_mode only matters with a key, as in MindSpore
  const formats::EncMode mode = formats::parse_enc_mode(o.enc_mode);
  formats::check_key(key_bytes(o.enc_key), mode);
  return mode;
}

void write_one_file(const formats::NamedTensors& entries, const std::filesystem::path& path,
                    const SaveOptions& options, std::optional<formats::EncMode> enc,
                    const formats::EntryBytes& bytes, formats::AtomicFile::Cache cache) {
  const formats::CheckpointFormat& format = formats::format_for(options.format);
  formats::AtomicFile out(path, cache);
  if (enc) {
    // The writer streams its plaintext through the Encryptor, block by block, into the file; a
    // crc_num trailer lands inside the plaintext, where MindSpore's loader strips and checks it.
    formats::Encryptor encryptor(key_bytes(options.enc_key), *enc, out);
    format.write(entries, encryptor, options, bytes);
    encryptor.finish();
  } else {
    format.write(entries, out, options, bytes);
  }
  bytes.finish();
  out.commit();
}

void remove_if_present(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);  // best effort: a stale file left behind is not an error
}

// One file, or (SaveOptions::max_shard_size) shards and their index, written index last. A save
// keeps what it writes in the page cache (a load often follows); a streamed copy does not
// (formats/atomic_file.h).
void write_file(const formats::NamedTensors& entries, const std::filesystem::path& path,
                const SaveOptions& options, std::optional<formats::EncMode> enc,
                const formats::EntryBytes& bytes = formats::own_bytes(),
                formats::AtomicFile::Cache cache = formats::AtomicFile::Cache::kKeep) {
  const std::filesystem::path index = path.string() + ".index.json";
  std::vector<formats::NamedTensors> shards;
  if (options.max_shard_size > 0) {
    uint64_t in_shard = 0;
    for (const auto& e : entries) {
      const uint64_t n = e.second.nbytes();
      if (shards.empty() || (in_shard > 0 && n > options.max_shard_size -
                                                     std::min(in_shard, options.max_shard_size))) {
        shards.emplace_back();
        in_shard = 0;
      }
      shards.back().push_back(e);
      in_shard += n;
    }
  }
  if (shards.size() <= 1) {
    write_one_file(entries, path, options, enc, bytes, cache);
    if (options.max_shard_size > 0) {
      remove_if_present(index);
      for (const auto& s : io::stale_shards(path, {})) remove_if_present(s);
    }
    return;
  }
  std::vector<std::pair<std::string, std::string>> weight_map;
  std::set<std::string> names;
  uint64_t total = 0;
  const std::filesystem::path dir = path.parent_path();
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string name = io::shard_name(path, k + 1, shards.size());
    write_one_file(shards[k], dir / name, options, enc, bytes, cache);
    names.insert(name);
    for (const auto& [tensor, t] : shards[k]) {
      weight_map.emplace_back(tensor, name);
      total += t.nbytes();
    }
  }
  formats::AtomicFile out(index);
  const std::string text = io::index_json(weight_map, total);
  out.write(text.data(), text.size());
  out.commit();
  remove_if_present(path);
  for (const auto& s : io::stale_shards(path, names)) remove_if_present(s);
}

// Saves run one after another in call order (MindSpore's _ckpt_mutex plus its wait for the
// previous async thread): each save takes the previous one's future and waits for it before it
// writes. This chain is the checkpoint module's only process-wide state. Its destructor, at
// static destruction, waits for the last save, and so for every save still pending at exit (a
// std::async future's last owner joins the thread).
struct SaveChain {
  std::mutex mutex;
  std::shared_future<void> last;
  ~SaveChain() {
    if (last.valid()) last.wait();
  }
};

SaveChain& save_chain() {
  static SaveChain chain;
  return chain;
}

std::shared_future<void> save_entries(ParamDict params, const std::filesystem::path& path,
                                      const SaveOptions& options) {
  const auto enc = save_enc_mode(options);
  // append_dict entries follow the parameters; a repeated name replaces the earlier value in its
  // place, as MindSpore's OrderedDict does.
  for (const auto& [name, value] : options.append_dict) params.set(name, append_tensor(value));
  formats::NamedTensors entries;
  entries.reserve(params.size());
  // An async save snapshots the tensors (one copy, in the caller's thread) so that the caller
  // may change the weights as soon as the call returns.
  for (const auto& [name, p] : params)
    entries.emplace_back(name, options.async_save ? p.data().clone() : p.data());

  SaveChain& chain = save_chain();
  if (options.async_save) {
    std::lock_guard lock(chain.mutex);
    // The thread owns everything it uses: the snapshot, the path, the options (by value).
    chain.last = std::async(std::launch::async, [prev = chain.last, entries = std::move(entries),
                                                 path, options, enc] {
                   if (prev.valid()) prev.wait();
                   write_file(entries, path, options, enc);
                 }).share();
    return chain.last;
  }
  std::promise<void> done;
  std::shared_future<void> prev;
  std::shared_future<void> mine = done.get_future().share();
  {
    std::lock_guard lock(chain.mutex);
    prev = std::exchange(chain.last, mine);
  }
  if (prev.valid()) prev.wait();
  try {
    write_file(entries, path, options, enc);
  } catch (...) {
    done.set_exception(std::current_exception());
    throw;
  }
  done.set_value();
  return mine;
}

}  // namespace

std::shared_future<void> save_checkpoint(const nn::Cell& cell, const std::filesystem::path& path,
                                         const SaveOptions& options) {
  ParamDict params;
  for (const auto& [name, p] : cell.parameters_and_names())
    if (!options.choice_func || options.choice_func(name)) params.set(name, p);
  return save_entries(std::move(params), path, options);
}

std::shared_future<void> save_checkpoint(const ParamDict& params, const std::filesystem::path& path,
                                         const SaveOptions& options) {
  ParamDict kept;
  for (const auto& [name, p] : params)
    if (!options.choice_func || options.choice_func(name)) kept.set(name, p);
  return save_entries(std::move(kept), path, options);
}

void io::write_checkpoint_entries(const formats::NamedTensors& entries,
                                  const std::filesystem::path& path, const SaveOptions& options,
                                  const formats::EntryBytes& bytes) {
  write_file(entries, path, options, save_enc_mode(options), bytes,
             formats::AtomicFile::Cache::kBypass);
}

// ---- load ----

namespace {

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.starts_with(p)) return true;
  return false;
}

// MindSpore 2.x: specify_prefix / filter_prefix decide when either is given (a name is kept when
// it matches a specify prefix, if any, and no filter prefix); otherwise choice_func decides.
bool keep(const std::string& name, const LoadOptions& o) {
  if (!o.specify_prefix.empty() || !o.filter_prefix.empty()) {
    if (!o.specify_prefix.empty() && !starts_with_any(name, o.specify_prefix)) return false;
    return !starts_with_any(name, o.filter_prefix);
  }
  return !o.choice_func || o.choice_func(name);
}

// The file's bytes as the format readers see them: mapped or read, and decrypted when asked.
std::shared_ptr<MappedFile> open_plain(const std::filesystem::path& path, const LoadOptions& o) {
  auto file = o.use_mmap ? MappedFile::open(path) : MappedFile::read(path);
  const std::span<const std::byte> bytes(file->data(), file->size());
  const auto enc = formats::encrypted_mode(bytes);
  if (o.dec_key.empty()) {
    if (enc)
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted with ") + formats::to_string(*enc) +
                      " (MindSpore's enc_mode); pass LoadOptions::dec_key and dec_mode \"" +
                      formats::to_string(*enc) + "\"",
                  {path.string(), {}, 0});
    return file;
  }
  const formats::EncMode mode = formats::parse_enc_mode(o.dec_mode);
  const auto kind = detect(bytes.first(std::min<size_t>(bytes.size(), 64)));
  if (!enc && kind == FileKind::kSafetensors)
    throw Error(ErrorCode::kUnsupported,
                "dec_key was given for a safetensors file, which has no encryption (MindSpore "
                "refuses dec_key for safetensors too)",
                {path.string(), {}, 0});
  if (!enc && kind == FileKind::kPyTorch)
    throw Error(ErrorCode::kUnsupported,
                "dec_key was given for a PyTorch file, which has no encryption",
                {path.string(), {}, 0});
  // decrypt() names the file and the mode in every error: not encrypted, wrong mode (the magic
  // names the file's), failed authentication or padding (wrong key, modified bytes).
  return MappedFile::adopt(path,
                           formats::decrypt(bytes, key_bytes(o.dec_key), mode, path.string()));
}

}  // namespace

namespace {

// Every entry of the one file at `path`, in file order, unfiltered.
// With `located`, each entry whose bytes are a run of the file is recorded there (by the Storage
// its tensor views or will copy from), and the parsed pages are dropped as the reader goes.
formats::NamedTensors read_entries(const std::filesystem::path& path, const LoadOptions& options,
                                   io::Locations* located = nullptr) {
  auto file = open_plain(path, options);
  if (file->size() == 0) throw FormatError("empty file: not a checkpoint", {path.string(), {}, 0});
  // 4 KiB: enough to see the whole first record name of a PyTorch zip (its folder is the file's
  // stem, of any length); the other sniffers read the first bytes only.
  const std::span<const std::byte> head(file->data(), std::min<size_t>(file->size(), 4096));
  // The format is recognised from the bytes alone, not the file name (detect(): safetensors
  // first, its sniffer checks a length and a '{', stricter than a protobuf tag; then PyTorch's
  // zip or legacy magic). Whatever is neither goes to the .ckpt parser (MindSpore's default
  // format), which gives the most precise account of what is wrong.
  const auto kind = detect(head);
  const formats::CheckpointFormat& format = kind == FileKind::kPyTorch ? formats::pytorch_format()
                                            : kind == FileKind::kSafetensors
                                                ? formats::safetensors_format()
                                                : formats::ckpt_format();
  // Only a file mapped from disk is located: a decrypted or read() copy is not the file's pages.
  if (!located || !options.dec_key.empty() || !options.use_mmap) return format.read(file, options);
  std::vector<formats::FilePieces> pieces;
  formats::NamedTensors out = format.read_located(file, options, pieces, /*drop_behind=*/true);
  for (size_t i = 0; i < out.size() && i < pieces.size(); ++i)
    if (!pieces[i].empty() && out[i].second.storage())
      (*located)[out[i].second.storage().get()] = {file, std::move(pieces[i])};
  return out;
}

// A sharded checkpoint (an index or a folder): io/sharded.h has the rules checked here.
// MindSpore refuses an empty result; the message says whether the file was empty or the filters
// took everything.
ParamDict nonempty(ParamDict out, bool had_any, const std::filesystem::path& path) {
  if (out.empty())
    throw Error(ErrorCode::kNotFound,
                had_any ? "the loaded parameter dict is empty after specify_prefix, "
                          "filter_prefix or choice_func"
                        : "the checkpoint holds no tensors",
                {path.string()});
  return out;
}

ParamDict load_sharded(const std::filesystem::path& path, const LoadOptions& options,
                       io::Locations* located) {
  const io::ShardSet set = io::resolve_shards(path);
  const std::string where = set.index.empty() ? path.string() : set.index.string();
  std::unordered_map<std::string, std::string> mapped(set.weight_map.begin(), set.weight_map.end());
  std::unordered_map<std::string, std::string> found;  // tensor → the file it was read from
  uint64_t total = 0;
  bool had_any = false;
  ParamDict out;
  // With an index and a filter, only the shards holding a kept tensor are read (a rank loading
  // its slice of a collective save opens its own shard, not all of them); the checks below then
  // cover the shards read.
  const bool filtered =
      !options.specify_prefix.empty() || !options.filter_prefix.empty() || options.choice_func;
  std::unordered_set<std::string> wanted, skipped;
  if (!set.index.empty() && filtered)
    for (const auto& [name, shard] : set.weight_map)
      if (keep(name, options)) wanted.insert(shard);
  for (const std::filesystem::path& f : set.files) {
    const std::string fname = f.filename().string();
    if (!set.index.empty() && filtered && !wanted.count(fname)) {
      skipped.insert(fname);
      had_any = true;
      continue;
    }
    for (auto& [name, t] : read_entries(f, options, located)) {
      if (!set.index.empty()) {
        const auto it = mapped.find(name);
        if (it == mapped.end())
          throw FormatError("the shard '" + fname + "' holds a tensor the index does not list",
                            {where, name});
        if (it->second != fname)
          throw FormatError("the shard '" + fname +
                                "' holds the tensor, but the index maps it to '" + it->second + "'",
                            {where, name});
      }
      if (const auto [it, fresh] = found.emplace(name, fname); !fresh)
        throw FormatError("the tensor is in both '" + it->second + "' and '" + fname + "'",
                          {where, name});
      total += t.nbytes();
      had_any = true;
      if (keep(name, options)) out.set(name, Parameter(std::move(t), name));
    }
  }
  for (const auto& [name, shard] : set.weight_map)
    if (!found.count(name) && !skipped.count(shard))
      throw FormatError("the index maps the tensor to '" + shard + "', which does not hold it",
                        {where, name});
  if (set.total_size && skipped.empty() && *set.total_size != total)
    throw FormatError("metadata.total_size is " + std::to_string(*set.total_size) +
                          " but the shards hold " + std::to_string(total) + " bytes of tensors",
                      {where});
  return nonempty(std::move(out), had_any, path);
}

bool is_sharded(const std::filesystem::path& path) {
  std::error_code ec;
  return io::is_index_path(path) || std::filesystem::is_directory(path, ec);
}

}  // namespace

std::vector<std::filesystem::path> checkpoint_files(const std::filesystem::path& path) {
  if (!is_sharded(path)) return {path};
  return io::resolve_shards(path).files;
}

ParamDict load_checkpoint(const std::filesystem::path& path, const LoadOptions& options) {
  return io::load_checkpoint_located(path, options, nullptr);
}

ParamDict io::load_checkpoint_located(const std::filesystem::path& path, const LoadOptions& options,
                                      Locations* located) {
  if (is_sharded(path)) return load_sharded(path, options, located);
  formats::NamedTensors entries = read_entries(path, options, located);
  const bool had_any = !entries.empty();
  ParamDict out;
  for (auto& [name, t] : entries)
    if (keep(name, options)) out.set(name, Parameter(std::move(t), name));
  return nonempty(std::move(out), had_any, path);
}

namespace {

bool is_ms_convertible(DType a, DType b) {
  // MindSpore's _type_convert: float16/32/64 and bfloat16 among themselves, signed integers
  // among themselves (unsigned integers and Bool never convert).
  auto is_float = [](DType t) { return is_floating(t); };
  auto is_sint = [](DType t) {
    return t == DType::Int8 || t == DType::Int16 || t == DType::Int32 || t == DType::Int64;
  };
  return (is_float(a) && is_float(b)) || (is_sint(a) && is_sint(b));
}

bool aligned_for(const Tensor& t) {
  const size_t align = std::max<size_t>(itemsize(t.dtype()), 1);
  return reinterpret_cast<uintptr_t>(t.raw_data()) % align == 0;
}

// The tensor a network parameter of dtype `want` takes from checkpoint tensor `src` (already
// checked for shape). Same dtype: shared, zero copy (a MAP_PRIVATE view: training writes copy
// pages and never reach the file), unless its bytes are not aligned for typed access (a .ckpt
// places content at any offset), then cloned into aligned memory, so that kernels never see a
// misaligned float*. A converted tensor is always a fresh copy.
Tensor loaded_tensor(const std::string& name, const Tensor& src, DType want, bool strict) {
  if (src.dtype() != want) {
    if (strict || !is_ms_convertible(src.dtype(), want))
      throw ValueError(ErrorCode::kDTypeMismatch,
                       "For 'load_param_into_net', " + name + " has dtype " +
                           std::string(mindspore_name(want)) + " in the network but dtype " +
                           std::string(mindspore_name(src.dtype())) + " in the parameter dict" +
                           (strict ? " (strict_load)" : ""),
                       {{}, name});
    return aligned_for(src) ? src.to(want) : src.clone().to(want);
  }
  return aligned_for(src) ? src : src.clone();
}

}  // namespace

LoadResult load_param_into_net(nn::Cell& net, const ParamDict& params, bool strict_load) {
  return load_param_into_net(net, params, LoadIntoNetOptions{.strict_load = strict_load});
}

LoadResult load_param_into_net(nn::Cell& net, const ParamDict& given,
                               const LoadIntoNetOptions& options) {
  const bool strict_load = options.strict_load;
  ParamDict renamed;
  if (!options.name_map.empty()) renamed = options.name_map.apply(given);
  const ParamDict& params = options.name_map.empty() ? given : renamed;
  const auto net_params = net.parameters_and_names();
  // Pair network parameters with entries: by name, then (not strict) MindSpore's fallback for a
  // checkpoint saved from a wrapper cell: strip the prefix that makes a missing name match.
  std::vector<std::pair<size_t, const Parameter*>> pairs;  // index in net_params → entry
  std::vector<size_t> missing;
  for (size_t i = 0; i < net_params.size(); ++i) {
    const std::string& name = net_params[i].first;
    if (params.contains(name))
      pairs.emplace_back(i, &params.at(name));
    else
      missing.push_back(i);
  }
  std::set<std::string> used;
  for (const auto& [i, _] : pairs) used.insert(net_params[i].first);
  if (!missing.empty() && !strict_load) {
    std::optional<std::string> prefix;
    for (size_t i : missing) {
      const std::string& name = net_params[i].first;
      for (const auto& [key, _] : params)
        if (key.size() > name.size() && key.ends_with(name) && !used.count(key)) {
          prefix = key.substr(0, key.size() - name.size());
          break;
        }
      if (prefix) break;
    }
    if (prefix) {
      std::vector<size_t> still;
      for (size_t i : missing) {
        const std::string key = *prefix + net_params[i].first;
        if (params.contains(key) && !used.count(key)) {
          pairs.emplace_back(i, &params.at(key));
          used.insert(key);
        } else {
          still.push_back(i);
        }
      }
      missing = std::move(still);
    }
  }

  // Check everything before changing anything: a refused load leaves the network as it was.
  std::vector<Tensor> loaded(pairs.size());
  std::vector<size_t> converted;   // indices in net_params
  std::vector<size_t> mismatched;  // indices in net_params (skip_shape_mismatch)
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto& [i, entry] = pairs[k];
    const std::string& name = net_params[i].first;
    const Tensor& have = net_params[i].second.data();
    const Tensor& src = entry->data();
    if (have.shape() != src.shape() && options.skip_shape_mismatch) {
      mismatched.push_back(i);
      continue;  // loaded[k] stays undefined: the parameter keeps its value
    }
    if (have.shape() != src.shape())
      throw ValueError(ErrorCode::kShapeMismatch,
                       "For 'load_param_into_net', " + name + " has shape " + have.shape().str() +
                           " in the network but shape " + src.shape().str() +
                           " in the parameter dict",
                       {{}, name});
    loaded[k] = loaded_tensor(name, src, have.dtype(), strict_load);
    if (src.dtype() != have.dtype()) converted.push_back(i);
  }
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (!loaded[k].defined()) continue;
    Parameter p = net_params[pairs[k].first].second;
    p.set_data(std::move(loaded[k]));
  }
  // A skipped parameter was not loaded, and its entry was not used.
  for (size_t k = 0; k < pairs.size(); ++k)
    if (!loaded[k].defined()) {
      missing.push_back(pairs[k].first);
      for (const auto& [key, p] : params)
        if (&p == pairs[k].second) used.erase(key);
    }

  LoadResult result;
  std::sort(missing.begin(), missing.end());
  for (size_t i : missing) result.param_not_load.push_back(net_params[i].first);
  for (const auto& [key, _] : params)
    if (!used.count(key)) result.ckpt_not_load.push_back(key);
  std::sort(converted.begin(), converted.end());
  for (size_t i : converted) result.converted.push_back(net_params[i].first);
  std::sort(mismatched.begin(), mismatched.end());
  for (size_t i : mismatched) result.shape_mismatched.push_back(net_params[i].first);
  return result;
}

ParamDict load_checkpoint(const std::filesystem::path& path, nn::Cell& net,
                          const LoadOptions& options, const LoadIntoNetOptions& into,
                          LoadResult* result) {
  ParamDict params = load_checkpoint(path, options);
  LoadResult r = load_param_into_net(net, params, into);
  if (result) *result = std::move(r);
  return params;
}

// ---- ckpt_to_safetensors / safetensors_to_ckpt ----

namespace {

struct Conversion {
  const char* func;  // MindSpore's name, for messages
  const char* src_suffix;
  const char* dst_suffix;
  CheckpointFormat dst_format;
};

// Loads `src`, renames its parameters by options.name_map and writes `dst` in the other format.
// The write skips the save chain (save_entries): each conversion writes its own file, so
// conversions may run side by side (processes_num).
void convert_file(const std::filesystem::path& src, const std::filesystem::path& dst,
                  const Conversion& c, const ConvertOptions& co) {
  ParamDict params = load_checkpoint(src);
  std::vector<const std::pair<std::string, Parameter>*> order;
  for (const auto& e : params) order.push_back(&e);
  // MindSpore's safetensors loader yields the names sorted, so its .ckpt lists them in that
  // order (the order of the original names: the renaming comes after).
  if (c.dst_format == CheckpointFormat::kCkpt)
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  formats::NamedTensors entries;
  entries.reserve(order.size());
  std::map<std::string, std::string> renamed_from;
  for (const auto* e : order) {
    const auto it = co.name_map.find(e->first);
    const std::string& name = it == co.name_map.end() ? e->first : it->second;
    if (const auto [prev, fresh] = renamed_from.emplace(name, e->first); !fresh)
      throw ValueError(ErrorCode::kInvalidArgument,
                       std::string("For '") + c.func + "', name_map gives '" + prev->second +
                           "' and '" + e->first + "' the same name '" + name + "'",
                       {src.string(), name});
    entries.emplace_back(name, e->second.data());
  }
  SaveOptions options;
  options.format = c.dst_format;
  write_file(entries, dst, options, save_enc_mode(options));
}

std::string with_suffix(const std::filesystem::path& file, const Conversion& c) {
  std::string name = file.filename().string();
  return name.substr(0, name.size() - std::strlen(c.src_suffix)) + c.dst_suffix;
}

// Runs jobs[i]() for every i on `threads` threads; the first exception (in job order) is
// rethrown once all have stopped. After a failure no new job starts.
void run_jobs(const std::vector<std::function<void()>>& jobs, int threads) {
  std::vector<std::exception_ptr> errors(jobs.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i; !failed && (i = next++) < jobs.size();) {
      try {
        jobs[i]();
      } catch (...) {
        errors[i] = std::current_exception();
        failed = true;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    const size_t n = std::min(jobs.size(), static_cast<size_t>(threads));
    for (size_t t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void convert(const std::filesystem::path& file_path, const std::filesystem::path& save_path,
             const Conversion& c, const ConvertOptions& co) {
  namespace fs = std::filesystem;
  const std::string func = std::string("For '") + c.func + "', ";
  if (co.processes_num < 1)
    throw ValueError(ErrorCode::kInvalidArgument, func + "processes_num must be at least 1, got " +
                                                      std::to_string(co.processes_num));
  std::optional<std::regex> regex;
  if (!co.file_name_regex.empty()) {
    try {
      regex.emplace(co.file_name_regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw ValueError(ErrorCode::kInvalidArgument,
                       func + "file_name_regex '" + co.file_name_regex +
                           "' is not a valid regular expression: " + e.what());
    }
  }
  auto matches = [&](const std::string& s) { return !regex || std::regex_search(s, *regex); };
  std::error_code ec;
  const bool is_dir = fs::is_directory(file_path, ec);
  const bool is_file = fs::is_regular_file(file_path, ec);
  if (!is_dir && !is_file)
    throw ValueError(ErrorCode::kInvalidArgument,
                     func + "the input path must be an existing file or folder",
                     {file_path.string()});
  if (!save_path.empty() && save_path.has_extension())
    throw ValueError(
        ErrorCode::kInvalidArgument,
        func + "save_path must be a folder, but '" + save_path.string() + "' has an extension",
        {save_path.string()});
  auto make_dirs = [&](const fs::path& dir) {
    std::error_code e;
    fs::create_directories(dir, e);
    if (e) throw IoError("cannot create the folder: " + e.message(), {dir.string()});
  };
  if (is_file) {
    if (!file_path.filename().string().ends_with(c.src_suffix) ||
        file_path.filename().string() == c.src_suffix)
      throw ValueError(ErrorCode::kInvalidArgument,
                       func + "the input file must be a " + c.src_suffix + " file",
                       {file_path.string()});
    if (!matches(file_path.string()))
      throw ValueError(
          ErrorCode::kInvalidArgument,
          func + "the input file does not match file_name_regex '" + co.file_name_regex + "'",
          {file_path.string()});
    if (!save_path.empty()) make_dirs(save_path);
    const fs::path folder = save_path.empty() ? file_path.parent_path() : save_path;
    convert_file(file_path, folder / with_suffix(file_path, c), c, co);
    return;
  }
  // A folder: MindSpore's layout of a parallel run, rank*/ subfolders holding the files.
  std::vector<fs::path> ranks;
  for (const auto& e : fs::directory_iterator(file_path))
    if (e.is_directory() && e.path().filename().string().starts_with("rank"))
      ranks.push_back(e.path());
  if (ranks.empty())
    throw ValueError(ErrorCode::kInvalidArgument,
                     func + "no folders whose names start with 'rank' were found in the folder",
                     {file_path.string()});
  std::sort(ranks.begin(), ranks.end());
  std::vector<std::function<void()>> jobs;
  for (const auto& rank : ranks) {
    const fs::path dst_root = save_path.empty() ? rank : save_path / rank.filename();
    make_dirs(dst_root);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(rank)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && name.ends_with(c.src_suffix) && name != c.src_suffix &&
          matches(name))
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      jobs.push_back(
          [f, dst = dst_root / with_suffix(f, c), &c, &co] { convert_file(f, dst, c, co); });
  }
  run_jobs(jobs, co.processes_num);
}

}  // namespace

void ckpt_to_safetensors(const std::filesystem::path& file_path,
                         const std::filesystem::path& save_path, const ConvertOptions& options) {
  convert(file_path, save_path,
          {"ckpt_to_safetensors", ".ckpt", ".safetensors", CheckpointFormat::kSafetensors},
          options);
}

void safetensors_to_ckpt(const std::filesystem::path& file_path,
                         const std::filesystem::path& save_path, const ConvertOptions& options) {
  convert(file_path, save_path,
          {"safetensors_to_ckpt", ".safetensors", ".ckpt", CheckpointFormat::kCkpt}, options);
}

}  // namespace cellar
