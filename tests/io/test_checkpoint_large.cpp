// Checkpoints at sizes that break 32-bit code: a tensor over 512 MiB is split into same-tag
// Values of exactly 512 MiB (MindSpore's rule for a Parameter: serialization.py,
// _write_parameter_bytes_data) and joined on load, and a file over 4 GiB in both formats.
//
// Cheap by construction: the big tensors view one buffer of untouched anonymous memory (zero
// pages: no resident memory), AtomicFile punches their zero runs out (a sparse file: no disk
// I/O, only the copy of 8 GiB into the page cache, which the punches drop), and the readers
// touch only the pages of the record headers, of the split tensor (joined: one 512 MiB copy) and
// of a small patterned tensor placed after 4 GiB. About 4 s on an idle 2-core machine, longer
// when busy, hence CTest label `large` (./dev test runs it); skipped loudly when the temp folder
// has less than 10 GiB free.
#include <cellar/cellar.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <iostream>

#include "test_util.h"

namespace {

using cellar::CheckpointFormat;
using cellar::DType;
using cellar::ParamDict;
using cellar::Shape;
using cellar::Storage;
using cellar::Tensor;
using cellar::testing::TempDir;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kSlice = 512 * kMiB;

bool enough_disk(const fs::path& dir) {
  std::error_code ec;
  const auto space = fs::space(dir, ec);
  return !ec && space.available >= 10 * 1024 * kMiB;
}

// `n` zero bytes in heap memory that is never written: for sizes this large the allocator maps
// fresh anonymous pages, which read as the kernel's zero page and cost no resident memory. Checked
// (reading zero pages is cheap); if the allocator ever hands out dirty memory, it is cleared.
std::shared_ptr<Storage> zero_storage(size_t n) {
  auto st = Storage::allocate(n, /*zero=*/false);
  const char* p = reinterpret_cast<const char*>(st->data());
  if (!(p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0)) std::memset(st->data(), 0, n);
  return st;
}

uint64_t varint(const std::byte* p, uint64_t& pos) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = std::to_integer<uint64_t>(p[pos++]);
    v |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

// (tag, content bytes) of every Value of a .ckpt, walking the records without touching content.
std::vector<std::pair<std::string, uint64_t>> ckpt_values(const fs::path& path) {
  auto file = cellar::MappedFile::open(path);
  const std::byte* p = file->data();
  std::vector<std::pair<std::string, uint64_t>> out;
  uint64_t pos = 0;
  while (pos < file->size()) {
    EXPECT_EQ(p[pos], std::byte{0x0A});
    ++pos;
    const uint64_t value_len = varint(p, pos);
    const uint64_t value_end = pos + value_len;
    std::string tag;
    uint64_t content = 0;
    while (pos < value_end) {
      const auto key = std::to_integer<uint8_t>(p[pos++]);
      const uint64_t len = varint(p, pos);
      if (key == 0x0A) {
        tag.assign(reinterpret_cast<const char*>(p + pos), len);
        pos += len;
      } else {  // 0x12: the tensor; find its content length
        const uint64_t tensor_end = pos + len;
        while (pos < tensor_end) {
          const auto k = std::to_integer<uint8_t>(p[pos++]);
          if (k == 0x08) {
            varint(p, pos);
          } else {
            const uint64_t n = varint(p, pos);
            if (k == 0x1A) content = n;
            pos += n;
          }
        }
      }
    }
    out.emplace_back(tag, content);
  }
  return out;
}

TEST(CheckpointLarge, SplitsOver512MiBAndWritesAndReadsFilesOver4GiB) {
  TempDir dir;
  if (!enough_disk(dir.path()))
    GTEST_SKIP() << "LARGE-FILE TEST NOT RUN: less than 10 GiB free in " << dir.path();
  const auto t0 = std::chrono::steady_clock::now();
  auto zeros = zero_storage(kSlice + kMiB);
  ParamDict params;
  // Over 512 MiB: MindSpore writes Values of 512 MiB, 512 MiB and the rest, with the full dims.
  params.set("split", Tensor(DType::UInt8, Shape{int64_t(kSlice + 1000)}, zeros));
  // Exactly 512 MiB: one Value.
  for (int i = 0; i < 7; ++i)
    params.set("w" + std::to_string(i), Tensor(DType::UInt8, Shape{512, 1024, 1024}, zeros));
  // After 4.5 GiB of data, in both formats (safetensors orders by dtype, then name): offsets
  // beyond 32 bits.
  params.set("z_tail", Tensor::from_vector<uint8_t>({1, 2, 3, 250}, {2, 2}));

  for (auto format : {CheckpointFormat::kCkpt, CheckpointFormat::kSafetensors}) {
    const bool ckpt = format == CheckpointFormat::kCkpt;
    SCOPED_TRACE(ckpt ? "ckpt" : "safetensors");
    const fs::path path = dir / (ckpt ? "big.ckpt" : "big.safetensors");
    cellar::save_checkpoint(params, path, {.format = format});
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_GT(uint64_t(st.st_size), 8 * kSlice);  // over 4 GiB
    EXPECT_LT(uint64_t(st.st_blocks) * 512, 64 * kMiB) << "expected a sparse file";

    if (ckpt) {
      const auto values = ckpt_values(path);
      ASSERT_EQ(values.size(), 10u);  // split ×2, w0..w6, z_tail
      EXPECT_EQ(values[0], (std::pair<std::string, uint64_t>{"split", kSlice}));
      EXPECT_EQ(values[1], (std::pair<std::string, uint64_t>{"split", 1000}));
      EXPECT_EQ(values[2], (std::pair<std::string, uint64_t>{"w0", kSlice}));
      EXPECT_EQ(values[9], (std::pair<std::string, uint64_t>{"z_tail", 4}));
    }

    // Load only what the test reads: the split tensor is joined (one 512 MiB copy); the rest
    // are views of the mapped file.
    const ParamDict back = cellar::load_checkpoint(path);
    ASSERT_EQ(back.size(), params.size());
    const Tensor& split = back.at("split").data();
    EXPECT_EQ(split.shape(), Shape{int64_t(kSlice + 1000)});
    EXPECT_EQ(split.raw_data()[kSlice + 999], std::byte{0});
    EXPECT_EQ(back.at("w6").data().shape(), (Shape{512, 1024, 1024}));
    EXPECT_TRUE(back.at("w6").data().storage()->is_mapped());
    EXPECT_TRUE(back.at("z_tail").data().equal(params.at("z_tail").data()));
    std::error_code ec;
    fs::remove(path, ec);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "[ info ] wrote and read a 4 GiB + 1 KiB .ckpt and .safetensors in " << s << " s\n";
}

TEST(CheckpointLarge, ZeroRunsBecomeHolesAndReadBackAsZeros) {
  TempDir dir;
  ParamDict params;
  Tensor t(DType::Float32, {8, 1024, 1024});  // 32 MiB, zeros except a few marks
  t.data<float>()[0] = 1.f;
  t.data<float>()[5 * 256 * 1024 + 7] = 2.f;
  t.data<float>()[8 * 1024 * 1024 - 1] = 3.f;
  params.set("t", t);
  params.set("z", Tensor(DType::Int64, {3, 1024, 1024}));  // 24 MiB of zeros, last in the file
  cellar::save_checkpoint(params, dir / "s.ckpt");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "s.ckpt").c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 8 * kMiB);  // 3 MiB of data blocks at most
  const ParamDict back = cellar::load_checkpoint(dir / "s.ckpt");
  EXPECT_TRUE(back.at("t").data().equal(t));
  EXPECT_TRUE(back.at("z").data().equal(params.at("z").data()));
  EXPECT_EQ(uint64_t(st.st_size), cellar::testing::read_bytes(dir / "s.ckpt").size());
}

}  // namespace
