// A tiny .npy reader and writer for tests and test tools (NumPy format version 1.0/2.0/3.0,
// little-endian float32/float64/int32/int64, C order). Header layout: "\x93NUMPY", major,
// minor, header length (u16 for 1.0, u32 for 2.0+), then a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (1, 10), } padded with spaces to 64 bytes.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "cellar/tensor.h"

namespace cellar::testing {

inline Tensor read_npy(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) { return std::runtime_error(p.string() + ": " + why); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw bad("not a .npy file");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t hlen = 0, start = 0;
  if (major == 1) {
    hlen =
        static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    start = 10;
  } else {
    if (bytes.size() < 12) throw bad("truncated header");
    for (int k = 0; k < 4; ++k)
      hlen |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + k])) << (8 * k);
    start = 12;
  }
  if (start + hlen > bytes.size()) throw bad("truncated header");
  const std::string h = bytes.substr(start, hlen);
  auto field = [&](const std::string& key) {
    const size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) throw bad("header has no " + key);
    return h.substr(h.find(':', k) + 1);
  };
  const std::string descr_s = field("descr");
  const size_t q = descr_s.find('\'');
  const std::string descr = descr_s.substr(q + 1, descr_s.find('\'', q + 1) - q - 1);
  const std::string fortran = field("fortran_order");
  if (fortran.find("False") != fortran.find_first_not_of(' '))
    throw bad("Fortran order is not supported");
  const std::string shape_s = field("shape");
  std::vector<int64_t> dims;
  for (size_t i = shape_s.find('(') + 1; i < shape_s.size() && shape_s[i] != ')';) {
    if (std::isdigit(static_cast<unsigned char>(shape_s[i]))) {
      size_t used = 0;
      dims.push_back(std::stoll(shape_s.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  DType dt;
  if (descr == "<f4")
    dt = DType::Float32;
  else if (descr == "<f8")
    dt = DType::Float64;
  else if (descr == "<i4")
    dt = DType::Int32;
  else if (descr == "<i8")
    dt = DType::Int64;
  else
    throw bad("dtype " + descr + " is not supported");
  Tensor t(dt, Shape(dims));
  if (bytes.size() - start - hlen != t.nbytes()) throw bad("data size disagrees with the header");
  if (t.nbytes()) std::memcpy(t.raw_data(), bytes.data() + start + hlen, t.nbytes());
  return t;
}

inline void write_npy(const std::filesystem::path& p, const Tensor& t) {
  std::string descr;
  switch (t.dtype()) {
    case DType::Float32:
      descr = "<f4";
      break;
    case DType::Float64:
      descr = "<f8";
      break;
    case DType::Int32:
      descr = "<i4";
      break;
    case DType::Int64:
      descr = "<i8";
      break;
    default:
      throw std::runtime_error("write_npy: unsupported dtype");
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.rank() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t hl = static_cast<uint16_t>(header.size());
  const char len[2] = {static_cast<char>(hl & 0xff), static_cast<char>(hl >> 8)};
  f.write(len, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

}  // namespace cellar::testing
