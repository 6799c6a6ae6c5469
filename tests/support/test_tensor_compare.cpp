// The comparison helpers of tensor_compare.h, checked themselves: a helper that lets a NaN or a
// changed byte through would make every test that uses it pass by accident.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cellar/cellar.h"
#include "tensor_compare.h"

using namespace cellar;
using cellar::testing::expect_same;
using cellar::testing::max_abs_diff;
using cellar::testing::Order;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
Tensor f32(std::vector<float> v) {
  return Tensor::from_vector<float>(v, Shape{static_cast<int64_t>(v.size())});
}
}  // namespace

TEST(MaxAbsDiff, MeasuresTheLargestDifference) {
  EXPECT_EQ(max_abs_diff(f32({1, 2, 3}), f32({1, 2, 3})), 0.0);
  EXPECT_DOUBLE_EQ(max_abs_diff(f32({1, 2, 3}), f32({1, 2.5f, 2})), 1.0);
  EXPECT_DOUBLE_EQ(max_abs_diff(f32({-1}), f32({1})), 2.0);
}

TEST(MaxAbsDiff, NaNOnOneSideIsADifference) {
  EXPECT_EQ(max_abs_diff(f32({1, kNaN}), f32({1, 2})), INFINITY);
  EXPECT_EQ(max_abs_diff(f32({1, 2}), f32({1, kNaN})), INFINITY);
  // Not hidden by a later, finite element.
  EXPECT_EQ(max_abs_diff(f32({kNaN, 0}), f32({0, 0})), INFINITY);
}

TEST(MaxAbsDiff, NaNOnBothSidesAtTheSameElementIsEqual) {
  EXPECT_EQ(max_abs_diff(f32({kNaN, 1}), f32({kNaN, 1})), 0.0);
  EXPECT_DOUBLE_EQ(max_abs_diff(f32({kNaN, 1}), f32({kNaN, 3})), 2.0);
  // Infinities of the same sign agree; of opposite signs they do not.
  EXPECT_EQ(max_abs_diff(f32({INFINITY}), f32({-INFINITY})), INFINITY);
}

TEST(MaxAbsDiff, ShapeOrDTypeDifferenceFailsAndIsInfinite) {
  double d = 0;
  EXPECT_NONFATAL_FAILURE(d = max_abs_diff(f32({1, 2}), f32({1, 2, 3})), "shape");
  EXPECT_EQ(d, INFINITY);
  EXPECT_NONFATAL_FAILURE(d = max_abs_diff(f32({1}), f32({1}).to(DType::Float64)), "dtype");
  EXPECT_EQ(d, INFINITY);
}

TEST(ExpectSame, PassesOnlyOnTheSameBytes) {
  expect_same(f32({1, 2}), f32({1, 2}));
  expect_same(Tensor::from_string("héllo"), Tensor::from_string("héllo"));
  EXPECT_NONFATAL_FAILURE(expect_same(f32({1, 2}), f32({1, 3}), "w"), "w");
  EXPECT_NONFATAL_FAILURE(expect_same(f32({1, 2}), f32({1, 2}).to(DType::Float64)), "dtype");
  EXPECT_NONFATAL_FAILURE(expect_same(Tensor::from_string("a"), Tensor::from_string("b")), "");
  // NaN on one side differs; the same NaN bits on both sides are the same bytes.
  EXPECT_NONFATAL_FAILURE(expect_same(f32({kNaN}), f32({0})), "");
  expect_same(f32({kNaN}), f32({kNaN}));
}

TEST(ExpectSame, ParamDictNamesOrderAndValues) {
  const ParamDict a{{"x", f32({1})}, {"y", f32({2})}};
  const ParamDict b{{"y", f32({2})}, {"x", f32({1})}};
  expect_same(a, a);
  EXPECT_NONFATAL_FAILURE(expect_same(a, b), "names");
  expect_same(a, b, Order::kAny);
  const ParamDict c{{"x", f32({1})}, {"y", f32({5})}};
  EXPECT_NONFATAL_FAILURE(expect_same(a, c, Order::kAny), "y");
  const ParamDict d{{"x", f32({1})}};
  EXPECT_NONFATAL_FAILURE(expect_same(a, d), "names");
}

TEST(ExpectSame, NamedTensorLists) {
  using List = std::vector<std::pair<std::string, Tensor>>;
  const List a{{"x", f32({1})}, {"y", f32({2})}};
  expect_same(a, a);
  EXPECT_NONFATAL_FAILURE(expect_same(a, List{{"y", f32({2})}, {"x", f32({1})}}), "names");
  EXPECT_NONFATAL_FAILURE(expect_same(a, List{{"x", f32({1})}, {"y", f32({0})}}), "y");
}
