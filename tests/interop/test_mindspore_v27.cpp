// What is particular to MindSpore 2.7.0's folder (tests/fixtures/mindspore/2.7, written by
// make_fixtures_v27.py there, which runs the 2.10 folders' own scripts into that folder): its
// VERSION, and that its unencrypted checkpoints are 2.10's bytes exactly. Every other check of
// 2.7's files is MindSporeVersion's (test_mindspore.cpp), run on each version folder.
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

}  // namespace

TEST(MindSpore27, VersionIsRecorded) {
  const auto v = read_bytes(kV27 / "VERSION");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data()), 16), "mindspore 2.7.0\n");
}

// ---- checkpoints ----

TEST(MindSpore27Checkpoints, UnencryptedFilesAreByteForByteThoseOfMindSpore210) {
  // What the versions have in common, shown: 2.7 and 2.10 write the same bytes for the same
  // entries (only the encrypted files differ, by their random IVs), so that cellar's writer,
  // checked byte for byte against 2.10 in test_mindspore, writes 2.7's format too.
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

// Every variant read exactly, and written byte for byte (bfloat16 ones included), and every
// encryption mode and key length: MindSporeVersion (test_mindspore.cpp), for every version.
// MindIR networks, encrypted and external-data MindIR, and cellar's models on 2.7's checkpoints:
// MindSporeVersion (test_mindspore.cpp), for every version.
