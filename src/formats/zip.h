// A read-only ZIP archive directory over bytes in memory (a mapped file), for the archives
// torch.save writes. Only what locating and reading records needs; nothing is written.
//
// Byte layout (APPNOTE.TXT; all integers little-endian):
//
//   archive := (local_header data [descriptor])* central_header* [zip64_eocd zip64_locator] eocd
//   local_header   := 50 4B 03 04, version u16, flags u16, method u16, time u16, date u16,
//                     crc32 u32, compressed u32, size u32, name_len u16, extra_len u16, name, extra
//                     (30 bytes + name + extra; the data follows at once)
//   central_header := 50 4B 01 02, made_by u16, version u16, flags u16, method u16, time u16,
//                     date u16, crc32 u32, compressed u32, size u32, name_len u16, extra_len u16,
//                     comment_len u16, disk u16, internal u16, external u32, local_offset u32,
//                     name, extra, comment (46 bytes + …)
//   eocd           := 50 4B 05 06, disk u16, cd_disk u16, entries_here u16, entries u16,
//                     cd_size u32, cd_offset u32, comment_len u16, comment (22 bytes + comment)
//   zip64_locator  := 50 4B 06 07, disk u32, zip64_eocd_offset u64, disks u32 (20 bytes, right
//                     before the eocd)
//   zip64_eocd     := 50 4B 06 06, record_size u64, made_by u16, version u16, disk u32,
//                     cd_disk u32, entries_here u64, entries u64, cd_size u64, cd_offset u64
//   A 32-bit field holding 0xFFFFFFFF (16-bit 0xFFFF) defers to the zip64 records; for an entry,
//   to its zip64 extra field (id 0x0001: size, compressed, local_offset, in that order, each
//   present only when its 32-bit field is saturated).
//
// What the reader refuses, each a FormatError naming the file, the entry and the byte offset:
// no end-of-central-directory record; multi-disk archives; a central directory or zip64 record
// outside the file; a central or local header cut short or with the wrong signature; a local
// header whose name differs from the central one; encrypted entries (flag bit 0); entries whose
// data runs past the start of the central directory; two entries whose bytes overlap (no polyglot
// or aliasing archives); duplicate names; more entries than the directory's size can hold.
// Methods other than stored (0) and deflate (8) are kUnsupported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cellar::formats::zip {

inline constexpr uint16_t kStored = 0;
inline constexpr uint16_t kDeflate = 8;

struct Entry {
  std::string name;
  uint16_t method = kStored;
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;           // uncompressed
  uint64_t header_offset = 0;  // the local header
  uint64_t data_offset = 0;    // the first byte of the (compressed) data
};

struct Archive {
  std::vector<Entry> entries;  // central directory order
  uint64_t directory_offset = 0;
  // The entry named `name`, or null.
  const Entry* find(std::string_view name) const;
};

// True when `head` starts with a local file header signature.
bool is_zip(std::span<const std::byte> head);

// The archive's directory, validated as above: on return every entry's data lies inside `file`,
// before the central directory, and no two entries overlap.
Archive read_directory(std::span<const std::byte> file, const std::string& path);

// An entry's uncompressed bytes (stored: copied; deflate: inflated with zlib). `max_size` caps
// the result (the entry's declared size is checked against it before anything is allocated);
// the inflated length must equal the declared size, and with `check_crc` the CRC-32 must match.
std::vector<std::byte> extract(std::span<const std::byte> file, const Entry& e,
                               const std::string& path, uint64_t max_size, bool check_crc);

// CRC-32 (zlib's) of an entry's stored bytes against its directory record.
bool crc_matches(std::span<const std::byte> file, const Entry& e);

}  // namespace cellar::formats::zip
