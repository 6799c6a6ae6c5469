// save_checkpoint / load_checkpoint / load_param_into_net: round trips through files, MindSpore's
// load semantics, the CRC trailer, atomic writes, and a byte-exact golden file.
#include <cellar/cellar.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "formats/atomic_file.h"
#include "formats/ckpt.h"
#include "test_util.h"

namespace {

using cellar::DType;
using cellar::ParamDict;
using cellar::Shape;
using cellar::Tensor;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;
namespace nn = cellar::nn;

std::vector<std::byte> B(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}
void append(std::vector<std::byte>& out, std::string_view s) {
  for (char c : s) out.push_back(static_cast<std::byte>(c));
}
void append(std::vector<std::byte>& out, const std::vector<std::byte>& v) {
  out.insert(out.end(), v.begin(), v.end());
}

// Bitwise CRC-32 (the zlib/IEEE polynomial), independent of the library's zlib call.
uint32_t crc32_ref(std::span<const std::byte> data) {
  uint32_t c = 0xffffffffu;
  for (std::byte b : data) {
    c ^= std::to_integer<uint32_t>(b);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

// A tensor of `dtype` and `shape` whose bytes count up from `seed` (any bit pattern is fine:
// round trips compare bytes).
Tensor patterned(DType dtype, Shape shape, int seed) {
  Tensor t(dtype, std::move(shape));
  auto* p = t.raw_data();
  for (size_t i = 0; i < t.nbytes(); ++i)
    p[i] = static_cast<std::byte>(dtype == DType::Bool ? (i + seed) % 2 : (i * 7 + seed) & 0xff);
  return t;
}

float f32_at(const Tensor& t, size_t i) {
  float v;
  std::memcpy(&v, t.raw_data() + i * 4, 4);
  return v;
}

auto mlp() {
  return nn::SequentialCell({nn::Flatten(), nn::Dense(4, 3), nn::ReLU(), nn::Dense(3, 2)});
}

// ---- ParamDict and NameList ----

TEST(ParamDict, KeepsInsertionOrderAndReplacesInPlace) {
  ParamDict d{{"b", Tensor::scalar<int32_t>(1)}, {"a", Tensor::scalar<int32_t>(2)}};
  d.set("c", Tensor::scalar<int32_t>(3));
  d.set("b", Tensor::scalar<int32_t>(4));
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(d.at("b").data().item(), 4);
  EXPECT_EQ(d["b"].name(), "b");
  EXPECT_TRUE(d.erase("a"));
  EXPECT_FALSE(d.erase("a"));
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(d.at("c").data().item(), 3);  // the index was renumbered after the erase
  try {
    d.at("zzz");
    FAIL();
  } catch (const cellar::Error& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("zzz"), std::string::npos);
  }
}

TEST(NameList, PrintsAsPythonPrintsAListOfStr) {
  auto str = [](const cellar::NameList& n) {
    std::ostringstream os;
    os << n;
    return os.str();
  };
  EXPECT_EQ(str({}), "[]");
  EXPECT_EQ(str({"a"}), "['a']");
  EXPECT_EQ(str({"0.weight", "0.bias"}), "['0.weight', '0.bias']");
  EXPECT_EQ(str({"it's"}), "[\"it's\"]");
  EXPECT_EQ(str({"a\\b\n"}), "['a\\\\b\\n']");
}

// ---- round trips ----

TEST(Checkpoint, RoundTripsEveryDType) {
  TempDir dir;
  ParamDict d;
  const DType numeric[] = {DType::Bool,   DType::Int8,    DType::Int16,    DType::Int32,
                           DType::Int64,  DType::UInt8,   DType::UInt16,   DType::UInt32,
                           DType::UInt64, DType::Float16, DType::BFloat16, DType::Float32,
                           DType::Float64};
  int seed = 1;
  for (DType t : numeric) {
    const std::string n(cellar::mindspore_name(t));
    d.set(n + ".matrix", patterned(t, {3, 5}, seed++));
    d.set(n + ".scalar", patterned(t, {}, seed++));
    d.set(n + ".empty", Tensor(t, {0}));
    d.set(n + ".empty2d", Tensor(t, {2, 0}));
    d.set(n + ".rank4", patterned(t, {2, 1, 3, 2}, seed++));
  }
  d.set("text", Tensor::from_string("hello"));
  d.set("empty text", Tensor::from_string(""));
  d.set("unicode", Tensor::from_string("h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89"));
  cellar::save_checkpoint(d, dir / "all.ckpt");
  const ParamDict back = cellar::load_checkpoint(dir / "all.ckpt");
  ASSERT_EQ(back.keys(), d.keys());
  for (const auto& [name, p] : d) {
    const Tensor& got = back.at(name).data();
    SCOPED_TRACE(name);
    EXPECT_EQ(got.dtype(), p.data().dtype());
    EXPECT_EQ(got.shape(), p.data().shape());
    if (got.dtype() == DType::String) {
      EXPECT_EQ(got.string_value(), p.data().string_value());
    } else {
      EXPECT_TRUE(got.equal(p.data()));
    }
    EXPECT_EQ(back.at(name).name(), name);
  }
  // Loaded tensors view the mapped file when their bytes are aligned for their type (always for
  // 1-byte types); every tensor is aligned for typed access.
  EXPECT_TRUE(back.at("Int8.matrix").data().storage()->is_mapped());
  EXPECT_TRUE(back.at("Bool.rank4").data().storage()->is_mapped());
  for (const auto& [name, p] : back) {
    const Tensor& t = p.data();
    if (t.dtype() == DType::String || t.nbytes() == 0) continue;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % cellar::itemsize(t.dtype()), 0u) << name;
  }
}

TEST(Checkpoint, SavesACellUnderItsParameterPaths) {
  TempDir dir;
  auto net = mlp();
  cellar::save_checkpoint(net, dir / "net.ckpt");
  const ParamDict back = cellar::load_checkpoint(dir / "net.ckpt");
  EXPECT_EQ(back.keys(), (std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(back.at("1.weight").data().shape(), (Shape{3, 4}));
  const auto params = net->parameters_and_names();
  for (const auto& [name, p] : params) EXPECT_TRUE(back.at(name).data().equal(p.data())) << name;
}

TEST(Checkpoint, AppendDictFollowsTheParametersWithMindSporeTypes) {
  TempDir dir;
  auto net = mlp();
  cellar::SaveOptions opt;
  opt.append_dict = {{"epoch_num", int64_t{7}},
                     {"learning_rate", 0.5},
                     {"is_best", true},
                     {"note", std::string("fine-tuned")}};
  cellar::save_checkpoint(net, dir / "net.ckpt", opt);
  const ParamDict back = cellar::load_checkpoint(dir / "net.ckpt");
  EXPECT_EQ(back.keys(),
            (std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias", "epoch_num",
                                      "learning_rate", "is_best", "note"}));
  EXPECT_EQ(back.at("epoch_num").data().dtype(), DType::Int64);
  EXPECT_EQ(back.at("epoch_num").data().shape(), Shape{});
  EXPECT_EQ(back.at("epoch_num").data().item(), 7);
  EXPECT_EQ(back.at("learning_rate").data().dtype(), DType::Float32);
  EXPECT_EQ(back.at("learning_rate").data().item(), 0.5);
  EXPECT_EQ(back.at("is_best").data().dtype(), DType::Bool);
  EXPECT_EQ(back.at("is_best").data().item(), 1);
  EXPECT_EQ(back.at("note").data().string_value(), "fine-tuned");
}

TEST(Checkpoint, SaveChoiceFuncKeepsSelectedParametersOnly) {
  TempDir dir;
  auto net = mlp();
  cellar::SaveOptions opt;
  opt.choice_func = [](const std::string& n) { return n.starts_with("3."); };
  opt.append_dict = {{"step", int64_t{1}}};  // append_dict is not filtered, as in MindSpore
  cellar::save_checkpoint(net, dir / "net.ckpt", opt);
  EXPECT_EQ(cellar::load_checkpoint(dir / "net.ckpt").keys(),
            (std::vector<std::string>{"3.weight", "3.bias", "step"}));
}

TEST(Checkpoint, SplitTensorsAreJoinedOnLoad) {
  // MindSpore splits tensors over 512 MiB into consecutive Values with the full dims; a small
  // slice size exercises the same path.
  TempDir dir;
  const Tensor big = patterned(DType::Float32, {5, 7}, 3);  // 140 bytes: 9 slices of 16
  const Tensor small = patterned(DType::Int16, {3}, 4);
  {
    cellar::formats::AtomicFile out(dir / "split.ckpt");
    cellar::formats::ckpt::write({{"big", big}, {"small", small}}, out, {}, 16);
    out.commit();
  }
  {
    cellar::formats::AtomicFile out(dir / "whole.ckpt");
    cellar::formats::ckpt::write({{"big", big}, {"small", small}}, out, {});
    out.commit();
  }
  // "big" takes 9 Values of 24 header bytes each (record 2, tag 5, tensor 2, dims 4, type 9,
  // content key and length 2) instead of one of 27 (three lengths need a second varint byte).
  EXPECT_EQ(read_bytes(dir / "split.ckpt").size(),
            read_bytes(dir / "whole.ckpt").size() + 9 * 24 - 27);
  const ParamDict back = cellar::load_checkpoint(dir / "split.ckpt");
  ASSERT_EQ(back.keys(), (std::vector<std::string>{"big", "small"}));
  EXPECT_TRUE(back.at("big").data().equal(big));
  EXPECT_FALSE(back.at("big").data().storage()->is_mapped());  // joined: one heap copy
  EXPECT_TRUE(back.at("small").data().equal(small));
}

TEST(Checkpoint, SafetensorsIsChosenBySaveOptionsAndRecognisedOnLoad) {
  TempDir dir;
  auto net = mlp();
  cellar::SaveOptions opt;
  opt.format = cellar::CheckpointFormat::kSafetensors;
  cellar::save_checkpoint(net, dir / "net.ckpt", opt);  // the name does not decide the format
  const auto bytes = read_bytes(dir / "net.ckpt");
  ASSERT_GT(bytes.size(), 9u);
  EXPECT_EQ(bytes[8], std::byte{'{'});
  const ParamDict back = cellar::load_checkpoint(dir / "net.ckpt");
  auto fresh = mlp();
  auto r = cellar::load_param_into_net(fresh, back);
  EXPECT_TRUE(r.param_not_load.empty());
  EXPECT_TRUE(r.ckpt_not_load.empty());
  for (const auto& [name, p] : net->parameters_and_names())
    EXPECT_TRUE(back.at(name).data().equal(p.data())) << name;
}

// ---- golden bytes ----

TEST(Checkpoint, WritesExactlyMindSporesBytes) {
  TempDir dir;
  ParamDict d;
  d.set("w", Tensor::from_vector<float>({1.0f, -2.0f}, {2}));
  d.set("n", Tensor::scalar<int32_t>(7));
  cellar::SaveOptions opt;
  opt.append_dict = {{"s", std::string("hi")}};
  cellar::save_checkpoint(d, dir / "golden.ckpt", opt);

  // Written out by hand from the wire format: each record is one serialised single-Value
  // Checkpoint message, `0A len Value`, as MindSpore appends them.
  std::vector<std::byte> want;
  // "w": Float32 [2] = {1.0, -2.0}
  append(want, B({0x0A, 0x1A}));       // Checkpoint.value, 26 bytes
  append(want, B({0x0A, 0x01, 'w'}));  //   Value.tag = "w"
  append(want, B({0x12, 0x15}));       //   Value.tensor, 21 bytes
  append(want, B({0x08, 0x02}));       //     dims: 2 (unpacked, as proto2 writes)
  append(want, B({0x12, 0x07}));       //     tensor_type, 7 bytes
  append(want, "Float32");
  append(want, B({0x1A, 0x08}));              //     tensor_content, 8 bytes
  append(want, B({0x00, 0x00, 0x80, 0x3F}));  //       1.0f little-endian
  append(want, B({0x00, 0x00, 0x00, 0xC0}));  //      -2.0f
  // "n": Int32 scalar 7: no dims at all (MindSpore 2.x)
  append(want, B({0x0A, 0x12}));       // Checkpoint.value, 18 bytes
  append(want, B({0x0A, 0x01, 'n'}));  //   Value.tag = "n"
  append(want, B({0x12, 0x0D}));       //   Value.tensor, 13 bytes
  append(want, B({0x12, 0x05}));       //     tensor_type, 5 bytes
  append(want, "Int32");
  append(want, B({0x1A, 0x04, 0x07, 0, 0, 0}));  //     tensor_content: 7
  // "s": the append_dict string "hi": str, dims [0], UTF-32LE
  append(want, B({0x0A, 0x16}));       // Checkpoint.value, 22 bytes
  append(want, B({0x0A, 0x01, 's'}));  //   Value.tag = "s"
  append(want, B({0x12, 0x11}));       //   Value.tensor, 17 bytes
  append(want, B({0x08, 0x00}));       //     dims: 0
  append(want, B({0x12, 0x03}));       //     tensor_type, 3 bytes
  append(want, "str");
  append(want, B({0x1A, 0x08}));                  //     tensor_content, 8 bytes
  append(want, B({'h', 0, 0, 0, 'i', 0, 0, 0}));  //     U+0068 U+0069
  ASSERT_EQ(want.size(), 72u);
  EXPECT_EQ(read_bytes(dir / "golden.ckpt"), want);

  // With crc_check the same bytes are followed by "crc_num" and zlib's CRC-32 of them as a
  // 10-byte big-endian integer: CRC-32 = 0xDE8BEB97 (checked with Python's zlib.crc32).
  opt.crc_check = true;
  cellar::save_checkpoint(d, dir / "golden-crc.ckpt", opt);
  append(want, "crc_num");
  append(want, B({0, 0, 0, 0, 0, 0, 0xDE, 0x8B, 0xEB, 0x97}));
  EXPECT_EQ(read_bytes(dir / "golden-crc.ckpt"), want);
}

// ---- CRC trailer ----

TEST(Checkpoint, CrcTrailerIsWrittenVerifiedAndStripped) {
  TempDir dir;
  auto net = mlp();
  cellar::SaveOptions opt;
  opt.crc_check = true;
  cellar::save_checkpoint(net, dir / "crc.ckpt", opt);
  cellar::save_checkpoint(net, dir / "plain.ckpt");
  const auto bytes = read_bytes(dir / "crc.ckpt");
  const auto plain = read_bytes(dir / "plain.ckpt");
  ASSERT_EQ(bytes.size(), plain.size() + 17);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), bytes.begin()));
  EXPECT_EQ(std::memcmp(bytes.data() + plain.size(), "crc_num", 7), 0);
  const uint32_t crc = crc32_ref(plain);
  const std::byte* t = bytes.data() + plain.size() + 7;
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t[i], std::byte{0});
  EXPECT_EQ(std::to_integer<uint32_t>(t[6]) << 24 | std::to_integer<uint32_t>(t[7]) << 16 |
                std::to_integer<uint32_t>(t[8]) << 8 | std::to_integer<uint32_t>(t[9]),
            crc);

  cellar::LoadOptions check;
  check.crc_check = true;
  const ParamDict verified = cellar::load_checkpoint(dir / "crc.ckpt", check);
  const ParamDict stripped = cellar::load_checkpoint(dir / "crc.ckpt");
  EXPECT_EQ(verified.keys(), stripped.keys());
  EXPECT_EQ(stripped.keys(), cellar::load_checkpoint(dir / "plain.ckpt").keys());

  // One flipped content byte: the CRC catches it when asked; without crc_check it loads.
  auto bad = bytes;
  bad[plain.size() - 1] ^= std::byte{0x40};
  write_bytes(dir / "bad.ckpt", bad);
  EXPECT_NO_THROW(cellar::load_checkpoint(dir / "bad.ckpt"));
  try {
    cellar::load_checkpoint(dir / "bad.ckpt", check);
    FAIL() << "CRC mismatch not detected";
  } catch (const cellar::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.ckpt"), std::string::npos);
    EXPECT_NE(e.reason().find("CRC"), std::string::npos);
  }
  // crc_check on a file without a trailer fails.
  EXPECT_THROW(cellar::load_checkpoint(dir / "plain.ckpt", check), cellar::FormatError);
}

