// safetensors: the byte layout, the rules the reader enforces and what the writer writes are in
// safetensors.h. The header's JSON is parsed by hand (a small recursive-descent parser for the
// subset the format uses) so that every failure names the exact byte offset, duplicate keys are
// caught at every level, and nothing is allocated beyond the header's own size.
#include "formats/safetensors.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <unordered_set>

#include "cellar/error.h"
#include "core/utf8.h"

namespace cellar::formats {

namespace safetensors {

namespace {

constexpr uint64_t kLenBytes = 8;

struct DTypeSpelling {
  std::string_view name;
  DType dtype;
  int rank;  // position in the reference's Dtype enum (tensor.rs): the writer's sort key
};
// Every dtype cellar and safetensors share. Ranks: BOOL 0 … U64 20, as in the reference, which
// sorts by descending rank (largest alignment first), then by name.
constexpr std::array<DTypeSpelling, 13> kDTypes{{
    {"BOOL", DType::Bool, 0},
    {"U8", DType::UInt8, 4},
    {"I8", DType::Int8, 5},
    {"I16", DType::Int16, 11},
    {"U16", DType::UInt16, 12},
    {"F16", DType::Float16, 13},
    {"BF16", DType::BFloat16, 14},
    {"I32", DType::Int32, 15},
    {"U32", DType::UInt32, 16},
    {"F32", DType::Float32, 17},
    {"F64", DType::Float64, 19},
    {"I64", DType::Int64, 20},
    {"U64", DType::UInt64, 21},
}};
// Valid in the specification, not representable in cellar.
constexpr std::array<std::string_view, 9> kUnsupportedDTypes{
    "F4",      "F6_E2M3",     "F6_E3M2",     "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64"};

int dtype_rank(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.rank;
  return -1;
}

// Printable excerpt of untrusted text for an error message.
std::string excerpt(std::string_view s) {
  std::string out = "'";
  const size_t n = std::min<size_t>(s.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);  // UTF-8 passes through (the header was validated)
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > n) {
    // Do not cut a UTF-8 sequence in half.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
    out += "…";
  }
  return out + "'";
}

std::string describe_byte(std::string_view s, size_t pos) {
  if (pos >= s.size()) return "the end of the header";
  const auto c = static_cast<unsigned char>(s[pos]);
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

// ---- the header parser ----

// Parses the JSON header `json` (which starts at file offset `base`) into tensors and metadata.
// Positions in messages are file offsets.
class HeaderParser {
 public:
  HeaderParser(std::string_view json, uint64_t base, const std::string& path)
      : s_(json), base_(base), path_(path) {}

  void parse(Header& h) {
    if (s_.empty() || s_[0] != '{')
      fail("the header does not begin with '{' (found " + describe_byte(s_, 0) + ")", 0);
    ++pos_;
    std::unordered_set<std::string> keys;
    ws();
    if (!at('}')) {
      for (;;) {
        const size_t key_pos = pos_;
        if (!at('"')) fail("expected a tensor name (a JSON string), found " + here(), pos_);
        std::string key = string();
        if (!keys.insert(key).second)
          fail("duplicate key " + excerpt(key) + " in the header", key_pos, key);
        colon(key);
        const bool is_metadata = key == "__metadata__";
        if (is_metadata) {
          metadata(h);
        } else {
          h.tensors.push_back(tensor_info(std::move(key), key_pos));
        }
        ws();
        if (at(',')) {
          ++pos_;
          ws();
          continue;
        }
        if (at('}')) break;
        fail("expected ',' or '}' after the entry " +
                 excerpt(is_metadata ? std::string_view("__metadata__") : h.tensors.back().name) +
                 ", found " + here(),
             pos_);
      }
    }
    ++pos_;  // '}'
    ws();
    if (pos_ != s_.size())
      fail("unexpected " + here() + " after the header's JSON object (only whitespace may follow)",
           pos_);
  }

 private:
  [[noreturn]] void fail(const std::string& reason, size_t pos,
                         const std::string& tensor = {}) const {
    throw FormatError(reason, {path_, tensor, base_ + pos});
  }
  std::string here() const { return describe_byte(s_, pos_); }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  void colon(const std::string& key) {
    ws();
    if (!at(':')) fail("expected ':' after the key " + excerpt(key) + ", found " + here(), pos_);
    ++pos_;
    ws();
  }

  // A JSON string at pos_ (which holds '"'), unescaped. The header was checked to be UTF-8.
  std::string string(const std::string& tensor = {}) {
    const size_t start = pos_;
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string", start, tensor);
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20)
        fail("control character " + here() + " inside a string (must be escaped)", pos_, tensor);
      if (c != '\\') {
        // Copy the run of plain bytes at once.
        size_t end = pos_;
        while (end < s_.size() && s_[end] != '"' && s_[end] != '\\' &&
               static_cast<unsigned char>(s_[end]) >= 0x20)
          ++end;
        out.append(s_.substr(pos_, end - pos_));
        pos_ = end;
        continue;
      }
      const size_t esc = pos_;
      if (++pos_ >= s_.size()) fail("unterminated escape in a string", esc, tensor);
      switch (s_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4(esc, tensor);
          if (cp >= 0xdc00 && cp <= 0xdfff) fail("lone low surrogate in a \\u escape", esc, tensor);
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (pos_ + 1 >= s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
              fail("high surrogate in a \\u escape not followed by a low one", esc, tensor);
            pos_ += 2;
            const uint32_t lo = hex4(esc, tensor);
            if (lo < 0xdc00 || lo > 0xdfff)
              fail("high surrogate in a \\u escape not followed by a low one", esc, tensor);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          utf8::append(out, cp);
          break;
        }
        default:
          fail("invalid escape '\\" + std::string(1, s_[pos_ - 1]) + "' in a string", esc, tensor);
      }
    }
  }
  uint32_t hex4(size_t esc, const std::string& tensor) {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape in a string", esc, tensor);
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        fail("invalid hex digit in a \\u escape", esc, tensor);
    }
    return v;
  }

