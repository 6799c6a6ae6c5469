// .npy files (include/cellar/io/npy.h): NumPy's own files read and written back byte for byte,
// every dtype round-tripped, and a table of hostile files, each refused with a FormatError that
// names the file and the reason, before anything is allocated from the header's claims.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "expect_error.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;

namespace {
namespace fs = std::filesystem;

const fs::path kTorch = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/torch";

// A .npy file: magic, version, header length, `dict` padded to 64 bytes with a final '\n'
// (as NumPy pads it), then `data`.
std::string npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t k = 0; k < prefix - 8; ++k)
    out += static_cast<char>((header.size() >> (8 * k)) & 0xff);
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

}  // namespace

TEST(Npy, ReadsNumPysFilesAndWritesTheSameBytes) {
  // Written by numpy 2.4 (tests/fixtures/torch/make_fixtures.py).
  TempDir dir;
  for (const char* name : {"mlp_input.npy", "mlp_output.npy", "lenet5_input.npy"}) {
    SCOPED_TRACE(name);
    const Tensor t = read_npy(kTorch / name);
    EXPECT_EQ(t.dtype(), DType::Float32);
    EXPECT_GT(t.numel(), 0);
    write_npy(t, dir / name);
    EXPECT_EQ(read_bytes(dir / name), read_bytes(kTorch / name));
  }
  EXPECT_EQ(read_npy(kTorch / "mlp_input.npy").shape(), (Shape{1, 1, 28, 28}));
}

TEST(Npy, EveryDTypeAndShapeRoundTrips) {
  TempDir dir;
  const std::vector<Shape> shapes = {Shape{}, Shape{0}, Shape{5}, Shape{2, 3, 4}, Shape{3, 0, 2}};
  for (DType dt : {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8,
                   DType::UInt16, DType::UInt32, DType::UInt64, DType::Float16, DType::Float32,
                   DType::Float64}) {
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(mindspore_name(dt)) + s.str());
      std::vector<double> v(static_cast<size_t>(s.numel()));
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i % 2);
      const Tensor t = Tensor::from_vector<double>(v, s).to(dt);
      write_npy(t, dir / "t.npy");
      const Tensor back = read_npy(dir / "t.npy");
      EXPECT_EQ(back.dtype(), dt);
      EXPECT_EQ(back.shape(), s);
      EXPECT_TRUE(back.equal(t));
    }
  }
}

TEST(Npy, Version2And3HeadersAreRead) {
  // The writer writes 1.0 whenever the header fits in 65535 bytes (any tensor of a sane rank);
  // 2.0 and 3.0 (u32 header length) come from NumPy for wider or non-Latin-1 headers.
  TempDir dir;
  write_npy(ones({2, 3}), dir / "small.npy");
  EXPECT_EQ(read_bytes(dir / "small.npy")[6], std::byte{1});
  for (int major : {2, 3}) {
    cellar::testing::write_string(dir / "v.npy",
                                  npy(dict("<f4", "(2,)"), std::string(8, '\0'), major));
    EXPECT_TRUE(read_npy(dir / "v.npy").equal(zeros({2}))) << major;
  }
}

TEST(Npy, BFloat16IsWrittenAsFloat32AndStringsAreRefused) {
  TempDir dir;
  const Tensor b = Tensor::from_vector<float>({1.5f, -2.0f}, {2}).to(DType::BFloat16);
  write_npy(b, dir / "b.npy");
  const Tensor back = read_npy(dir / "b.npy");
  EXPECT_EQ(back.dtype(), DType::Float32);
  EXPECT_TRUE(back.equal(b.to(DType::Float32)));

  const Error e = cellar::testing::expect_error(
      [&] { write_npy(Tensor::from_string("text"), dir / "s.npy"); }, ErrorCode::kUnsupported);
  EXPECT_NE(e.file().find("s.npy"), std::string::npos) << e.what();
  EXPECT_FALSE(fs::exists(dir / "s.npy"));
}

TEST(Npy, WriteIsAtomic) {
  // A folder that does not exist: IoError, nothing written. An existing file is replaced whole.
  TempDir dir;
  cellar::testing::expect_error([&] { write_npy(ones({2}), dir / "missing" / "x.npy"); },
                                ErrorCode::kIo);
  EXPECT_FALSE(fs::exists(dir / "missing"));
  write_npy(ones({1000}), dir / "x.npy");
  write_npy(zeros({3}), dir / "x.npy");
  EXPECT_TRUE(read_npy(dir / "x.npy").equal(zeros({3})));
  EXPECT_EQ(cellar::testing::list_dir(dir.path()), std::vector<std::string>{"x.npy"});
}

