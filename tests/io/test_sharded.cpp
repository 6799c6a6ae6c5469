// Sharded checkpoints (src/io/sharded.h) through the public API: save_checkpoint with
// max_shard_size, load_checkpoint on an index or a folder (one dict over every shard, zero copy),
// stale files of an earlier save, and a table of bad indexes and shard sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "expect_error.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::expect_error;
using cellar::testing::list_dir;
using cellar::testing::TempDir;
using cellar::testing::write_string;
namespace fs = std::filesystem;

namespace {

// Ten tensors of 4 KiB, 400 B and 8 B, distinct values.
ParamDict model() {
  ParamDict d;
  for (int i = 0; i < 10; ++i) {
    d.set("layer" + std::to_string(i) + ".weight", full({32, 32}, i + 0.5));
    d.set("layer" + std::to_string(i) + ".bias", full({100}, -i, DType::Float32));
  }
  d.set("step", Tensor::scalar<int64_t>(42));
  return d;
}

void expect_same_dict(const ParamDict& got, const ParamDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, p] : want) {
    ASSERT_TRUE(got.contains(name)) << name;
    EXPECT_TRUE(got.at(name).data().equal(p.data())) << name;
  }
}

class Sharded : public ::testing::TestWithParam<const char*> {
 protected:
  std::string ext() const { return GetParam(); }
  SaveOptions options(uint64_t max_shard) const {
    SaveOptions o;
    o.format = ext() == ".safetensors" ? CheckpointFormat::kSafetensors : CheckpointFormat::kCkpt;
    o.max_shard_size = max_shard;
    return o;
  }
};

TEST_P(Sharded, SaveSplitsAndLoadJoins) {
  TempDir dir;
  const fs::path path = dir / ("model" + ext());
  save_checkpoint(model(), path, options(10000));
  const std::vector<std::string> files = list_dir(dir.path());
  // 10 × 4496 bytes in shards of at most 10000: two layers a shard, five shards (the last also
  // holds `step`).
  const std::string idx = "model" + ext() + ".index.json";
  ASSERT_EQ(files.size(), 6u) << ::testing::PrintToString(files);
  EXPECT_EQ(files[0], "model-00001-of-00005" + ext());
  EXPECT_EQ(files[4], "model-00005-of-00005" + ext());
  EXPECT_EQ(files[5], idx);
  const auto index = nlohmann::json::parse(cellar::testing::read_text(dir / idx));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), 10u * (4096 + 400) + 8);
  EXPECT_EQ(index["weight_map"]["layer0.weight"], "model-00001-of-00005" + ext());
  EXPECT_EQ(index["weight_map"]["step"], "model-00005-of-00005" + ext());

  const ParamDict via_index = load_checkpoint(dir / idx);
  expect_same_dict(via_index, model());
  const ParamDict via_folder = load_checkpoint(dir.path());
  expect_same_dict(via_folder, model());
  if (ext() == ".safetensors") {
    for (const auto& [name, p] : via_index)
      EXPECT_TRUE(p.data().storage()->is_mapped()) << name;  // zero copy
  }
  const auto shards = checkpoint_files(dir / idx);
  ASSERT_EQ(shards.size(), 5u);
  EXPECT_EQ(shards[0].filename(), "model-00001-of-00005" + ext());
  // Prefix filters apply across shards.
  LoadOptions only;
  only.specify_prefix = {"layer3."};
  std::vector<std::string> kept = load_checkpoint(dir / idx, only).keys();
  std::sort(kept.begin(), kept.end());  // safetensors orders a file's tensors by dtype, then name
  EXPECT_EQ(kept, (std::vector<std::string>{"layer3.bias", "layer3.weight"}));
}