  // A non-negative JSON integer (no sign, fraction or exponent; no leading zeros).
  uint64_t uint(const std::string& tensor, const std::string& what) {
    const size_t start = pos_;
    if (at('-')) fail(what + " of tensor " + excerpt(tensor) + " is negative", start, tensor);
    if (!(pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'))
      fail(what + " of tensor " + excerpt(tensor) + " is not a non-negative integer (found " +
               here() + ")",
           start, tensor);
    if (s_[pos_] == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')
      fail(what + " of tensor " + excerpt(tensor) + " has a leading zero", start, tensor);
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const uint64_t d = static_cast<uint64_t>(s_[pos_] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
        fail(what + " of tensor " + excerpt(tensor) + " does not fit in 64 bits", start, tensor);
      v = v * 10 + d;
      ++pos_;
    }
    if (at('.') || at('e') || at('E'))
      fail(what + " of tensor " + excerpt(tensor) + " is not an integer", start, tensor);
    return v;
  }

  // Skips any JSON value (fields the format does not define), nesting at most kMaxSkipDepth.
  void skip_value(const std::string& tensor, int depth) {
    if (depth > kMaxSkipDepth) fail("JSON nested too deeply", pos_, tensor);
    if (pos_ >= s_.size()) fail("expected a value, found the end of the header", pos_, tensor);
    const char c = s_[pos_];
    if (c == '"') {
      string(tensor);
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      ws();
      if (at(close)) {
        ++pos_;
        return;
      }
      for (;;) {
        if (c == '{') {
          if (!at('"')) fail("expected a key (a JSON string), found " + here(), pos_, tensor);
          string(tensor);
          ws();
          if (!at(':')) fail("expected ':', found " + here(), pos_, tensor);
          ++pos_;
          ws();
        }
        skip_value(tensor, depth + 1);
        ws();
        if (at(',')) {
          ++pos_;
          ws();
          continue;
        }
        if (at(close)) {
          ++pos_;
          return;
        }
        fail(std::string("expected ',' or '") + close + "', found " + here(), pos_, tensor);
      }
    } else if (c == 't' || c == 'f' || c == 'n') {
      for (std::string_view lit : {"true", "false", "null"})
        if (s_.substr(pos_, lit.size()) == lit) {
          pos_ += lit.size();
          return;
        }
      fail("invalid JSON literal", pos_, tensor);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = pos_;
      if (at('-')) ++pos_;
      auto digits = [&] {
        const size_t d = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        if (pos_ == d) fail("invalid JSON number", start, tensor);
        return pos_ - d;
      };
      const bool zero = at('0');
      if (digits() > 1 && zero) fail("invalid JSON number (leading zero)", start, tensor);
      if (at('.')) {
        ++pos_;
        digits();
      }
      if (at('e') || at('E')) {
        ++pos_;
        if (at('+') || at('-')) ++pos_;
        digits();
      }
    } else {
      fail("expected a JSON value, found " + here(), pos_, tensor);
    }
  }

  void metadata(Header& h) {
    const size_t start = pos_;
    if (s_.substr(pos_, 4) == "null") {  // Option::None in the reference
      pos_ += 4;
      return;
    }
    if (!at('{')) fail("__metadata__ must be an object of str → str, found " + here(), start);
    ++pos_;
    ws();
    std::unordered_set<std::string> keys;
    if (at('}')) {
      ++pos_;
      return;
    }
    for (;;) {
      const size_t key_pos = pos_;
      if (!at('"')) fail("expected a __metadata__ key (a JSON string), found " + here(), pos_);
      std::string key = string();
      if (!keys.insert(key).second)
        fail("duplicate key " + excerpt(key) + " in __metadata__", key_pos);
      colon(key);
      if (!at('"'))
        fail("__metadata__ value of " + excerpt(key) +
                 " is not a string (safetensors metadata is str → str)",
             pos_);
      std::string value = string();
      h.metadata.emplace_back(std::move(key), std::move(value));
      ws();
      if (at(',')) {
        ++pos_;
        ws();
        continue;
      }
      if (at('}')) {
        ++pos_;
        return;
      }
      fail("expected ',' or '}' in __metadata__, found " + here(), pos_);
    }
  }

  TensorInfo tensor_info(std::string name, size_t key_pos) {
    TensorInfo t;
    t.name = std::move(name);
    t.key_offset = base_ + key_pos;
    const std::string& n = t.name;
    if (!at('{'))
      fail("the entry of tensor " + excerpt(n) +
               " is not an object {\"dtype\", \"shape\", \"data_offsets\"} (found " + here() + ")",
           pos_, n);
    ++pos_;
    ws();
    bool have_dtype = false, have_shape = false, have_offsets = false;
    // Duplicates: the three known fields by their flags; a set (made only when needed: this runs
    // once per tensor of every load) for any other field name.
    std::optional<std::unordered_set<std::string>> other_fields;
    if (!at('}')) {
      for (;;) {
        const size_t field_pos = pos_;
        if (!at('"')) fail("expected a field name (a JSON string), found " + here(), pos_, n);
        std::string field = string(n);
        const bool duplicate =
            field == "dtype"   ? have_dtype
            : field == "shape" ? have_shape
            : field == "data_offsets"
                ? have_offsets
                : !(other_fields ? *other_fields : other_fields.emplace()).insert(field).second;
        if (duplicate)
          fail("duplicate field " + excerpt(field) + " in tensor " + excerpt(n), field_pos, n);
        colon(field);
        if (field == "dtype") {
          have_dtype = true;
          const size_t at_pos = pos_;
          if (!at('"')) fail("'dtype' of tensor " + excerpt(n) + " is not a string", pos_, n);
          const std::string spelled = string(n);
          if (auto d = dtype_from_name(spelled)) {
            t.dtype = *d;
          } else if (std::find(kUnsupportedDTypes.begin(), kUnsupportedDTypes.end(), spelled) !=
                     kUnsupportedDTypes.end()) {
            throw Error(ErrorCode::kUnsupported,
                        "tensor " + excerpt(n) + " has dtype " + spelled +
                            ", which cellar does not support",
                        {path_, n, base_ + at_pos});
          } else {
            fail("tensor " + excerpt(n) + " has an unknown dtype " + excerpt(spelled), at_pos, n);
          }
        } else if (field == "shape") {
          have_shape = true;
          std::vector<int64_t> dims;
          list(n, "'shape'", [&](size_t) {
            const size_t p = pos_;
            const uint64_t d = uint(n, "a dimension in 'shape'");
            if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
              fail("a dimension in 'shape' of tensor " + excerpt(n) + " is too large", p, n);
            dims.push_back(static_cast<int64_t>(d));
          });
          t.shape = Shape(std::move(dims));
        } else if (field == "data_offsets") {
          have_offsets = true;
          const size_t list_pos = pos_;
          const size_t count = list(n, "'data_offsets'", [&](size_t i) {
            const uint64_t v = uint(n, "'data_offsets'");
            if (i == 0)
              t.begin = v;
            else if (i == 1)
              t.end = v;
            else
              fail("'data_offsets' of tensor " + excerpt(n) + " has more than two numbers", pos_,
                   n);
          });
          if (count != 2)
            fail("'data_offsets' of tensor " + excerpt(n) + " must be [begin, end]", list_pos, n);
        } else {
          skip_value(n, 2);  // the reference ignores unknown fields
        }
        ws();
        if (at(',')) {
          ++pos_;
          ws();
          continue;
        }
        if (at('}')) break;
        fail("expected ',' or '}' in the entry of tensor " + excerpt(n) + ", found " + here(), pos_,
             n);
      }
    }
    ++pos_;  // '}'
    const char* missing = !have_dtype     ? "dtype"
                          : !have_shape   ? "shape"
                          : !have_offsets ? "data_offsets"
                                          : nullptr;
    if (missing) fail("tensor " + excerpt(n) + " has no '" + missing + "'", key_pos, n);
    return t;
  }

  // A JSON array at pos_, calling item(index) with pos_ at each element; returns the count.
  template <class F>
  size_t list(const std::string& tensor, const std::string& what, F&& item) {
    if (!at('['))
      fail(what + " of tensor " + excerpt(tensor) + " is not an array (found " + here() + ")", pos_,
           tensor);
    ++pos_;
    ws();
    size_t count = 0;
    if (at(']')) {
      ++pos_;
      return 0;
    }
    for (;;) {
      item(count++);
      ws();
      if (at(',')) {
        ++pos_;
        ws();
        continue;
      }
      if (at(']')) {
        ++pos_;
        return count;
      }
      fail("expected ',' or ']' in " + what + " of tensor " + excerpt(tensor) + ", found " + here(),
           pos_, tensor);
    }
  }

  std::string_view s_;
  uint64_t base_;
  const std::string& path_;
  size_t pos_ = 0;
};

// numel × itemsize, or nullopt on overflow (or an element count over int64).
std::optional<uint64_t> checked_nbytes(const Shape& shape, DType dtype) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    const auto u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) return std::nullopt;
    n *= u;
  }
  if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  const uint64_t size = itemsize(dtype);
  if (size != 0 && n > std::numeric_limits<uint64_t>::max() / size) return std::nullopt;
  return n * size;
}