// ---- load options ----

class LoadFilters : public ::testing::Test {
 protected:
  void SetUp() override {
    ParamDict d;
    for (const char* n : {"conv1.weight", "conv2.weight", "fc.weight", "fc.bias", "moments.fc"})
      d.set(n, Tensor::scalar<float>(1.0f));
    cellar::save_checkpoint(d, path());
  }
  std::filesystem::path path() const { return dir_ / "f.ckpt"; }
  std::vector<std::string> keys(const cellar::LoadOptions& o) const {
    return cellar::load_checkpoint(path(), o).keys();
  }
  TempDir dir_;
};

TEST_F(LoadFilters, SpecifyAndFilterPrefixAndChoiceFuncFollowMindSpore) {
  using V = std::vector<std::string>;
  cellar::LoadOptions o;
  o.specify_prefix = {"conv", "fc.b"};
  EXPECT_EQ(keys(o), (V{"conv1.weight", "conv2.weight", "fc.bias"}));
  o.filter_prefix = {"conv2"};
  EXPECT_EQ(keys(o), (V{"conv1.weight", "fc.bias"}));
  o.specify_prefix.clear();
  EXPECT_EQ(keys(o), (V{"conv1.weight", "fc.weight", "fc.bias", "moments.fc"}));
  // choice_func is ignored as soon as a prefix list is given…
  o.choice_func = [](const std::string& n) { return n == "fc.bias"; };
  EXPECT_EQ(keys(o), (V{"conv1.weight", "fc.weight", "fc.bias", "moments.fc"}));
  // …and decides alone otherwise.
  o.filter_prefix.clear();
  EXPECT_EQ(keys(o), (V{"fc.bias"}));
}

