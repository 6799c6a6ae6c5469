// Checks over the op table as a whole that no single row's cases can make (the per-row cases
// are tests/ops/cases_*.cpp): the MindIR spellings MindSpore 2.x needs, and the functional API's
// MindSpore-style arguments.
#include <gtest/gtest.h>

#include <map>

#include "cellar/cellar.h"
#include "ops/op_table.h"

namespace cellar {
namespace {

TEST(OpTableSpellings, EveryGraphOpHasAMindIRSpelling) {
  for (const auto& name : ops::op_table().names()) {
    const auto* def = ops::op_table().find(name);
    if (def->make_kernel && !def->internal) {
      EXPECT_FALSE(def->mindir.primitive.empty()) << name;
    }
  }
}

TEST(OpTableSpellings, MindSporeAttrInputs) {
  const std::map<std::string, std::vector<std::string>> attr_inputs = {
      {"Transpose", {"perm"}},
      {"ExpandDims", {"axis"}},
      {"Gather", {"axis", "batch_dims"}},
      {"Tile", {"multiples"}},
      {"ReduceSum", {"axis", "keep_dims", "skip_mode"}},
      {"ReduceMean", {"axis", "keep_dims"}},
      {"Conv2D", {}},
      {"MaxPool", {}},
      {"AvgPool", {"kernel_size", "strides", "pad_mode", "data_format"}},
      {"BatchNorm", {"is_training", "epsilon", "momentum", "data_format"}},
      {"Softmax", {"axis"}},
      {"LogSoftmax", {"axis"}},
      {"Sigmoid", {}},
      {"Tanh", {}},
      {"GeLU", {}},
      {"Abs", {}},
      {"Sub", {}},
      {"Div", {}},
      {"BatchMatMul", {"transpose_a", "transpose_b"}},
      {"Squeeze", {"axis"}},  // MindSpore 2.10 passes it as an input (ops_matmul.mindir)
      {"Concat", {"axis"}}};
  // MindSpore 2.x passes yaml-defined ops' init arguments as constant inputs too, so every attr
  // input has a default the MindIR writer can use.
  for (const auto& [name, inputs] : attr_inputs) {
    const ops::OpDef* def = ops::op_table().find(name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_EQ(def->mindir.primitive, name);
    EXPECT_EQ(def->mindir.attr_inputs, inputs) << name;
    for (const auto& key : inputs) {
      if (!(name == "Transpose" || name == "ExpandDims" || name == "Tile" || key == "axis")) {
        EXPECT_TRUE(def->mindir.defaults.count(key)) << name << " " << key;
      }
    }
    EXPECT_EQ(ops::op_table().find_mindir(name), def);
  }
}

// The functional API's Pad (ops::pad, nn::Pad) takes MindSpore's upper-case mode names (nn.Pad's
// REFLECT, SYMMETRIC, CONSTANT) and gives the row's results; the row's own values are
// tests/ops/cases_tensor.cpp's.
TEST(FunctionalApi, PadFunctionalTakesMindSporeModeNames) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_TRUE(
      ops::pad(x, {{1, 1}, {2, 2}}, "SYMMETRIC").equal(ops::pad(x, {{1, 1}, {2, 2}}, "symmetric")));
  auto reflect = nn::Pad({{0, 1}, {2, 0}}, "REFLECT");
  EXPECT_TRUE(Tensor((*reflect)(x)).equal(ops::pad(x, {{0, 1}, {2, 0}}, "reflect")));
  EXPECT_TRUE(
      ops::pad(x, {{0, 1}, {2, 0}}, "CONSTANT", 2.5).equal(ops::pad(x, {{0, 1}, {2, 0}}, 2.5)));
}

}  // namespace
}  // namespace cellar