uint64_t load_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return v;
}

}  // namespace

std::optional<std::string> Header::metadata_value(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return v;
  return std::nullopt;
}

std::optional<std::string_view> dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.name;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.dtype;
  return std::nullopt;
}

namespace {

// CRC-32 of `crc`'s message followed by `n` zero bytes, in O(log n) (zlib's crc32_combine).
uLong crc32_zeros(uLong crc, uint64_t n) {
  uLong zeros = 0;  // CRC-32 of `len` zero bytes
  uint64_t len = 0;
  uLong block = ::crc32_z(0L, reinterpret_cast<const Bytef*>("\0"), 1);  // 2^k zero bytes
  for (uint64_t k = 1; n != 0; n >>= 1, k <<= 1) {
    if (n & 1) {
      zeros = ::crc32_combine(zeros, block, static_cast<z_off_t>(k));
      len += k;
    }
    if (n >> 1) block = ::crc32_combine(block, block, static_cast<z_off_t>(k));
  }
  return len == 0 ? crc : ::crc32_combine(crc, zeros, static_cast<z_off_t>(len));
}

// The Python int MindSpore's `bytes(ndarray)` sees for a rank-0 integer tensor, when it is one
// `bytes()` accepts (0 ≤ value ≤ PY_SSIZE_T_MAX); nullopt otherwise.
std::optional<uint64_t> python_index(const Tensor& t) {
  if (t.rank() != 0 || !is_integral(t.dtype())) return std::nullopt;
  int64_t v = 0;
  switch (t.dtype()) {
    case DType::Int8:
      v = *t.data<int8_t>();
      break;
    case DType::Int16:
      v = *t.data<int16_t>();
      break;
    case DType::Int32:
      v = *t.data<int32_t>();
      break;
    case DType::Int64:
      v = *t.data<int64_t>();
      break;
    case DType::UInt8:
      v = *t.data<uint8_t>();
      break;
    case DType::UInt16:
      v = *t.data<uint16_t>();
      break;
    case DType::UInt32:
      v = *t.data<uint32_t>();
      break;
    case DType::UInt64: {
      const uint64_t u = *t.data<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      v = static_cast<int64_t>(u);
      break;
    }
    default:
      return std::nullopt;
  }
  if (v < 0) return std::nullopt;
  return static_cast<uint64_t>(v);
}

}  // namespace

