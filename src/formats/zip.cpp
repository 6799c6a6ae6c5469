// ZIP directory reading: the layout and the refusals are in zip.h. Every field read is
// bounds-checked against the file first; sizes and offsets are 64-bit and checked for overflow.
#include "formats/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_set>

#include "cellar/error.h"

namespace cellar::formats::zip {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr size_t kLocalBytes = 30;
constexpr size_t kCentralBytes = 46;
constexpr size_t kEocdBytes = 22;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kZip64EocdBytes = 56;
constexpr size_t kMaxCommentBytes = 0xffff;

class Reader {
 public:
  Reader(std::span<const std::byte> file, const std::string& path) : f_(file), path_(path) {}

  [[noreturn]] void fail(const std::string& reason, uint64_t offset,
                         const std::string& entry = {}) const {
    throw FormatError("zip: " + reason, {path_, entry, offset});
  }
  bool has(uint64_t offset, uint64_t n) const {
    return offset <= f_.size() && n <= f_.size() - offset;
  }
  void need(uint64_t offset, uint64_t n, const char* what, const std::string& entry = {}) const {
    if (!has(offset, n))
      fail(std::string(what) + " runs past the end of the file (" + std::to_string(f_.size()) +
               " bytes)",
           offset, entry);
  }
  template <class T>
  T get(uint64_t offset) const {  // caller checked the bounds
    T v;
    std::memcpy(&v, f_.data() + offset, sizeof(T));
    return v;  // little-endian hosts only (as the whole library)
  }
  std::string_view text(uint64_t offset, uint64_t n) const {
    return {reinterpret_cast<const char*>(f_.data() + offset), static_cast<size_t>(n)};
  }
  size_t size() const { return f_.size(); }

 private:
  std::span<const std::byte> f_;
  const std::string& path_;
};

// The offset of the end-of-central-directory record: the last signature whose comment length
// reaches exactly the end of the file, else the last signature at all (some writers pad).
uint64_t find_eocd(const Reader& r) {
  if (r.size() < kEocdBytes) r.fail("too short for an end-of-central-directory record", 0);
  const uint64_t last = r.size() - kEocdBytes;
  const uint64_t first = last > kMaxCommentBytes ? last - kMaxCommentBytes : 0;
  std::optional<uint64_t> any;
  for (uint64_t at = last + 1; at-- > first;) {
    if (r.get<uint32_t>(at) != kEocdSig) continue;
    if (at + kEocdBytes + r.get<uint16_t>(at + 20) == r.size()) return at;
    if (!any) any = at;
  }
  if (any) return *any;
  r.fail("no end-of-central-directory record (not a zip archive, or truncated)", last);
}

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

Directory read_eocd(const Reader& r, uint64_t eocd) {
  Directory d;
  const uint16_t disk = r.get<uint16_t>(eocd + 4), cd_disk = r.get<uint16_t>(eocd + 6);
  const uint16_t here = r.get<uint16_t>(eocd + 8);
  d.entries = r.get<uint16_t>(eocd + 10);
  d.size = r.get<uint32_t>(eocd + 12);
  d.offset = r.get<uint32_t>(eocd + 16);
  const bool zip64 = d.entries == 0xffff || d.size == 0xffffffff || d.offset == 0xffffffff;
  if (!zip64) {
    if (disk != 0 || cd_disk != 0 || here != d.entries)
      r.fail("multi-disk archives are not supported", eocd);
    return d;
  }
  if (eocd < kZip64LocatorBytes || r.get<uint32_t>(eocd - kZip64LocatorBytes) != kZip64LocatorSig)
    r.fail("the end record defers to zip64 but no zip64 locator precedes it", eocd);
  const uint64_t loc = eocd - kZip64LocatorBytes;
  if (r.get<uint32_t>(loc + 4) != 0 || r.get<uint32_t>(loc + 16) > 1)
    r.fail("multi-disk archives are not supported", loc);
  const uint64_t at = r.get<uint64_t>(loc + 8);
  if (!r.has(at, kZip64EocdBytes) || at > loc - kZip64EocdBytes)
    r.fail("the zip64 end record's offset " + std::to_string(at) + " is outside the file", loc + 8);
  if (r.get<uint32_t>(at) != kZip64EocdSig) r.fail("bad zip64 end record signature", at);
  if (r.get<uint32_t>(at + 16) != 0 || r.get<uint32_t>(at + 20) != 0 ||
      r.get<uint64_t>(at + 24) != r.get<uint64_t>(at + 32))
    r.fail("multi-disk archives are not supported", at + 16);
  d.entries = r.get<uint64_t>(at + 32);
  d.size = r.get<uint64_t>(at + 40);
  d.offset = r.get<uint64_t>(at + 48);
  return d;
}

// Applies the zip64 extended-information extra field to the saturated fields of `e`.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, Entry& e, bool size_sat,
                       bool comp_sat, bool offset_sat) {
  uint64_t at = extra;
  const uint64_t end = extra + extra_len;
  while (at + 4 <= end) {
    const uint16_t id = r.get<uint16_t>(at), len = r.get<uint16_t>(at + 2);
    const uint64_t body = at + 4;
    if (len > end - body) r.fail("an extra field runs past its header's extra data", at, e.name);
    if (id == 0x0001) {
      uint64_t p = body;
      auto take = [&](uint64_t& field, bool saturated) {
        if (!saturated) return;
        if (p + 8 > body + len) r.fail("the zip64 extra field is too short", at, e.name);
        field = r.get<uint64_t>(p);
        p += 8;
      };
      take(e.size, size_sat);
      take(e.compressed_size, comp_sat);
      take(e.header_offset, offset_sat);
      return;
    }
    at = body + len;
  }
  if (size_sat || comp_sat || offset_sat)
    r.fail("a saturated size or offset without a zip64 extra field", extra, e.name);
}

}  // namespace

