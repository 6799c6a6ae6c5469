// mindcv's smallest models as MindSpore 2.10 exports them (tests/fixtures/mindspore/2.10/zoo/,
// written by its make_zoo_fixtures.py): every model listed in zoo.json loads, runs within
// 1e-4 · max(1, max |reference|) of MindSpore's own GraphCell output (and within 1e-3 of its
// scale), and survives cellar's own MindIR and ONNX export and reload with the same output. The
// full zoo table, with every family, is docs/zoo.md (tools/zoo/).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cellar/cellar.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;

using cellar::testing::max_abs;

namespace {
using cellar::testing::max_abs_diff;

const std::filesystem::path kZoo =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/zoo";

std::vector<std::string> zoo_models() {
  std::ifstream in(kZoo / "zoo.json");
  const auto listing = nlohmann::json::parse(in);
  std::vector<std::string> names;
  for (const auto& [key, value] : listing.items())
    if (value.is_object()) names.push_back(key);
  return names;
}

// The zoo's bound, 1e-4 · max(1, max |reference|); and, since random weights can leave a
// network's outputs tiny (mobilenet_v3's are ~1e-10, which any answer would meet), also within
// 1e-3 of the reference's own scale.
double bound_for(const Tensor& reference) {
  const double scale = max_abs(reference);
  return std::min(1e-4 * std::max(1.0, scale), 1e-3 * scale + 1e-30);
}

class MindcvZoo : public ::testing::TestWithParam<std::string> {};

TEST_P(MindcvZoo, RunsAsMindSporeDoes) {
  const std::string name = GetParam();
  const Tensor x = read_npy(kZoo / (name + ".input.npy"));
  const Tensor want = read_npy(kZoo / (name + ".output.npy"));
  nn::GraphCell cell(load(kZoo / (name + ".mindir")));
  const Tensor got = cell(x);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_abs_diff(got, want), bound_for(want));
  // Run after run: the same bytes.
  EXPECT_EQ(max_abs_diff(cell(x), got), 0.0);
}

TEST_P(MindcvZoo, CellarsOwnExportsRunTheSame) {
  const std::string name = GetParam();
  const cellar::testing::TempDir dir;
  const Tensor x = read_npy(kZoo / (name + ".input.npy"));
  const Tensor want = read_npy(kZoo / (name + ".output.npy"));
  const ir::Graph graph = load(kZoo / (name + ".mindir"));
  for (const FileFormat format : {FileFormat::MINDIR, FileFormat::ONNX}) {
    const auto path = export_graph(graph, (dir.path() / name).string(), format);
    nn::GraphCell cell(load(path));
    EXPECT_LE(max_abs_diff(cell(x), want), bound_for(want)) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, MindcvZoo, ::testing::ValuesIn(zoo_models()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
