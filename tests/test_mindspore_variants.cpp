// Every variant of checkpoint MindSpore 2.10's save_checkpoint writes
// (tests/fixtures/mindspore_variants/make_fixtures.py, with tests/fixtures/mindspore,
// mindspore_enc and safetensors for the rest): cellar reads each one with exact contents, and
// where MindSpore's output is deterministic (everything but encryption's random IVs) cellar
// writes the very same bytes for the same entries and options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "formats/safetensors.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore_variants" / name;
}

// values() of make_fixtures.py, per dtype.
template <class T>
Tensor ints(Shape shape) {
  const int64_t n = shape.numel();
  std::vector<T> v(static_cast<size_t>(n));
  if (shape.rank() == 0) return Tensor::scalar<T>(T(42));
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_unsigned_v<T>)
      v[i] = i == n - 1 ? std::numeric_limits<T>::max() : T(i * 3);
    else
      v[i] = i == 0       ? std::numeric_limits<T>::min()
             : i == n - 1 ? std::numeric_limits<T>::max()
                          : T(i - 1);
  }
  return Tensor::from_vector<T>(v, shape);
}
Tensor floats(DType t, Shape shape) {
  const int64_t n = shape.rank() ? shape.numel() : 1;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i - n / 2) / 4;
  return Tensor::from_vector<double>(v, shape).to(t);
}
Tensor bools(Shape shape) {
  const int64_t n = shape.rank() ? shape.numel() : 1;
  std::vector<bool> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i % 3 == 0;
  return Tensor::from_vector<bool>(v, shape);
}
Tensor bf16(Shape shape) {
  const int64_t n = shape.numel();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - 1.5f) * 2;
  return Tensor::from_vector<float>(v, shape).to(DType::BFloat16);
}

// SPECS of make_fixtures.py. `bf16` false: without t.bfloat16 (MindSpore's safetensors writer
// and async_save cannot save it).
ParamDict entries(bool with_bf16 = true, bool choice = false) {
  ParamDict d;
  d.set("t.int8", ints<int8_t>({2, 3}));
  d.set("t.uint8", ints<uint8_t>({4}));
  d.set("t.int16", ints<int16_t>({3}));
  d.set("t.uint16", ints<uint16_t>({3}));
  d.set("t.int32", ints<int32_t>({2, 2}));
  d.set("t.uint32", ints<uint32_t>({2}));
  d.set("t.int64", ints<int64_t>({3}));
  d.set("t.uint64", ints<uint64_t>({2}));
  d.set("t.float16", floats(DType::Float16, {2, 2}));
  d.set("t.float32", floats(DType::Float32, {2, 1, 3}));
  d.set("t.float64", floats(DType::Float64, {3}));
  d.set("t.bool", bools({5}));
  if (with_bf16) d.set("t.bfloat16", bf16({4}));
  d.set("s.float32", floats(DType::Float32, {}));
  d.set("s.int64", ints<int64_t>({}));
  d.set("s.bool", bools({}));
  if (!choice) d.set("u.big", floats(DType::Float32, {1, 2, 2, 2}));
  return d;
}

bool choice(const std::string& name) { return name.rfind("u.", 0) != 0; }

// APPEND of make_fixtures.py.
std::vector<std::pair<std::string, AppendValue>> append(bool with_strings = true) {
  std::vector<std::pair<std::string, AppendValue>> a = {
      {"epoch_num", int64_t{7}}, {"neg", int64_t{-3}}, {"big", int64_t{1} << 40},
      {"lr", 0.125},             {"tiny", -1e-30},     {"flag", true},
      {"off", false}};
  if (with_strings) {
    a.push_back({"note", std::string("héllo, 世界 ✓")});
    a.push_back({"empty", std::string()});
  }
  return a;
}

void expect_tensors(const ParamDict& got, const ParamDict& want) {
  for (const auto& [name, p] : want) {
    ASSERT_TRUE(got.contains(name)) << name;
    const Tensor& g = got.at(name).data();
    EXPECT_EQ(g.dtype(), p.data().dtype()) << name;
    EXPECT_EQ(g.shape(), p.data().shape()) << name;
    EXPECT_TRUE(g.equal(p.data())) << name;
  }
}

void expect_append(const ParamDict& got, bool with_strings = true) {
  EXPECT_EQ(got.at("epoch_num").data().dtype(), DType::Int64);
  EXPECT_EQ(got.at("epoch_num").data().shape(), Shape{});
  EXPECT_EQ(got.at("epoch_num").data().item(), 7);
  EXPECT_EQ(got.at("neg").data().item(), -3);
  EXPECT_EQ(got.at("big").data().data<int64_t>()[0], int64_t{1} << 40);
  EXPECT_EQ(got.at("lr").data().dtype(), DType::Float32);
  EXPECT_EQ(got.at("lr").data().item(), 0.125);
  EXPECT_EQ(got.at("tiny").data().data<float>()[0], static_cast<float>(-1e-30));
  EXPECT_EQ(got.at("flag").data().dtype(), DType::Bool);
  EXPECT_EQ(got.at("flag").data().item(), 1);
  EXPECT_EQ(got.at("off").data().item(), 0);
  if (with_strings) {
    EXPECT_EQ(got.at("note").data().dtype(), DType::String);
    EXPECT_EQ(got.at("note").data().string_value(), "héllo, 世界 ✓");
    EXPECT_EQ(got.at("empty").data().string_value(), "");
  }
}

std::vector<std::string> names(const ParamDict& d) { return d.keys(); }

}  // namespace

TEST(MindSporeVariants, ReadsEveryDTypeAndScalar) {
  const ParamDict got = load_checkpoint(fixture("all_dtypes.ckpt"));
  EXPECT_EQ(names(got), names(entries()));
  expect_tensors(got, entries());
}

