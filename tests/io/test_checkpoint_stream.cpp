// copy_checkpoint (cellar/io/stream.h): the streamed copy writes the very bytes an in-memory
// load + save writes, for every layout (.ckpt with split, misaligned and str entries,
// .safetensors, shards, CRC, encryption), and says how many bytes the kernel copied. The
// memory bound on a checkpoint of several GiB is tests/io/test_checkpoint_stream_large.cpp.
#include <cellar/cellar.h>
#include <cellar/io/stream.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "formats/atomic_file.h"
#include "formats/ckpt.h"
#include "io/checkpoint_internal.h"
#include "test_util.h"

namespace {

using cellar::CheckpointFormat;
using cellar::CopyCheckpointOptions;
using cellar::DType;
using cellar::ParamDict;
using cellar::SaveOptions;
using cellar::Shape;
using cellar::Tensor;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
namespace fs = std::filesystem;

Tensor pattern(DType dt, Shape shape, uint32_t seed) {
  Tensor t(dt, std::move(shape));
  auto* p = reinterpret_cast<uint8_t*>(t.raw_data());
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < t.nbytes(); ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = static_cast<uint8_t>(x);
  }
  if (dt == DType::Bool)
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

// Numbers of every width, so that .ckpt content lands misaligned for most of them.
ParamDict numeric() {
  ParamDict d;
  d.set("conv.weight", pattern(DType::Float32, {8, 3, 3, 3}, 1));
  d.set("conv.bias", pattern(DType::Float16, {7}, 2));
  d.set("fc.weight", pattern(DType::BFloat16, {5, 9}, 3));
  d.set("fc.idx", pattern(DType::Int64, {3}, 4));
  d.set("mask", pattern(DType::Bool, {11}, 5));
  d.set("bytes", pattern(DType::UInt8, {1001}, 6));
  d.set("d", pattern(DType::Float64, {2, 2}, 7));
  d.set("step", Tensor::scalar<int64_t>(12));
  d.set("lr", Tensor::scalar<float>(0.5f));
  d.set("empty", Tensor(DType::Float32, {0, 4}));
  return d;
}

// A .ckpt whose tensors over 64 bytes are split into 64-byte Values, as MindSpore splits those
// over 512 MiB, so that the streamed copy meets multi-piece tensors.
void write_split_ckpt(const ParamDict& d, const fs::path& path) {
  cellar::formats::NamedTensors entries;
  for (const auto& [name, p] : d) entries.emplace_back(name, p.data());
  cellar::formats::AtomicFile out(path);
  cellar::formats::ckpt::write(entries, out, {}, 64);
  out.commit();
}

// What the in-memory path writes: load everything, save it.
void reference(const fs::path& src, const fs::path& dst, const SaveOptions& o) {
  cellar::save_checkpoint(cellar::load_checkpoint(src), dst, o);
}

// The tensor bytes that lie at the same offset within a 4 KiB page in `src` as in its copy `dst`
// (a file, or a folder of shards): those the streamed copy hands to the kernel; the others it
// reads into buffers placed for aligned kernel copies (formats/atomic_file.h).
uint64_t bytes_keeping_page_offset(const fs::path& src, const fs::path& dst) {
  cellar::io::Locations in, out;
  const ParamDict a = cellar::io::load_checkpoint_located(src, {}, &in);
  const ParamDict b = cellar::io::load_checkpoint_located(dst, {}, &out);
  uint64_t n = 0;
  for (const auto& [name, p] : b) {
    const auto d = out.find(p.data().storage().get());
    const auto s = in.find(a.at(name).data().storage().get());
    if (d == out.end() || s == in.end()) continue;
    const auto &x = s->second.pieces, &y = d->second.pieces;
    uint64_t i = 0, j = 0, at_x = 0, at_y = 0;  // pieces, and bytes used of the current ones
    while (i < x.size() && j < y.size()) {
      const uint64_t k = std::min(x[i].second - at_x, y[j].second - at_y);
      if ((x[i].first + at_x) % 4096 == (y[j].first + at_y) % 4096) n += k;
      at_x += k;
      at_y += k;
      if (at_x == x[i].second) ++i, at_x = 0;
      if (at_y == y[j].second) ++j, at_y = 0;
    }
  }
  return n;
}

// Whether files in `dir` can be written with O_DIRECT: then a streamed copy writes around the
// page cache (formats/atomic_file.h, Cache::kBypass) and nothing goes by copy_file_range.
bool direct_io_in(const fs::path& dir) {
  const int fd = ::open((dir / "probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  fs::remove(dir / "probe");
  return fd >= 0;
}

void expect_same_files(const fs::path& a, const fs::path& b) {
  const auto x = cellar::testing::list_dir(a), y = cellar::testing::list_dir(b);
  ASSERT_EQ(x, y);
  for (const auto& name : x) EXPECT_EQ(read_bytes(a / name), read_bytes(b / name)) << name;
}

TEST(CopyCheckpoint, WritesTheBytesALoadAndSaveWrites) {
  TempDir dir;
  ParamDict with_text = numeric();
  with_text.set("note", Tensor::from_string("résumé"));
  write_split_ckpt(with_text, dir / "split.ckpt");
  cellar::save_checkpoint(with_text, dir / "plain.ckpt");
  cellar::save_checkpoint(numeric(), dir / "num.safetensors",
                          {.format = CheckpointFormat::kSafetensors});
  write_split_ckpt(numeric(), dir / "num_split.ckpt");

  struct Case {
    std::string src, name;
    CheckpointFormat format;
    bool crc;
    uint64_t shard;
  };
  const std::vector<Case> cases = {
      {"split.ckpt", "a.ckpt", CheckpointFormat::kCkpt, false, 0},
      {"split.ckpt", "b.ckpt", CheckpointFormat::kCkpt, true, 0},
      {"plain.ckpt", "c.ckpt", CheckpointFormat::kCkpt, false, 0},
      {"plain.ckpt", "d.ckpt", CheckpointFormat::kCkpt, true, 200},
      {"num_split.ckpt", "e.safetensors", CheckpointFormat::kSafetensors, false, 0},
      {"num_split.ckpt", "f.safetensors", CheckpointFormat::kSafetensors, true, 0},
      {"num.safetensors", "g.safetensors", CheckpointFormat::kSafetensors, true, 300},
      {"num.safetensors", "h.ckpt", CheckpointFormat::kCkpt, true, 0},
      {"num.safetensors", "i.safetensors", CheckpointFormat::kSafetensors, false, 0},
  };
  bool aligned_somewhere = false, misaligned_somewhere = false;
  const bool bypass = direct_io_in(dir.path());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.src + " -> " + c.name);
    const fs::path got = dir / "got", want = dir / "want";
    fs::create_directories(got);
    fs::create_directories(want);
    const SaveOptions o{.crc_check = c.crc, .format = c.format, .max_shard_size = c.shard};
    reference(dir / c.src, want / c.name, o);
    const auto r = cellar::copy_checkpoint(
        dir / c.src, got / c.name,
        CopyCheckpointOptions{.format = c.format, .max_shard_size = c.shard, .crc_check = c.crc});
    expect_same_files(got, want);
    if (c.shard) {
      EXPECT_GT(cellar::testing::list_dir(got).size(), 2u);  // shards + index
    }
    EXPECT_EQ(r.tensors, cellar::load_checkpoint(dir / c.src).size());
    // Where the output is written around the page cache (O_DIRECT: ext4, xfs, btrfs and tmpfs
    // since Linux 6.6), every byte is read into the writer's buffers. Elsewhere every tensor byte
    // of a located source that keeps its offset within a page is copied by the kernel (where the
    // file system allows copy_file_range), but for a .ckpt with a CRC, whose trailer follows the
    // bytes it covers: those pass through this process. (A safetensors CRC sits in the header:
    // it is computed over the pages first, then the kernel copies.)
    const bool through_pages = bypass || (c.crc && c.format == CheckpointFormat::kCkpt);
    const uint64_t aligned = bytes_keeping_page_offset(dir / c.src, c.shard ? got : got / c.name);
    EXPECT_EQ(r.copied_in_kernel, through_pages ? 0u : aligned);
    aligned_somewhere |= !through_pages && aligned > 0;
    misaligned_somewhere |= !through_pages && aligned < r.tensor_bytes;
    fs::remove_all(got);
    fs::remove_all(want);
  }
  // Both ways were taken: the copy of a .safetensors as it is keeps every offset.
  if (!bypass) {
    EXPECT_TRUE(aligned_somewhere);
    EXPECT_TRUE(misaligned_somewhere);
  }
}

TEST(CopyCheckpoint, ReadsShardsRenamesAndEncrypts) {
  TempDir dir;
  const ParamDict d = numeric();
  fs::create_directories(dir / "in");
  cellar::save_checkpoint(d, dir / "in" / "model.safetensors",
                          {.format = CheckpointFormat::kSafetensors, .max_shard_size = 100});
  ASSERT_GT(cellar::testing::list_dir(dir / "in").size(), 3u);
  CopyCheckpointOptions o;
  o.name_map.add_prefix("net.").drop("^net\\.step$");
  o.enc_key = std::string(16, 'k');
  o.enc_mode = "AES-CBC";
  uint64_t last = 0, total = 0;
  o.progress = [&](uint64_t done, uint64_t all) {
    EXPECT_GE(done, last);
    last = done;
    total = all;
  };
  const auto r =
      cellar::copy_checkpoint(dir / "in" / "model.safetensors.index.json", dir / "out.ckpt", o);
  EXPECT_EQ(r.tensors, d.size() - 1);
  EXPECT_EQ(r.copied_in_kernel, 0u);  // encrypted: every byte went through the cipher
  EXPECT_EQ(last, total);
  EXPECT_EQ(total, r.tensor_bytes);
  cellar::LoadOptions lo;
  lo.dec_key = o.enc_key;
  lo.dec_mode = "AES-CBC";
  const ParamDict back = cellar::load_checkpoint(dir / "out.ckpt", lo);
  ASSERT_EQ(back.size(), d.size() - 1);
  EXPECT_FALSE(back.contains("net.step"));
  for (const auto& [name, p] : d)
    if (name != "step") {
      EXPECT_TRUE(back.at("net." + name).data().equal(p.data())) << name;
    }

  // An encrypted source is decrypted into memory and copied from there.
  const auto r2 =
      cellar::copy_checkpoint(dir / "out.ckpt", dir / "plain.safetensors",
                              CopyCheckpointOptions{.format = CheckpointFormat::kSafetensors}, lo);
  EXPECT_EQ(r2.copied_in_kernel, 0u);
  const ParamDict again = cellar::load_checkpoint(dir / "plain.safetensors");
  for (const auto& [name, p] : back) EXPECT_TRUE(again.at(name).data().equal(p.data())) << name;
}

TEST(CopyCheckpoint, RefusesWhatTheLoaderAndWriterRefuse) {
  TempDir dir;
  ParamDict d = numeric();
  d.set("note", Tensor::from_string("text"));
  cellar::save_checkpoint(d, dir / "t.ckpt");
  // safetensors has no str dtype: refused naming the entry, and nothing is left behind.
  try {
    cellar::copy_checkpoint(dir / "t.ckpt", dir / "t.safetensors",
                            CopyCheckpointOptions{.format = CheckpointFormat::kSafetensors});
    ADD_FAILURE() << "expected an error";
  } catch (const cellar::Error& e) {
    EXPECT_EQ(e.code(), cellar::ErrorCode::kUnsupported);
    EXPECT_EQ(e.tensor(), "note");
  }
  EXPECT_FALSE(fs::exists(dir / "t.safetensors"));
  EXPECT_EQ(cellar::testing::list_dir(dir.path()), std::vector<std::string>{"t.ckpt"});
  // A name map that drops everything.
  CopyCheckpointOptions o;
  o.name_map.drop(".*");
  EXPECT_THROW(cellar::copy_checkpoint(dir / "t.ckpt", dir / "u.ckpt", o), cellar::Error);
  // A truncated source: the loader's FormatError, naming the file.
  auto bytes = read_bytes(dir / "t.ckpt");
  bytes.resize(bytes.size() - 9);
  cellar::testing::write_bytes(dir / "cut.ckpt", bytes);
  try {
    cellar::copy_checkpoint(dir / "cut.ckpt", dir / "v.safetensors");
    ADD_FAILURE() << "expected an error";
  } catch (const cellar::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.ckpt"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "v.safetensors"));
}

}  // namespace
