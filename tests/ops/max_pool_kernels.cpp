// MaxPool's Float32 kernels on every instruction set this CPU has (src/ops/nn/pool.cpp: AVX-512
// and AVX2 for strides 1 and 2 along W) against the portable kernel, bit for bit: each output is
// the first of its window's elements, in row-major order, that equals the window's maximum (NaN
// never wins, -0 and +0 keep the one met first), for odd widths (vectors that end part-way),
// SAME's padding on each side, windows of 1-4 columns and rows, stride 1, 2 and 3 (the last
// left to the portable kernel), batch > 1; on one and two threads and run after run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_support.h"
#include "ops/isa.h"
#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

// Values with many ties among the maxima: zeros of both signs, NaN, infinities and a few levels.
Tensor tied_input(const Shape& s, unsigned seed) {
  Tensor t(DType::Float32, s);
  std::mt19937 rng(seed);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Mostly zeros of both signs and NaN (ties everywhere), some levels and −∞, some distinct values.
  const float levels[] = {0.0f, -0.0f, 0.0f,  -0.0f,
                          nan,  1.0f,  -1.0f, -std::numeric_limits<float>::infinity()};
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_real_distribution<float> u(-2, 2);
  float* v = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int k = pick(rng);
    v[i] = k < 8 ? levels[k] : u(rng);
  }
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() &&
         std::memcmp(a.data<float>(), b.data<float>(), static_cast<size_t>(a.numel()) * 4) == 0;
}

TEST(MaxPoolKernels, EveryIsaGivesThePortableBits) {
  const OpDef* def = op_table().find("MaxPool");
  ASSERT_NE(def, nullptr);
  struct Geo {
    Shape x;
    int64_t kh, kw, sh, sw;
    bool same;
  };
  const std::vector<Geo> geos = {
      {{1, 4, 112, 112}, 3, 3, 2, 2, true},  // ResNet's, after the stem
      {{2, 3, 37, 35}, 3, 3, 2, 2, true},   {{2, 3, 37, 35}, 3, 3, 2, 2, false},
      {{1, 2, 9, 50}, 2, 4, 1, 2, true},    {{1, 2, 19, 71}, 4, 3, 2, 2, true},
      {{2, 2, 8, 33}, 3, 3, 1, 1, true},    {{1, 3, 11, 17}, 2, 2, 1, 1, false},
      {{1, 2, 6, 40}, 1, 1, 1, 2, false},   {{1, 2, 5, 16}, 3, 3, 2, 2, true},
      {{1, 2, 7, 3}, 3, 3, 2, 2, true},   // no window inside along W
      {{1, 2, 7, 31}, 3, 3, 3, 3, true},  // stride 3: the portable kernel on every set
      {{2, 6, 28, 28}, 2, 2, 2, 2, false},  {{1, 1, 4, 200}, 2, 5, 2, 2, true},
      {{1, 2, 13, 29}, 2, 3, 3, 1, true},   {{1, 2, 9, 64}, 3, 2, 2, 1, false},
  };
  unsigned seed = 7;
  for (const Geo& g : geos) {
    SCOPED_TRACE(g.x.str() + " k " + std::to_string(g.kh) + "x" + std::to_string(g.kw) + " s " +
                 std::to_string(g.sh) + "x" + std::to_string(g.sw) + (g.same ? " SAME" : " VALID"));
    const ir::Attrs attrs = {{"kernel_size", std::vector<int64_t>{1, 1, g.kh, g.kw}},
                             {"strides", std::vector<int64_t>{1, 1, g.sh, g.sw}},
                             {"pad_mode", std::string(g.same ? "SAME" : "VALID")},
                             {"data_format", std::string("NCHW")}};
    const std::vector<TensorType> types = {{DType::Float32, g.x}};
    const TensorType out = def->infer(types, attrs)[0];
    const Tensor x = tied_input(g.x, seed++);
    Tensor want(DType::Float32, out.shape);
    {
      ForcedIsa portable(Isa::kNone);
      const Kernel k = def->make_kernel(types, attrs);
      std::vector<Tensor> in{x}, o{want};
      k(in, o);
    }
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
      if (!cpu_has(isa)) continue;
      SCOPED_TRACE(isa_name(isa));
      ForcedIsa forced(isa);
      const Kernel k = def->make_kernel(types, attrs);
      for (int threads : {1, 2}) {
        runtime::ThreadPool pool(threads);
        for (int run = 0; run < 2; ++run) {
          Tensor got(DType::Float32, out.shape);
          std::fill_n(got.data<float>(), got.numel(), 123.0f);
          std::vector<Tensor> in{x}, o{got};
          k(in, o, pool);
          EXPECT_TRUE(same_bits(got, want)) << threads << " threads, run " << run;
        }
      }
    }
  }
}

// The ties are there: a window whose maximum is a zero met as -0 first and +0 later keeps -0
// (and the other way round), and NaN never wins; on every set.
TEST(MaxPoolKernels, ZeroSignAndNaNFollowTheFirstMaximum) {
  const OpDef* def = op_table().find("MaxPool");
  ASSERT_NE(def, nullptr);
  const Shape xs{1, 1, 2, 66};
  const ir::Attrs attrs = {{"kernel_size", std::vector<int64_t>{1, 1, 2, 3}},
                           {"strides", std::vector<int64_t>{1, 1, 2, 2}},
                           {"pad_mode", std::string("VALID")},
                           {"data_format", std::string("NCHW")}};
  const std::vector<TensorType> types = {{DType::Float32, xs}};
  const TensorType out = def->infer(types, attrs)[0];
  ASSERT_EQ(out.shape, (Shape{1, 1, 1, 32}));
  Tensor x(DType::Float32, xs);
  float* v = x.data<float>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::fill_n(v, 2 * 66, -1.0f);
  // Output j reads columns 2j .. 2j + 2 of rows 0 and 1, the odd column 2j + 1 its own: there
  // even outputs have -0 in row 0 and +0 in row 1, odd ones +0 then -0; row 0's even columns
  // (shared by two windows) hold NaN, every other element -1.
  for (int64_t j = 0; j < 32; ++j) {
    v[2 * j + 1] = j % 2 == 0 ? -0.0f : 0.0f;
    v[66 + 2 * j + 1] = j % 2 == 0 ? 0.0f : -0.0f;
    v[2 * j] = nan;
  }
  for (Isa isa : {Isa::kNone, Isa::kAvx2, Isa::kAvx512}) {
    if (!cpu_has(isa)) continue;
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    Tensor y(DType::Float32, out.shape);
    std::vector<Tensor> in{x}, o{y};
    def->make_kernel(types, attrs)(in, o);
    for (int64_t j = 0; j < 32; ++j) {
      const float got = y.data<float>()[j];
      EXPECT_EQ(got, 0.0f) << "output " << j;
      // The zero of row 0, met first: -0 for even outputs, +0 for odd ones.
      EXPECT_EQ(std::signbit(got), j % 2 == 0) << "output " << j;
    }
  }
}

}  // namespace
}  // namespace cellar::ops
