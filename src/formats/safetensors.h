// The safetensors checkpoint format (huggingface/safetensors), as MindSpore reads and writes it.
//
// Byte layout (all integers little-endian):
//
//   file   := N header data
//   N      := u64, the header's length in bytes; at most 100,000,000
//   header := N bytes of UTF-8 JSON, beginning with '{' and optionally padded at the end with
//             spaces (writers pad so that 8 + N is a multiple of 8, which makes the data
//             8-aligned):
//             {"__metadata__": {"key": "value", …},                  optional; str → str only
//              "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …}
//   data   := the tensors' bytes, raw little-endian C order. data_offsets are relative to the
//             first byte of data (file offset 8 + N); end is one past the last byte.
//
// Rules the reader enforces (the format's README and the reference reader, safetensors/src/
// tensor.rs: read_metadata and Metadata::validate), each failure a FormatError naming the file,
// the tensor and the byte offset:
// - 8 ≤ file size; N ≤ 100,000,000 and 8 + N ≤ file size; the header is UTF-8, begins with '{',
//   is one JSON object followed only by whitespace; no duplicate keys at any level we read
//   (the reference's serde parser silently keeps the last duplicate; we refuse).
// - Each tensor has a string "dtype", a "shape" of non-negative integers and "data_offsets" of
//   exactly two non-negative integers; other fields are skipped, as the reference does.
// - Sorted by (begin, end), the tensors cover [0, data size) exactly: the first begins at 0, each
//   begins where the previous ends (no gap, no overlap: no polyglot files), end ≥ begin,
//   end − begin = element count × item size (checked arithmetic, overflow refused), and the last
//   ends exactly at the end of the file.
// - "__metadata__" is an object of str → str (null is read as absent, as the reference does).
// - dtypes: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64. The spec's other dtypes (F4,
//   F6_*, F8_*, C64) are valid but refused as kUnsupported naming the tensor; any other string
//   is a FormatError. A tensor MindSpore marked as "Int4" in the metadata (its qint4x2 packing)
//   is refused as kUnsupported, as .ckpt Int4 tensors are.
//
// Zero copy: each tensor is a Storage::view into the mapped file. A tensor whose bytes are not
// aligned to its item size in memory (possible only in files from other writers: ours and
// MindSpore's align every tensor) is copied into aligned heap memory, so typed access stays
// defined. Tensors are returned in file order: ascending data offsets.
//
// What the writer writes — byte for byte what MindSpore 2.10's save_checkpoint(...,
// format="safetensors") writes, since MindSpore hands its tensors to safetensors.numpy.save_file
// (mindspore/train/serialization.py, _exec_save) and the Rust serialiser (tensor.rs, prepare)
// lays them out:
// - Data order: by dtype, largest alignment first, in the reference's Dtype order
//   U64 I64 F64 F32 U32 I32 BF16 F16 U16 I16 I8 U8 BOOL, then by name (bytewise). So every tensor
//   is naturally aligned, and the file order is not the order of `entries`.
// - Header: compact JSON (no spaces), "__metadata__" first, then the tensors in ascending offset
//   order (the order MindSpore expects); names escaped as serde_json escapes them; padded with
//   spaces so that 8 + N is a multiple of 8.
// - Metadata {"format": "ms"}; with SaveOptions::crc_check also "crc_num": the decimal zlib
//   CRC-32 over, for each tensor in name order, its UTF-8 name then its bytes as MindSpore sees
//   them (see mindspore_crc: an integer scalar counts as that many zero bytes). MindSpore's
//   load_checkpoint(crc_check=True) verifies it, and so does our reader when
//   LoadOptions::crc_check (which fails when crc_num is absent; MindSpore only warns). With no
//   entries at all MindSpore writes no metadata (header "{}"), and so do we.
// - str entries (DType::String, append_dict text) are refused with a ValueError (kUnsupported)
//   naming the entry: safetensors has no string dtype and MindSpore 2.10 fails on them too
//   ("Unknown dtype str…"); it has no metadata convention for them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/format.h"

namespace cellar::formats {

namespace safetensors {

// The format's cap on the header length N (the reference's MAX_HEADER_SIZE).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Deepest nesting accepted inside fields the reader skips (the structure we read is 3 deep).
inline constexpr int kMaxSkipDepth = 64;

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // data_offsets, relative to the data section
  uint64_t key_offset = 0;      // file offset of the tensor's name in the header (for messages)
};

struct Header {
  uint64_t data_start = 0;                                    // 8 + N
  std::vector<TensorInfo> tensors;                            // ascending data offsets
  std::vector<std::pair<std::string, std::string>> metadata;  // in header order
  std::optional<std::string> metadata_value(std::string_view key) const;
};

// Parses and validates the header of `file` (the whole file's bytes) against every rule above;
// on return every tensor's bytes lie inside the file. FormatError (or Error kUnsupported)
// naming `path`, the tensor and the byte offset otherwise.
Header parse_header(std::span<const std::byte> file, const std::string& path);

// The safetensors spelling of a dtype ("F32", "BF16", "BOOL"); nullopt for String.
std::optional<std::string_view> dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);

// MindSpore's crc_num over `tensors`: zlib CRC-32 of, in name order, each UTF-8 name then
// Python's `bytes(ndarray)` of the tensor (serialization.py, _exec_save and
// _load_safetensors_into_param_dict). That is the tensor's bytes, except for a rank-0 integer
// tensor: numpy gives it `__index__`, so `bytes()` makes `value` zero bytes (bytes(5) is five
// NULs). MindSpore cannot save a negative or over-2^63 integer scalar with crc_check (bytes()
// raises); for those we use the tensor's bytes.
uint32_t mindspore_crc(const NamedTensors& tensors, const EntryBytes& source = own_bytes());

}  // namespace safetensors

const CheckpointFormat& safetensors_format();

}  // namespace cellar::formats
