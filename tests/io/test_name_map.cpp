// NameMap (cellar/io/name_map.h): each rule, their order, the rule-file parser's errors, and the
// refusal of two names becoming one.
#include <gtest/gtest.h>

#include <string>

#include "cellar/cellar.h"
#include "expect_error.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::expect_error;

namespace {

TEST(NameMap, EachRule) {
  EXPECT_EQ(NameMap().strip_prefix("module.").apply("module.fc.weight"), "fc.weight");
  EXPECT_EQ(NameMap().strip_prefix("module.").apply("fc.weight"), "fc.weight");
  EXPECT_EQ(NameMap().add_prefix("net.").apply("fc.weight"), "net.fc.weight");
  EXPECT_EQ(NameMap().replace(".bn", ".norm").apply("a.bn1.bn2"), "a.norm1.norm2");
  EXPECT_EQ(NameMap().replace("a", "aa").apply("aba"), "aabaa");  // no re-scan of the output
  EXPECT_EQ(NameMap().rename("^layer(\\d+)\\.", "blocks.$1.").apply("layer3.conv.weight"),
            "blocks.3.conv.weight");
  EXPECT_EQ(NameMap().drop("num_batches_tracked$").apply("bn.num_batches_tracked"), std::nullopt);
  EXPECT_EQ(NameMap().apply("unchanged"), "unchanged");
}

TEST(NameMap, RulesApplyInOrder) {
  const NameMap m = NameMap::parse(
      "strip_prefix module.   # DataParallel\n"
      "\n"
      "drop   num_batches_tracked$\n"
      "rename\t^fc\\.  head.\n"
      "add_prefix backbone.\n");
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m.apply("module.fc.weight"), "backbone.head.weight");
  EXPECT_EQ(m.apply("module.bn1.num_batches_tracked"), std::nullopt);
  EXPECT_EQ(m.apply("conv1.weight"), "backbone.conv1.weight");
}

TEST(NameMap, ParserErrorsNameTheLine) {
  auto reason = [](const char* text) {
    return std::string(
        expect_error([&] { NameMap::parse(text, "rules.txt"); }, ErrorCode::kInvalidArgument)
            .what());
  };
  EXPECT_NE(reason("add_prefix a.\nfrobnicate x\n").find("rules.txt line 2: unknown rule"),
            std::string::npos);
  EXPECT_NE(reason("rename onlyone\n").find("takes 2 fields"), std::string::npos);
  EXPECT_NE(reason("drop (\n").find("invalid regular expression"), std::string::npos);
  EXPECT_NE(reason("strip_prefix a b\n").find("takes 1 field"), std::string::npos);
}

TEST(NameMap, AppliedToADictRefusesCollisions) {
  const ParamDict d{{"module.a", ones({1})}, {"b", ones({2})}, {"module.c", ones({3})}};
  const ParamDict renamed = NameMap().strip_prefix("module.").apply(d);
  EXPECT_EQ(renamed.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(renamed.at("c").data().shape(), Shape({3}));
  const Error e =
      expect_error([&] { NameMap().rename("^.*$", "x").apply(d); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("'module.a' and 'b' into 'x'"), std::string::npos)
      << e.what();
  expect_error([&] { NameMap().rename("^.*$", "").apply(d); }, ErrorCode::kInvalidArgument);
}

TEST(NameMap, FromFile) {
  cellar::testing::TempDir dir;
  cellar::testing::write_string(dir / "r.txt", "add_prefix p.\n");
  EXPECT_EQ(NameMap::from_file(dir / "r.txt").apply("x"), "p.x");
  expect_error([&] { NameMap::from_file(dir / "missing.txt"); }, ErrorCode::kIo);
}

}  // namespace
