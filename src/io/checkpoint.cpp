// save_checkpoint / load_checkpoint / load_param_into_net with MindSpore 2.x's semantics
// (mindspore/train/serialization.py). The bytes are the formats' business (src/formats/).
#include "cellar/io/checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <variant>

#include "formats/ckpt.h"
#include "formats/format.h"
#include "formats/safetensors.h"

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

void save_entries(ParamDict params, const std::filesystem::path& path, const SaveOptions& options) {
  // append_dict entries follow the parameters; a repeated name replaces the earlier value in its
  // place, as MindSpore's OrderedDict does.
  for (const auto& [name, value] : options.append_dict) params.set(name, append_tensor(value));
  formats::NamedTensors entries;
  entries.reserve(params.size());
  for (const auto& [name, p] : params) entries.emplace_back(name, p.data());
  const formats::CheckpointFormat& format = options.format == CheckpointFormat::kSafetensors
                                                ? formats::safetensors_format()
                                                : formats::ckpt_format();
  formats::AtomicFile out(path);
  format.write(entries, out, options);
  out.commit();
}

}  // namespace

void save_checkpoint(const nn::Cell& cell, const std::filesystem::path& path,
                     const SaveOptions& options) {
  ParamDict params;
  for (const auto& [name, p] : cell.parameters_and_names())
    if (!options.choice_func || options.choice_func(name)) params.set(name, p);
  save_entries(std::move(params), path, options);
}

void save_checkpoint(const ParamDict& params, const std::filesystem::path& path,
                     const SaveOptions& options) {
  ParamDict kept;
  for (const auto& [name, p] : params)
    if (!options.choice_func || options.choice_func(name)) kept.set(name, p);
  save_entries(std::move(kept), path, options);
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

}  // namespace

ParamDict load_checkpoint(const std::filesystem::path& path, const LoadOptions& options) {
  auto file = MappedFile::open(path);
  if (file->size() == 0) throw FormatError("empty file: not a checkpoint", {path.string(), {}, 0});
  const std::span<const std::byte> head(file->data(), std::min<size_t>(file->size(), 64));
  // The format is recognised from the bytes, not the file name (safetensors first: its sniffer
  // checks a length and a '{', stricter than a protobuf tag). When no format claims the bytes,
  // the .ckpt parser (MindSpore's default format) gives the most precise account of what is wrong.
  const formats::CheckpointFormat* format = &formats::ckpt_format();
  for (const formats::CheckpointFormat* f :
       {&formats::safetensors_format(), &formats::ckpt_format()})
    if (f->sniff(head)) {
      format = f;
      break;
    }
  formats::NamedTensors entries = format->read(file, options);
  const bool had_any = !entries.empty();
  ParamDict out;
  for (auto& [name, t] : entries)
    if (keep(name, options)) out.set(name, Parameter(std::move(t), name));
  if (out.empty())
    throw Error(ErrorCode::kNotFound,
                had_any ? "the loaded parameter dict is empty after specify_prefix, "
                          "filter_prefix or choice_func"
                        : "the checkpoint holds no tensors",
                {path.string()});
  return out;
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
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto& [i, entry] = pairs[k];
    const std::string& name = net_params[i].first;
    const Tensor& have = net_params[i].second.data();
    const Tensor& src = entry->data();
    if (have.shape() != src.shape())
      throw ValueError(ErrorCode::kShapeMismatch,
                       "For 'load_param_into_net', " + name + " has shape " + have.shape().str() +
                           " in the network but shape " + src.shape().str() +
                           " in the parameter dict",
                       {{}, name});
    loaded[k] = loaded_tensor(name, src, have.dtype(), strict_load);
  }
  for (size_t k = 0; k < pairs.size(); ++k) {
    Parameter p = net_params[pairs[k].first].second;
    p.set_data(std::move(loaded[k]));
  }

  LoadResult result;
  std::sort(missing.begin(), missing.end());
  for (size_t i : missing) result.param_not_load.push_back(net_params[i].first);
  for (const auto& [key, _] : params)
    if (!used.count(key)) result.ckpt_not_load.push_back(key);
  return result;
}

}  // namespace cellar
