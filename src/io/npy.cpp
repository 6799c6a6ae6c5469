// The .npy reader and writer; the byte layout and what is refused are in include/cellar/io/npy.h.
#include "cellar/io/npy.h"

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "cellar/error.h"
#include "cellar/storage.h"
#include "formats/atomic_file.h"

namespace cellar {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct Descr {
  const char* code;  // without the byte-order character
  DType dtype;
};
constexpr Descr kDescrs[] = {
    {"b1", DType::Bool},   {"i1", DType::Int8},    {"i2", DType::Int16},   {"i4", DType::Int32},
    {"i8", DType::Int64},  {"u1", DType::UInt8},   {"u2", DType::UInt16},  {"u4", DType::UInt32},
    {"u8", DType::UInt64}, {"f2", DType::Float16}, {"f4", DType::Float32}, {"f8", DType::Float64}};

// The header dict, token by token.
class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& path, size_t base)
      : s_(s), path_(path), base_(base) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError("bad .npy header: " + why, {path_, {}, base_ + pos_});
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool accept(char c) {
    ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string str() {
    ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a string");
    const char q = s_[pos_++];
    const size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string v(s_.substr(pos_, end - pos_));
    if (v.find('\\') != std::string::npos) fail("escapes in strings are not supported");
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    ws();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (s_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    fail("expected True or False");
  }
  int64_t integer() {
    ws();
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (uint64_t{1} << 62) / 10) fail("dimension too large");
      v = v * 10 + static_cast<uint64_t>(s_[pos_++] - '0');
    }
    if (pos_ == start) fail("expected a non-negative integer dimension");
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2's long suffix
    return static_cast<int64_t>(v);
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      if (dims.size() >= 64) fail("more than 64 dimensions");
      dims.push_back(integer());
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }
  bool at_end() {
    ws();
    return pos_ == s_.size();
  }

 private:
  std::string_view s_;
  const std::string& path_;
  size_t base_;
  size_t pos_ = 0;
};

}  // namespace

Tensor read_npy(const std::filesystem::path& file_path) {
  const std::string path = file_path.string();
  const auto file = MappedFile::open(file_path);
  const auto* b = reinterpret_cast<const char*>(file->data());
  const size_t size = file->size();
  auto bad = [&](const std::string& why, uint64_t off) -> FormatError {
    return FormatError(why, {path, {}, off});
  };
  if (size < 10 || std::string_view(b, 6) != kMagic)
    throw bad("not a .npy file (no \\x93NUMPY magic)", 0);
  const int major = static_cast<uint8_t>(b[6]);
  size_t hlen = 0, start = 0;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw bad("truncated header", size);
    for (int k = 0; k < 4; ++k)
      hlen |= static_cast<size_t>(static_cast<uint8_t>(b[8 + k])) << (8 * k);
    start = 12;
  } else {
    throw bad("unsupported .npy format version " + std::to_string(major), 6);
  }
  if (hlen > kMaxNpyHeaderBytes)
    throw bad("header length " + std::to_string(hlen) + " is over the limit", 8);
  if (hlen > size - start)
    throw bad("truncated header (" + std::to_string(hlen) + " bytes declared)", 8);

  HeaderParser p(std::string_view(b + start, hlen), path, start);
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  p.expect('{');
  while (!p.accept('}')) {
    const std::string key = p.str();
    p.expect(':');
    if (key == "descr") {
      if (descr) p.fail("duplicate key 'descr'");
      if (p.accept('[')) p.fail("structured dtypes (a list descr) are not supported");
      descr = p.str();
    } else if (key == "fortran_order") {
      if (fortran) p.fail("duplicate key 'fortran_order'");
      fortran = p.boolean();
    } else if (key == "shape") {
      if (shape) p.fail("duplicate key 'shape'");
      shape = p.tuple();
    } else {
      p.fail("unexpected key '" + key + "'");
    }
    if (!p.accept(',')) {
      p.expect('}');
      break;
    }
  }
  if (!p.at_end()) p.fail("text after the dict");
  if (!descr || !fortran || !shape) p.fail("the dict needs 'descr', 'fortran_order' and 'shape'");
  if (*fortran)
    throw bad(
        "fortran_order is True: only C-order arrays are supported (save with "
        "numpy.ascontiguousarray)",
        start);
  const std::string& d = *descr;
  if (d.size() != 3)
    throw bad("unsupported dtype '" + d + "' (structured, object or unknown)", start);
  if (d[0] == '>' && d.substr(1) != "b1" && d.substr(1) != "i1" && d.substr(1) != "u1")
    throw bad("big-endian dtype '" + d + "' is not supported", start);
  if (d[0] != '<' && d[0] != '|' && d[0] != '=' && d[0] != '>')
    throw bad("unsupported dtype '" + d + "'", start);
  std::optional<DType> dt;
  for (const Descr& x : kDescrs)
    if (d.substr(1) == x.code) dt = x.dtype;
  if (!dt) throw bad("unsupported dtype '" + d + "'", start);

  Shape s(*shape);
  const auto numel = s.checked_numel();
  const size_t data_bytes = size - start - hlen;
  if (!numel || static_cast<uint64_t>(*numel) > data_bytes / itemsize(*dt) + 1)
    throw bad("shape " + s.str() + " needs more bytes than the file holds", start);
  const uint64_t need = static_cast<uint64_t>(*numel) * itemsize(*dt);
  if (need != data_bytes)
    throw bad("shape " + s.str() + " of " + d + " needs " + std::to_string(need) +
                  " bytes of data, the file has " + std::to_string(data_bytes),
              start + hlen);
  Tensor t(*dt, s);
  if (need) std::memcpy(t.raw_data(), b + start + hlen, need);
  if (*dt == DType::Bool)
    for (size_t i = 0; i < need; ++i)
      if (static_cast<uint8_t>(t.raw_data()[i]) > 1)
        throw bad("bool element " + std::to_string(i) + " is neither 0 nor 1", start + hlen + i);
  return t;
}

void write_npy(const Tensor& in, const std::filesystem::path& path) {
  if (in.dtype() == DType::String)
    throw ValueError(ErrorCode::kUnsupported, "a str tensor cannot be written as .npy",
                     {path.string()});
  const Tensor t = in.dtype() == DType::BFloat16 ? in.to(DType::Float32) : in;
  std::string descr;
  for (const Descr& x : kDescrs)
    if (x.dtype == t.dtype()) descr = (itemsize(t.dtype()) == 1 ? "|" : "<") + std::string(x.code);
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.rank() == 1)
    shape.erase(shape.size() - 1);  // "(5,)"
  else if (t.rank() > 1)
    shape.erase(shape.size() - 2);  // "(2, 3)"
  shape += ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict += std::string(total - prefix - dict.size() - 1, ' ') + '\n';
  std::string head(kMagic);
  head += static_cast<char>(v2 ? 2 : 1);
  head += '\0';
  const size_t hlen = dict.size();
  for (size_t k = 0; k < (v2 ? 4u : 2u); ++k) head += static_cast<char>((hlen >> (8 * k)) & 0xff);
  formats::AtomicFile out(path);
  out.write(head.data(), head.size());
  out.write(dict.data(), dict.size());
  out.write(t.bytes());
  out.commit();
}

}  // namespace cellar