TEST(MindSporeVariants, ReadsAndVerifiesTheCrcForm) {
  const ParamDict got = load_checkpoint(fixture("all_dtypes_crc.ckpt"), {.crc_check = true});
  EXPECT_EQ(names(got), names(entries()));
  expect_tensors(got, entries());
}

TEST(MindSporeVariants, ReadsChoiceFuncOutput) {
  const ParamDict got = load_checkpoint(fixture("choice.ckpt"));
  EXPECT_EQ(names(got), names(entries(true, true)));
  expect_tensors(got, entries(true, true));
}

TEST(MindSporeVariants, ReadsAppendDictOfEveryType) {
  for (const char* f : {"append.ckpt", "append_crc.ckpt"}) {
    SCOPED_TRACE(f);
    const ParamDict got = load_checkpoint(fixture(f), {.crc_check = std::string(f) != "append.ckpt"});
    EXPECT_EQ(got.size(), entries().size() + append().size());
    expect_tensors(got, entries());
    expect_append(got);
  }
}

TEST(MindSporeVariants, ReadsAppendDictInsideEachEncryptionMode) {
  for (const auto& [f, mode] : {std::pair{"append_gcm.ckpt", "AES-GCM"},
                                std::pair{"append_cbc.ckpt", "AES-CBC"},
                                std::pair{"append_sm4.ckpt", "SM4-CBC"}}) {
    SCOPED_TRACE(f);
    LoadOptions o;
    o.dec_key = "cellar-aes-key16";  // KEYS[16] of make_fixtures.py
    o.dec_mode = mode;
    const ParamDict got = load_checkpoint(fixture(f), o);
    EXPECT_EQ(got.size(), entries().size() + append().size());
    expect_tensors(got, entries());
    expect_append(got);
    // The same plaintext as the unencrypted file: cellar's own save of it is byte-identical.
    EXPECT_EQ(names(got), names(load_checkpoint(fixture("append.ckpt"))));
  }
}

TEST(MindSporeVariants, ReadsAsyncSaveOutput) {
  const ParamDict got = load_checkpoint(fixture("async.ckpt"));
  EXPECT_EQ(names(got), names(entries(false)));
  expect_tensors(got, entries(false));
}

TEST(MindSporeVariants, ReadsSafetensorsVariants) {
  LoadOptions crc;
  crc.crc_check = true;
  const ParamDict plain = load_checkpoint(fixture("all_dtypes.safetensors"));
  EXPECT_EQ(plain.size(), entries(false).size());
  expect_tensors(plain, entries(false));
  expect_tensors(load_checkpoint(fixture("all_dtypes_crc.safetensors"), crc), entries(false));
  const ParamDict chosen = load_checkpoint(fixture("choice.safetensors"));
  EXPECT_EQ(chosen.size(), entries(false, true).size());
  expect_tensors(chosen, entries(false, true));
  const ParamDict app = load_checkpoint(fixture("append.safetensors"));
  EXPECT_EQ(app.size(), entries(false).size() + append(false).size());
  expect_tensors(app, entries(false));
  expect_append(app, false);
}

// The reverse direction where MindSpore's bytes are deterministic: cellar writes them exactly.
TEST(MindSporeVariants, WritesTheSameBytesAsMindSpore) {
  TempDir dir;
  struct Case {
    const char* fixture;
    ParamDict params;
    SaveOptions options;
  };
  SaveOptions crc;
  crc.crc_check = true;
  SaveOptions chooser;
  chooser.choice_func = choice;
  SaveOptions app;
  app.append_dict = append();
  SaveOptions app_crc = app;
  app_crc.crc_check = true;
  SaveOptions async;
  async.async_save = true;
  SaveOptions st;
  st.format = CheckpointFormat::kSafetensors;
  SaveOptions st_crc = st;
  st_crc.crc_check = true;
  SaveOptions st_choice = st;
  st_choice.choice_func = choice;
  SaveOptions st_app = st;
  st_app.append_dict = append(false);
  const std::vector<Case> cases = {
      {"all_dtypes.ckpt", entries(), {}},
      {"all_dtypes_crc.ckpt", entries(), crc},
      {"choice.ckpt", entries(), chooser},
      {"append.ckpt", entries(), app},
      {"append_crc.ckpt", entries(), app_crc},
      {"async.ckpt", entries(false), async},
      {"all_dtypes.safetensors", entries(false), st},
      {"all_dtypes_crc.safetensors", entries(false), st_crc},
      {"choice.safetensors", entries(false), st_choice},
      {"append.safetensors", entries(false), st_app},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    const auto out = dir / c.fixture;
    save_checkpoint(c.params, out, c.options).get();
    const auto ours = read_bytes(out), theirs = read_bytes(fixture(c.fixture));
    if (std::string(c.fixture) == "all_dtypes_crc.safetensors") {
      // MindSpore's metadata is a HashMap: "crc_num" and "format" come in either order. The
      // value and every other byte are deterministic.
      const auto a = formats::safetensors::parse_header(ours, "ours");
      const auto b = formats::safetensors::parse_header(theirs, "theirs");
      ASSERT_TRUE(b.metadata_value("crc_num").has_value());
      EXPECT_EQ(a.metadata_value("crc_num"), b.metadata_value("crc_num"));
      ASSERT_EQ(ours.size(), theirs.size());
      // Everything after the metadata object (which closes at the first '}') is the same.
      const auto meta_end = std::find(ours.begin(), ours.end(), std::byte{'}'}) - ours.begin();
      EXPECT_TRUE(std::equal(ours.begin() + meta_end, ours.end(), theirs.begin() + meta_end));
      continue;
    }
    EXPECT_EQ(ours, theirs);
  }
}
