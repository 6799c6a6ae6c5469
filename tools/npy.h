// NumPy's .npy files (format versions 1.0, 2.0 and 3.0), for `cellar run` inputs and outputs.
//
// Byte layout: the magic "\x93NUMPY", major and minor version bytes, the header length HLEN
// (u16 little-endian in 1.0, u32 in 2.0 and 3.0), HLEN bytes of header, then the array's bytes.
// The header is a Python dict literal, padded with spaces and ended by '\n' so that the data
// starts at a multiple of 64:
//
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 10), }
//
// The reader treats the file as hostile: HLEN is capped (kMaxHeaderBytes) and checked against the
// file size; the dict is parsed by a small tokenizer (string literals, True/False, tuples of
// non-negative integers; exactly the three keys, each once); element count × item size is
// computed with overflow checks and must equal the bytes after the header exactly. Accepted
// descrs: little-endian or byte-order-free b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8. Refused, each with
// its reason: big-endian data, fortran_order True (only C order is read), structured and object
// dtypes. Every failure is a FormatError naming the file (and the byte offset).
#pragma once

#include <string>

#include "cellar/tensor.h"

namespace cellar::cli {

inline constexpr size_t kMaxNpyHeaderBytes = 64 * 1024;

Tensor read_npy(const std::string& path);
// Writes `t` atomically as a version 1.0 file (2.0 when the header needs more than 65535 bytes).
// BFloat16 (which NumPy lacks) is written as float32; String is a ValueError.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace cellar::cli
