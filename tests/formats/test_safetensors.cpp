// The safetensors format (src/formats/safetensors.h), called directly through the
// CheckpointFormat interface: round trips for every dtype, byte-exact golden files, files written
// by the `safetensors` package and by MindSpore (tests/fixtures/safetensors/make_fixtures.py),
// a table of hand-made corrupt files, and a seeded mutation loop.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "corrupt_cases.h"
#include "formats/atomic_file.h"
#include "formats/safetensors.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::formats::NamedTensors;
using cellar::formats::safetensors_format;
using cellar::testing::expect_same;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/safetensors" / name;
}

void st_save(const NamedTensors& entries, const std::filesystem::path& path,
             SaveOptions options = {}) {
  formats::AtomicFile out(path);
  safetensors_format().write(entries, out, options);
  out.commit();
}

NamedTensors st_load(const std::filesystem::path& path, LoadOptions options = {}) {
  return safetensors_format().read(MappedFile::open(path), options);
}

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// A file: the 8-byte length of `json`, `json`, then `data`.
std::vector<std::byte> make_file(std::string_view json, std::string_view data = {}) {
  std::vector<std::byte> out;
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xff));
  for (auto b : bytes_of(json)) out.push_back(b);
  for (auto b : bytes_of(data)) out.push_back(b);
  return out;
}

std::vector<std::string> names(const NamedTensors& entries) {
  std::vector<std::string> out;
  for (const auto& [n, _] : entries) out.push_back(n);
  return out;
}

Tensor bf16(std::vector<float> v) {
  return Tensor::from_vector<float>(v, Shape{static_cast<int64_t>(v.size())}).to(DType::BFloat16);
}

// One tensor of every dtype, in the order the writer lays them out (dtype rank desc, then name).
NamedTensors every_dtype() {
  return {
      {"u64", Tensor::from_vector<uint64_t>({0, ~uint64_t{0}}, {2})},
      {"i64", Tensor::from_vector<int64_t>({-1, int64_t{1} << 40}, {2, 1})},
      {"f64", Tensor::from_vector<double>({0.1, -2.5, 1e300}, {3})},
      {"f32", Tensor::from_vector<float>({0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3})},
      {"f32.empty", Tensor(DType::Float32, Shape{0, 3})},
      {"f32.scalar", Tensor::scalar<float>(0.5f)},
      {"u32", Tensor::from_vector<uint32_t>({4000000000u}, {1})},
      {"i32", Tensor::from_vector<int32_t>({7, -8}, {1, 2})},
      {"bf16", bf16({1.0f, -3.0f})},
      {"f16", Tensor::from_vector<float>({1.5f, -2.0f, 65504.0f}, {3}).to(DType::Float16)},
      {"u16", Tensor::from_vector<uint16_t>({65535, 1}, {2})},
      {"i16", Tensor::from_vector<int16_t>({-32768, 32767}, {2})},
      {"i8", Tensor::from_vector<int8_t>({-128, 127}, {2})},
      {"i8.scalar", Tensor::scalar<int8_t>(-5)},
      {"u8", Tensor::from_vector<uint8_t>({0, 255, 3}, {3})},
      {"bool", Tensor::from_vector<bool>({true, false, true}, {3})},
      {"bool.empty", Tensor(DType::Bool, Shape{2, 0})},
  };
}

}  // namespace

// ---- round trips and the writer's layout ----

TEST(Safetensors, RoundTripsEveryDType) {
  TempDir dir;
  const NamedTensors want = every_dtype();
  NamedTensors shuffled(want.rbegin(), want.rend());  // the writer orders them itself
  st_save(shuffled, dir / "all.safetensors");
  const NamedTensors got = st_load(dir / "all.safetensors");
  expect_same(got, want);
  for (const auto& [name, t] : got) {
    EXPECT_TRUE(t.storage()->is_mapped()) << name << " was copied, not viewed";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % itemsize(t.dtype()), 0u) << name;
  }
}

