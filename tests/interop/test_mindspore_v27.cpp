// Files written by MindSpore 2.7.0, an older MindSpore than the 2.10 of the other fixture folders
// (tests/fixtures/mindspore/2.7, written by make_fixtures_v27.py there, which runs the 2.10
// folders' own scripts into that folder). Checkpoints must read exactly — every dtype, CRC,
// choice_func, append_dict, async_save, safetensors, every encryption mode and key length —
// and MindIR networks (MLP, two-output tuple net, LeNet-5, resnet18 at width 4, the op-group
// nets, exact GELU, encrypted and external-data MindIR) must run in cellar's GraphCell within
// 1e-5 of MindSpore 2.7's outputs; cellar's own LeNet-5 and resnet18 load 2.7's checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "mindspore_variant_specs.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::expect_same;
using cellar::testing::max_abs_diff;
using cellar::testing::Order;
using cellar::testing::read_bytes;

namespace {
namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures";
const fs::path kV27 = kFixtures / "mindspore/2.7";

// The tensor entries `want` (of the variants specs) plus the append_dict values of APPEND.
ParamDict with_append(ParamDict d, bool with_strings = true) {
  for (const auto& [k, v] : cellar::testing::variants::append(with_strings)) {
    std::visit(
        [&, key = k](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>)
            d.set(key, Tensor::scalar<int64_t>(x));
          else if constexpr (std::is_same_v<T, double>)
            d.set(key, Tensor::scalar<float>(static_cast<float>(x)));
          else if constexpr (std::is_same_v<T, bool>)
            d.set(key, Tensor::scalar<bool>(x));
          else
            d.set(key, Tensor::from_string(x));
        },
        v);
  }
  return d;
}

}  // namespace

TEST(MindSpore27, VersionIsRecorded) {
  const auto v = read_bytes(kV27 / "VERSION");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data()), 16), "mindspore 2.7.0\n");
}

// ---- checkpoints ----

TEST(MindSpore27Checkpoints, EveryVariantReadsExactly) {
  using namespace cellar::testing::variants;
  const fs::path dir = kV27 / "variants";
  LoadOptions crc;
  crc.crc_check = true;
  expect_same(load_checkpoint(dir / "all_dtypes.ckpt"), entries());
  expect_same(load_checkpoint(dir / "all_dtypes_crc.ckpt", crc), entries());
  expect_same(load_checkpoint(dir / "choice.ckpt"), entries(true, true));
  expect_same(load_checkpoint(dir / "append.ckpt"), with_append(entries()));
  expect_same(load_checkpoint(dir / "append_crc.ckpt", crc), with_append(entries()));
  expect_same(load_checkpoint(dir / "async.ckpt"), entries(false));
  for (const auto& [f, mode] : {std::pair{"append_gcm.ckpt", "AES-GCM"},
                                std::pair{"append_cbc.ckpt", "AES-CBC"},
                                std::pair{"append_sm4.ckpt", "SM4-CBC"}}) {
    SCOPED_TRACE(f);
    LoadOptions o;
    o.dec_key = "cellar-aes-key16";  // KEYS[16] of mindspore_variants/make_fixtures.py
    o.dec_mode = mode;
    expect_same(load_checkpoint(dir / f, o), with_append(entries()));
  }
  expect_same(load_checkpoint(dir / "all_dtypes.safetensors"), entries(false), Order::kAny);
  expect_same(load_checkpoint(dir / "all_dtypes_crc.safetensors", crc), entries(false), Order::kAny);
  expect_same(load_checkpoint(dir / "choice.safetensors"), entries(false, true), Order::kAny);
  expect_same(load_checkpoint(dir / "append.safetensors"), with_append(entries(false), false), Order::kAny);
}

TEST(MindSpore27Checkpoints, BFloat16InSafetensorsAndAsyncSave) {
  // 2.10 (with its numpy) cannot put bfloat16 into safetensors or async_save; 2.7 can. cellar
  // reads those files exactly, and writes the very same bytes for the same entries, so that 2.7
  // reads cellar's bfloat16 safetensors as it reads its own.
  using namespace cellar::testing::variants;
  const fs::path dir = kV27 / "variants";
  expect_same(load_checkpoint(dir / "bf16_async.ckpt"), entries());
  expect_same(load_checkpoint(dir / "bf16.safetensors"), entries(), Order::kAny);
  expect_same(load_checkpoint(dir / "bf16_choice.safetensors"), entries(true, true), Order::kAny);
  expect_same(load_checkpoint(dir / "bf16_append.safetensors"), with_append(entries(), false), Order::kAny);
  EXPECT_EQ(load_checkpoint(dir / "bf16.safetensors").at("t.bfloat16").data().dtype(),
            DType::BFloat16);

  cellar::testing::TempDir tmp;
  SaveOptions st;
  st.format = CheckpointFormat::kSafetensors;
  SaveOptions st_choice = st;
  st_choice.choice_func = [](const std::string& n) { return n.rfind("u.", 0) != 0; };
  SaveOptions st_app = st;
  st_app.append_dict = append(false);
  SaveOptions async;
  async.async_save = true;
  for (const auto& [f, o] : {std::pair{"bf16.safetensors", st},
                             std::pair{"bf16_choice.safetensors", st_choice},
                             std::pair{"bf16_append.safetensors", st_app},
                             std::pair{"bf16_async.ckpt", async}}) {
    SCOPED_TRACE(f);
    save_checkpoint(entries(), tmp / f, o).get();
    EXPECT_EQ(read_bytes(tmp / f), read_bytes(dir / f));
  }
}