TEST_P(Sharded, ResavingRemovesStaleFiles) {
  TempDir dir;
  const fs::path path = dir / ("model" + ext());
  save_checkpoint(model(), path, options(10000));
  save_checkpoint(model(), path, options(20000));  // three shards now
  std::vector<std::string> files = list_dir(dir.path());
  EXPECT_EQ(files.size(), 4u) << ::testing::PrintToString(files);
  EXPECT_EQ(files[0], "model-00001-of-00003" + ext());
  expect_same_dict(load_checkpoint(dir.path()), model());
  save_checkpoint(model(), path, options(uint64_t{1} << 30));  // one file: no index
  files = list_dir(dir.path());
  EXPECT_EQ(files, (std::vector<std::string>{"model" + ext()}));
  expect_same_dict(load_checkpoint(dir.path()), model());
}

INSTANTIATE_TEST_SUITE_P(Formats, Sharded, ::testing::Values(".safetensors", ".ckpt"),
                         [](const auto& p) { return std::string(p.param + 1); });

TEST(ShardedFolder, WithoutIndexLoadsEveryFileAndRefusesRepeats) {
  TempDir dir;
  save_checkpoint(ParamDict{{"a", ones({2})}}, dir / "part1.ckpt");
  save_checkpoint(ParamDict{{"b", ones({3})}}, dir / "part2.safetensors",
                  {.format = CheckpointFormat::kSafetensors});
  write_string(dir / "notes.txt", "not a checkpoint");
  EXPECT_EQ(load_checkpoint(dir.path()).keys(), (std::vector<std::string>{"a", "b"}));
  save_checkpoint(ParamDict{{"a", ones({2})}}, dir / "part3.ckpt");
  const Error e = expect_error([&] { load_checkpoint(dir.path()); }, ErrorCode::kFormat);
  EXPECT_EQ(e.tensor(), "a");
  EXPECT_NE(std::string(e.what()).find("in both 'part1.ckpt' and 'part3.ckpt'"), std::string::npos);
}

// ---- bad indexes ----

struct BadIndex {
  const char* what;
  std::string json;
  ErrorCode code;
  const char* message;
};

TEST(ShardedBad, IndexesAreRefusedClearly) {
  TempDir dir;
  save_checkpoint(ParamDict{{"a", ones({2})}, {"b", ones({3})}}, dir / "s1.safetensors",
                  {.format = CheckpointFormat::kSafetensors});
  save_checkpoint(ParamDict{{"c", ones({4})}}, dir / "s2.safetensors",
                  {.format = CheckpointFormat::kSafetensors});
  const std::string ok_map =
      R"("a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors")";
  const std::vector<BadIndex> cases{
      {"outside the folder", R"({"weight_map": {"a": "../s1.safetensors"}})", ErrorCode::kFormat,
       "not a file in the index's folder"},
      {"absolute path", R"({"weight_map": {"a": "/etc/passwd"}})", ErrorCode::kFormat,
       "not a file in the index's folder"},
      {"subfolder", R"({"weight_map": {"a": "sub/s1.safetensors"}})", ErrorCode::kFormat,
       "not a file in the index's folder"},
      {"missing shard", R"({"weight_map": {"a": "s1.safetensors", "z": "s9.safetensors"}})",
       ErrorCode::kIo, "'s9.safetensors', which does not exist"},
      {"tensor not listed", R"({"weight_map": {"a": "s1.safetensors", "c": "s2.safetensors"}})",
       ErrorCode::kFormat, "holds a tensor the index does not list"},
      {"wrong shard",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}})",
       ErrorCode::kFormat, "but the index maps it to 's2.safetensors'"},
      {"entry its shard lacks", "{\"weight_map\": {" + ok_map + R"(, "d": "s2.safetensors"}})",
       ErrorCode::kFormat, "which does not hold it"},
      {"total_size mismatch",
       "{\"metadata\": {\"total_size\": 99}, \"weight_map\": {" + ok_map + "}}", ErrorCode::kFormat,
       "total_size is 99 but the shards hold 36 bytes"},
      {"duplicate names", R"({"weight_map": {"a": "s1.safetensors", "a": "s2.safetensors"}})",
       ErrorCode::kFormat, "repeats the key 'a'"},
      {"not JSON", "{\"weight_map\": ", ErrorCode::kFormat, "not valid JSON"},
      {"no weight_map", R"({"metadata": {}})", ErrorCode::kFormat, "no \"weight_map\""},
      {"bad total_size", "{\"metadata\": {\"total_size\": -1}, \"weight_map\": {" + ok_map + "}}",
       ErrorCode::kFormat, "not a non-negative integer"},
  };
  for (const BadIndex& c : cases) {
    SCOPED_TRACE(c.what);
    write_string(dir / "model.safetensors.index.json", c.json);
    const Error e =
        expect_error([&] { load_checkpoint(dir / "model.safetensors.index.json"); }, c.code);
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    EXPECT_NE(e.file().find("model.safetensors.index.json"), std::string::npos) << e.what();
  }
  // The good index loads; a second index in the folder makes the folder ambiguous.
  write_string(dir / "model.safetensors.index.json",
               "{\"metadata\": {\"total_size\": 36}, \"weight_map\": {" + ok_map + "}}");
  EXPECT_EQ(load_checkpoint(dir.path()).size(), 3u);
  write_string(dir / "other.safetensors.index.json", "{}");
  expect_error([&] { load_checkpoint(dir.path()); }, ErrorCode::kInvalidArgument);
  TempDir empty;
  expect_error([&] { load_checkpoint(empty.path()); }, ErrorCode::kNotFound);
}