TEST(Safetensors, CrcCheckRoundTripsEveryDType) {
  // Including integer scalars MindSpore could not hash (negative, over 2^63): we hash their bytes.
  TempDir dir;
  NamedTensors all = every_dtype();
  all.emplace_back("u64.huge", Tensor::scalar<uint64_t>(~uint64_t{0}));
  all.emplace_back("i64.big", Tensor::scalar<int64_t>(int64_t{1} << 62));
  all.emplace_back("i16.zero", Tensor::scalar<int16_t>(0));
  st_save(all, dir / "crc.safetensors", {.crc_check = true});
  EXPECT_EQ(st_load(dir / "crc.safetensors", {.crc_check = true}).size(), all.size());
}

TEST(Safetensors, ViewsOutliveTheFileObject) {
  TempDir dir;
  st_save({{"w", Tensor::from_vector<float>({1, 2, 3}, {3})}}, dir / "w.safetensors");
  Tensor t = st_load(dir / "w.safetensors")[0].second;  // the MappedFile lives on in the view
  EXPECT_EQ(t.data<float>()[2], 3.0f);
}

TEST(Safetensors, GoldenBytesHandComputed) {
  TempDir dir;
  st_save({{"b", Tensor::from_vector<float>({1.0f}, {1})},
           {"a", Tensor::from_vector<int8_t>({1, -1}, {2})}},
          dir / "g.safetensors");
  // 137 bytes of JSON padded with 7 spaces to 144 (0x90), so that 8 + N is a multiple of 8;
  // F32 before I8 (larger alignment first); then 1.0f and {1, -1}.
  const std::string json =
      R"({"__metadata__":{"format":"ms"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("a":{"dtype":"I8","shape":[2],"data_offsets":[4,6]}})";
  ASSERT_EQ(json.size(), 137u);
  const auto want =
      make_file(json + std::string(7, ' '), std::string("\x00\x00\x80\x3f\x01\xff", 6));
  EXPECT_EQ(want[0], std::byte{0x90});
  EXPECT_EQ(read_bytes(dir / "g.safetensors"), want);
}

TEST(Safetensors, NoEntriesIsAnEmptyHeaderAsMindSporeWrites) {
  TempDir dir;
  st_save({}, dir / "e.safetensors");
  EXPECT_EQ(read_bytes(dir / "e.safetensors"), make_file("{}      "));
  EXPECT_TRUE(st_load(dir / "e.safetensors").empty());
}

TEST(Safetensors, NamesAreEscapedAsSerdeJsonEscapesThem) {
  TempDir dir;
  const std::string name = "a\"b\\c\n\x01/é\x7f";
  st_save({{name, Tensor::scalar<uint8_t>(9)}}, dir / "n.safetensors");
  const auto b = read_bytes(dir / "n.safetensors");
  const std::string text(reinterpret_cast<const char*>(b.data()), b.size());
  EXPECT_NE(text.find(R"("a\"b\\c\n\u0001/é)"
                      "\x7f"
                      R"(":{)"),
            std::string::npos)
      << text;
  const auto got = st_load(dir / "n.safetensors");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, name);
}

TEST(Safetensors, WriterRefusesWhatSafetensorsCannotHold) {
  TempDir dir;
  auto refuse = [&](const NamedTensors& entries, const std::string& entry, ErrorCode code) {
    try {
      st_save(entries, dir / "r.safetensors");
      ADD_FAILURE() << "saved " << entry;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_EQ(e.tensor(), entry) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "r.safetensors"));
  };
  refuse({{"w", Tensor::scalar<float>(1)}, {"note", Tensor::from_string("hi")}}, "note",
         ErrorCode::kUnsupported);
  refuse({{"w", Tensor::scalar<float>(1)}, {"w", Tensor::scalar<float>(2)}}, "w",
         ErrorCode::kInvalidArgument);
  refuse({{"__metadata__", Tensor::scalar<float>(1)}}, "__metadata__", ErrorCode::kInvalidArgument);
  refuse({{"bad\xff", Tensor::scalar<float>(1)}}, "bad\xff", ErrorCode::kInvalidArgument);
}

