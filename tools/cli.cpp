#include "cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "progress.h"

namespace cellar::cli {

// ---- files ---------------------------------------------------------------------------------

std::vector<std::byte> read_head(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(std::string("cannot open: ") + std::strerror(errno), {path});
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw IoError(std::string("cannot stat: ") + std::strerror(errno), {path});
  if (S_ISDIR(st.st_mode)) throw IoError("is a directory", {path});
  std::vector<std::byte> head(4096);
  size_t n = 0;
  while (n < head.size()) {
    const ssize_t r = ::read(fd, head.data() + n, head.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw IoError(std::string("cannot read: ") + std::strerror(errno), {path});
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  head.resize(n);
  return head;
}

bool is_sharded(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) || path.ends_with(".index.json");
}

FileKind detect(const std::string& path) {
  if (is_sharded(path)) return detect(checkpoint_files(path).front().string());
  const std::vector<std::byte> head = read_head(path);
  if (head.empty()) throw FormatError("empty file", {path});
  if (const auto kind = cellar::detect(head, path)) return *kind;
  throw FormatError(
      "unrecognised format: not a .ckpt, .safetensors, .mindir, .onnx or PyTorch file (nor an "
      "encrypted one)",
      {path});
}

FileKind kind_from_name(const std::string& name) {
  if (name == "ckpt") return FileKind::kCheckpoint;
  if (name == "safetensors") return FileKind::kSafetensors;
  if (name == "mindir") return FileKind::kMindIR;
  if (name == "onnx") return FileKind::kOnnx;
  throw UsageError("--to " + name + ": expected ckpt, safetensors, mindir or onnx");
}

std::string read_key_file(const std::string& path) {
  const std::vector<std::byte> head = read_head(path);  // names the file when unreadable
  if (head.size() >= 4096)
    throw FormatError("too long for a key file (keys are 16-32 bytes)", {path});
  std::string key(reinterpret_cast<const char*>(head.data()), head.size());
  auto usable = [](size_t n) { return n == 16 || n == 24 || n == 32; };
  if (!usable(key.size())) {
    std::string trimmed = key;
    if (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
    if (!trimmed.empty() && trimmed.back() == '\r') trimmed.pop_back();
    if (usable(trimmed.size())) key = trimmed;
  }
  if (key.empty()) throw FormatError("empty key file", {path});
  return key;
}

std::string dec_mode_for(const std::string& path, const KeyOptions& key) {
  if (!key.mode.empty()) return key.mode;
  if (const auto m = encryption_mode(read_head(path))) return *m;
  return "AES-GCM";
}

FileKind encrypted_content(const std::string& path, const KeyOptions& key) {
  return cellar::encrypted_content(path, key.key, dec_mode_for(path, key));
}

NamedTensorList load_tensors(const std::string& path, const KeyOptions& key) {
  if (is_sharded(path)) {
    NamedTensorList out{detect(path), {}};
    LoadOptions o;
    o.dec_key = key.key;
    if (!key.key.empty()) o.dec_mode = key.mode.empty() ? "AES-GCM" : key.mode;
    for (const auto& [name, p] : load_checkpoint(path, o)) out.tensors.emplace_back(name, p.data());
    return out;
  }
  FileKind kind = detect(path);
  if (kind == FileKind::kEncrypted) {
    if (key.key.empty())
      throw Error(ErrorCode::kCrypto,
                  std::string("the file is encrypted (") + *encryption_mode(read_head(path)) +
                      "); pass --dec-key-file",
                  {path});
    kind = encrypted_content(path, key);
  }
  read_ahead_with_progress(path);
  NamedTensorList out{kind, {}};
  if (is_graph(kind)) {
    const ir::Graph g = load_graph(path, key);
    for (const ir::Initializer& init : g.initializers)
      if (init.is_parameter && init.data.defined())
        out.tensors.emplace_back(g.value(init.value).name, init.data);
    return out;
  }
  LoadOptions o;
  if (!key.key.empty()) {
    o.dec_key = key.key;
    o.dec_mode = dec_mode_for(path, key);
  }
  const ParamDict dict = load_checkpoint(path, o);
  for (const auto& [name, p] : dict) out.tensors.emplace_back(name, p.data());
  return out;
}

ir::Graph load_graph(const std::string& path, const KeyOptions& key, uint64_t max_constant_bytes) {
  read_ahead_with_progress(path);
  GraphLoadOptions o;
  o.dec_key = key.key;
  o.max_load_constant_bytes = max_constant_bytes;
  // The mode defaults to the one the file's magic names, so a key is all the user must give.
  if (!key.key.empty()) o.dec_mode = dec_mode_for(path, key);
  return load(path, o);
}

void add_max_constant_option(CLI::App* sub, uint64_t* mib) {
  *mib = kDefaultMaxLoadConstantBytes >> 20;
  sub->add_option("--max-constant-mib", *mib,
                  "most MiB of constant data the loader may make beyond the file's own (ONNX "
                  "ConstantOfShape weights, folded shape arithmetic); default 2048")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
}

// ---- printing ------------------------------------------------------------------------------

std::string dtype_str(DType t) { return std::string(mindspore_name(t)); }

std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& raw_rows,
                 const std::string& indent) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(raw_rows.size());
  for (const auto& row : raw_rows) {
    rows.emplace_back();
    for (const auto& cell : row) rows.back().push_back(printable(cell));
  }
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    os << line << '\n';
  }
}

void print_json(const json& j) {
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

std::string fmt_num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

json json_num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

std::vector<double> first_values(const Tensor& t, size_t n) {
  std::vector<double> v;
  if (t.dtype() == DType::String) return v;
  n = std::min<size_t>(n, static_cast<size_t>(t.numel()));
  v.reserve(n);
  const std::byte* p = t.raw_data();
  for (size_t i = 0; i < n; ++i) {
    const std::byte* e = p + i * itemsize(t.dtype());
    auto ld = [&](auto tag) {
      decltype(tag) x;
      std::memcpy(&x, e, sizeof x);
      return x;
    };
    double x = 0;
    switch (t.dtype()) {
      case DType::Bool:
        x = ld(uint8_t{}) != 0;
        break;
      case DType::Int8:
        x = ld(int8_t{});
        break;
      case DType::Int16:
        x = ld(int16_t{});
        break;
      case DType::Int32:
        x = ld(int32_t{});
        break;
      case DType::Int64:
        x = static_cast<double>(ld(int64_t{}));
        break;
      case DType::UInt8:
        x = ld(uint8_t{});
        break;
      case DType::UInt16:
        x = ld(uint16_t{});
        break;
      case DType::UInt32:
        x = ld(uint32_t{});
        break;
      case DType::UInt64:
        x = static_cast<double>(ld(uint64_t{}));
        break;
      case DType::Float16:
        x = half_to_float(ld(uint16_t{}));
        break;
      case DType::BFloat16:
        x = bfloat16_to_float(ld(uint16_t{}));
        break;
      case DType::Float32:
        x = ld(float{});
        break;
      case DType::Float64:
        x = ld(double{});
        break;
      case DType::String:
        break;
    }
    v.push_back(x);
  }
  return v;
}

std::string values_str(const std::vector<double>& v, size_t total) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt_num(v[i]);
  if (total > v.size()) s += v.empty() ? "..." : ", ...";
  return s + "]";
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return printable(s);
}

std::string human_bytes(uint64_t n) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace cellar::cli