TEST(MindSpore27Checkpoints, UnencryptedFilesAreByteForByteThoseOfMindSpore210) {
  // What the versions have in common, shown: 2.7 and 2.10 write the same bytes for the same
  // entries (only the encrypted files differ, by their random IVs), so that cellar's writer,
  // checked byte for byte against 2.10 in test_mindspore_variants, writes 2.7's format too.
  for (const char* f : {"all_dtypes.ckpt", "all_dtypes_crc.ckpt", "choice.ckpt", "append.ckpt",
                        "append_crc.ckpt", "async.ckpt", "all_dtypes.safetensors",
                        "all_dtypes_crc.safetensors", "choice.safetensors", "append.safetensors"}) {
    SCOPED_TRACE(f);
    const auto ours = read_bytes(kV27 / "variants" / f);
    const auto theirs = read_bytes(kFixtures / "mindspore/2.10/variants" / f);
    if (std::string(f) == "all_dtypes_crc.safetensors") {
      // The metadata is a HashMap in both: "crc_num" and "format" come in either order, from run
      // to run. Same size, and every byte after the metadata object (its first '}') the same.
      ASSERT_EQ(ours.size(), theirs.size());
      const auto end = std::find(ours.begin(), ours.end(), std::byte{'}'}) - ours.begin();
      EXPECT_TRUE(std::equal(ours.begin() + end, ours.end(), theirs.begin() + end));
      continue;
    }
    EXPECT_EQ(ours, theirs);
  }
  EXPECT_EQ(read_bytes(kV27 / "enc/plain.ckpt"),
            read_bytes(kFixtures / "mindspore/2.10/enc/plain.ckpt"));
}

TEST(MindSpore27Checkpoints, EveryEncryptionModeAndKeyLength) {
  // entries() of mindspore_enc/make_fixtures.py.
  ParamDict want;
  std::vector<float> w(24);
  for (int i = 0; i < 24; ++i) w[i] = static_cast<float>(i - 12) / 8;
  want.set("conv.weight", Tensor::from_vector<float>(w, {2, 3, 2, 2}));
  want.set("conv.bias", Tensor::from_vector<float>({0.25f, -0.5f}, {2}));
  std::vector<float> fc(12);
  for (int i = 0; i < 12; ++i) fc[i] = static_cast<float>(i);
  want.set("fc.weight", Tensor::from_vector<float>(fc, {3, 4}).to(DType::Float16));
  want.set("step", Tensor::from_vector<int64_t>({123456789}, {1}));

  const fs::path dir = kV27 / "enc";
  expect_same(load_checkpoint(dir / "plain.ckpt"), want);
  const std::map<int, std::string> keys = {{16, "cellar-aes-key16"},
                                           {24, "cellar-aes-key-24-bytes!"},
                                           {32, "cellar-aes-key-32-bytes-long-ok!"}};
  struct Case {
    std::string file, mode;
    int key;
  };
  std::vector<Case> cases;
  for (int n : {16, 24, 32}) {
    cases.push_back({"gcm" + std::to_string(n) + ".ckpt", "AES-GCM", n});
    cases.push_back({"cbc" + std::to_string(n) + ".ckpt", "AES-CBC", n});
  }
  cases.push_back({"sm4.ckpt", "SM4-CBC", 16});
  // enc_key with crc_check=True: the crc_num trailer after the ciphertext, which MindSpore 2.7
  // (like 2.10) then refuses to load itself; cellar drops the trailer.
  cases.push_back({"gcm16_crc.ckpt", "AES-GCM", 16});
  cases.push_back({"cbc16_crc.ckpt", "AES-CBC", 16});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    LoadOptions o;
    o.dec_key = keys.at(c.key);
    o.dec_mode = c.mode;
    expect_same(load_checkpoint(dir / c.file, o), want);
  }
}

// MindIR networks, encrypted and external-data MindIR, and cellar's models on 2.7's checkpoints:
// MindSporeVersion (test_mindspore.cpp), for every version.