TEST(Safetensors, SniffsItsOwnBytesOnly) {
  TempDir dir;
  st_save(every_dtype(), dir / "a.safetensors");
  const auto b = read_bytes(dir / "a.safetensors");
  EXPECT_TRUE(safetensors_format().sniff({b.data(), 64}));
  const auto ckpt = read_bytes(std::filesystem::path(CELLAR_SOURCE_DIR) /
                               "tests/fixtures/mindspore/2.10/ckpt/dtypes.ckpt");
  EXPECT_FALSE(safetensors_format().sniff({ckpt.data(), 64}));
  EXPECT_FALSE(safetensors_format().sniff({b.data(), 8}));
}

// ---- what the reader accepts beyond our own writer's output ----

TEST(Safetensors, ReadsLenientButValidHeaders) {
  TempDir dir;
  // JSON order differs from offset order (older writers sorted by name); unknown fields are
  // skipped; metadata null; whitespace inside; escapes in names; no padding at all.
  const std::string json =
      "{ \"z\" : {\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[4,6], \"extra\": [1, {\"x\": "
      "null}, -2.5e3, true]},\n\t\"__metadata__\": null, \"\\u00e9\\ud83d\\ude00\": "
      "{\"data_offsets\":[0,4],\"shape\":[],\"dtype\":\"F32\"}}";
  write_bytes(dir / "l.safetensors", make_file(json, std::string("\x00\x00\x80\x3f\x07\x08", 6)));
  const auto got = st_load(dir / "l.safetensors");
  ASSERT_EQ(names(got), (std::vector<std::string>{"é😀", "z"}));
  EXPECT_EQ(got[0].second.item(), 1.0);
  EXPECT_EQ(got[0].second.shape(), Shape{});
  EXPECT_EQ(got[1].second.data<int8_t>()[1], 8);
}

TEST(Safetensors, MisalignedTensorsAreCopiedToAlignedMemory) {
  TempDir dir;
  // N = 61: the data starts at file offset 69, so the F32 is not 4-aligned in the mapping.
  std::string json = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  json.resize(61, ' ');
  write_bytes(dir / "m.safetensors",
              make_file(json, std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8)));
  const auto got = st_load(dir / "m.safetensors");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].second.storage()->is_mapped());
  EXPECT_EQ(got[0].second.data<float>()[0], 1.0f);
  EXPECT_EQ(got[0].second.data<float>()[1], 2.0f);
}

// ---- files the peers wrote ----

TEST(Safetensors, ReadsThePackagesFilesExactly) {
  // make_fixtures.py: safetensors.numpy.save_file, and serialize_file for BF16.
  const NamedTensors want = {
      {"u64", Tensor::from_vector<uint64_t>({0, ~uint64_t{0}}, {2})},
      {"i64", Tensor::from_vector<int64_t>({1, -2, int64_t{1} << 40}, {3})},
      {"f64", Tensor::from_vector<double>({0.1, -2.5}, {2})},
      {"empty", Tensor(DType::Float32, Shape{0, 3})},
      {"f32", Tensor::from_vector<float>({0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3})},
      {"scalar", Tensor::scalar<float>(0.5f)},
      {"u32", Tensor::from_vector<uint32_t>({4000000000u}, {1})},
      {"i32", Tensor::from_vector<int32_t>({7, -8}, {2, 1})},
      {"f16", Tensor::from_vector<float>({1.5f, -2.0f, 65504.0f}, {3}).to(DType::Float16)},
      {"u16", Tensor::from_vector<uint16_t>({65535, 1}, {2})},
      {"i16", Tensor::from_vector<int16_t>({-32768, 32767}, {2})},
      {"i8", Tensor::from_vector<int8_t>({-128, 127}, {2})},
      {"u8", Tensor::from_vector<uint8_t>({0, 255, 3}, {3})},
      {"bool", Tensor::from_vector<bool>({true, false, true}, {3})},
  };
  expect_same(st_load(fixture("package_dtypes.safetensors")), want);
  const auto h = formats::safetensors::parse_header(
      read_bytes(fixture("package_dtypes.safetensors")), "package_dtypes.safetensors");
  EXPECT_EQ(h.metadata_value("note"), "héllo");

  Tensor inf_bits(DType::BFloat16, Shape{3});
  const uint16_t bits[] = {0x3f80, 0xc040, 0x7f80};
  std::memcpy(inf_bits.raw_data(), bits, sizeof bits);
  expect_same(st_load(fixture("package_bf16.safetensors")),
              {{"bf16", inf_bits},
               {"f16", Tensor::from_vector<float>({1.0f, -3.0f}, {2}).to(DType::Float16)}});
}

