// StoragePool (src/core/storage_pool.h): small load-time tensors carved from shared 2 MiB blocks,
// each tenant's bytes its own, blocks kept alive by their tenants, and a large tenant's pages
// given back when it goes without touching its neighbours' bytes.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "core/storage_pool.h"
#include "test_util.h"

using namespace cellar;

namespace {

uintptr_t address(const std::shared_ptr<Storage>& s) {
  return reinterpret_cast<uintptr_t>(s->data());
}

void fill(const std::shared_ptr<Storage>& s, unsigned char v) {
  std::memset(s->data(), v, s->nbytes());
}

bool all_equal(const std::shared_ptr<Storage>& s, unsigned char v) {
  const auto* p = reinterpret_cast<const unsigned char*>(s->data());
  return std::all_of(p, p + s->nbytes(), [v](unsigned char b) { return b == v; });
}

// Pages of [p, p + n) resident in this process (mincore).
size_t resident_pages(const std::byte* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(p) + n + page - 1) / page * page;
  std::vector<unsigned char> vec((last - first) / page);
  if (::mincore(reinterpret_cast<void*>(first), last - first, vec.data()) != 0) return SIZE_MAX;
  size_t k = 0;
  for (unsigned char b : vec) k += b & 1;
  return k;
}

}  // namespace

TEST(StoragePool, SmallTenantsShareABlockAlignedAndDisjoint) {
  StoragePool pool(size_t{64} << 20);
  std::vector<std::shared_ptr<Storage>> s;
  for (size_t n : {1u, 7u, 64u, 100u, 4096u, 5000u, 65536u, 300000u}) s.push_back(pool.allocate(n));
  std::vector<std::pair<uintptr_t, size_t>> ranges;
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(address(s[i]) % Storage::kAlignment, 0u) << i;
    EXPECT_FALSE(s[i]->is_mapped());
    EXPECT_FALSE(s[i]->is_pending());
    fill(s[i], static_cast<unsigned char>(i + 1));
    ranges.emplace_back(address(s[i]), s[i]->nbytes());
  }
  // One block: every tenant within 2 MiB of the first, none overlapping another.
  const auto [lo, hi] = std::minmax_element(ranges.begin(), ranges.end());
  EXPECT_LE(hi->first + hi->second - lo->first, StoragePool::kBlockBytes);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    EXPECT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first);
  for (size_t i = 0; i < s.size(); ++i)
    EXPECT_TRUE(all_equal(s[i], static_cast<unsigned char>(i + 1)));
}

TEST(StoragePool, ASmallPoolDoesNotMakeItsFirstBlockResident) {
  // A pool expecting less than a block keeps its first block on 4 KiB pages: a file with one small
  // misaligned tensor must not hold a whole huge page for it.
  StoragePool pool(4096);
  auto a = pool.allocate(1000);
  fill(a, 0x7e);
  const auto block = reinterpret_cast<const std::byte*>(address(a) / StoragePool::kBlockBytes *
                                                        StoragePool::kBlockBytes);
  EXPECT_LE(resident_pages(block, StoragePool::kBlockBytes), 16u);
  EXPECT_TRUE(all_equal(a, 0x7e));
}

TEST(StoragePool, TenantsOutliveThePoolAndLargeRequestsGoElsewhere) {
  std::shared_ptr<Storage> a, big;
  {
    StoragePool pool(size_t{64} << 20);
    a = pool.allocate(1000);
    big = pool.allocate(StoragePool::kMaxPooledBytes + 1);
    EXPECT_EQ(pool.allocate(0)->nbytes(), 0u);
  }
  fill(a, 0x5a);
  fill(big, 0xa5);
  EXPECT_TRUE(all_equal(a, 0x5a));
  EXPECT_TRUE(all_equal(big, 0xa5));
  EXPECT_EQ(big->nbytes(), StoragePool::kMaxPooledBytes + 1);
}

