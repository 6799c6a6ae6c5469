// MindSpore .ckpt: the byte layout and the conventions are in ckpt.h. The protobuf wire format is
// read by hand over the mapped file (zero copy, 64-bit offsets: no 2 GiB limit) and written by
// hand, record by record, exactly as MindSpore's Python protobuf serialiser lays it out.
#include "formats/ckpt.h"

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cellar/error.h"
#include "core/utf8.h"

namespace cellar::formats {

namespace {

constexpr std::string_view kCrcMagic = "crc_num";
constexpr uint32_t kWireVarint = 0, kWire64 = 1, kWireLen = 2, kWire32 = 5;
constexpr uint64_t kMaxFieldNumber = (1u << 29) - 1;

// A misaligned tensor in a private copy of the file moves back by `shift` (< 8) bytes, over its
// own already-parsed header: [offset, offset + size) → [offset - shift, ...).
struct Slide {
  uint64_t offset, size, shift;
};

// Below this many bytes to move, a second thread costs more than it saves.
constexpr uint64_t kParallelSlideBytes = 64ull << 20;

// Does the slides, on two threads when there is enough to move: the move is a memory-bound copy
// of most of the file (three in four tensors of a MindSpore-written .ckpt sit misaligned), and a
// second core nearly halves it (docs/benchmarks.md). The bytes are cut in two halves at one point
// `m` inside one slide; a slide moves its bytes down by less than 8, so the first half's last 8
// source bytes [m - 8, m) are what the second half's first writes [m - shift, ...) would clobber:
// they are kept aside and written after both halves are done. Distinct slides never overlap (each
// moves within its own Value record).
void run_slides(std::byte* base, const std::vector<Slide>& slides) {
  auto move = [base](uint64_t off, uint64_t n, uint64_t shift) {
    if (n != 0) std::memmove(base + off - shift, base + off, n);
  };
  uint64_t total = 0;
  for (const Slide& s : slides) total += s.size;
  if (total < kParallelSlideBytes || std::thread::hardware_concurrency() < 2) {
    for (const Slide& s : slides) move(s.offset, s.size, s.shift);
    return;
  }
  // Find the slide holding the halfway byte, and the cut inside it (at least 8 bytes in).
  size_t k = 0;
  uint64_t before = 0;
  while (before + slides[k].size <= total / 2) before += slides[k++].size;
  const Slide& cut = slides[k];
  const uint64_t in = std::max<uint64_t>(total / 2 - before, 8);
  if (in >= cut.size) {  // too small a slide to cut: not reachable for a halfway point of 64 MiB
    for (const Slide& s : slides) move(s.offset, s.size, s.shift);
    return;
  }
  const uint64_t m = cut.offset + in;
  std::byte kept[8];
  std::memcpy(kept, base + m - 8, 8);
  auto second_half = [&] {
    move(m, cut.offset + cut.size - m, cut.shift);
    for (size_t i = k + 1; i < slides.size(); ++i)
      move(slides[i].offset, slides[i].size, slides[i].shift);
  };
  std::optional<std::thread> second;
  try {
    second.emplace(second_half);
  } catch (const std::system_error&) {  // no thread to be had: do it here, after the first half
  }
  for (size_t i = 0; i < k; ++i) move(slides[i].offset, slides[i].size, slides[i].shift);
  move(cut.offset, in - 8, cut.shift);
  if (second)
    second->join();
  else
    second_half();
  std::memcpy(base + m - 8 - cut.shift, kept, 8);
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Printable excerpt of untrusted text for an error message.
std::string quoted(std::string_view s) {
  std::string out = "'";
  const size_t n = std::min<size_t>(s.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + (s.size() > n ? "…'" : "'");
}

// What makes a tag (a tensor's name) unfit, or nothing: one rule for the reader and the writer,
// so that the writer refuses exactly what the reader would (with the same words). `n` is the
// tag's length, `s` its bytes (empty when n is over the limit: the reader looks no further).
// A tag must be non-empty, at most kMaxTagBytes and UTF-8. Any character is allowed, control
// characters too: a tag is a protobuf string, which MindSpore writes and reads whatever it holds;
// whoever prints a name escapes it (the CLI, error messages).
std::optional<std::string> tag_problem(std::string_view s, uint64_t n) {
  if (n == 0) return "the tag (tensor name) is empty";
  if (n > ckpt::kMaxTagBytes)
    return "tag of " + std::to_string(n) + " bytes exceeds the limit of " +
           std::to_string(ckpt::kMaxTagBytes);
  if (!utf8::valid(s)) return "tag " + quoted(s) + " is not valid UTF-8";
  return std::nullopt;
}

// ---- text encodings ----

// NumPy's `<U` bytes of a str, as MindSpore writes them: UTF-32LE, at least one code point (an
// empty string is a single NUL).
std::vector<std::byte> utf8_to_utf32le(std::string_view s, const std::string& name) {
  std::vector<std::byte> out;
  out.reserve(s.size() * 4 + 4);
  for (size_t i = 0; i < s.size();) {
    auto cp = utf8::next(s, i);
    if (!cp)
      throw ValueError(ErrorCode::kInvalidArgument,
                       "str value is not valid UTF-8 (byte " + std::to_string(i) + ")", {{}, name});
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::byte>((*cp >> (8 * k)) & 0xff));
  }
  // assign, not resize: gcc 12 reports a bogus -Warray-bounds in resize's reallocation path.
  if (out.empty()) out.assign(4, std::byte{0});
  return out;
}

// ---- reading ----

// One Value as it appears in the file: offsets of its parts, not yet validated.
struct RawValue {
  uint64_t offset = 0;  // of the record's key byte
  std::optional<std::string_view> tag;
  uint64_t tag_offset = 0;
  std::optional<uint64_t> tensor_offset;
  std::optional<uint64_t> map_offset;
  std::vector<int64_t> dims;
  std::optional<std::string_view> type;
  uint64_t type_offset = 0;
  bool has_content = false;
  uint64_t content_offset = 0, content_size = 0;
};

// Consecutive Values with one tag, joined into one tensor.
struct Group {
  std::string tag;
  uint64_t offset = 0;  // of the first Value
  std::vector<int64_t> dims;
  DType dtype = DType::Float32;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;  // (offset, size) of each content
  uint64_t total = 0;
};

class Reader {
 public:
  // `pieces` (may be null) receives where each entry's bytes lie; `drop_behind`: see
  // CheckpointFormat::read_located.
  Reader(std::shared_ptr<MappedFile> file, uint64_t end, std::vector<FilePieces>* pieces = nullptr,
         bool drop_behind = false)
      : file_(std::move(file)),
        base_(reinterpret_cast<const uint8_t*>(file_->data())),
        end_(end),
        path_(file_->path().string()),
        pieces_(pieces),
        drop_behind_(drop_behind && !file_->is_private_copy()) {}

  NamedTensors read() {
    uint64_t pos = 0;
    while (pos < end_) {
      const uint64_t key_off = pos;
      tag_.clear();
      auto [field, wire] = key(pos, end_);
      if (field == 1) {
        if (wire != kWireLen)
          fail("Checkpoint.value (field 1) has wire type " + std::to_string(wire) +
                   ", expected 2 (length-delimited)",
               key_off);
        const uint64_t len = length(pos, end_, "Checkpoint.value");
        RawValue v = parse_value(pos, pos + len, key_off);
        pos += len;
        take(v);
        if (drop_behind_) drop_parsed(key_off);
      } else {
        skip(wire, pos, end_, key_off);
      }
    }
    flush();
    // Only now, with every header parsed: the slides write over header bytes.
    if (!slides_.empty()) run_slides(file_->mutable_data(), slides_);
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& reason, uint64_t offset) const {
    throw FormatError(reason, {path_, tag_, offset});
  }

  // Drops the pages before `upto` (the start of the record just parsed: the open group's first
  // Value may still be read, for a str) from the resident set, 64 MiB at a time. The mapping is
  // the file's, unwritten: the pages read back from the page cache if touched again.
  void drop_parsed(uint64_t upto) {
    constexpr uint64_t kStep = uint64_t{64} << 20;
    if (upto < dropped_ + kStep) return;
    const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<uintptr_t>(base_);
    const uint64_t from = (base + dropped_ + page - 1) / page * page;
    const uint64_t to = (base + upto) / page * page;
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    dropped_ = upto;
  }

  uint64_t varint(uint64_t& pos, uint64_t end, std::string_view what) const {
    const uint64_t start = pos;
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos >= end)
        fail("truncated varint (" + std::string(what) + ") at the end of its message", start);
      const uint8_t b = base_[pos++];
      if (i == 9 && b > 1)
        fail(std::string(b & 0x80 ? "varint longer than 10 bytes" : "varint overflows 64 bits") +
                 " (" + std::string(what) + ")",
             start);
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    fail("varint longer than 10 bytes", start);  // unreachable: i == 9 returns or fails
  }

  std::pair<uint64_t, uint32_t> key(uint64_t& pos, uint64_t end) const {
    const uint64_t off = pos;
    const uint64_t k = varint(pos, end, "field key");
    const uint64_t field = k >> 3;
    if (field == 0 || field > kMaxFieldNumber)
      fail("invalid protobuf field number " + std::to_string(field), off);
    return {field, static_cast<uint32_t>(k & 7)};
  }

  // A length prefix, checked against the bytes left in the enclosing message.
  uint64_t length(uint64_t& pos, uint64_t end, std::string_view what) const {
    const uint64_t off = pos;
    const uint64_t n = varint(pos, end, std::string(what) + " length");
    if (n > end - pos)
      fail(std::string(what) + " has length " + std::to_string(n) + " but only " +
               std::to_string(end - pos) + " bytes are left in its message",
           off);
    return n;
  }

  void skip(uint32_t wire, uint64_t& pos, uint64_t end, uint64_t key_off) const {
    auto need = [&](uint64_t n) {
      if (n > end - pos)
        fail("truncated field: " + std::to_string(n) + " bytes needed, " +
                 std::to_string(end - pos) + " left in its message",
             key_off);
      pos += n;
    };
    switch (wire) {
      case kWireVarint:
        varint(pos, end, "unknown field");
        return;
      case kWire64:
        need(8);
        return;
      case kWireLen:
        pos += length(pos, end, "unknown field");
        return;
      case kWire32:
        need(4);
        return;
      case 3:
      case 4:
        fail("protobuf groups (wire type " + std::to_string(wire) + ") are invalid here", key_off);
      default:
        fail("invalid protobuf wire type " + std::to_string(wire), key_off);
    }
  }

  void expect_len_wire(uint32_t wire, std::string_view field, uint64_t key_off) const {
    if (wire != kWireLen)
      fail(std::string(field) + " has wire type " + std::to_string(wire) +
               ", expected 2 (length-delimited)",
           key_off);
  }

  RawValue parse_value(uint64_t pos, uint64_t end, uint64_t record_off) {
    RawValue v;
    v.offset = record_off;
    while (pos < end) {
      const uint64_t key_off = pos;
      auto [field, wire] = key(pos, end);
      switch (field) {
        case 1: {  // tag
          expect_len_wire(wire, "Value.tag", key_off);
          if (v.tag) fail("Value.tag appears twice", key_off);
          const uint64_t len_off = pos;
          const uint64_t n = length(pos, end, "Value.tag");
          // The length is capped before the bytes are looked at (a view, nothing copied).
          v.tag = std::string_view(reinterpret_cast<const char*>(base_ + pos),
                                   n > ckpt::kMaxTagBytes ? 0 : n);
          v.tag_offset = key_off;
          if (const auto bad = tag_problem(*v.tag, n)) {
            tag_.clear();  // not the previous tensor's: the message quotes this one
            fail(*bad, n > ckpt::kMaxTagBytes ? len_off : key_off);
          }
          tag_ = std::string(*v.tag);
          pos += n;
          break;
        }
        case 2: {  // tensor
          expect_len_wire(wire, "Value.tensor", key_off);
          if (v.tensor_offset) fail("Value.tensor appears twice", key_off);
          const uint64_t n = length(pos, end, "Value.tensor");
          v.tensor_offset = key_off;
          parse_tensor(pos, pos + n, v);
          pos += n;
          break;
        }
        case 3:  // maptensor: validated (skipped) here, refused once the tag is known
          expect_len_wire(wire, "Value.maptensor", key_off);
          v.map_offset = key_off;
          pos += length(pos, end, "Value.maptensor");
          break;
        default:
          skip(wire, pos, end, key_off);
      }
    }
    return v;
  }

  void push_dim(RawValue& v, uint64_t raw, uint64_t off) const {
    if (v.dims.size() >= ckpt::kMaxRank)
      fail("tensor has more than " + std::to_string(ckpt::kMaxRank) + " dimensions", off);
    const auto d = static_cast<int64_t>(raw);
    if (d < 0) fail("negative dimension " + std::to_string(d), off);
    v.dims.push_back(d);
  }

  void parse_tensor(uint64_t pos, uint64_t end, RawValue& v) const {
    while (pos < end) {
      const uint64_t key_off = pos;
      auto [field, wire] = key(pos, end);
      switch (field) {
        case 1:  // dims: unpacked (as proto2 writes them) or packed
          if (wire == kWireVarint) {
            const uint64_t off = pos;
            push_dim(v, varint(pos, end, "dims"), off);
          } else if (wire == kWireLen) {
            const uint64_t n = length(pos, end, "packed dims");
            const uint64_t stop = pos + n;
            while (pos < stop) {
              const uint64_t off = pos;
              push_dim(v, varint(pos, stop, "dims"), off);
            }
          } else {
            fail("TensorProto.dims has wire type " + std::to_string(wire), key_off);
          }
          break;
        case 2: {
          expect_len_wire(wire, "TensorProto.tensor_type", key_off);
          if (v.type) fail("TensorProto.tensor_type appears twice", key_off);
          const uint64_t n = length(pos, end, "TensorProto.tensor_type");
          v.type = std::string_view(reinterpret_cast<const char*>(base_ + pos), n);
          v.type_offset = key_off;
          pos += n;
          break;
        }
        case 3: {
          expect_len_wire(wire, "TensorProto.tensor_content", key_off);
          if (v.has_content) fail("TensorProto.tensor_content appears twice", key_off);
          const uint64_t n = length(pos, end, "TensorProto.tensor_content");
          v.has_content = true;
          v.content_offset = pos;
          v.content_size = n;
          pos += n;
          break;
        }
        default:
          skip(wire, pos, end, key_off);
      }
    }
  }

  // Validates one Value and adds it to the current group (or starts a new one).
  void take(const RawValue& v) {
    if (!v.tag) fail("Value has no tag", v.offset);
    if (v.map_offset)
      throw Error(ErrorCode::kUnsupported, "map tensors (MindSpore MapParameter) are not supported",
                  {path_, tag_, *v.map_offset});
    if (!v.tensor_offset) fail("Value has no tensor", v.offset);
    if (!v.type) fail("tensor has no tensor_type", *v.tensor_offset);
    if (*v.type == "Int4")
      throw Error(ErrorCode::kUnsupported, "tensor_type 'Int4' (qint4x2) is not supported",
                  {path_, tag_, v.type_offset});
    const auto dtype = dtype_from_mindspore_name(*v.type);
    if (!dtype) fail("unknown tensor_type " + quoted(*v.type), v.type_offset);

    if (group_ && group_->tag == *v.tag) {  // a further slice of a split tensor
      if (group_->dims != v.dims)
        fail("slice has dims " + dims_str(v.dims) + " but the first slice has " +
                 dims_str(group_->dims),
             *v.tensor_offset);
      if (group_->dtype != *dtype)
        fail("slice has tensor_type " + quoted(*v.type) + " but the first slice has '" +
                 std::string(mindspore_name(group_->dtype)) + "'",
             v.type_offset);
      if (__builtin_add_overflow(group_->total, v.content_size, &group_->total))
        fail("joined content size overflows", v.content_offset);
      group_->pieces.emplace_back(v.content_offset, v.content_size);
      return;
    }
    flush();
    tag_ = std::string(*v.tag);  // flush() named the previous tensor
    if (!seen_.insert(tag_).second)
      fail("tag appears twice, apart (only consecutive slices of one tensor may share a tag)",
           v.tag_offset);
    group_.emplace();
    group_->tag = *v.tag;
    group_->offset = v.offset;
    group_->dims = v.dims;
    group_->dtype = *dtype;
    group_->pieces.emplace_back(v.content_offset, v.content_size);
    group_->total = v.content_size;
  }

  void flush() {
    if (!group_) return;
    Group g = std::move(*group_);
    group_.reset();
    tag_ = g.tag;
    out_.emplace_back(g.tag, g.dtype == DType::String ? to_string_tensor(g) : to_tensor(g));
    if (pieces_) {
      pieces_->emplace_back();
      if (g.dtype != DType::String) pieces_->back() = g.pieces;
    }
  }

  // The bytes of a group: a view of the file when it is one slice whose address suits the item
  // size; otherwise (a split tensor, or content at an odd offset, which the format allows
  // anywhere) a deferred copy into aligned heap memory (Storage::deferred_copy: made on first
  // use), so that typed access (float*, int64_t*) is always defined, vectorised kernels never
  // meet a misaligned pointer, and the load itself stays zero-copy.
  std::shared_ptr<Storage> storage_of(const Group& g) const {
    const uint64_t align = std::max<size_t>(itemsize(g.dtype), 1);
    if (g.pieces.size() == 1 && reinterpret_cast<uintptr_t>(base_ + g.pieces[0].first) % align == 0)
      return Storage::view(file_, g.pieces[0].first, g.pieces[0].second);
    if (g.total == 0) return Storage::allocate(0, false);
    if (g.pieces.size() == 1 && file_->is_private_copy()) {
      // The bytes are this process's own copy (LoadOptions::use_mmap = false, or a decrypted
      // file), already read in full: slide the content back to the aligned address just before
      // it and view it there, instead of copying it into new memory later. The bytes it moves
      // over are this Value's own header (record key and length, tag, dims, tensor_type: at
      // least 12 bytes before the content, all parsed by now); the shift (< the item size, at
      // most 7) is checked against them all the same.
      const uint64_t off = g.pieces[0].first, n = g.pieces[0].second;
      const uint64_t shift = reinterpret_cast<uintptr_t>(base_ + off) % align;
      if (shift <= off - g.offset) {
        slides_.push_back({off, n, shift});  // done by read(), after the last header is parsed
        return Storage::view(file_, off - shift, n);
      }
    }
    std::vector<std::pair<size_t, size_t>> pieces;
    pieces.reserve(g.pieces.size());
    for (auto [off, n] : g.pieces)
      pieces.emplace_back(static_cast<size_t>(off), static_cast<size_t>(n));
    return Storage::deferred_copy(file_, std::move(pieces), static_cast<size_t>(g.total));
  }

  Tensor to_tensor(const Group& g) const {
    Shape shape;
    if (g.dims.size() == 1 && g.dims[0] == 0) {
      // MindSpore 1.x's scalar spelling; with no content it is an empty vector.
      shape = g.total == 0 ? Shape{0} : Shape{};
    } else {
      shape = Shape(g.dims);
    }
    const auto numel = shape.checked_numel();
    if (!numel) fail("dims " + dims_str(g.dims) + " overflow the element count", g.offset);
    uint64_t need;
    if (__builtin_mul_overflow(static_cast<uint64_t>(*numel), itemsize(g.dtype), &need))
      fail("dims " + dims_str(g.dims) + " of " + std::string(mindspore_name(g.dtype)) +
               " overflow the byte count",
           g.offset);
    if (need != g.total)
      fail("tensor_content has " + std::to_string(g.total) + " bytes but dims " + dims_str(g.dims) +
               " of " + std::string(mindspore_name(g.dtype)) + " need " + std::to_string(need),
           g.pieces.front().first);
    return Tensor(g.dtype, std::move(shape), storage_of(g), 0);
  }

  Tensor to_string_tensor(const Group& g) const {
    if (g.total % 4 != 0)
      fail("str content of " + std::to_string(g.total) +
               " bytes is not UTF-32 (not a multiple of 4)",
           g.pieces.front().first);
    std::string text;
    size_t pending_nuls = 0;  // NumPy drops trailing NULs; keep inner ones
    for (auto [off, n] : g.pieces) {
      for (uint64_t i = 0; i + 4 <= n; i += 4) {
        const uint8_t* p = base_ + off + i;
        const char32_t cp = static_cast<char32_t>(p[0]) | static_cast<char32_t>(p[1]) << 8 |
                            static_cast<char32_t>(p[2]) << 16 | static_cast<char32_t>(p[3]) << 24;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
          fail("str content holds an invalid UTF-32 code point " + std::to_string(cp), off + i);
        if (cp == 0) {
          ++pending_nuls;
          continue;
        }
        text.append(pending_nuls, '\0');
        pending_nuls = 0;
        utf8::append(text, cp);
      }
    }
    return Tensor::from_string(text);
  }

  std::shared_ptr<MappedFile> file_;
  const uint8_t* base_;
  uint64_t end_;  // where the records end (the trailer, if any, follows)
  std::string path_;
  std::string tag_;  // the tag being read, for error messages
  std::optional<Group> group_;
  std::unordered_set<std::string> seen_;
  NamedTensors out_;
  std::vector<FilePieces>* pieces_;
  bool drop_behind_;
  uint64_t dropped_ = 0;
  mutable std::vector<Slide> slides_;  // storage_of's moves, for read() to do at the end
};

// ---- writing ----

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// align_tensors: the key of field 2047, wire type 2 (varint 0x3FFA), and the content alignment.
constexpr uint64_t kPadKeyBytes = 2;
constexpr uint64_t kAlignment = 64;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

class CkptFormat final : public CheckpointFormat {
 public:
  std::string_view name() const override { return "ckpt"; }