namespace {
// The entries make_fixtures.py hands to MindSpore's save_checkpoint(format="safetensors").
NamedTensors ms_entries() {
  return {
      {"w.f32", Tensor::from_vector<float>({0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3})},
      {"b.f16", Tensor::from_vector<float>({1.5f, -2.0f, 65504.0f}, {3}).to(DType::Float16)},
      {"c.f64", Tensor::from_vector<double>({0.1, -0.2}, {2, 1})},
      {"i.i64", Tensor::from_vector<int64_t>({1, -2, 3, int64_t{1} << 40}, {4})},
      {"i.i32", Tensor::from_vector<int32_t>({7}, {1})},
      {"i.i16", Tensor::from_vector<int16_t>({-3, 4}, {2})},
      {"i.i8", Tensor::from_vector<int8_t>({-128, 127}, {2})},
      {"u.u8", Tensor::from_vector<uint8_t>({0, 255}, {2})},
      {"m.bool", Tensor::from_vector<bool>({true, false, true}, {3})},
      {"s.scalar", Tensor::scalar<float>(0.5f)},
  };
}

// What make_fixtures.py adds as append_dict to ms_crc.safetensors.
NamedTensors ms_appended() {
  return {{"epoch_num", Tensor::scalar<int64_t>(5)},
          {"step_num", Tensor::scalar<int64_t>(1000)},
          {"lr", Tensor::scalar<float>(0.01f)},
          {"flag", Tensor::scalar<bool>(true)}};
}

NamedTensors ms_crc_entries() {
  NamedTensors out = ms_entries();
  out.resize(3);
  for (auto& e : ms_appended()) out.push_back(e);
  return out;
}

NamedTensors by_name(const NamedTensors& all, std::vector<std::string> order) {
  NamedTensors out;
  for (const auto& n : order)
    for (const auto& e : all)
      if (e.first == n) out.push_back(e);
  return out;
}
}  // namespace

TEST(Safetensors, ReadsMindSporesFilesExactly) {
  expect_same(st_load(fixture("ms_dtypes.safetensors")),
              by_name(ms_entries(), {"i.i64", "c.f64", "s.scalar", "w.f32", "i.i32", "b.f16",
                                     "i.i16", "i.i8", "u.u8", "m.bool"}));
  expect_same(st_load(fixture("ms_crc.safetensors"), {.crc_check = true}),
              by_name(ms_crc_entries(),
                      {"epoch_num", "step_num", "c.f64", "lr", "w.f32", "b.f16", "flag"}));
}

TEST(Safetensors, WritesTheSameBytesAsMindSpore) {
  TempDir dir;
  st_save(ms_entries(), dir / "ms.safetensors");
  EXPECT_EQ(read_bytes(dir / "ms.safetensors"), read_bytes(fixture("ms_dtypes.safetensors")));
}

