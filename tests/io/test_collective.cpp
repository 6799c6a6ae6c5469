// save_checkpoint_collective (cellar/io/collective.h) with ranks played by threads over an
// in-process Communicator: the same protocol the MPI test (tests/mpi/) runs across processes, here
// where the sanitizers see it. Each test checks what every rank returns or throws and what is on
// disk afterwards.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cellar/cellar.h"
#include "cellar/io/collective.h"
#include "expect_error.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::list_dir;
using cellar::testing::TempDir;
using cellar::testing::write_string;
namespace fs = std::filesystem;

namespace {

// n threads meeting at all_gather: the last to arrive publishes everyone's bytes.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(static_cast<size_t>(n)) {}
  std::vector<std::string> all_gather(int rank, const std::string& mine) {
    std::unique_lock lock(m_);
    slots_[static_cast<size_t>(rank)] = mine;
    if (++arrived_ == n_) {
      result_ = slots_;
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return result_;
    }
    const uint64_t g = generation_;
    cv_.wait(lock, [&] { return generation_ != g; });
    return result_;
  }
  int size() const { return n_; }

 private:
  int n_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  std::vector<std::string> slots_, result_;
};

class ThreadComm final : public Communicator {
 public:
  ThreadComm(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_.size(); }
  std::vector<std::string> all_gather(const std::string& mine) override {
    return g_.all_gather(rank_, mine);
  }

 private:
  ThreadGroup& g_;
  int rank_;
};

// What one rank's call did: the index it returned, or the error it threw.
struct Outcome {
  fs::path index;
  bool threw = false;
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;
};

// Runs `n` ranks; rank r saves params(r) to path(r) with options(r).
std::vector<Outcome> run_ranks(int n, const std::function<ParamDict(int)>& params,
                               const std::function<fs::path(int)>& path,
                               const std::function<SaveOptions(int)>& options) {
  ThreadGroup group(n);
  std::vector<Outcome> out(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      ThreadComm comm(group, r);
      Outcome& o = out[static_cast<size_t>(r)];
      try {
        o.index = save_checkpoint_collective(params(r), path(r), comm, options(r));
      } catch (const Error& e) {
        o.threw = true;
        o.code = e.code();
        o.message = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return out;
}

// Rank r's tensors: r + 1 of them, named by rank, distinct values; rank 3 of 4 holds none.
ParamDict rank_params(int r, int ranks) {
  ParamDict d;
  if (ranks == 4 && r == 3) return d;
  for (int i = 0; i <= r; ++i) {
    std::vector<float> v(64);
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(r * 1000 + i * 100) + k;
    d.set("rank" + std::to_string(r) + ".w" + std::to_string(i),
          Tensor::from_vector(v, Shape{8, 8}));
  }
  return d;
}

class Collective : public ::testing::TestWithParam<const char*> {
 protected:
  std::string ext() const { return GetParam(); }
  SaveOptions options() const {
    SaveOptions o;
    o.format = ext() == ".safetensors" ? CheckpointFormat::kSafetensors : CheckpointFormat::kCkpt;
    return o;
  }
  TempDir dir;
  fs::path target() const { return dir.path() / ("model" + ext()); }
};

TEST_P(Collective, EveryRankWritesItsShardAndRankZeroTheIndexLast) {
  const auto outcomes = run_ranks(
      4, [](int r) { return rank_params(r, 4); }, [&](int) { return target(); },
      [&](int) { return options(); });
  for (const auto& o : outcomes) {
    ASSERT_FALSE(o.threw) << o.message;
    EXPECT_EQ(o.index, fs::path(target().string() + ".index.json"));
  }
  // Three ranks hold tensors: three shards, numbered in rank order.
  EXPECT_EQ(
      list_dir(dir.path()),
      (std::vector<std::string>{"model-00001-of-00003" + ext(), "model-00002-of-00003" + ext(),
                                "model-00003-of-00003" + ext(), "model" + ext() + ".index.json"}));
  const ParamDict all = load_checkpoint(outcomes[0].index);
  EXPECT_EQ(all.size(), 6u);
  for (int r = 0; r < 4; ++r)
    for (const auto& [name, p] : rank_params(r, 4))
      EXPECT_TRUE(all.at(name).data().equal(p.data())) << name;
  // Each shard is a checkpoint of its own, holding exactly its rank's tensors.
  EXPECT_EQ(load_checkpoint(dir.path() / ("model-00002-of-00003" + ext())).size(), 2u);
}

TEST_P(Collective, ARankLoadsItsPartFromItsOwnShardAlone) {
  run_ranks(
      4, [](int r) { return rank_params(r, 4); }, [&](int) { return target(); },
      [&](int) { return options(); });
  // Ruin rank 0's and rank 2's shards: rank 1's part still loads, since only its shard is read.
  write_string(dir.path() / ("model-00001-of-00003" + ext()), "garbage");
  write_string(dir.path() / ("model-00003-of-00003" + ext()), "garbage");
  LoadOptions mine;
  mine.specify_prefix = {"rank1."};
  const ParamDict part = load_checkpoint(target().string() + ".index.json", mine);
  EXPECT_EQ(part.size(), 2u);
  EXPECT_TRUE(part.at("rank1.w1").data().equal(rank_params(1, 4).at("rank1.w1").data()));
  // The whole checkpoint does read them, and says which is broken.
  cellar::testing::expect_error([&] { load_checkpoint(target().string() + ".index.json"); },
                                ErrorCode::kFormat);
}

TEST_P(Collective, ANameOnTwoRanksIsRefusedByEveryRankBeforeAnythingIsWritten) {
  const auto outcomes = run_ranks(
      3,
      [](int r) {
        ParamDict d = rank_params(r, 3);
        if (r == 2) d.set("rank0.w0", Tensor::scalar<float>(1));
        return d;
      },
      [&](int) { return target(); }, [&](int) { return options(); });
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.threw);
    EXPECT_EQ(o.code, ErrorCode::kInvalidArgument);
    EXPECT_NE(o.message.find("'rank0.w0' is held by rank 0 and rank 2"), std::string::npos)
        << o.message;
  }
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST_P(Collective, RanksGivingDifferentPathsOrShardingOptionsAreRefused) {
  auto outcomes = run_ranks(
      2, [](int r) { return rank_params(r, 2); },
      [&](int r) { return r == 0 ? target() : dir.path() / ("other" + ext()); },
      [&](int) { return options(); });
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.threw);
    EXPECT_NE(o.message.find("rank 1 saves to"), std::string::npos) << o.message;
  }
  outcomes = run_ranks(
      2, [](int r) { return rank_params(r, 2); }, [&](int) { return target(); },
      [&](int r) {
        SaveOptions o = options();
        if (r == 1) o.max_shard_size = 1024;
        return o;
      });
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.threw);
    EXPECT_NE(o.message.find("max_shard_size"), std::string::npos) << o.message;
  }
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST_P(Collective, ARankThatCannotWriteFailsEveryRankAndLeavesNoIndex) {
  // An earlier, complete collective save at the same path.
  run_ranks(
      2, [](int r) { return rank_params(r, 2); }, [&](int) { return target(); },
      [&](int) { return options(); });
  ASSERT_TRUE(fs::exists(target().string() + ".index.json"));
  // Now rank 2's shard name is a folder: its write fails, the other ranks' succeed.
  fs::create_directory(dir.path() / ("model-00003-of-00003" + ext()));
  const auto outcomes = run_ranks(
      3, [](int r) { return rank_params(r, 3); }, [&](int) { return target(); },
      [&](int) { return options(); });
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.threw);
    EXPECT_EQ(o.code, ErrorCode::kIo) << o.message;
    EXPECT_NE(o.message.find("while writing the shards"), std::string::npos) << o.message;
    EXPECT_NE(o.message.find("rank 2:"), std::string::npos) << o.message;
    EXPECT_EQ(o.message.find("rank 0:"), std::string::npos) << o.message;
  }
  // The earlier index went before any shard was replaced, and no new one was written: nothing
  // names a mix of old and new shards.
  EXPECT_FALSE(fs::exists(target().string() + ".index.json"));
}