  bool sniff(std::span<const std::byte> head) const override {
    auto byte = [&](size_t i) { return std::to_integer<uint8_t>(head[i]); };
    if (head.size() == ckpt::kTrailerBytes &&
        std::memcmp(head.data(), kCrcMagic.data(), kCrcMagic.size()) == 0)
      return true;                                      // nothing but a trailer
    if (head.empty() || byte(0) != 0x0A) return false;  // field 1, length-delimited
    size_t i = 1;
    for (int k = 0; k < 10; ++k, ++i) {
      if (i >= head.size()) return true;  // all we were shown fits
      if ((byte(i) & 0x80) == 0) break;
    }
    ++i;
    // A Value opens with its tag (field 1) or, rarely, its tensor (2) or maptensor (3).
    return i >= head.size() || byte(i) == 0x0A || byte(i) == 0x12 || byte(i) == 0x1A;
  }

  NamedTensors read(const std::shared_ptr<MappedFile>& file,
                    const LoadOptions& options) const override {
    return read_impl(file, options, nullptr, false);
  }

  NamedTensors read_located(const std::shared_ptr<MappedFile>& file, const LoadOptions& options,
                            std::vector<FilePieces>& pieces, bool drop_behind) const override {
    pieces.clear();
    return read_impl(file, options, &pieces, drop_behind);
  }

