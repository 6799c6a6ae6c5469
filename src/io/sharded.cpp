// Sharded checkpoints: the index layout and the refusals are in sharded.h.
#include "io/sharded.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "cellar/error.h"

namespace cellar::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxIndexBytes = uint64_t{1} << 28;

bool is_checkpoint_file(const fs::path& p) {
  const auto ext = p.extension();
  return ext == ".safetensors" || ext == ".ckpt" || ext == ".pt" || ext == ".pth";
}

std::string read_text(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw IoError("cannot read the index: " + ec.message(), {path.string()});
  if (size > kMaxIndexBytes)
    throw FormatError("the index is " + std::to_string(size) + " bytes (at most " +
                          std::to_string(kMaxIndexBytes) + " are read)",
                      {path.string()});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open the index", {path.string()});
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A shard name that stays inside the index's folder: a plain file name.
bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

ShardSet read_index(const fs::path& index) {
  const std::string file = index.string();
  const std::string text = read_text(index);
  // Duplicate keys at any level: nlohmann keeps the last silently, so they are caught while
  // parsing (one set of keys per open object).
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  json j;
  try {
    j = json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
      (void)depth;
      if (event == json::parse_event_t::object_start) keys.emplace_back();
      if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
      if (event == json::parse_event_t::key && !keys.empty() &&
          !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const json::exception& e) {
    throw FormatError(std::string("the index is not valid JSON: ") + e.what(), {file});
  }
  if (!duplicate.empty())
    throw FormatError("the index repeats the key '" + duplicate + "'", {file, duplicate});
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw FormatError("the index has no \"weight_map\" object", {file});
  ShardSet s;
  s.index = index;
  if (j.contains("metadata")) {
    const json& m = j["metadata"];
    if (!m.is_object() && !m.is_null())
      throw FormatError("the index's \"metadata\" is not an object", {file});
    if (m.is_object() && m.contains("total_size")) {
      const json& t = m["total_size"];
      if (t.is_number_unsigned())
        s.total_size = t.get<uint64_t>();
      else if (t.is_number_float() && t.get<double>() >= 0 && t.get<double>() < 1.8e19 &&
               static_cast<double>(static_cast<uint64_t>(t.get<double>())) == t.get<double>())
        s.total_size = static_cast<uint64_t>(t.get<double>());
      else
        throw FormatError("metadata.total_size is not a non-negative integer", {file});
    }
  }
  std::unordered_set<std::string> seen_files;
  const fs::path dir = index.parent_path();
  for (const auto& [name, shard] : j["weight_map"].items()) {
    if (!shard.is_string())
      throw FormatError("the weight_map entry is not a file name", {file, name});
    const std::string f = shard.get<std::string>();
    if (!plain_file_name(f))
      throw FormatError(
          "the index maps the tensor to '" + f + "', which is not a file in the index's folder",
          {file, name});
    s.weight_map.emplace_back(name, f);
    if (seen_files.insert(f).second) s.files.push_back(dir / f);
  }
  if (s.weight_map.empty()) throw FormatError("the index's weight_map is empty", {file});
  std::sort(s.files.begin(), s.files.end());  // model-00001-of-…, model-00002-of-…
  for (const fs::path& f : s.files) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec))
      throw IoError("the index names the shard '" + f.filename().string() +
                        "', which does not exist in " + (dir.empty() ? "." : dir.string()),
                    {file, {}});
  }
  return s;
}

}  // namespace

bool is_index_path(const fs::path& path) {
  return path.filename().string().ends_with(".index.json");
}

ShardSet resolve_shards(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return read_index(path);
  std::vector<fs::path> indexes, files;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (!e.is_regular_file()) continue;
    if (is_index_path(e.path()))
      indexes.push_back(e.path());
    else if (is_checkpoint_file(e.path()))
      files.push_back(e.path());
  }
  if (ec) throw IoError("cannot list the folder: " + ec.message(), {path.string()});
  if (indexes.size() == 1) return read_index(indexes[0]);
  if (indexes.size() > 1) {
    std::sort(indexes.begin(), indexes.end());
    std::string names;
    for (const auto& i : indexes) names += (names.empty() ? "" : ", ") + i.filename().string();
    throw ValueError(ErrorCode::kInvalidArgument,
                     "the folder holds several indexes (" + names + "): load one of them",
                     {path.string()});
  }
  if (files.empty())
    throw ValueError(ErrorCode::kNotFound,
                     "the folder holds no index and no checkpoint file (.safetensors, .ckpt, "
                     ".pt, .pth)",
                     {path.string()});
  std::sort(files.begin(), files.end());
  ShardSet s;
  s.files = std::move(files);
  return s;
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& weight_map,
                       uint64_t total_size) {
  json map = json::object();  // nlohmann's object is a std::map: sorted by name
  for (const auto& [name, shard] : weight_map) map[name] = shard;
  json j;
  j["metadata"] = {{"total_size", total_size}};
  j["weight_map"] = std::move(map);
  return j.dump(2) + "\n";
}

std::string shard_name(const fs::path& path, size_t k, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu", k, n);
  return path.stem().string() + buf + path.extension().string();
}

std::vector<fs::path> stale_shards(const fs::path& path, const std::set<std::string>& keep) {
  std::vector<fs::path> out;
  const std::string stem = path.stem().string(), ext = path.extension().string();
  const fs::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    // stem + "-" + 5 digits + "-of-" + 5 digits + ext
    if (n.size() != stem.size() + 15 + ext.size() || !n.starts_with(stem + "-") ||
        !n.ends_with(ext) || keep.count(n))
      continue;
    const std::string mid = n.substr(stem.size(), 15);
    bool ok = mid[0] == '-' && mid.substr(6, 4) == "-of-";
    for (size_t i : {1, 2, 3, 4, 5, 10, 11, 12, 13, 14})
      ok = ok && std::isdigit(static_cast<unsigned char>(mid[i]));
    if (ok) out.push_back(e.path());
  }
  return out;
}

}  // namespace cellar::io
