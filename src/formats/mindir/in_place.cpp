// Parameters' raw bytes read where they lie in the file (mindir_impl.h: Skeleton). protobuf's
// generated parser copies every bytes field into a std::string of its own, so a model's weights
// were written once more into fresh heap memory, page fault by page fault, before the reader even
// looked at them: a whole pass over the weights, ~15% of a ResNet-18's cold start
// (docs/benchmarks.md, Session 8). Here the wire format is walked by hand, three levels deep:
//
//   ModelProto   field 7 (graph, length-delimited)       → walked; field 8 (functions): give up
//   GraphProto   field 3 (parameter, length-delimited)   → walked, counted in order
//   TensorProto  field 9 (raw_data, length-delimited)    → left out when it is the tensor's only
//                                                          raw_data and at least kMinInPlace bytes
//
// Everything else is copied through as it stands, each rewritten message with its new length, so
// that protobuf parses the skeleton into the message it would have made of the file, less those
// raw_data fields, whose place in the file the reader then takes instead (reader.cpp tensor_of).
// The walk checks every tag, varint and length against the bytes that hold it; on anything it
// does not follow (a group, a bad wire type, a truncated field, sub-graphs, which the control-flow
// pass may renumber) it returns nothing, and the file is parsed as it is, with protobuf's own
// verdict on it.
#include <cstring>

#include "formats/mindir/mindir_impl.h"

namespace cellar::formats::mindir {

namespace {

// Wire types (protobuf encoding): varint, 64-bit, length-delimited, groups (start, end), 32-bit.
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

class Walker {
 public:
  explicit Walker(std::span<const std::byte> bytes) : b_(bytes) {}

  // One field at `at` (inside [.., end)): its number, wire type, and where its payload and the
  // field end. False when it is malformed or of a kind the walk does not follow.
  struct Field {
    uint64_t number = 0;
    uint32_t wire = 0;
    size_t start = 0, payload = 0, end = 0;
  };
  bool field(size_t at, size_t end, Field& f) const {
    f.start = at;
    uint64_t key = 0;
    if (!varint(at, end, key)) return false;
    f.number = key >> 3;
    f.wire = static_cast<uint32_t>(key & 7);
    if (f.number == 0 || f.number > (uint64_t{1} << 29) - 1) return false;
    uint64_t n = 0;
    switch (f.wire) {
      case kVarint:
        f.payload = at;
        if (!varint(at, end, n)) return false;
        f.end = at;
        return true;
      case kFixed64:
      case kFixed32:
        n = f.wire == kFixed64 ? 8 : 4;
        if (end - at < n) return false;
        f.payload = at;
        f.end = at + n;
        return true;
      case kLengthDelimited:
        if (!varint(at, end, n) || n > end - at) return false;
        f.payload = at;
        f.end = at + static_cast<size_t>(n);
        return true;
      default:
        return false;  // groups (3, 4) and the invalid 6, 7
    }
  }

  // Appends the bytes [begin, end) of the input to `out`.
  void copy(size_t begin, size_t end, std::string& out) const {
    out.append(reinterpret_cast<const char*>(b_.data()) + begin, end - begin);
  }

 private:
  bool varint(size_t& at, size_t end, uint64_t& v) const {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at >= end) return false;
      const auto c = static_cast<uint8_t>(b_[at++]);
      if (shift == 63 && c > 1) return false;  // past 64 bits
      v |= uint64_t{c & 0x7fu} << shift;
      if (c < 0x80) return true;
    }
    return false;
  }

  std::span<const std::byte> b_;
};

void put_varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(static_cast<uint8_t>(v) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// A length-delimited field `number` holding `content`.
void put_message(uint64_t number, const std::string& content, std::string& out) {
  put_varint(number << 3 | kLengthDelimited, out);
  put_varint(content.size(), out);
  out += content;
}

constexpr uint64_t kModelGraph = 7, kModelFunctions = 8, kGraphParameter = 3, kTensorRawData = 9;

// A parameter's TensorProto [begin, end): its content less raw_data into `out`, and where the
// raw_data lies; the content as it stands when raw_data is absent, repeated or short.
bool parameter(const Walker& w, size_t begin, size_t end, std::string& out,
               std::optional<InPlaceBytes>& raw) {
  Walker::Field f;
  size_t found = 0;
  Walker::Field data;
  for (size_t at = begin; at < end; at = f.end) {
    if (!w.field(at, end, f)) return false;
    if (f.number == kTensorRawData && f.wire == kLengthDelimited) {
      ++found;
      data = f;
    }
  }
  if (found != 1 || data.end - data.payload < kMinInPlace) {
    w.copy(begin, end, out);
    return true;
  }
  w.copy(begin, data.start, out);
  w.copy(data.end, end, out);
  raw = InPlaceBytes{.offset = data.payload, .size = data.end - data.payload};
  return true;
}

bool graph(const Walker& w, size_t begin, size_t end, std::string& out, Skeleton& s) {
  Walker::Field f;
  for (size_t at = begin; at < end; at = f.end) {
    if (!w.field(at, end, f)) return false;
    if (f.number != kGraphParameter || f.wire != kLengthDelimited) {
      w.copy(f.start, f.end, out);
      continue;
    }
    std::string content;
    std::optional<InPlaceBytes> raw;
    if (!parameter(w, f.payload, f.end, content, raw)) return false;
    put_message(kGraphParameter, content, out);
    s.parameters.push_back(raw);
  }
  return true;
}

}  // namespace

std::optional<Skeleton> skeleton_of(std::span<const std::byte> bytes) {
  const Walker w(bytes);
  Skeleton s;
  s.bytes.reserve(std::min<size_t>(bytes.size(), size_t{1} << 20));
  Walker::Field f;
  for (size_t at = 0; at < bytes.size(); at = f.end) {
    if (!w.field(at, bytes.size(), f) || f.number == kModelFunctions) return std::nullopt;
    if (f.number != kModelGraph || f.wire != kLengthDelimited) {
      w.copy(f.start, f.end, s.bytes);
      continue;
    }
    std::string content;
    if (!graph(w, f.payload, f.end, content, s)) return std::nullopt;
    put_message(kModelGraph, content, s.bytes);
  }
  bool any = false;
  for (const auto& p : s.parameters) any = any || p.has_value();
  if (!any) return std::nullopt;  // nothing left out: parse the file itself, no copy made
  return s;
}

}  // namespace cellar::formats::mindir
