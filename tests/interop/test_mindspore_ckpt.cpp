// Checkpoints written by MindSpore 2.10 (tests/fixtures/mindspore/2.10/ckpt/make_ckpt_fixtures.py): cellar
// reads every dtype exactly, and writes the very same bytes for the same entries.
#include <gtest/gtest.h>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;

namespace {
std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/ckpt" / name;
}

Tensor bf16(std::vector<float> v) {
  Tensor t = Tensor::from_vector<float>(v, Shape{static_cast<int64_t>(v.size())});
  return t.to(DType::BFloat16);
}

// The entries make_ckpt_fixtures.py saves, built in C++.
ParamDict entries() {
  ParamDict d;
  d.set("w.f32", Tensor::from_vector<float>({0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3}));
  d.set("b.f16", Tensor::from_vector<float>({1.5f, -2.0f, 65504.0f}, {3}).to(DType::Float16));
  d.set("c.f64", Tensor::from_vector<double>({0.1, -0.2}, {2, 1}));
  d.set("i.i64", Tensor::from_vector<int64_t>({1, -2, 3, int64_t{1} << 40}, {4}));
  d.set("i.i32", Tensor::from_vector<int32_t>({7}, {1}));
  d.set("i.i8", Tensor::from_vector<int8_t>({-128, 127}, {2}));
  d.set("u.u8", Tensor::from_vector<uint8_t>({0, 255}, {2}));
  d.set("m.bool", Tensor::from_vector<bool>({true, false, true}, {3}));
  d.set("s.scalar", Tensor::scalar<float>(0.5f));
  d.set("bf.bf16", bf16({1.0f, -3.0f}));
  return d;
}
}  // namespace

TEST(MindSporeCkpt, ReadsEveryDTypeMindSporeWrote) {
  cellar::testing::expect_same(load_checkpoint(fixture("dtypes.ckpt")), entries());
}

TEST(MindSporeCkpt, WritesTheSameBytesAsMindSpore) {
  TempDir dir;
  save_checkpoint(entries(), dir / "dtypes.ckpt");
  EXPECT_EQ(read_bytes(dir / "dtypes.ckpt"), read_bytes(fixture("dtypes.ckpt")));
}

TEST(MindSporeCkpt, CrcTrailerMatchesMindSpore) {
  ParamDict two;
  int i = 0;
  for (const auto& [name, p] : entries())
    if (i++ < 2) two.set(name, p.data());
  TempDir dir;
  save_checkpoint(two, dir / "crc.ckpt", {.crc_check = true});
  EXPECT_EQ(read_bytes(dir / "crc.ckpt"), read_bytes(fixture("crc.ckpt")));
  ParamDict back = load_checkpoint(fixture("crc.ckpt"), {.crc_check = true});
  EXPECT_EQ(back.keys(), (std::vector<std::string>{"w.f32", "b.f16"}));
}

TEST(MindSporeCkpt, AppendDictMatchesMindSpore) {
  ParamDict one;
  one.set("w.f32", entries().at("w.f32").data());
  TempDir dir;
  SaveOptions opt;
  opt.append_dict = {{"epoch_num", int64_t{5}}, {"lr", 0.01}, {"flag", true}, {"note", std::string("héllo")}};
  save_checkpoint(one, dir / "append.ckpt", opt);
  EXPECT_EQ(read_bytes(dir / "append.ckpt"), read_bytes(fixture("append.ckpt")));
  ParamDict back = load_checkpoint(fixture("append.ckpt"));
  EXPECT_EQ(back.at("epoch_num").data().dtype(), DType::Int64);
  EXPECT_EQ(back.at("epoch_num").data().shape(), Shape{});
  EXPECT_EQ(back.at("epoch_num").data().item(), 5);
  EXPECT_EQ(back.at("lr").data().dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(static_cast<float>(back.at("lr").data().item()), 0.01f);
  EXPECT_EQ(back.at("flag").data().dtype(), DType::Bool);
  EXPECT_EQ(back.at("note").data().string_value(), "héllo");
}