// ---- load_param_into_net with a name map and shape-mismatch skipping (issue 15, item 6) ----

auto classifier(int64_t classes) {
  Generator g(3);
  return nn::SequentialCell({nn::Dense({.in = 4, .out = 8, .generator = &g}), nn::ReLU(),
                             nn::Dense({.in = 8, .out = classes, .generator = &g})});
}

TEST(LoadIntoNet, NameMapAndSkippedShapes) {
  TempDir dir;
  auto trained = classifier(10);
  ParamDict saved;
  for (const auto& [name, p] : trained->parameters_and_names())
    saved.set("module.backbone." + name, p.data().clone());
  saved.set("module.backbone.step", Tensor::scalar<int64_t>(5));
  save_checkpoint(saved, dir / "ft.ckpt");

  auto net = classifier(3);  // a new head: 3 classes
  const Tensor head_before = net->parameters_and_names()[2].second.data().clone();
  LoadIntoNetOptions o;
  o.name_map.strip_prefix("module.backbone.").drop("^step$");
  o.skip_shape_mismatch = true;
  LoadResult r;
  const ParamDict dict = load_checkpoint(dir / "ft.ckpt", net, {}, o, &r);
  EXPECT_EQ(dict.size(), 5u);
  EXPECT_EQ(r.shape_mismatched, (NameList{"2.weight", "2.bias"}));
  EXPECT_EQ(r.param_not_load, (NameList{"2.weight", "2.bias"}));
  EXPECT_EQ(r.ckpt_not_load, (NameList{"2.weight", "2.bias"}));
  const auto params = net->parameters_and_names();
  EXPECT_TRUE(params[0].second.data().equal(trained->parameters_and_names()[0].second.data()));
  EXPECT_TRUE(params[2].second.data().equal(head_before));  // left as it was

  // Without skipping, the same load is refused and changes nothing.
  auto fresh = classifier(3);
  const Tensor w0 = fresh->parameters_and_names()[0].second.data().clone();
  LoadIntoNetOptions strict_shapes;
  strict_shapes.name_map = o.name_map;
  expect_error([&] { load_param_into_net(fresh, dict, strict_shapes); }, ErrorCode::kShapeMismatch);
  EXPECT_TRUE(fresh->parameters_and_names()[0].second.data().equal(w0));
  // Two entries renamed into one are refused before anything is loaded.
  LoadIntoNetOptions clash;
  clash.name_map.rename("^module\\.backbone\\.0\\..*", "0.weight");
  expect_error([&] { load_param_into_net(fresh, dict, clash); }, ErrorCode::kInvalidArgument);
}

}  // namespace
