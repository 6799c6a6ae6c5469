#include "model_header.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace cellar::cli {

namespace {

class Reader {
 public:
  explicit Reader(std::span<const std::byte> b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }

  std::optional<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return std::nullopt;
      const auto c = std::to_integer<uint8_t>(b_[pos_++]);
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    return std::nullopt;
  }
  // A length-delimited payload, bounds-checked.
  std::optional<std::span<const std::byte>> bytes() {
    const auto n = varint();
    if (!n || *n > b_.size() - pos_) return std::nullopt;
    auto s = b_.subspan(pos_, static_cast<size_t>(*n));
    pos_ += static_cast<size_t>(*n);
    return s;
  }
  bool skip(uint32_t wire) {
    switch (wire) {
      case 0:
        return varint().has_value();
      case 1:
        return advance(8);
      case 2:
        return bytes().has_value();
      case 5:
        return advance(4);
      default:
        return false;  // groups and unknown wire types: stop
    }
  }

 private:
  bool advance(size_t n) {
    if (n > b_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::span<const std::byte> b_;
  size_t pos_ = 0;
};

std::string text(std::span<const std::byte> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace

ModelHeader read_model_header(std::span<const std::byte> bytes, bool onnx) {
  ModelHeader h;
  Reader r(bytes);
  while (!r.done()) {
    const auto key = r.varint();
    if (!key) break;
    const uint32_t field = static_cast<uint32_t>(*key >> 3), wire = *key & 7;
    if (wire == 2 && field >= 1 && field <= 5 && !(onnx && (field == 1 || field == 5))) {
      const auto s = r.bytes();
      if (!s) break;
      std::string* dst[] = {nullptr,   &h.ir_version,   &h.producer_name, &h.producer_version,
                            &h.domain, &h.model_version};
      *dst[field] = text(*s);
    } else if (wire == 0 && ((onnx && (field == 1 || field == 5)) || (!onnx && field == 13))) {
      const auto v = r.varint();
      if (!v) break;
      (field == 1   ? h.ir_version
       : field == 5 ? h.model_version
                    : h.mind_ir_version) = std::to_string(*v);
    } else if (onnx && wire == 2 && field == 8) {
      const auto s = r.bytes();
      if (!s) break;
      Reader o(*s);
      std::string domain;
      long long version = 0;
      while (!o.done()) {
        const auto k = o.varint();
        if (!k) break;
        if ((*k >> 3) == 1 && (*k & 7) == 2) {
          const auto d = o.bytes();
          if (!d) break;
          domain = text(*d);
        } else if ((*k >> 3) == 2 && (*k & 7) == 0) {
          const auto v = o.varint();
          if (!v) break;
          version = static_cast<long long>(*v);
        } else if (!o.skip(*k & 7)) {
          break;
        }
      }
      h.opsets.emplace_back(domain, version);
    } else if (!r.skip(wire)) {
      break;
    }
  }
  return h;
}

}  // namespace cellar::cli