TEST_F(LoadFilters, AnEmptyResultIsANotFoundErrorNamingTheFile) {
  cellar::LoadOptions o;
  o.specify_prefix = {"nothing"};
  try {
    cellar::load_checkpoint(path(), o);
    FAIL();
  } catch (const cellar::Error& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("f.ckpt"), std::string::npos);
  }
  o = {};
  o.choice_func = [](const std::string&) { return false; };
  EXPECT_THROW(cellar::load_checkpoint(path(), o), cellar::Error);
}

TEST(Checkpoint, MissingFileIsAnIoError) {
  TempDir dir;
  EXPECT_THROW(cellar::load_checkpoint(dir / "absent.ckpt"), cellar::IoError);
}

// ---- load_param_into_net ----

TEST(LoadParamIntoNet, LoadsEveryParameterOfAFreshNetwork) {
  TempDir dir;
  auto net = mlp();
  cellar::save_checkpoint(net, dir / "m.ckpt");
  auto fresh = mlp();
  const ParamDict d = cellar::load_checkpoint(dir / "m.ckpt");
  auto [param_not_load, ckpt_not_load] = cellar::load_param_into_net(fresh, d);
  EXPECT_TRUE(param_not_load.empty());
  EXPECT_TRUE(ckpt_not_load.empty());
  const auto a = net->parameters_and_names(), b = fresh->parameters_and_names();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.data().equal(b[i].second.data()));
  const Tensor x = cellar::ones({2, 4});
  EXPECT_TRUE((*net)(x).equal((*fresh)(x)));
}