  void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options,
             const EntryBytes& bytes) const override {
    ckpt::write(entries, out, options, ckpt::kSliceBytes, bytes);
  }

 private:
  NamedTensors read_impl(const std::shared_ptr<MappedFile>& file, const LoadOptions& options,
                         std::vector<FilePieces>* pieces, bool drop_behind) const {
    const auto* data = reinterpret_cast<const uint8_t*>(file->data());
    uint64_t end = file->size();
    const bool has_trailer =
        end >= ckpt::kTrailerBytes &&
        std::memcmp(data + end - ckpt::kTrailerBytes, kCrcMagic.data(), kCrcMagic.size()) == 0;
    if (has_trailer) end -= ckpt::kTrailerBytes;
    if (options.crc_check) {
      const std::string path = file->path().string();
      if (!has_trailer)
        throw FormatError("crc_check was asked for but the file has no crc_num trailer",
                          {path, {}, file->size()});
      const uint8_t* t = data + end + kCrcMagic.size();
      bool high_zero = true;
      for (int i = 0; i < 6; ++i) high_zero = high_zero && t[i] == 0;
      const uint32_t stored = static_cast<uint32_t>(t[6]) << 24 |
                              static_cast<uint32_t>(t[7]) << 16 | static_cast<uint32_t>(t[8]) << 8 |
                              t[9];
      const uint32_t actual = ckpt::crc32({file->data(), static_cast<size_t>(end)});
      if (!high_zero || stored != actual) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "CRC-32 mismatch: the trailer holds %s0x%08x, the data has 0x%08x",
                      high_zero ? "" : "a value over 32 bits, low word ", stored, actual);
        throw FormatError(buf, {path, {}, end});
      }
    }
    return Reader(file, end, pieces, drop_behind).read();
  }
};

}  // namespace