TEST(StoragePool, AFullBlockStartsAnother) {
  StoragePool pool(size_t{64} << 20);
  std::vector<std::shared_ptr<Storage>> s;
  const size_t n = StoragePool::kBlockBytes / 2 + 1;  // two do not fit one block
  for (int i = 0; i < 4; ++i) {
    s.push_back(pool.allocate(n));
    fill(s.back(), static_cast<unsigned char>(0x10 + i));
  }
  std::set<uintptr_t> blocks;
  for (const auto& t : s) blocks.insert(address(t) / StoragePool::kBlockBytes);
  EXPECT_GE(blocks.size(), 2u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(all_equal(s[static_cast<size_t>(i)], 0x10 + i));
}

TEST(StoragePool, CarvesOnFromTheBlockWithMoreRoomLeft) {
  constexpr size_t kMiB = size_t{1} << 20;
  StoragePool pool(size_t{64} << 20);
  auto block_of = [](const std::shared_ptr<Storage>& s) {
    return address(s) / StoragePool::kBlockBytes;
  };
  auto a = pool.allocate(3 * kMiB / 2);  // block A: 0.5 MiB left
  auto b = pool.allocate(kMiB);          // block B: 1 MiB left, more than A's
  auto c = pool.allocate(100 * 1024);
  EXPECT_NE(block_of(a), block_of(b));
  EXPECT_EQ(block_of(c), block_of(b));
  auto d = pool.allocate(19 * kMiB / 10);  // block C: 0.1 MiB left, less than B's
  auto e = pool.allocate(10 * 1024);
  EXPECT_NE(block_of(d), block_of(b));
  EXPECT_EQ(block_of(e), block_of(b));
  int i = 0;
  for (const auto& s : {a, b, c, d, e}) fill(s, static_cast<unsigned char>(++i));
  i = 0;
  for (const auto& s : {a, b, c, d, e}) EXPECT_TRUE(all_equal(s, static_cast<unsigned char>(++i)));
}

TEST(StoragePool, ALargeTenantGivesBackItsPagesAndNotItsNeighbours) {
  StoragePool pool(size_t{64} << 20);
  auto before = pool.allocate(1000);  // shares the first page of the large tenant
  auto large = pool.allocate(512 * 1024);
  auto after = pool.allocate(3000);  // shares its last page
  fill(before, 0x11);
  fill(large, 0x22);
  fill(after, 0x33);
  const std::byte* p = large->data();
  const size_t n = large->nbytes();
  ASSERT_GT(resident_pages(p, n), n / 4096 / 2);
  large.reset();
  // Its whole pages are gone (at most the two it shares stay), its neighbours' bytes are intact.
  EXPECT_LE(resident_pages(p, n), 2u);
  EXPECT_TRUE(all_equal(before, 0x11));
  EXPECT_TRUE(all_equal(after, 0x33));
}

TEST(StoragePool, ConcurrentTenantsAreDisjoint) {
  StoragePool pool(size_t{64} << 20);
  constexpr int kThreads = 4, kEach = 200;
  std::vector<std::vector<std::shared_ptr<Storage>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        got[static_cast<size_t>(t)].push_back(pool.allocate(static_cast<size_t>(100 + 37 * i)));
        fill(got[static_cast<size_t>(t)].back(), static_cast<unsigned char>(t + 1));
      }
    });
  for (auto& th : threads) th.join();
  std::vector<std::pair<uintptr_t, size_t>> ranges;
  for (int t = 0; t < kThreads; ++t)
    for (const auto& s : got[static_cast<size_t>(t)]) {
      EXPECT_TRUE(all_equal(s, static_cast<unsigned char>(t + 1)));
      ranges.emplace_back(address(s), s->nbytes());
    }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    ASSERT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first);
}