TEST(LoadParamIntoNet, ReportsMissingAndUnusedNames) {
  auto net = mlp();
  ParamDict d;
  d.set("1.weight", patterned(DType::Float32, {3, 4}, 1));
  d.set("extra", Tensor::scalar<float>(1.0f));
  d.set("3.bias", patterned(DType::Float32, {2}, 2));
  auto r = cellar::load_param_into_net(net, d);
  EXPECT_EQ(r.param_not_load, (cellar::NameList{"1.bias", "3.weight"}));
  EXPECT_EQ(r.ckpt_not_load, (cellar::NameList{"extra"}));
  EXPECT_TRUE(net->parameters_and_names()[0].second.data().equal(d.at("1.weight").data()));
}

TEST(LoadParamIntoNet, ShapeMismatchNamesTheParameterAndBothShapesAndChangesNothing) {
  auto net = mlp();
  const Tensor before = net->parameters_and_names()[0].second.data().clone();
  ParamDict d;
  d.set("1.weight", patterned(DType::Float32, {3, 4}, 9));  // fine, but must not be applied
  d.set("3.weight", patterned(DType::Float32, {2, 5}, 1));
  try {
    cellar::load_param_into_net(net, d);
    FAIL();
  } catch (const cellar::ValueError& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kShapeMismatch);
    const std::string m = e.what();
    EXPECT_NE(m.find("3.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("(2, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2, 5)"), std::string::npos) << m;
  }
  EXPECT_TRUE(net->parameters_and_names()[0].second.data().equal(before));
}

TEST(LoadParamIntoNet, ConvertsFloatsAndIntsUnlessStrict) {
  auto net = mlp();
  ParamDict d;
  const Tensor w64 =
      Tensor::from_vector<double>({0.5, -1.25, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  d.set("1.weight", w64);
  d.set("1.bias", Tensor(DType::Float16, {3}));
  auto r = cellar::load_param_into_net(net, d);
  EXPECT_EQ(r.param_not_load, (cellar::NameList{"3.weight", "3.bias"}));
  const Tensor& w = net->parameters_and_names()[0].second.data();
  EXPECT_EQ(w.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(f32_at(w, 1), -1.25f);
  EXPECT_EQ(net->parameters_and_names()[1].second.data().dtype(), DType::Float32);

  try {
    cellar::load_param_into_net(net, d, /*strict_load=*/true);
    FAIL();
  } catch (const cellar::ValueError& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kDTypeMismatch);
    EXPECT_NE(std::string(e.what()).find("1.weight"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Float64"), std::string::npos);
  }
  // Float ↔ int never converts.
  ParamDict ints;
  ints.set("1.bias", Tensor(DType::Int32, {3}));
  EXPECT_THROW(cellar::load_param_into_net(net, ints), cellar::ValueError);
}

class IntCell : public nn::Cell {
 public:
  IntCell() : Cell("IntCell") { steps = register_parameter("steps", Tensor(DType::Int64, {2})); }
  cellar::Value construct(const std::vector<cellar::Value>& in) override { return in.at(0); }
  cellar::Parameter steps;
};

TEST(LoadParamIntoNet, ConvertsSignedIntegersOnly) {
  IntCell cell;
  ParamDict d;
  d.set("steps", Tensor::from_vector<int32_t>({5, -6}, {2}));
  cellar::load_param_into_net(cell, d);
  EXPECT_EQ(cell.steps.data().dtype(), DType::Int64);
  EXPECT_EQ(cell.steps.data().data<int64_t>()[1], -6);
  d.set("steps", Tensor::from_vector<uint32_t>({5, 6}, {2}));  // MindSpore: unsigned never converts
  EXPECT_THROW(cellar::load_param_into_net(cell, d), cellar::ValueError);
}

TEST(LoadParamIntoNet, StripsAWrapperPrefixWhenNotStrict) {
  // A checkpoint saved from a cell that held the network under `backbone` (MindSpore's
  // _load_dismatch_prefix_params).
  auto net = mlp();
  ParamDict d;
  for (const auto& [name, p] : net->parameters_and_names()) d.set("backbone." + name, p.data());
  d.set("global_step", Tensor::scalar<int32_t>(3));
  auto fresh = mlp();
  auto r = cellar::load_param_into_net(fresh, d);
  EXPECT_TRUE(r.param_not_load.empty());
  EXPECT_EQ(r.ckpt_not_load, (cellar::NameList{"global_step"}));
  EXPECT_TRUE(
      fresh->parameters_and_names()[2].second.data().equal(d.at("backbone.3.weight").data()));
  auto strict = mlp();
  EXPECT_EQ(cellar::load_param_into_net(strict, d, true).param_not_load.size(), 4u);
}

// ---- atomic writes ----

TEST(Checkpoint, AFailedSaveLeavesTheTargetUntouchedAndNoTemporaryFile) {
  TempDir dir;
  const auto target = dir / "model.ckpt";
  write_bytes(target, B({1, 2, 3}));
  ParamDict d;
  d.set("ok", patterned(DType::Float32, {1000}, 1));  // written before the failure
  d.set("bad", Tensor::from_string("\xff\xfe not UTF-8"));
  EXPECT_THROW(cellar::save_checkpoint(d, target), cellar::ValueError);
  EXPECT_EQ(read_bytes(target), B({1, 2, 3}));
  EXPECT_EQ(cellar::testing::list_dir(dir.path()), (std::vector<std::string>{"model.ckpt"}));

  d.erase("bad");
  cellar::save_checkpoint(d, target);  // replaces the old file
  EXPECT_EQ(cellar::load_checkpoint(target).keys(), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(cellar::testing::list_dir(dir.path()), (std::vector<std::string>{"model.ckpt"}));
}

TEST(Checkpoint, SavingIntoAMissingFolderIsAnIoError) {
  TempDir dir;
  EXPECT_THROW(cellar::save_checkpoint(mlp(), dir / "no" / "such" / "m.ckpt"), cellar::IoError);
}

TEST(AtomicFile, UncommittedWritesVanish) {
  TempDir dir;
  {
    cellar::formats::AtomicFile f(dir / "x.bin");
    f.write("abc", 3);
    EXPECT_EQ(f.bytes_written(), 3u);
    EXPECT_EQ(cellar::testing::list_dir(dir.path()).size(), 1u);  // the temporary file
  }
  EXPECT_TRUE(cellar::testing::list_dir(dir.path()).empty());
  {
    cellar::formats::AtomicFile f(dir / "x.bin");
    std::vector<char> big(3 << 20, 'z');  // beyond the buffer: written straight through
    f.write("abc", 3);
    f.write(big.data(), big.size());
    f.commit();
  }
  EXPECT_EQ(read_bytes(dir / "x.bin").size(), 3u + (3u << 20));
  EXPECT_EQ(cellar::testing::list_dir(dir.path()), (std::vector<std::string>{"x.bin"}));
}

// Cache::kBypass (the streamed copies' writer): the same bytes as a write through the page cache,
// in any mix of write sizes, with whole 4 MiB buffers of zeros left as holes and the file cut to
// its exact size; written around the page cache (none of it resident right after the commit)
// where the file system takes O_DIRECT; and an uncommitted one leaves nothing behind.
TEST(AtomicFile, BypassingThePageCacheWritesTheSameBytes) {
  using cellar::formats::AtomicFile;
  TempDir dir;
  constexpr size_t kMiB = size_t{1} << 20;
  std::vector<char> dense(5 * kMiB + 777);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : dense) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  const std::vector<char> zeros(9 * kMiB, 0);
  // 3 + 5 MiB + 777 dense, then zeros to past 20 MiB (file bytes [8, 12) and [12, 16) MiB are
  // whole zero buffers), an odd dense tail, and zeros that end the file mid-buffer.
  auto write_all = [&](AtomicFile& f) {
    f.write("abc", 3);
    f.write(dense.data(), dense.size());
    f.write(zeros.data(), zeros.size());
    f.write(zeros.data(), 6 * kMiB);
    f.write(dense.data() + 11, 12345);
    f.write(zeros.data(), 4 * kMiB + 5);
    f.commit();
  };
  {
    AtomicFile keep(dir / "keep.bin");
    write_all(keep);
    AtomicFile bypass(dir / "bypass.bin", AtomicFile::Cache::kBypass);
    write_all(bypass);
    EXPECT_EQ(bypass.bytes_written(), keep.bytes_written());
  }
  const int probe = ::open((dir / "probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
  const bool direct = probe >= 0;
  if (probe >= 0) ::close(probe);
  std::filesystem::remove(dir / "probe");
  const auto size = std::filesystem::file_size(dir / "keep.bin");
  ASSERT_EQ(std::filesystem::file_size(dir / "bypass.bin"), size);
  if (direct) {
    // Not one page of the new file in the page cache (mincore before anything reads it).
    const int fd = ::open((dir / "bypass.bin").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    std::vector<unsigned char> resident((size + 4095) / 4096);
    ASSERT_EQ(::mincore(p, size, resident.data()), 0);
    size_t n = 0;
    for (unsigned char r : resident) n += r & 1;
    EXPECT_EQ(n, 0u) << "pages of the bypassing writer's file in the page cache";
    ::munmap(p, size);
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    ::close(fd);
    // The two whole zero buffers are holes; the rest is written.
    EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, size - 8 * kMiB);
  }
  EXPECT_EQ(read_bytes(dir / "bypass.bin"), read_bytes(dir / "keep.bin"));
  // Abandoned after 20 MiB (writes in flight): the target keeps its old bytes, no temporary file.
  {
    AtomicFile f(dir / "keep.bin", AtomicFile::Cache::kBypass);
    f.write(zeros.data(), zeros.size());
    f.write(dense.data(), dense.size());
    f.write(dense.data(), dense.size());
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "keep.bin"), size);
  EXPECT_EQ(cellar::testing::list_dir(dir.path()),
            (std::vector<std::string>{"bypass.bin", "keep.bin"}));
}

}  // namespace
