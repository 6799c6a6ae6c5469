// MindSpore's .ckpt checkpoint format, read and written by hand over the protobuf wire format.
//
// Byte layout. The schema (MindSpore's checkpoint.proto, proto2) is
//
//   message Checkpoint { repeated Value value = 1; }
//   message Value { string tag = 1; oneof { TensorProto tensor = 2; MapTensorProto maptensor = 3; }
//   } message TensorProto { repeated int64 dims = 1; string tensor_type = 2; bytes tensor_content =
//   3; } message MapTensorProto { repeated TensorProto tensor = 1; }
//
// MindSpore serialises one single-Value Checkpoint per parameter (per 512 MiB slice of it) and
// appends them, so a file is a sequence of records, each a protobuf field 1 of wire type 2:
//
//   file    := record* [trailer]
//   record  := 0x0A varint(len(value)) value
//   value   := 0x0A varint(len(tag)) tag              tag: UTF-8 parameter name, e.g. "0.weight"
//              0x12 varint(len(tensor)) tensor
//   tensor  := (0x08 varint(dim))*                   one per dimension, C order (proto2: unpacked;
//                                                    a packed 0x0A length-delimited run is read
//                                                    too)
//              0x12 varint(len(type)) type           "Float32", "Int64", "Bool", "str", …
//              0x1A varint(len(content)) content     raw little-endian C-order element bytes
//   trailer := "crc_num" (7 ASCII bytes) + CRC-32 (zlib's) of every byte before the trailer as
//              a 10-byte big-endian unsigned integer (so the first 6 bytes are zero): 17 bytes
//
// Varints are base-128 little-endian groups, at most 10 bytes. Fields may come in any order and
// unknown fields are skipped by wire type (0 varint, 1 eight bytes, 2 length-delimited, 5 four
// bytes); wire types 3 and 4 (groups) and 6, 7 are refused.
//
// Conventions MindSpore follows and we keep:
// - A tensor over 512 MiB is written as several consecutive Values with the same tag, each with
//   the full dims and a 512 MiB slice of the content; the reader joins consecutive Values with the
//   same tag (dims and type must agree; contents are concatenated in order).
// - Scalars (shape ()): MindSpore 2.x (checked against serialization.py as of 2025) writes no dims
//   at all; MindSpore 1.x and early 2.x wrote `dims = [0]` with one element of content (as the
//   files in ../shared/conformance do). Both read back as shape (). `dims = [0]` with empty content
//   is an empty tensor of shape (0,). We write no dims for scalars, as current MindSpore does.
// - Strings (`append_dict` text): tensor_type "str", dims [0], content UTF-32LE code points as
//   NumPy's `<U` arrays hold them (an empty string is one NUL code point, 4 zero bytes; trailing
//   NULs are dropped on reading, as NumPy does).
// - MindSpore writes nothing at all for a tensor with no bytes (its slicing loop never runs); we
//   write one Value with empty content instead so that the entry survives a round trip.
// - Map tensors (MapParameter, field 3) and "Int4" tensors are refused as unsupported.
//
// The reader works on the memory-mapped file (MAP_PRIVATE) and does not copy a tensor's bytes:
// the tensor is a Storage::view into the MappedFile. Two cases take one copy into aligned heap
// memory instead: a tensor split over several Values (it is joined), and content whose address
// is not a multiple of its item size. The format puts content wherever the preceding varints
// end, so in MindSpore's files (and ours, which are byte-identical) a Float32 tensor is aligned
// about one time in four; 1-byte types always are. Copying the others keeps typed access
// (float*, int64_t*) defined and safe for vectorised kernels, as the safetensors reader does.
// Offsets and lengths are 64-bit throughout, so there is no 2 GiB limit as in protobuf's own
// parsers. Every field is bounds-checked before use; every failure is a
// FormatError naming the file, the tensor (when its tag is known) and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/format.h"

namespace cellar::formats {

namespace ckpt {

// MindSpore's slice size: tensors with more content bytes are split into several Values.
inline constexpr uint64_t kSliceBytes = 512ull * 1024 * 1024;
// Longest tag the reader accepts (MindSpore names are dotted paths, far shorter).
inline constexpr uint64_t kMaxTagBytes = 64 * 1024;
// Most dimensions the reader accepts in one tensor.
inline constexpr size_t kMaxRank = 64;
// "crc_num" + 10-byte big-endian CRC-32.
inline constexpr size_t kTrailerBytes = 17;

// Writes `entries` as MindSpore does, slicing content at `slice_bytes` (kSliceBytes except in
// tests). String tensors are written as UTF-32LE; a String whose text is not UTF-8 is a
// ValueError. Appends the crc_num trailer when options.crc_check.
void write(const NamedTensors& entries, ByteSink& out, const SaveOptions& options,
           uint64_t slice_bytes = kSliceBytes, const EntryBytes& source = own_bytes());

// zlib's CRC-32 of `bytes`, continuing from `crc` (no 4 GiB limit).
uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc = 0);

}  // namespace ckpt

}  // namespace cellar::formats
