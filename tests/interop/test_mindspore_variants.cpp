// Every variant of checkpoint MindSpore 2.10's save_checkpoint writes
// (tests/fixtures/mindspore/2.10/variants/make_fixtures.py, with tests/fixtures/mindspore,
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
#include "mindspore_variant_specs.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using namespace cellar::testing::variants;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/variants" / name;
}

bool choice(const std::string& name) { return name.rfind("u.", 0) != 0; }

void expect_tensors(const ParamDict& got, const ParamDict& want) {
  for (const auto& [name, p] : want) {
    ASSERT_TRUE(got.contains(name)) << name;
    cellar::testing::expect_same(got.at(name).data(), p.data(), name);
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