TEST(StoragePool, AFilesDeferredCopiesShareItsBlocks) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(64 * 1024 + 11);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i * 13 % 251);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  auto file = MappedFile::open(dir / "f.bin");
  auto a = Storage::deferred_copy(file, {{1, 4000}}, 4000);
  auto b = Storage::deferred_copy(file, {{4001, 60000}}, 60000);
  file.reset();
  const auto* pa = a->data();
  const auto* pb = b->data();
  EXPECT_EQ(std::memcmp(pa, bytes.data() + 1, 4000), 0);
  EXPECT_EQ(std::memcmp(pb, bytes.data() + 4001, 60000), 0);
  const auto da = reinterpret_cast<uintptr_t>(pa), db = reinterpret_cast<uintptr_t>(pb);
  EXPECT_EQ(da / StoragePool::kBlockBytes, db / StoragePool::kBlockBytes);
  a.reset();  // b's bytes stay
  EXPECT_EQ(std::memcmp(pb, bytes.data() + 4001, 60000), 0);
}

// The resident KiB of the mapping that starts at `p` (/proc/self/smaps), or -1.
long mapped_kib(const std::byte* p) {
  std::ifstream smaps("/proc/self/smaps");
  char start[32];
  std::snprintf(start, sizeof start, "%lx-",
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(p)));
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind(start, 0) == 0)
      in = true;
    else if (in && line.rfind("Rss:", 0) == 0)
      return std::stol(line.substr(4));
  }
  return -1;
}

// populate_pages maps a file's pages into the process ahead of a read (nothing read them yet).
TEST(StoragePool, PopulatedPagesOfAFileAreMappedBeforeAnyRead) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(64 * 4096 + 5);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i * 3 % 251);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  auto file = MappedFile::open(dir / "f.bin");
  const std::byte* p = file->data();
  ASSERT_EQ(mapped_kib(p), 0);
  if (!populate_pages(p + 3, bytes.size() - 3))
    GTEST_SKIP() << "this kernel has no MADV_POPULATE_READ";
  EXPECT_EQ(mapped_kib(p), 65 * 4);
  EXPECT_EQ(std::memcmp(p, bytes.data(), bytes.size()), 0);
}

// pending_source: a deferred copy of one piece, not yet made, shows the file's bytes where they lie
// (the optimiser reads a weight there instead of copying it first); none for a copy of several
// pieces, once the copy is made, or for storages that are not deferred copies. A file read into
// memory shows them to the storage's sole holder only: making the copy zeroes them.
TEST(StoragePool, ADeferredCopyShowsItsPieceOfTheFileUntilItIsMade) {
  cellar::testing::TempDir dir;
  std::vector<std::byte> bytes(2 * 4096 + 11);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i * 5 % 251);
  cellar::testing::write_bytes(dir / "f.bin", bytes);
  for (bool mapped : {true, false}) {
    SCOPED_TRACE(mapped ? "mapped" : "read");
    auto file = mapped ? MappedFile::open(dir / "f.bin") : MappedFile::read(dir / "f.bin");
    auto one = Storage::deferred_copy(file, {{5, 4096 + 3}}, 4096 + 3);
    const std::byte* src = StoragePool::pending_source(*one, true);
    ASSERT_EQ(src, file->data() + 5);
    EXPECT_EQ(StoragePool::pending_source(*one, false), mapped ? src : nullptr);
    EXPECT_EQ(std::memcmp(src, bytes.data() + 5, 4096 + 3), 0);
    EXPECT_TRUE(one->is_pending());  // looking does not copy
    const std::byte* copy = one->data();
    EXPECT_NE(copy, src);
    EXPECT_EQ(std::memcmp(copy, bytes.data() + 5, 4096 + 3), 0);
    EXPECT_EQ(StoragePool::pending_source(*one, true), nullptr);
    auto two = Storage::deferred_copy(file, {{1, 8}, {20, 8}}, 16);
    EXPECT_EQ(StoragePool::pending_source(*two, true), nullptr);
    EXPECT_EQ(StoragePool::pending_source(*Storage::view(file, 0, 64), true), nullptr);
  }
  EXPECT_EQ(StoragePool::pending_source(*Storage::allocate(64), true), nullptr);
}