const Entry* Archive::find(std::string_view name) const {
  for (const Entry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

bool is_zip(std::span<const std::byte> head) {
  if (head.size() < 4) return false;
  uint32_t sig;
  std::memcpy(&sig, head.data(), 4);
  return sig == kLocalSig;
}

Archive read_directory(std::span<const std::byte> file, const std::string& path) {
  const Reader r(file, path);
  const uint64_t eocd = find_eocd(r);
  const Directory d = read_eocd(r, eocd);
  if (d.offset > eocd || d.size > eocd - d.offset)
    r.fail("the central directory (offset " + std::to_string(d.offset) + ", " +
               std::to_string(d.size) + " bytes) is outside the file",
           eocd);
  if (d.entries > d.size / kCentralBytes)
    r.fail(std::to_string(d.entries) + " entries cannot fit a central directory of " +
               std::to_string(d.size) + " bytes",
           eocd);
  Archive a;
  a.directory_offset = d.offset;
  a.entries.reserve(static_cast<size_t>(d.entries));
  std::unordered_set<std::string_view> names;
  uint64_t at = d.offset;
  const uint64_t cd_end = d.offset + d.size;
  for (uint64_t i = 0; i < d.entries; ++i) {
    if (at > cd_end || cd_end - at < kCentralBytes)
      r.fail("central directory entry " + std::to_string(i) + " runs past the directory", at);
    if (r.get<uint32_t>(at) != kCentralSig)
      r.fail("bad central directory entry signature (entry " + std::to_string(i) + ")", at);
    Entry e;
    e.flags = r.get<uint16_t>(at + 8);
    e.method = r.get<uint16_t>(at + 10);
    e.crc32 = r.get<uint32_t>(at + 16);
    e.compressed_size = r.get<uint32_t>(at + 20);
    e.size = r.get<uint32_t>(at + 24);
    const uint16_t name_len = r.get<uint16_t>(at + 28), extra_len = r.get<uint16_t>(at + 30),
                   comment_len = r.get<uint16_t>(at + 32);
    const uint16_t disk = r.get<uint16_t>(at + 34);
    e.header_offset = r.get<uint32_t>(at + 42);
    const uint64_t var = uint64_t{name_len} + extra_len + comment_len;
    if (var > cd_end - at - kCentralBytes)
      r.fail("central directory entry " + std::to_string(i) + " runs past the directory", at);
    e.name = std::string(r.text(at + kCentralBytes, name_len));
    apply_zip64_extra(r, at + kCentralBytes + name_len, extra_len, e, e.size == 0xffffffff,
                      e.compressed_size == 0xffffffff, e.header_offset == 0xffffffff);
    if (disk != 0 && disk != 0xffff) r.fail("multi-disk archives are not supported", at, e.name);
    if (e.flags & 1) r.fail("encrypted entries are not supported", at, e.name);
    // The local header: the same name, and the data right after its name and extra field.
    const uint64_t lh = e.header_offset;
    if (lh >= d.offset || d.offset - lh < kLocalBytes)
      r.fail(
          "the local header offset " + std::to_string(lh) + " is not before the central directory",
          at + 42, e.name);
    if (r.get<uint32_t>(lh) != kLocalSig) r.fail("bad local header signature", lh, e.name);
    const uint16_t lname = r.get<uint16_t>(lh + 26), lextra = r.get<uint16_t>(lh + 28);
    const uint64_t data = lh + kLocalBytes + lname + lextra;
    if (data > d.offset) r.fail("the local header runs into the central directory", lh, e.name);
    if (r.text(lh + kLocalBytes, lname) != e.name)
      r.fail("the local header's name differs from the central directory's", lh + kLocalBytes,
             e.name);
    if (e.compressed_size > d.offset - data)
      r.fail("the entry's " + std::to_string(e.compressed_size) +
                 " bytes of data run past the start of the central directory",
             data, e.name);
    if (e.method == kStored && e.compressed_size != e.size)
      r.fail("a stored entry whose compressed and uncompressed sizes differ", at + 20, e.name);
    e.data_offset = data;
    a.entries.push_back(std::move(e));
    at += kCentralBytes + var;
  }
  for (const Entry& e : a.entries)
    if (!names.insert(e.name).second) r.fail("duplicate entry name", e.header_offset, e.name);
  // No two entries' bytes (local header through data) may overlap.
  std::vector<const Entry*> order;
  order.reserve(a.entries.size());
  for (const Entry& e : a.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* x, const Entry* y) { return x->header_offset < y->header_offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const Entry& prev = *order[i - 1];
    if (prev.data_offset + prev.compressed_size > order[i]->header_offset)
      r.fail("the entry overlaps '" + prev.name + "'", order[i]->header_offset, order[i]->name);
  }
  return a;
}

namespace {

uint32_t crc_of(const std::byte* data, uint64_t n) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt k = static_cast<uInt>(std::min<uint64_t>(n, uint64_t{1} << 30));
    crc = ::crc32(crc, p, k);
    p += k;
    n -= k;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

bool crc_matches(std::span<const std::byte> file, const Entry& e) {
  return crc_of(file.data() + e.data_offset, e.compressed_size) == e.crc32;
}

std::vector<std::byte> extract(std::span<const std::byte> file, const Entry& e,
                               const std::string& path, uint64_t max_size, bool check_crc) {
  const Reader r(file, path);
  if (e.size > max_size)
    r.fail("the entry's declared size " + std::to_string(e.size) + " exceeds the limit of " +
               std::to_string(max_size) + " bytes",
           e.header_offset, e.name);
  std::vector<std::byte> out;
  if (e.method == kStored) {
    out.assign(file.begin() + static_cast<std::ptrdiff_t>(e.data_offset),
               file.begin() + static_cast<std::ptrdiff_t>(e.data_offset + e.size));
  } else if (e.method == kDeflate) {
    out.resize(static_cast<size_t>(e.size));
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
      throw Error(ErrorCode::kIo, "zlib: inflateInit failed", {path, e.name});
    z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(file.data() + e.data_offset));
    uint64_t in_left = e.compressed_size;
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    uint64_t out_left = e.size;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const uInt in_now = static_cast<uInt>(std::min<uint64_t>(in_left, uint64_t{1} << 30));
      const uInt out_now = static_cast<uInt>(std::min<uint64_t>(out_left, uint64_t{1} << 30));
      z.avail_in = in_now;
      z.avail_out = out_now;
      rc = inflate(&z, Z_NO_FLUSH);
      in_left -= in_now - z.avail_in;
      out_left -= out_now - z.avail_out;
      if (rc == Z_OK && z.avail_in == in_now && z.avail_out == out_now) rc = Z_BUF_ERROR;
      if (rc == Z_OK && out_left == 0 && in_left == 0) rc = Z_BUF_ERROR;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_left != 0)
      r.fail("the deflate stream is corrupt or does not inflate to the declared " +
                 std::to_string(e.size) + " bytes",
             e.data_offset, e.name);
  } else {
    throw Error(ErrorCode::kUnsupported,
                "zip: compression method " + std::to_string(e.method) +
                    " (only stored and deflate entries are read)",
                {path, e.name, e.header_offset});
  }
  if (check_crc) {
    if (crc_of(out.data(), out.size()) != e.crc32)
      r.fail("CRC-32 mismatch (the entry's bytes were modified)", e.data_offset, e.name);
  }
  return out;
}

}  // namespace cellar::formats::zip