TEST_P(Collective, ASaveWithFewerRanksRemovesTheEarlierShards) {
  run_ranks(
      4, [](int r) { return rank_params(r, 4); }, [&](int) { return target(); },
      [&](int) { return options(); });
  run_ranks(
      2, [](int r) { return rank_params(r, 2); }, [&](int) { return target(); },
      [&](int) { return options(); });
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"model-00001-of-00002" + ext(),
                                                            "model-00002-of-00002" + ext(),
                                                            "model" + ext() + ".index.json"}));
  EXPECT_EQ(load_checkpoint(dir.path()).size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Formats, Collective, ::testing::Values(".safetensors", ".ckpt"),
                         [](const auto& p) { return std::string(p.param + 1); });

TEST(CollectiveAlone, OneRankIsAShardedCheckpointOfOneShard) {
  TempDir dir;
  const auto outcomes = run_ranks(
      1, [](int r) { return rank_params(r + 2, 4); },
      [&](int) { return dir.path() / "m.safetensors"; },
      [](int) {
        SaveOptions o;
        o.format = CheckpointFormat::kSafetensors;
        return o;
      });
  ASSERT_FALSE(outcomes[0].threw) << outcomes[0].message;
  EXPECT_EQ(load_checkpoint(outcomes[0].index).size(), 3u);
  // No rank with a tensor: refused.
  const auto none = run_ranks(
      2, [](int) { return ParamDict(); }, [&](int) { return dir.path() / "e.safetensors"; },
      [](int) { return SaveOptions(); });
  for (const auto& o : none) EXPECT_NE(o.message.find("no rank holds a tensor"), std::string::npos);
}

}  // namespace