namespace ckpt {

uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc) {
  uLong c = crc;
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  size_t left = bytes.size();
  while (left > 0) {
    const auto n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    c = ::crc32(c, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(c);
}

void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options,
           uint64_t slice_bytes, const EntryBytes& source) {
  if (slice_bytes == 0) slice_bytes = kSliceBytes;
  uint32_t crc = 0;
  uint64_t pos = 0;  // bytes written so far (the file offset, for align_tensors)
  auto emit = [&](std::span<const std::byte> bytes) {
    out.write(bytes);
    pos += bytes.size();
    if (options.crc_check) crc = crc32(bytes, crc);
  };
  const EntryBytes::Visitor add_crc = [&](std::span<const std::byte> bytes) {
    crc = crc32(bytes, crc);
  };
  std::string head;
  for (const auto& [name, t] : entries) {
    if (const auto bad = tag_problem(name, name.size()))
      throw ValueError(ErrorCode::kInvalidArgument, *bad, {{}, name});
    if (!t.defined() || t.is_symbolic())
      throw ValueError(ErrorCode::kInvalidArgument, "cannot save an undefined or symbolic tensor",
                       {{}, name});
    std::vector<std::byte> text;  // UTF-32LE of a str entry
    uint64_t content_size;
    std::vector<int64_t> dims;
    const bool is_text = t.dtype() == DType::String;
    if (is_text) {
      text = utf8_to_utf32le(t.string_value(), name);
      content_size = text.size();
      dims = {0};
    } else {
      content_size = t.nbytes();  // the bytes come through `source`, slice by slice
      dims = t.shape().dims();    // a scalar has none, as MindSpore 2.x writes it
    }
    const std::string_view type = mindspore_name(t.dtype());
    uint64_t off = 0;
    do {  // one Value per slice; a tensor with no bytes still gets one
      const uint64_t n = std::min<uint64_t>(content_size - off, slice_bytes);
      uint64_t tensor_base = 1 + varint_size(type.size()) + type.size() + 1 + varint_size(n) + n;
      for (int64_t d : dims) tensor_base += 1 + varint_size(static_cast<uint64_t>(d));
      // With align_tensors, a padding field of `pad` zero bytes (3 + pad bytes with its key and
      // one-byte length) puts the content at a multiple of kAlignment; the lengths around it
      // grow with it, so try each pad until the content lands aligned.
      const bool align = options.align_tensors && n > 0 && t.dtype() != DType::String;
      uint64_t pad = 0, tensor_len = 0, value_len = 0;
      for (;; ++pad) {
        tensor_len = tensor_base + (align ? kPadKeyBytes + 1 + pad : 0);
        value_len =
            1 + varint_size(name.size()) + name.size() + 1 + varint_size(tensor_len) + tensor_len;
        if (!align) break;
        const uint64_t content_at = pos + 1 + varint_size(value_len) + value_len - n;
        if (content_at % kAlignment == 0) break;
        if (pad == 127) throw std::logic_error("ckpt writer: no padding aligns the content");
      }
      head.clear();
      head += '\x0A';  // Checkpoint.value
      put_varint(head, value_len);
      head += '\x0A';  // Value.tag
      put_varint(head, name.size());
      head += name;
      head += '\x12';  // Value.tensor
      put_varint(head, tensor_len);
      for (int64_t d : dims) {
        head += '\x08';  // TensorProto.dims, unpacked
        put_varint(head, static_cast<uint64_t>(d));
      }
      head += '\x12';  // TensorProto.tensor_type
      put_varint(head, type.size());
      head += type;
      if (align) {  // the unknown field 2047, length-delimited: skipped by every reader
        head += '\xFA';
        head += '\x7F';
        head += static_cast<char>(pad);
        head.append(pad, '\0');
      }
      head += '\x1A';  // TensorProto.tensor_content
      put_varint(head, n);
      emit({reinterpret_cast<const std::byte*>(head.data()), head.size()});
      if (n && is_text) {
        emit(std::span<const std::byte>(text).subspan(off, n));
      } else if (n) {
        source.write(t, off, n, out, options.crc_check ? &add_crc : nullptr);
        pos += n;
      }
      off += n;
    } while (off < content_size);
  }
  if (options.crc_check) {
    std::byte trailer[kTrailerBytes] = {};
    std::memcpy(trailer, kCrcMagic.data(), kCrcMagic.size());
    for (int i = 0; i < 4; ++i)
      trailer[kTrailerBytes - 1 - i] = static_cast<std::byte>((crc >> (8 * i)) & 0xff);
    out.write(trailer, sizeof trailer);
  }
}

}  // namespace ckpt

const CheckpointFormat& ckpt_format() {
  static const CkptFormat format;
  return format;
}

}  // namespace cellar::formats
