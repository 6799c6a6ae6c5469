// SaveOptions::align_tensors: .ckpt files whose tensor bytes sit at 64-byte aligned offsets, so
// that every tensor of such a file loads as a view of the mapping (no deferred copies).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "cellar/cellar.h"
#include "test_util.h"

using namespace cellar;

namespace {

ParamDict mixed_model() {
  ParamDict d;
  Generator g(7);
  // Odd sizes and names of every length, so that unaligned positions are the rule.
  d.set("w", ops::uniform(Shape{3, 5}, -1, 1, g));
  d.set("layer.bias_of_an_odd_length", ops::uniform(Shape{7}, -1, 1, g));
  d.set("half", Tensor(DType::Float16, Shape{3}));
  d.set("steps", Tensor::scalar<int64_t>(123456789));
  d.set("flags", Tensor(DType::Bool, Shape{5}));
  d.set("double", Tensor(DType::Float64, Shape{2, 3}));
  d.set("empty", Tensor(DType::Float32, Shape{0, 4}));
  d.set("note", Tensor::from_string("héllo"));
  d.set("big", ops::uniform(Shape{1000, 33}, -1, 1, g));
  return d;
}

}  // namespace

TEST(CheckpointAlign, EveryTensorLandsAlignedAndLoadsAsAView) {
  cellar::testing::TempDir dir;
  const ParamDict d = mixed_model();
  for (bool crc : {false, true}) {
    SCOPED_TRACE(crc ? "crc" : "plain");
    const auto path = dir / (crc ? "crc.ckpt" : "plain.ckpt");
    save_checkpoint(d, path, {.crc_check = crc, .align_tensors = true});
    const ParamDict back = load_checkpoint(path, {.crc_check = crc});
    ASSERT_EQ(back.keys(), d.keys());
    for (const auto& [name, p] : d) {
      SCOPED_TRACE(name);
      const Tensor& t = back.at(name).data();
      EXPECT_TRUE(t.equal(p.data()));
      if (t.nbytes() == 0 || t.dtype() == DType::String) continue;
      EXPECT_TRUE(t.storage()->is_mapped()) << "copied, not viewed";
    }
  }
}

TEST(CheckpointAlign, OffsetsInTheFileAreMultiplesOf64) {
  cellar::testing::TempDir dir;
  const ParamDict d = mixed_model();
  save_checkpoint(d, dir / "a.ckpt", {.align_tensors = true});
  const auto bytes = cellar::testing::read_bytes(dir / "a.ckpt");
  // Find each float32 tensor's bytes in the file: they must start at an aligned offset.
  for (const char* name : {"w", "layer.bias_of_an_odd_length", "big"}) {
    const Tensor& t = d.at(name).data();
    const auto* needle = t.raw_data();
    const auto it = std::search(bytes.begin(), bytes.end(), needle, needle + t.nbytes());
    ASSERT_NE(it, bytes.end()) << name;
    EXPECT_EQ((it - bytes.begin()) % 64, 0) << name;
  }
}

TEST(CheckpointAlign, OffWritesMindSporesBytesAndOnOnlyAddsPadding) {
  cellar::testing::TempDir dir;
  const ParamDict d = mixed_model();
  save_checkpoint(d, dir / "plain.ckpt");
  save_checkpoint(d, dir / "aligned.ckpt", {.align_tensors = true});
  const auto plain = cellar::testing::read_bytes(dir / "plain.ckpt");
  const auto aligned = cellar::testing::read_bytes(dir / "aligned.ckpt");
  EXPECT_GT(aligned.size(), plain.size());
  EXPECT_LE(aligned.size(), plain.size() + d.size() * (64 + 3 + 2));
  // Same tensors either way; the CLI-visible contents do not change.
  const ParamDict a = load_checkpoint(dir / "plain.ckpt"),
                  b = load_checkpoint(dir / "aligned.ckpt");
  for (const auto& [name, p] : a) EXPECT_TRUE(b.at(name).data().equal(p.data())) << name;
}

TEST(CheckpointAlign, EncryptedAlignedFilesRoundTrip) {
  cellar::testing::TempDir dir;
  const ParamDict d = mixed_model();
  const std::string key(16, '\x5a');
  for (const char* mode : {"AES-GCM", "AES-CBC", "SM4-CBC"}) {
    SCOPED_TRACE(mode);
    save_checkpoint(d, dir / "e.ckpt", {.enc_key = key, .enc_mode = mode, .align_tensors = true});
    const ParamDict back = load_checkpoint(dir / "e.ckpt", {.dec_key = key, .dec_mode = mode});
    for (const auto& [name, p] : d) EXPECT_TRUE(back.at(name).data().equal(p.data())) << name;
  }
}
