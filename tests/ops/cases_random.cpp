// Cases of the random rows (src/ops/random/). They have no reference: each case's check judges
// the outputs (shape, dtype, range, rough distribution) and the seeding: the same `seed` gives
// the same values, and the values of the functional form with Generator(seed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cellar/cellar.h"
#include "ops/op_case.h"
#include "ops/op_table.h"

namespace cellar::testing {
namespace {

using Ints = std::vector<int64_t>;

// The row is random and kernel-less (eager only), and a second call with the same attributes
// gives the same values as `first`.
void expect_seeded(const std::string& op, const ir::Attrs& attrs, const Tensor& first) {
  const ops::OpDef* def = ops::op_table().find(op);
  ASSERT_NE(def, nullptr);
  EXPECT_TRUE(def->is_random);
  EXPECT_FALSE(def->make_kernel);
  EXPECT_TRUE(ops::call(op, {}, attrs).at(0).equal(first)) << "same seed, other values";
}

// One output of `shape` and `dt`, every value finite.
void expect_typed(const std::vector<Tensor>& out, const Shape& shape, DType dt) {
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), shape);
  EXPECT_EQ(out[0].dtype(), dt);
  for (double v : as_doubles(out[0])) ASSERT_TRUE(std::isfinite(v));
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

std::vector<OpCase> cases() {
  std::vector<OpCase> c;

  // ---- StandardNormal ----
  const ir::Attrs normal{{"shape", Ints{64, 64}}, {"seed", int64_t{3}}};
  c.push_back({.op = "StandardNormal",
               .label = "seeded_moments",
               .attrs = normal,
               .check = [normal](const std::vector<Tensor>& out) {
                 expect_typed(out, {64, 64}, DType::Float32);
                 expect_seeded("StandardNormal", normal, out[0]);
                 Generator g(3);
                 EXPECT_TRUE(ops::randn({64, 64}, g).equal(out[0])) << "not randn's values";
                 const auto v = as_doubles(out[0]);
                 const double m = mean(v);
                 double var = 0;
                 for (double x : v) var += (x - m) * (x - m);
                 EXPECT_NEAR(m, 0, 0.05);
                 EXPECT_NEAR(std::sqrt(var / static_cast<double>(v.size())), 1, 0.05);
                 const ir::Attrs other{{"shape", Ints{64, 64}}, {"seed", int64_t{4}}};
                 EXPECT_FALSE(ops::call("StandardNormal", {}, other)[0].equal(out[0]));
               }});
  const ir::Attrs normal64{
      {"shape", Ints{2, 3, 4}}, {"seed", int64_t{7}}, {"dtype", std::string("Float64")}};
  c.push_back({.op = "StandardNormal",
               .label = "float64",
               .attrs = normal64,
               .check = [normal64](const std::vector<Tensor>& out) {
                 expect_typed(out, {2, 3, 4}, DType::Float64);
                 expect_seeded("StandardNormal", normal64, out[0]);
                 Generator g(7);
                 EXPECT_TRUE(ops::randn({2, 3, 4}, g, DType::Float64).equal(out[0]));
               }});
  c.push_back({.op = "StandardNormal",
               .label = "unseeded_empty",
               .attrs = {{"shape", Ints{0, 3}}},
               .check = [](const std::vector<Tensor>& out) {
                 expect_typed(out, {0, 3}, DType::Float32);
               }});
  c.push_back({.op = "StandardNormal",
               .label = "int_dtype_refused",
               .attrs = {{"shape", Ints{2}}, {"dtype", std::string("Int32")}},
               .error = "random floats need a floating dtype"});
  c.push_back({.op = "StandardNormal",
               .label = "negative_shape_refused",
               .attrs = {{"shape", Ints{2, -1}}},
               .error = "has a negative dimension"});
  c.push_back({.op = "StandardNormal",
               .label = "unknown_dtype_refused",
               .attrs = {{"shape", Ints{2}}, {"dtype", std::string("Float33")}},
               .error = "attribute 'dtype' must name a numeric dtype"});

  // ---- UniformReal ----
  const ir::Attrs uni{
      {"shape", Ints{1000}}, {"seed", int64_t{5}}, {"minval", -2.0}, {"maxval", 3.0}};
  c.push_back({.op = "UniformReal",
               .label = "seeded_range",
               .attrs = uni,
               .check = [uni](const std::vector<Tensor>& out) {
                 expect_typed(out, {1000}, DType::Float32);
                 expect_seeded("UniformReal", uni, out[0]);
                 Generator g(5);
                 EXPECT_TRUE(ops::uniform({1000}, -2, 3, g).equal(out[0])) << "not uniform's";
                 const auto v = as_doubles(out[0]);
                 EXPECT_GE(*std::min_element(v.begin(), v.end()), -2.0);
                 EXPECT_LT(*std::max_element(v.begin(), v.end()), 3.0);
                 EXPECT_LT(*std::min_element(v.begin(), v.end()), -1.9);  // the range is used
                 EXPECT_GT(*std::max_element(v.begin(), v.end()), 2.9);
                 EXPECT_NEAR(mean(v), 0.5, 0.15);
               }});
  const ir::Attrs unit{
      {"shape", Ints{3, 100}}, {"seed", int64_t{6}}, {"dtype", std::string("Float64")}};
  c.push_back({.op = "UniformReal",
               .label = "default_unit_range_float64",
               .attrs = unit,
               .check = [unit](const std::vector<Tensor>& out) {
                 expect_typed(out, {3, 100}, DType::Float64);
                 expect_seeded("UniformReal", unit, out[0]);
                 for (double x : as_doubles(out[0])) ASSERT_TRUE(x >= 0 && x < 1) << x;
               }});
  c.push_back({.op = "UniformReal",
               .label = "empty_range_refused",
               .attrs = {{"shape", Ints{2}}, {"minval", 1.0}, {"maxval", 1.0}},
               .error = "is not below maxval"});
  c.push_back({.op = "UniformReal",
               .label = "int_dtype_refused",
               .attrs = {{"shape", Ints{2}}, {"dtype", std::string("Int64")}},
               .error = "random floats need a floating dtype"});

  // ---- Randperm ----
  const ir::Attrs perm{{"n", int64_t{10}}, {"seed", int64_t{3}}};
  c.push_back({.op = "Randperm",
               .label = "seeded_permutation",
               .attrs = perm,
               .check = [perm](const std::vector<Tensor>& out) {
                 expect_typed(out, {10}, DType::Int64);
                 expect_seeded("Randperm", perm, out[0]);
                 Generator g(3);
                 EXPECT_TRUE(ops::randperm(10, g).equal(out[0])) << "not randperm's values";
                 auto v = as_doubles(out[0]);
                 std::sort(v.begin(), v.end());
                 for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], double(i));
               }});
  const ir::Attrs perm32{
      {"n", int64_t{100}}, {"seed", int64_t{8}}, {"dtype", std::string("Int32")}};
  c.push_back({.op = "Randperm",
               .label = "int32_shuffles",
               .attrs = perm32,
               .check = [perm32](const std::vector<Tensor>& out) {
                 expect_typed(out, {100}, DType::Int32);
                 expect_seeded("Randperm", perm32, out[0]);
                 auto v = as_doubles(out[0]);
                 int in_place = 0;
                 for (size_t i = 0; i < v.size(); ++i) in_place += v[i] == double(i);
                 EXPECT_LT(in_place, 10) << "hardly shuffled";
                 std::sort(v.begin(), v.end());
                 for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], double(i));
               }});
  c.push_back(
      {.op = "Randperm",
       .label = "zero_is_empty",
       .attrs = {{"n", int64_t{0}}},
       .check = [](const std::vector<Tensor>& out) { expect_typed(out, {0}, DType::Int64); }});
  c.push_back({.op = "Randperm",
               .label = "negative_refused",
               .attrs = {{"n", int64_t{-1}}},
               .error = "randperm of a negative count"});
  return c;
}

const OpCaseTable kRandom(cases);

}  // namespace
}  // namespace cellar::testing