uint32_t mindspore_crc(const NamedTensors& tensors, const EntryBytes& source) {
  std::vector<const std::pair<std::string, Tensor>*> sorted;
  sorted.reserve(tensors.size());
  for (const auto& e : tensors) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  uLong crc = ::crc32_z(0L, Z_NULL, 0);
  for (const auto* e : sorted) {
    crc = ::crc32_z(crc, reinterpret_cast<const Bytef*>(e->first.data()), e->first.size());
    if (auto zeros = python_index(e->second)) {
      crc = crc32_zeros(crc, *zeros);
    } else {
      source.visit(e->second, [&](std::span<const std::byte> bytes) {
        crc = ::crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
      });
    }
  }
  return static_cast<uint32_t>(crc);
}

Header parse_header(std::span<const std::byte> file, const std::string& path) {
  const uint64_t size = file.size();
  if (size < kLenBytes)
    throw FormatError(
        "the file has " + std::to_string(size) + " bytes, too few for the 8-byte header length",
        {path, {}, 0});
  const uint64_t n = load_le64(file.data());
  if (n > kMaxHeaderBytes)
    throw FormatError("header length " + std::to_string(n) + " exceeds the format's limit of " +
                          std::to_string(kMaxHeaderBytes) + " bytes",
                      {path, {}, 0});
  if (n > size - kLenBytes)
    throw FormatError("header length " + std::to_string(n) + " runs past the end of the file (" +
                          std::to_string(size) + " bytes)",
                      {path, {}, 0});
  const std::string_view json(reinterpret_cast<const char*>(file.data()) + kLenBytes, n);
  if (auto bad = utf8::first_invalid(json))
    throw FormatError("the header is not valid UTF-8", {path, {}, kLenBytes + *bad});

  Header h;
  h.data_start = kLenBytes + n;
  HeaderParser(json, kLenBytes, path).parse(h);

  // MindSpore's qint4x2 tensors are marked in the metadata; their bytes are packed nibbles.
  // (A set, not a loop over tensors per entry: a hostile header may hold millions of both.)
  std::unordered_set<std::string_view> int4;
  for (const auto& [key, value] : h.metadata)
    if (value == "Int4") int4.insert(key);
  if (!int4.empty())
    for (const auto& t : h.tensors)
      if (int4.count(t.name))
        throw Error(ErrorCode::kUnsupported,
                    "tensor " + excerpt(t.name) +
                        " is marked Int4 (MindSpore qint4x2) in "
                        "__metadata__, which cellar does not support",
                    {path, t.name, t.key_offset});

  // Layout: sorted by offsets, the tensors tile the data section exactly.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const TensorInfo& a, const TensorInfo& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  const uint64_t data_size = size - h.data_start;
  uint64_t expect = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& t : h.tensors) {
    // Made only for an error: this loop runs once per tensor of every load.
    const auto ctx = [&] { return ErrorContext{path, t.name, t.key_offset}; };
    const auto offsets = [&] {
      return "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
    };
    const auto who = [&] { return "tensor " + excerpt(t.name); };
    if (t.end < t.begin)
      throw FormatError(who() + " has " + offsets() + ": end before begin", ctx());
    if (t.begin > expect)
      throw FormatError(who() + " has " + offsets() + ", leaving a gap of " +
                            std::to_string(t.begin - expect) + " bytes after " +
                            (prev ? "tensor " + excerpt(prev->name) : std::string("the header")) +
                            " (data offset " + std::to_string(expect) + ")",
                        ctx());
    if (t.begin < expect)
      throw FormatError(who() + " has " + offsets() + ", overlapping tensor " +
                            excerpt(prev->name) + " (which ends at data offset " +
                            std::to_string(expect) + ")",
                        ctx());
    const auto need = checked_nbytes(t.shape, t.dtype);
    if (!need)
      throw FormatError(who() + ": element count × item size of shape " + t.shape.str() + " and " +
                            std::string(*dtype_name(t.dtype)) + " overflows",
                        ctx());
    if (t.end - t.begin != *need)
      throw FormatError(who() + " has " + offsets() + " (" + std::to_string(t.end - t.begin) +
                            " bytes), but shape " + t.shape.str() + " of " +
                            std::string(*dtype_name(t.dtype)) + " needs " + std::to_string(*need),
                        ctx());
    if (t.end > data_size)
      throw FormatError(who() + " has " + offsets() + ", ending at file offset " +
                            std::to_string(saturating_add(h.data_start, t.end)) +
                            " past the end of the file (" + std::to_string(size) + " bytes)",
                        ctx());
    expect = t.end;
    prev = &t;
  }
  if (expect != data_size)
    throw FormatError(std::to_string(data_size - expect) +
                          " bytes after the last tensor's data are not indexed by the header",
                      {path, {}, h.data_start + expect});
  return h;
}