TEST(Npy, MissingFileIsAnIoErrorNamingIt) {
  TempDir dir;
  const Error e =
      cellar::testing::expect_error([&] { (void)read_npy(dir / "nope.npy"); }, ErrorCode::kIo);
  EXPECT_NE(std::string(e.what()).find("nope.npy"), std::string::npos) << e.what();
}

// Each hostile file must be refused with kFormat, naming the file, with `reason` in the message.
TEST(Npy, HostileFilesAreRefusedWithTheReason) {
  const std::string f4x2(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    const char* reason;
  };
  std::string huge_hlen = "\x93NUMPY\x02";
  huge_hlen += std::string("\0\0\0\x10\0", 5);  // header length 1 MiB
  huge_hlen += std::string(64, ' ');
  std::string bad_magic = npy(dict("<f4", "(2,)"), f4x2);
  bad_magic[5] = 'X';
  std::string dims65 = "(";
  for (int k = 0; k < 65; ++k) dims65 += "1, ";
  dims65 += ")";
  const std::vector<Case> cases = {
      {"empty file", "", "not a .npy file"},
      {"bad magic", bad_magic, "magic"},
      {"truncated before the header length", std::string("\x93NUMPY\x02\x00\x10", 9),
       "not a .npy file"},
      {"truncated header", npy(dict("<f4", "(2,)"), "").substr(0, 40), "truncated header"},
      {"format version 4", npy(dict("<f4", "(2,)"), f4x2, 4), "version 4"},
      {"header length over the cap", huge_hlen, "over the limit"},
      {"fortran order", npy(dict("<f4", "(2,)", true), f4x2), "fortran_order"},
      {"big-endian float", npy(dict(">f4", "(2,)"), f4x2), "big-endian"},
      {"complex", npy(dict("<c8", "(1,)"), f4x2), "unsupported dtype '<c8'"},
      {"unicode", npy(dict("<U2", "(1,)"), f4x2), "unsupported dtype '<U2'"},
      {"object", npy(dict("|O", "(1,)"), f4x2), "unsupported dtype '|O'"},
      {"datetime", npy(dict("<M8[s]", "(1,)"), f4x2), "unsupported dtype"},
      {"structured",
       npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f4x2),
       "structured"},
      {"huge shape, small file", npy(dict("<f4", "(1099511627776, 1048576)"), f4x2),
       "needs more bytes than the file holds"},
      {"element count overflows",
       npy(dict("<f8", "(4611686018427387904, 4611686018427387904)"), f4x2),
       "needs more bytes than the file holds"},
      {"dimension too large", npy(dict("<f4", "(99999999999999999999,)"), f4x2), "too large"},
      {"negative dimension", npy(dict("<f4", "(-2,)"), f4x2), "non-negative integer"},
      {"65 dimensions", npy(dict("<f4", dims65), f4x2), "more than 64 dimensions"},
      {"data one byte short", npy(dict("<f4", "(2,)"), f4x2.substr(1)), "needs 8 bytes"},
      {"data one byte long", npy(dict("<f4", "(2,)"), f4x2 + '\0'), "needs 8 bytes"},
      {"duplicate key",
       npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4x2),
       "duplicate key 'descr'"},
      {"missing key", npy("{'descr': '<f4', 'shape': (2,)}", f4x2), "needs 'descr'"},
      {"unknown key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f4x2),
       "unexpected key 'x'"},
      {"not a dict", npy("[1, 2]", f4x2), "expected '{'"},
      {"misquoted key", npy("{'descr: '<f4'}", f4x2), "expected ':'"},
      {"unterminated string", npy("{'descr': '<f4", f4x2), "unterminated string"},
      {"text after the dict", npy(dict("<f4", "(2,)") + " junk", f4x2), "text after the dict"},
      {"fortran_order not a bool", npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", f4x2),
       "True or False"},
      {"bool neither 0 nor 1", npy(dict("|b1", "(2,)"), std::string("\x01\x02", 2)),
       "neither 0 nor 1"},
  };
  TempDir dir;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const fs::path p = dir / "hostile.npy";
    cellar::testing::write_string(p, c.bytes);
    const Error e = cellar::testing::expect_error([&] { (void)read_npy(p); }, ErrorCode::kFormat);
    EXPECT_EQ(e.file(), p.string());
    EXPECT_NE(std::string(e.what()).find(c.reason), std::string::npos) << e.what();
  }
}
