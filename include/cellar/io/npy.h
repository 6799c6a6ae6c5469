// NumPy's .npy files (format versions 1.0, 2.0 and 3.0): one tensor per file, read and written by
// `cellar run` and by the tests.
//
// Byte layout: the magic "\x93NUMPY", major and minor version bytes, the header length HLEN
// (u16 little-endian in 1.0, u32 in 2.0 and 3.0), HLEN bytes of header, then the array's bytes.
// The header is a Python dict literal, padded with spaces and ended by '\n' so that the data
// starts at a multiple of 64:
//
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 10), }
//
// The reader treats the file as hostile: HLEN is capped (kMaxNpyHeaderBytes) and checked against
// the file size; the dict is parsed by a small tokenizer (string literals, True/False, tuples of
// non-negative integers; exactly the three keys, each once; at most 64 dimensions); element
// count × item size is computed with overflow checks and must equal the bytes after the header
// exactly, before anything is allocated. Bool data must be 0 or 1.
//
// Supported dtypes (descr): little-endian ('<'), native ('=') or byte-order-free ('|') b1 i1 i2 i4
// i8 u1 u2 u4 u8 f2 f4 f8, and '>' for the one-byte ones. Refused, each with its reason: other
// big-endian data, fortran_order True (only C order is read), structured (a list descr), object,
// string, complex and datetime dtypes, format versions other than 1, 2 and 3. Every failure of the
// file's bytes is a FormatError naming the file, the reason and the byte offset; a file that
// cannot be opened is an IoError.
#pragma once

#include <cstddef>
#include <filesystem>

#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

inline constexpr size_t kMaxNpyHeaderBytes = 64 * 1024;

// The array in `path` as a tensor of the matching dtype (its own memory; the file is not kept).
Tensor read_npy(const std::filesystem::path& path);

// Writes `t` to `path` atomically (a temporary file renamed into place; nothing at `path` on
// failure) as a version 1.0 file (2.0 when the header needs more than 65535 bytes), C order,
// little-endian. BFloat16 (which NumPy lacks) is written as float32; a String tensor is a
// ValueError (kUnsupported). IoError when the file cannot be written.
void write_npy(const Tensor& t, const std::filesystem::path& path);

}  // namespace cellar

CELLAR_API_END