namespace {

class SafetensorsFormat final : public CheckpointFormat {
 public:
  std::string_view name() const override { return "safetensors"; }

  // The header length's high bytes are zero (N ≤ 100,000,000 < 2^27) and the JSON opens with '{'.
  bool sniff(std::span<const std::byte> head) const override {
    if (head.size() < kLenBytes + 1) return false;
    const uint64_t n = load_le64(head.data());
    return n >= 2 && n <= kMaxHeaderBytes && head[kLenBytes] == std::byte{'{'};
  }

  NamedTensors read(const std::shared_ptr<MappedFile>& file,
                    const LoadOptions& options) const override {
    return read_impl(file, options, nullptr);
  }

  NamedTensors read_located(const std::shared_ptr<MappedFile>& file, const LoadOptions& options,
                            std::vector<FilePieces>& pieces, bool) const override {
    pieces.clear();
    return read_impl(file, options, &pieces);  // only the header is parsed: nothing to drop
  }

  NamedTensors read_impl(const std::shared_ptr<MappedFile>& file, const LoadOptions& options,
                         std::vector<FilePieces>* pieces) const {
    const std::string path = file->path().string();
    const std::span<const std::byte> bytes(file->data(), file->size());
    const Header h = parse_header(bytes, path);
    NamedTensors out;
    out.reserve(h.tensors.size());
    for (const auto& t : h.tensors) {
      const size_t offset = h.data_start + t.begin;
      const size_t nbytes = t.end - t.begin;
      std::shared_ptr<Storage> storage;
      const auto addr = reinterpret_cast<uintptr_t>(file->data()) + offset;
      if (addr % itemsize(t.dtype) == 0) {
        storage = Storage::view(file, offset, nbytes);
      } else {  // misaligned for its dtype: copied on first use, so typed access is defined
        storage = Storage::deferred_copy(file, {{offset, nbytes}}, nbytes);
      }
      out.emplace_back(t.name, Tensor(t.dtype, t.shape, std::move(storage)));
      if (pieces) pieces->push_back({{offset, nbytes}});
    }
    if (options.crc_check) check_crc(h, out, path);
    return out;
  }

