// MindSpore's distributed checkpoints (cellar/io/distributed.h) against the files MindSpore 2.10
// wrote (tests/fixtures/mindspore/2.10/distributed, README.md there): merge, reshard and slice
// give byte for byte MindSpore's own transform_checkpoints output; hostile inputs are refused
// with errors naming the file, the parameter and the reason.
#include <cellar/cellar.h>
#include <cellar/io/distributed.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace {

using cellar::ParallelStrategy;
using cellar::ParamDict;
using cellar::Tensor;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/distributed";

// Runs `f` and returns the cellar::Error it throws (fails when it throws none).
template <class F>
cellar::Error error_of(F&& f) {
  try {
    f();
  } catch (const cellar::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a cellar::Error";
  return cellar::Error(cellar::ErrorCode::kInvalidArgument, "no error was thrown", {});
}

bool mentions(const cellar::Error& e, const std::string& s) {
  return std::string(e.what()).find(s) != std::string::npos;
}

// A copy of the fixture's ranks of strategy A, to break.
fs::path copy_ranks(const TempDir& dir) {
  fs::copy(kDir / "a", dir / "a", fs::copy_options::recursive);
  return dir / "a";
}

TEST(Distributed, ReadsMindSporesStrategyFile) {
  const ParallelStrategy s = cellar::load_strategy(kDir / "strategy_a.ckpt");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s.at("fc1.weight").dev_matrix, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.at("fc1.weight").tensor_map, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(s.at("fc2.weight").tensor_map, (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(s.at("emb").devices(), 4);
  EXPECT_EQ(cellar::rank_checkpoints(kDir / "a").size(), 4u);
}

TEST(Distributed, MergeIsMindSporesTransformCheckpoints) {
  TempDir dir;
  const ParamDict merged = cellar::merge_checkpoints(kDir / "strategy_a.ckpt", kDir / "a");
  const ParamDict want = cellar::load_checkpoint(kDir / "merged/rank_0/merged0.ckpt");
  ASSERT_EQ(merged.keys(), want.keys());
  for (const auto& [name, p] : want) EXPECT_TRUE(merged.at(name).data().equal(p.data())) << name;
  // And so is the file saved from it.
  cellar::save_checkpoint(merged, dir / "m.ckpt");
  EXPECT_EQ(read_bytes(dir / "m.ckpt"), read_bytes(kDir / "merged/rank_0/merged0.ckpt"));
  // The whole parameters are MindSpore's own full checkpoint.
  const ParamDict full = cellar::load_checkpoint(kDir / "full/rank_0/full.ckpt");
  for (const auto& [name, p] : full) EXPECT_TRUE(merged.at(name).data().equal(p.data())) << name;
}

TEST(Distributed, StreamedMergeWritesWhatTheInMemoryMergeSaves) {
  TempDir dir;
  const ParamDict merged = cellar::merge_checkpoints(kDir / "strategy_a.ckpt", kDir / "a");
  const std::vector<cellar::SaveOptions> options = {
      {},
      {.crc_check = true},
      {.format = cellar::CheckpointFormat::kSafetensors},
      {.crc_check = true, .format = cellar::CheckpointFormat::kSafetensors},
      {.format = cellar::CheckpointFormat::kSafetensors, .max_shard_size = 100},
  };
  for (size_t i = 0; i < options.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string ext =
        options[i].format == cellar::CheckpointFormat::kCkpt ? ".ckpt" : ".safetensors";
    const fs::path got = dir / ("got" + std::to_string(i)),
                   want = dir / ("want" + std::to_string(i));
    fs::create_directories(got);
    fs::create_directories(want);
    cellar::merge_checkpoints_to_file(kDir / "strategy_a.ckpt", kDir / "a", got / ("m" + ext),
                                      options[i]);
    cellar::save_checkpoint(merged, want / ("m" + ext), options[i]);
    const auto names = cellar::testing::list_dir(want);
    ASSERT_EQ(cellar::testing::list_dir(got), names);
    for (const auto& n : names) EXPECT_EQ(read_bytes(got / n), read_bytes(want / n)) << n;
  }
  EXPECT_EQ(read_bytes(dir / "got0/m.ckpt"), read_bytes(kDir / "merged/rank_0/merged0.ckpt"));
}

TEST(Distributed, ReshardAndSliceAreMindSpores) {
  TempDir dir;
  const auto b = cellar::reshard_checkpoints(kDir / "a", kDir / "strategy_a.ckpt", dir / "b",
                                             kDir / "strategy_b.ckpt", "b");
  ASSERT_EQ(b.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    const std::string rel = "b/rank_" + std::to_string(k) + "/b" + std::to_string(k) + ".ckpt";
    EXPECT_EQ(b[k], dir / rel);
    EXPECT_EQ(read_bytes(dir / rel), read_bytes(kDir / rel)) << rel;
  }
  // The whole checkpoint cut for strategy A: MindSpore's transform_checkpoints(full, None, A).
  const auto a =
      cellar::reshard_checkpoints(kDir / "full", {}, dir / "a", kDir / "strategy_a.ckpt", "a");
  ASSERT_EQ(a.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const std::string rel = "a/rank_" + std::to_string(k) + "/a" + std::to_string(k) + ".ckpt";
    EXPECT_EQ(read_bytes(dir / rel), read_bytes(kDir / rel)) << rel;
  }
  // B's ranks merge back to the whole.
  cellar::reshard_checkpoints(dir / "b", kDir / "strategy_b.ckpt", dir / "whole", {}, "m");
  EXPECT_EQ(read_bytes(dir / "whole/rank_0/m0.ckpt"),
            read_bytes(kDir / "merged/rank_0/merged0.ckpt"));
}

TEST(Distributed, RefusesMissingExtraAndDisagreeingRanks) {
  const fs::path strategy = kDir / "strategy_a.ckpt";
  {  // a rank missing
    TempDir dir;
    const fs::path a = copy_ranks(dir);
    fs::remove_all(a / "rank_2");
    const auto e = error_of([&] { cellar::merge_checkpoints(strategy, a); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kNotFound);
    EXPECT_TRUE(mentions(e, "rank_2 is missing")) << e.what();
  }
  {  // the last rank missing: the strategy says 4 devices
    TempDir dir;
    const fs::path a = copy_ranks(dir);
    fs::remove_all(a / "rank_3");
    const auto e = error_of([&] { cellar::merge_checkpoints(strategy, a); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kInvalidArgument);
    EXPECT_TRUE(mentions(e, "over 4 devices") && mentions(e, "3 rank checkpoints")) << e.what();
  }
  {  // a slice of another shape
    TempDir dir;
    const fs::path a = copy_ranks(dir);
    ParamDict r1 = cellar::load_checkpoint(a / "rank_1/a1.ckpt");
    ParamDict bad;
    for (const auto& [name, p] : r1)
      bad.set(name,
              name == "fc1.weight" ? Tensor(cellar::DType::Float32, {4, 2}) : p.data().clone());
    r1 = ParamDict();
    cellar::save_checkpoint(bad, a / "rank_1/a1.ckpt");
    const auto e = error_of([&] { cellar::merge_checkpoints(strategy, a); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat);
    EXPECT_EQ(e.tensor(), "fc1.weight");
    EXPECT_TRUE(mentions(e, "a1.ckpt") && mentions(e, "(4, 2)")) << e.what();
  }
  {  // replicas that differ (emb is replicated over all four ranks)
    TempDir dir;
    const fs::path a = copy_ranks(dir);
    ParamDict r3 = cellar::load_checkpoint(a / "rank_3/a3.ckpt");
    ParamDict bad;
    for (const auto& [name, p] : r3) {
      Tensor t = p.data().clone();
      if (name == "emb") t.data<int32_t>()[4] += 1;
      bad.set(name, t);
    }
    r3 = ParamDict();
    cellar::save_checkpoint(bad, a / "rank_3/a3.ckpt");
    const auto e = error_of([&] { cellar::merge_checkpoints(strategy, a); });
    EXPECT_EQ(e.tensor(), "emb");
    EXPECT_TRUE(mentions(e, "differs from rank 0")) << e.what();
    // The streamed merge and reshard compare replicas on another thread while they write: the
    // same error, before any file is committed (a target there keeps its bytes, no temporary
    // file is left behind).
    const std::vector<std::byte> old = {std::byte{'o'}, std::byte{'l'}, std::byte{'d'}};
    cellar::testing::write_bytes(dir / "m.ckpt", old);
    const auto streamed =
        error_of([&] { cellar::merge_checkpoints_to_file(strategy, a, dir / "m.ckpt"); });
    EXPECT_EQ(streamed.tensor(), "emb");
    EXPECT_TRUE(mentions(streamed, "differs from rank 0") && mentions(streamed, "a3.ckpt"))
        << streamed.what();
    EXPECT_EQ(read_bytes(dir / "m.ckpt"), old);
    const auto resharded = error_of([&] {
      cellar::reshard_checkpoints(a, strategy, dir / "b", kDir / "strategy_b.ckpt", "b");
    });
    EXPECT_EQ(resharded.tensor(), "emb");
    EXPECT_TRUE(mentions(resharded, "differs from rank 0")) << resharded.what();
    EXPECT_TRUE(cellar::testing::list_dir(dir / "b/rank_0").empty());
    const auto names = cellar::testing::list_dir(dir.path());
    EXPECT_EQ(std::count_if(names.begin(), names.end(),
                            [](const std::string& n) { return n.find(".tmp-") != n.npos; }),
              0);
  }
  {  // a parameter missing from one rank
    TempDir dir;
    const fs::path a = copy_ranks(dir);
    ParamDict r2 = cellar::load_checkpoint(a / "rank_2/a2.ckpt");
    ParamDict bad;
    for (const auto& [name, p] : r2)
      if (name != "scale") bad.set(name, p.data().clone());
    r2 = ParamDict();
    cellar::save_checkpoint(bad, a / "rank_2/a2.ckpt");
    const auto e = error_of([&] { cellar::merge_checkpoints(strategy, a); });
    EXPECT_EQ(e.tensor(), "scale");
    EXPECT_TRUE(mentions(e, "a2.ckpt")) << e.what();
  }
}

TEST(Distributed, RefusesBadStrategies) {
  TempDir dir;
  {  // not a strategy file: truncated, and a checkpoint instead
    auto bytes = read_bytes(kDir / "strategy_a.ckpt");
    bytes.resize(bytes.size() / 2);
    cellar::testing::write_bytes(dir / "cut.ckpt", bytes);
    for (const fs::path& p : {dir / "cut.ckpt", kDir / "full/rank_0/full.ckpt"}) {
      const auto e = error_of([&] { cellar::load_strategy(p); });
      EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat) << p;
      EXPECT_TRUE(mentions(e, "not a MindSpore parallel strategy file")) << e.what();
    }
  }
  const ParamDict full = cellar::load_checkpoint(kDir / "full/rank_0/full.ckpt");
  ParallelStrategy s = cellar::load_strategy(kDir / "strategy_a.ckpt");
  {  // a dimension that does not split evenly: emb is (5, 3)
    ParallelStrategy t = s;
    t.at("emb").tensor_map = {1, -1};
    const auto e = error_of([&] { cellar::slice_checkpoint(full, t, 0); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kShapeMismatch);
    EXPECT_EQ(e.tensor(), "emb");
    EXPECT_TRUE(mentions(e, "does not split evenly into 2")) << e.what();
  }
  {  // a tensor map for another rank
    ParallelStrategy t = s;
    t.at("fc1.bias").tensor_map = {1, 0};
    const auto e = error_of([&] { cellar::slice_checkpoint(full, t, 0); });
    EXPECT_EQ(e.tensor(), "fc1.bias");
    EXPECT_TRUE(mentions(e, "has 2 entries but the tensor has rank 1")) << e.what();
  }
  {  // optimizer parallelism over a layout that replicates on no axis: nothing to shard over
    ParallelStrategy t = s;
    t.at("fc2.weight").opt_weight_shard_step = 1;
    t.at("fc2.weight").opt_weight_shard_size = 2;
    const auto e = error_of([&] { cellar::slice_checkpoint(full, t, 0); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat);
    EXPECT_EQ(e.tensor(), "fc2.weight");
    EXPECT_TRUE(mentions(e, "opt_weight_shard_size 2") && mentions(e, "no device axis"))
        << e.what();
  }
  {  // more optimizer shards than replicas (fc1.bias is replicated on 2 devices)
    ParallelStrategy t = s;
    t.at("fc1.bias").opt_weight_shard_step = 1;
    t.at("fc1.bias").opt_weight_shard_size = 4;
    const auto e = error_of([&] { cellar::slice_checkpoint(full, t, 0); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat);
    EXPECT_EQ(e.tensor(), "fc1.bias");
    EXPECT_TRUE(mentions(e, "more devices than the parameter is replicated on")) << e.what();
  }
  {  // and for merging: the ranks' slices are read by the same layouts
    ParallelStrategy t = s;
    t.at("fc1.bias").opt_weight_shard_step = 1;
    t.at("fc1.bias").opt_weight_shard_size = 3;
    const auto e = error_of([&] { cellar::merge_checkpoints(t, kDir / "a"); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kFormat);
    EXPECT_EQ(e.tensor(), "fc1.bias");
    EXPECT_TRUE(mentions(e, "a0.ckpt") && mentions(e, "opt_weight_shard_size 3")) << e.what();
  }
  {  // slices of rank 1 alone cannot tile: two ranks for a four-device layout
    std::vector<ParamDict> ranks = {cellar::load_checkpoint(kDir / "a/rank_0/a0.ckpt"),
                                    cellar::load_checkpoint(kDir / "a/rank_1/a1.ckpt")};
    const auto e = error_of([&] { cellar::merge_checkpoints(s, ranks); });
    EXPECT_EQ(e.code(), cellar::ErrorCode::kInvalidArgument);
  }
}

// Optimizer parallelism (opt_weight_shard_size > 1): the ranks' slices are cut further along
// dimension 0 over the axes a layout replicates on; MindSpore's transform_checkpoints wrote every
// file here (make_more_fixtures.py), cellar must reproduce them.
TEST(Distributed, OptimizerParallelLayoutsAreMindSpores) {
  TempDir dir;
  const fs::path so = kDir / "strategy_opt.ckpt";
  const ParallelStrategy s = cellar::load_strategy(so);
  EXPECT_EQ(s.at("fc1.weight").opt_weight_shard_size, 2);
  EXPECT_EQ(s.at("fc1.weight").opt_weight_shard_step, 2);
  const auto want_merged = read_bytes(kDir / "opt_merged/rank_0/opt_merged0.ckpt");
  cellar::merge_checkpoints_to_file(so, kDir / "opt", dir / "m.ckpt");
  EXPECT_EQ(read_bytes(dir / "m.ckpt"), want_merged);
  cellar::save_checkpoint(cellar::merge_checkpoints(so, kDir / "opt"), dir / "m2.ckpt");
  EXPECT_EQ(read_bytes(dir / "m2.ckpt"), want_merged);
  // The whole parameters are the full checkpoint's.
  const ParamDict merged = cellar::load_checkpoint(dir / "m.ckpt");
  for (const auto& [name, p] : cellar::load_checkpoint(kDir / "full/rank_0/full.ckpt"))
    EXPECT_TRUE(merged.at(name).data().equal(p.data())) << name;
  const auto same_ranks = [&](const std::vector<fs::path>& got, const std::string& want,
                              const std::string& prefix, int n) {
    ASSERT_EQ(got.size(), static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) {
      const std::string rel =
          "rank_" + std::to_string(k) + "/" + prefix + std::to_string(k) + ".ckpt";
      EXPECT_EQ(read_bytes(got[k]), read_bytes(kDir / want / rel)) << want << "/" << rel;
    }
  };
  // Out of optimizer shards (to strategy B), into them (from A, and from the whole).
  same_ranks(
      cellar::reshard_checkpoints(kDir / "opt", so, dir / "ob", kDir / "strategy_b.ckpt", "opt_b"),
      "opt_b", "opt_b", 2);
  same_ranks(
      cellar::reshard_checkpoints(kDir / "a", kDir / "strategy_a.ckpt", dir / "ao", so, "a_opt"),
      "a_opt", "a_opt", 4);
  same_ranks(cellar::reshard_checkpoints(kDir / "full", {}, dir / "o", so, "opt"), "opt", "opt", 4);
  // slice_checkpoint cuts the same slices.
  const ParamDict full = cellar::load_checkpoint(kDir / "full/rank_0/full.ckpt");
  for (int64_t r = 0; r < 4; ++r) {
    const ParamDict got = cellar::slice_checkpoint(full, s, r);
    const std::string rel = "opt/rank_" + std::to_string(r) + "/opt" + std::to_string(r) + ".ckpt";
    for (const auto& [name, p] : cellar::load_checkpoint(kDir / rel))
      EXPECT_TRUE(got.at(name).data().equal(p.data())) << rel << " " << name;
  }
}

// reshard_checkpoints writes each rank straight from the source files: the same bytes as saving
// slice_checkpoint(merge_checkpoints(…)), for both formats.
TEST(Distributed, StreamedReshardWritesWhatTheInMemoryReshardSaves) {
  TempDir dir;
  const ParamDict whole = cellar::merge_checkpoints(kDir / "strategy_a.ckpt", kDir / "a");
  const ParallelStrategy b = cellar::load_strategy(kDir / "strategy_b.ckpt");
  for (const auto format :
       {cellar::CheckpointFormat::kCkpt, cellar::CheckpointFormat::kSafetensors}) {
    const std::string ext = format == cellar::CheckpointFormat::kCkpt ? ".ckpt" : ".safetensors";
    const auto files =
        cellar::reshard_checkpoints(kDir / "a", kDir / "strategy_a.ckpt", dir / ("b" + ext),
                                    kDir / "strategy_b.ckpt", "b", format);
    ASSERT_EQ(files.size(), 2u);
    for (int64_t r = 0; r < 2; ++r) {
      const fs::path want = dir / ("want" + std::to_string(r) + ext);
      cellar::save_checkpoint(cellar::slice_checkpoint(whole, b, r), want, {.format = format});
      EXPECT_EQ(read_bytes(files[static_cast<size_t>(r)]), read_bytes(want)) << ext << " " << r;
    }
  }
  // A strategy cellar writes is the strategy read back.
  cellar::save_strategy(b, dir / "strategy.ckpt");
  const ParallelStrategy back = cellar::load_strategy(dir / "strategy.ckpt");
  ASSERT_EQ(back.size(), b.size());
  for (const auto& [name, l] : b) {
    EXPECT_EQ(back.at(name).dev_matrix, l.dev_matrix) << name;
    EXPECT_EQ(back.at(name).tensor_map, l.tensor_map) << name;
  }
}

// unified_safetensors: MindSpore's own output for 4 safetensors ranks (make_more_fixtures.py),
// byte for byte: part0.safetensors (every listed parameter whole), param_name_map.json and
// hyper_param.safetensors (global_step, in no strategy, and rank 0's slice of accu_grads.*).
TEST(Distributed, UnifiedSafetensorsIsMindSpores) {
  TempDir dir;
  const auto files =
      cellar::unified_safetensors(kDir / "strategy_u.ckpt", kDir / "u", dir / "unified");
  ASSERT_EQ(files.size(), 3u);
  for (const char* name : {"part0.safetensors", "param_name_map.json", "hyper_param.safetensors"})
    EXPECT_EQ(read_bytes(dir / "unified" / name), read_bytes(kDir / "unified" / name)) << name;
  EXPECT_EQ(files[0], dir / "unified/part0.safetensors");

  // Smaller parts: MindSpore's split (largest first, each into the emptiest part). Sizes:
  // fc1.weight 192, fc2.weight 128, emb 60, fc1.bias 32, scale 16, step 8 bytes (436); parts of
  // 150 bytes: ceil(436 / 150) = 3 → {fc1.weight}, {fc2.weight}, {emb, fc1.bias, scale, step}.
  const auto parts =
      cellar::unified_safetensors(kDir / "strategy_u.ckpt", kDir / "u", dir / "small", 150);
  ASSERT_EQ(parts.size(), 5u);
  const ParamDict whole = cellar::merge_checkpoints(kDir / "strategy_a.ckpt", kDir / "a");
  const std::vector<std::vector<std::string>> want = {
      {"fc1.weight"}, {"fc2.weight"}, {"emb", "fc1.bias", "scale", "step"}};
  for (size_t k = 0; k < want.size(); ++k) {
    const ParamDict got = cellar::load_checkpoint(parts[k]);
    auto names = got.keys();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, want[k]) << k;
    for (const auto& [name, p] : got) EXPECT_TRUE(whole.at(name).data().equal(p.data())) << name;
  }
  const auto map_bytes = read_bytes(parts[3]);
  const std::string map(reinterpret_cast<const char*>(map_bytes.data()), map_bytes.size());
  EXPECT_NE(map.find("\"total_size\": 436"), std::string::npos) << map;
  EXPECT_NE(map.find("\"scale\": \"part2.safetensors\""), std::string::npos) << map;
}

// param_name_map.json is written as Python's json.dumps(..., indent=4) writes it, escapes and
// all (ensure_ascii: \uXXXX, surrogate pairs past the BMP; a quote and a backslash escaped;
// control characters and DEL, which a .ckpt name may hold).
TEST(Distributed, UnifiedMapEscapesNamesAsPythonDoes) {
  TempDir dir;
  const std::string odd = "b\xc3\xbc\"\\", emoji = "x\xf0\x9f\x98\x80", ctl = "c\t\x1b\x7f";
  ParallelStrategy s;
  s[odd] = {{2}, {0}};
  s[emoji] = {{2}, {0}};
  s[ctl] = {{2}, {0}};
  cellar::save_strategy(s, dir / "s.ckpt");
  for (int r = 0; r < 2; ++r) {
    ParamDict part;
    part.set(odd, Tensor(cellar::DType::Float32, {1}));
    part.set(emoji, Tensor(cellar::DType::Float32, {1}));
    part.set(ctl, Tensor(cellar::DType::Float32, {1}));
    fs::create_directories(dir / ("ranks/rank_" + std::to_string(r)));
    cellar::save_checkpoint(part, dir / ("ranks/rank_" + std::to_string(r)) / "r.ckpt");
  }
  cellar::unified_safetensors(dir / "s.ckpt", dir / "ranks", dir / "u");
  const auto bytes = read_bytes(dir / "u/param_name_map.json");
  const std::string got(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  EXPECT_EQ(got,
            "{\n    \"metadata\": {\n        \"total_size\": 24\n    },\n    \"weight_map\": {\n"
            "        \"b\\u00fc\\\"\\\\\": \"part0.safetensors\",\n"
            "        \"x\\ud83d\\ude00\": \"part0.safetensors\",\n"
            "        \"c\\t\\u001b\\u007f\": \"part0.safetensors\"\n    }\n}");
  EXPECT_FALSE(fs::exists(dir / "u/hyper_param.safetensors"));  // nothing outside the strategy
}

}  // namespace