TEST(Safetensors, CrcNumMatchesMindSpore) {
  // MindSpore's metadata is a HashMap, so the order of "format" and "crc_num" varies from run to
  // run; the value is deterministic and must be the same. The integer scalars exercise
  // MindSpore's bytes(ndarray) quirk (a 0-d integer array hashes as `value` zero bytes).
  TempDir dir;
  st_save(ms_crc_entries(), dir / "c.safetensors", {.crc_check = true});
  const auto ours = formats::safetensors::parse_header(read_bytes(dir / "c.safetensors"), "ours");
  const auto theirs =
      formats::safetensors::parse_header(read_bytes(fixture("ms_crc.safetensors")), "theirs");
  ASSERT_TRUE(theirs.metadata_value("crc_num").has_value());
  EXPECT_EQ(ours.metadata_value("crc_num"), theirs.metadata_value("crc_num"));
  EXPECT_EQ(ours.metadata_value("format"), "ms");
  expect_same(st_load(dir / "c.safetensors", {.crc_check = true}),
              st_load(fixture("ms_crc.safetensors")));
  // Apart from the metadata's key order, the files are the same bytes.
  EXPECT_EQ(read_bytes(dir / "c.safetensors").size(),
            read_bytes(fixture("ms_crc.safetensors")).size());
}

TEST(Safetensors, CrcCheckCatchesAFlippedDataByteAndAMissingCrc) {
  TempDir dir;
  auto b = read_bytes(fixture("ms_crc.safetensors"));
  b[b.size() - 3] ^= std::byte{0x01};
  write_bytes(dir / "flip.safetensors", b);
  EXPECT_NO_THROW(st_load(dir / "flip.safetensors"));  // only verified when asked
  try {
    st_load(dir / "flip.safetensors", {.crc_check = true});
    ADD_FAILURE() << "a flipped byte passed crc_check";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), (dir / "flip.safetensors").string());
  }
  EXPECT_THROW(st_load(fixture("ms_dtypes.safetensors"), {.crc_check = true}), FormatError);
}

// ---- hand-made corrupt files ----