  void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options,
             const EntryBytes& source) const override {
    std::unordered_set<std::string_view> names;
    for (const auto& [name, t] : entries) {
      const ErrorContext ctx{{}, name};
      if (!t.defined())
        throw ValueError(ErrorCode::kInvalidArgument, "entry " + excerpt(name) + " is undefined",
                         ctx);
      if (t.dtype() == DType::String)
        throw ValueError(ErrorCode::kUnsupported,
                         "entry " + excerpt(name) +
                             " is a str: safetensors has no string dtype (MindSpore's own "
                             "safetensors writer refuses str entries too); save it as .ckpt",
                         ctx);
      if (name == "__metadata__")
        throw ValueError(ErrorCode::kInvalidArgument,
                         "an entry may not be named '__metadata__' in safetensors", ctx);
      if (utf8::first_invalid(name))
        throw ValueError(ErrorCode::kInvalidArgument,
                         "entry name " + excerpt(name) + " is not valid UTF-8", ctx);
      if (!names.insert(name).second)
        throw ValueError(ErrorCode::kInvalidArgument, "duplicate entry name " + excerpt(name), ctx);
    }
    // The reference's order (tensor.rs, prepare): descending dtype rank, then name.
    std::vector<size_t> order(entries.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const int ra = dtype_rank(entries[a].second.dtype()),
                rb = dtype_rank(entries[b].second.dtype());
      return ra != rb ? ra > rb : entries[a].first < entries[b].first;
    });