namespace {
struct Corrupt {
  const char* what;
  std::vector<std::byte> bytes;
  ErrorCode code = ErrorCode::kFormat;
  std::string tensor = {};  // the tensor the error must name ("" when none)
};

std::string t(const std::string& name, const std::string& dtype, const std::string& shape,
              const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

std::vector<Corrupt> corrupt_files() {
  const std::string w = t("w", "F32", "[2]", "[0,8]");
  const std::string d8(8, '\0');
  auto raw_len = [](uint64_t n, std::string_view rest) {
    std::vector<std::byte> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xff));
    for (auto b : bytes_of(rest)) out.push_back(b);
    return out;
  };
  return {
      {"shorter than the length prefix", bytes_of("\x05\x00\x00")},
      {"empty file", {}},
      {"header length past the end", raw_len(1000, "{}")},
      {"header length over 100,000,000", raw_len(100'000'001, "{}")},
      {"header length 2^64-1", raw_len(~uint64_t{0}, "{}")},
      {"empty header", make_file("")},
      {"not JSON", make_file("hello world", "")},
      {"JSON, not an object", make_file("[1,2]")},
      {"leading whitespace before '{'", make_file(" {}")},
      {"JSON truncated", make_file(R"({"w":{"dtype":"F32")")},
      {"trailing garbage after the object", make_file("{} x")},
      {"NUL padding instead of spaces", make_file(std::string("{}\0\0", 4))},
      {"duplicate tensor name",
       make_file("{" + w + "," + t("w", "F32", "[2]", "[8,16]") + "}", d8 + d8), ErrorCode::kFormat,
       "w"},
      {"duplicate field",
       make_file(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8),
       ErrorCode::kFormat, "w"},
      {"duplicate metadata key", make_file(R"({"__metadata__":{"a":"1","a":"2"},)" + w + "}", d8)},
      {"duplicate __metadata__",
       make_file(R"({"__metadata__":{},"__metadata__":{},)" + w + "}", d8)},
      {"missing dtype", make_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", d8),
       ErrorCode::kFormat, "w"},
      {"missing shape", make_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", d8),
       ErrorCode::kFormat, "w"},
      {"missing data_offsets", make_file(R"({"w":{"dtype":"F32","shape":[2]}})", d8),
       ErrorCode::kFormat, "w"},
      {"dtype not a string", make_file(R"({"w":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})", d8),
       ErrorCode::kFormat, "w"},
      {"shape not an array",
       make_file(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", d8), ErrorCode::kFormat,
       "w"},
      {"negative dimension", make_file("{" + t("w", "F32", "[-2]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"non-integer dimension", make_file("{" + t("w", "F32", "[2.0]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"exponent dimension", make_file("{" + t("w", "F32", "[2e0]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"string dimension", make_file("{" + t("w", "F32", "[\"2\"]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"leading-zero dimension", make_file("{" + t("w", "F32", "[02]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"dimension over int64",
       make_file("{" + t("w", "F32", "[9223372036854775808]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"offset over 2^64",
       make_file("{" + t("w", "F32", "[2]", "[0,18446744073709551616]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"three data_offsets", make_file("{" + t("w", "F32", "[2]", "[0,8,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"one data_offset", make_file("{" + t("w", "F32", "[2]", "[8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"data_offsets not an array", make_file("{" + t("w", "F32", "[2]", "{}") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"first tensor not at 0 (gap)",
       make_file("{" + t("w", "F32", "[2]", "[4,12]") + "}", d8 + "1234"), ErrorCode::kFormat, "w"},
      {"gap between tensors",
       make_file("{" + w + "," + t("v", "F32", "[1]", "[12,16]") + "}", d8 + d8),
       ErrorCode::kFormat, "v"},
      {"overlap", make_file("{" + w + "," + t("v", "F32", "[2]", "[4,12]") + "}", d8 + "1234"),
       ErrorCode::kFormat, "v"},
      {"end before begin", make_file("{" + t("w", "F32", "[0]", "[8,0]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"size is not numel x itemsize", make_file("{" + t("w", "F32", "[3]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"numel x itemsize overflows",
       make_file("{" + t("w", "F32", "[4294967296,4294967296,4]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"numel over int64",
       make_file("{" + t("w", "U8", "[4294967296,2147483648]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"data past the end of the file", make_file("{" + t("w", "F32", "[4]", "[0,16]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"trailing bytes after the data", make_file("{" + w + "}", d8 + "x")},
      {"bytes but no tensors", make_file("{}", "abc")},
      {"unknown dtype", make_file("{" + t("w", "F33", "[2]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"lower-case dtype", make_file("{" + t("w", "f32", "[2]", "[0,8]") + "}", d8),
       ErrorCode::kFormat, "w"},
      {"unsupported dtype F8_E4M3", make_file("{" + t("w", "F8_E4M3", "[8]", "[0,8]") + "}", d8),
       ErrorCode::kUnsupported, "w"},
      {"unsupported dtype C64", make_file("{" + t("w", "C64", "[1]", "[0,8]") + "}", d8),
       ErrorCode::kUnsupported, "w"},
      {"MindSpore Int4 tensor",
       make_file(
           R"({"__metadata__":{"format":"ms","w":"Int4"},)" + t("w", "I8", "[8]", "[0,8]") + "}",
           d8),
       ErrorCode::kUnsupported, "w"},
      {"non-UTF-8 header", make_file("{" + t("w\xff", "F32", "[2]", "[0,8]") + "}", d8)},
      {"overlong UTF-8", make_file("{" + t("w\xc0\xaf", "F32", "[2]", "[0,8]") + "}", d8)},
      {"UTF-8 surrogate", make_file("{" + t("w\xed\xa0\x80", "F32", "[2]", "[0,8]") + "}", d8)},
      {"lone surrogate escape", make_file("{" + t("w\\udc00", "F32", "[2]", "[0,8]") + "}", d8)},
      {"bad escape", make_file("{" + t("w\\q", "F32", "[2]", "[0,8]") + "}", d8)},
      {"raw control character in a name",
       make_file("{" + t("w\n", "F32", "[2]", "[0,8]") + "}", d8)},
      {"unterminated string", make_file(R"({"w)")},
      {"metadata not an object", make_file(R"({"__metadata__":5,)" + w + "}", d8)},
      {"metadata value not a string", make_file(R"({"__metadata__":{"epoch":5},)" + w + "}", d8)},
      {"metadata nested object", make_file(R"({"__metadata__":{"a":{"b":"c"}},)" + w + "}", d8)},
      {"tensor entry not an object", make_file(R"({"w":[0,8]})", d8), ErrorCode::kFormat, "w"},
      {"key not a string", make_file(R"({5:{}})")},
      {"missing colon", make_file(R"({"w" {}})")},
      {"unknown field nested too deeply",
       make_file(R"({"w":{"x":)" + std::string(100, '[') + std::string(100, ']') +
                     R"(,"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 d8),
       ErrorCode::kFormat, "w"},
  };
}
}  // namespace

TEST(Safetensors, RefusesEveryHandMadeCorruptFile) {
  TempDir dir;
  const auto cases = corrupt_files();
  ASSERT_GE(cases.size(), 20u);
  int i = 0;
  for (const auto& c : cases) {
    const auto path = dir / ("corrupt" + std::to_string(i++) + ".safetensors");
    write_bytes(path, c.bytes);
    cellar::testing::export_corrupt_case(path, "safetensors", c.what, c.code);
    try {
      const auto got = st_load(path);
      ADD_FAILURE() << c.what << ": loaded " << got.size() << " tensors";
    } catch (const Error& e) {
      if (std::getenv("CELLAR_TEST_VERBOSE")) std::cerr << c.what << "\n    " << e.what() << "\n";
      EXPECT_EQ(e.code(), c.code) << c.what << ": " << e.what();
      EXPECT_EQ(e.file(), path.string()) << c.what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos)
          << c.what << ": the message does not name the file: " << e.what();
      EXPECT_TRUE(e.offset().has_value()) << c.what << ": " << e.what();
      if (!c.tensor.empty()) {
        EXPECT_EQ(e.tensor(), c.tensor) << c.what << ": " << e.what();
      }
      if (e.offset()) {
        EXPECT_LE(*e.offset(), c.bytes.size()) << c.what << ": " << e.what();
      }
    }
  }
}

// ---- seeded mutations: every outcome a load or a cellar::Error ----

TEST(Safetensors, MutatedFilesLoadOrFailCleanly) {
  TempDir dir;
  st_save(every_dtype(), dir / "base.safetensors");
  const auto base = read_bytes(dir / "base.safetensors");
  const size_t header_end = 8 + static_cast<size_t>(std::to_integer<uint8_t>(base[0]) |
                                                    std::to_integer<uint8_t>(base[1]) << 8);
  std::mt19937_64 rng(20240611);
  const auto path = dir / "m.safetensors";
  int loaded = 0, refused = 0;
  const std::string json_bytes = "{}[]\",:0123456789-.eE \\u";
  for (int iter = 0; iter < 4000; ++iter) {
    auto b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      // Mostly the header (its JSON is where the parser lives), sometimes anywhere.
      const size_t span = std::min(rng() % 4 ? header_end : b.size(), b.size());
      if (b.empty() || span == 0) break;
      const size_t at = rng() % span;
      switch (rng() % 6) {
        case 0:
          b[at] ^= static_cast<std::byte>(1u << (rng() % 8));
          break;
        case 1:
          b[at] = static_cast<std::byte>(rng());
          break;
        case 2:
          b[at] = static_cast<std::byte>(json_bytes[rng() % json_bytes.size()]);
          break;
        case 3:
          b.resize(at);
          break;  // truncate
        case 4:
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        case 5:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                   static_cast<std::byte>(json_bytes[rng() % json_bytes.size()]));
          break;
      }
    }
    write_bytes(path, b);
    try {
      unsigned sum = 0;
      for (const auto& [name, t] : st_load(path, {.crc_check = rng() % 8 == 0}))
        for (std::byte x : t.bytes()) sum += std::to_integer<unsigned>(x);  // ASan: in bounds
      loaded += 1 + static_cast<int>(sum & 0);
    } catch (const Error& e) {
      ASSERT_EQ(e.file(), path.string()) << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 1000);
  RecordProperty("loaded", loaded);
  RecordProperty("refused", refused);
}