    std::string json = "{";
    if (!entries.empty()) {
      json += "\"__metadata__\":{\"format\":\"ms\"";
      if (options.crc_check) {
        json += ",\"crc_num\":\"" + std::to_string(mindspore_crc(entries, source)) + "\"";
      }
      json += "}";
    }
    uint64_t offset = 0;
    for (size_t i : order) {
      const auto& [name, t] = entries[i];
      json += ',';
      utf8::append_json_string(json, name, /*ascii_only=*/false);
      json += ":{\"dtype\":\"";
      json += *dtype_name(t.dtype());
      json += "\",\"shape\":[";
      for (size_t d = 0; d < t.rank(); ++d) {
        if (d) json += ',';
        json += std::to_string(t.shape()[d]);
      }
      const uint64_t end = offset + t.nbytes();
      json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
      offset = end;
    }
    if (json.size() > 1 && json[1] == ',') json.erase(1, 1);  // no metadata: first entry
    json += '}';
    json.resize((json.size() + kLenBytes - 1) / kLenBytes * kLenBytes, ' ');
    if (json.size() > kMaxHeaderBytes)
      throw ValueError(ErrorCode::kInvalidArgument,
                       "the safetensors header would be " + std::to_string(json.size()) +
                           " bytes, over the format's limit of " + std::to_string(kMaxHeaderBytes));

    std::byte len[kLenBytes];
    for (size_t i = 0; i < kLenBytes; ++i)
      len[i] = static_cast<std::byte>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xff);
    out.write(len, sizeof len);
    out.write(json.data(), json.size());
    for (size_t i : order) {
      const Tensor& t = entries[i].second;
      if (t.nbytes()) source.write(t, 0, t.nbytes(), out, nullptr);
    }
  }

 private:
  static void check_crc(const Header& h, const NamedTensors& tensors, const std::string& path) {
    const auto stored = h.metadata_value("crc_num");
    if (!stored)
      throw FormatError("crc_check was asked for but __metadata__ has no crc_num", {path, {}, 8});
    uint64_t want = 0;
    bool ok = !stored->empty() && stored->size() <= 10;
    for (char c : *stored) ok = ok && c >= '0' && c <= '9';
    if (ok) want = std::stoull(*stored);
    if (!ok || want > std::numeric_limits<uint32_t>::max())
      throw FormatError("crc_num " + excerpt(*stored) + " in __metadata__ is not a CRC-32",
                        {path, {}, 8});
    const uint32_t actual = mindspore_crc(tensors);
    if (actual != want)
      throw FormatError("CRC-32 mismatch: __metadata__ crc_num is " + *stored +
                            ", the tensors give " + std::to_string(actual),
                        {path, {}, h.data_start});
  }
};

}  // namespace

}  // namespace safetensors

const CheckpointFormat& safetensors_format() {
  static const safetensors::SafetensorsFormat format;
  return format;
}

}  // namespace cellar::formats
