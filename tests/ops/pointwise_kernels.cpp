// The 1 × 1 convolution's kernels (src/ops/nn/pointwise.h) on every instruction set this CPU has:
// each output the chain of fused multiply-adds over p in order from zero, then + bias, then
// + the residual when there is one, then the activation as the portable epilogue computes it (the
// same bits as gemm_packed followed by conv2d.cpp's epilogue), for odd row counts (partial panels,
// groups of panels past the tail kernels' 8), column counts around every tile and chunk edge (tails
// of 1 to 15 columns), short and long k, row strides wider than the block; only the block is
// written; the same bits run after run; and through FusedConv2D, packed against unpacked and two
// threads against one.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_support.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/pointwise.h"
#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

constexpr ConvActivation kActs[] = {ConvActivation::kNone,     ConvActivation::kReLU,
                                    ConvActivation::kReLU6,    ConvActivation::kHSwish,
                                    ConvActivation::kHSigmoid, ConvActivation::kSiLU,
                                    ConvActivation::kXSigmoid};

TEST(PointwiseKernels, EveryOutputIsTheChainThenBiasThenActivation) {
  struct Case {
    int64_t m, n, k;
  };
  // Columns: below a vector, every tail of 1–15 past 16 and 48, a 7 × 7 plane (48 + 1, or one tile
  // of 49 on AVX-512), 14 × 14 (192 + 4, or 4 · 49), other multiples of 49 (AVX-512 tiles of 49:
  // 2 to 8 tiles, every panel size 1–8, chunks of one tile (k 1100) and of several); k = 16
  // chunks (384 columns) with the last one taken into the one before or not; rows: one partial
  // panel, 8 panels + 1 (a tail group of 8 then 1), 9 panels + 5 rows; a weight past the L2
  // chunking's bound (160 × 480 floats).
  const std::vector<Case> cases = {
      {1, 1, 1},      {5, 3, 7},      {8, 7, 16},    {9, 17, 3},      {13, 49, 33},  {24, 31, 20},
      {8, 47, 5},     {16, 48, 16},   {72, 49, 40},  {77, 196, 24},   {64, 63, 16},  {3, 64, 9},
      {11, 65, 17},   {40, 103, 64},  {96, 384, 16}, {96, 431, 16},   {96, 433, 16}, {17, 800, 16},
      {160, 49, 480}, {32, 200, 300}, {8, 23, 128},  {96, 785, 24},   {67, 57, 100}, {128, 9, 64},
      {7, 98, 5},     {23, 147, 33},  {61, 196, 64}, {13, 196, 1100}, {66, 392, 17}, {3, 49, 1}};
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    for (const Case& c : cases) {
      const int64_t ldx = c.n + 5, ldy = c.n + 3;
      const auto w = uniform(static_cast<size_t>(c.m * c.k), 1);
      const auto x = uniform(static_cast<size_t>(c.k * ldx), 2);
      const auto b = uniform(static_cast<size_t>(c.m), 3, -2.0f, 2.0f);
      std::vector<float> packed(w.size());
      pack_rows(c.m, c.k, w.data(), c.k, packed.data());
      // The chains, in float, as the kernels must form them.
      std::vector<float> sums(static_cast<size_t>(c.m * c.n));
      for (int64_t r = 0; r < c.m; ++r)
        for (int64_t s = 0; s < c.n; ++s) {
          float acc = 0.0f;
          for (int64_t p = 0; p < c.k; ++p)
            acc = std::fma(w[static_cast<size_t>(r * c.k + p)], x[static_cast<size_t>(p * ldx + s)],
                           acc);
          sums[static_cast<size_t>(r * c.n + s)] = acc;
        }
      // A residual (a ResNet shortcut) with y's row stride.
      const auto res = uniform(static_cast<size_t>(c.m * ldy), 4, -2.0f, 2.0f);
      for (ConvActivation act : kActs)
        for (bool with_bias : {true, false})
          for (bool with_res : {false, true}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " m " + std::to_string(c.m) + " n " +
                         std::to_string(c.n) + " k " + std::to_string(c.k) + " activation " +
                         std::to_string(static_cast<int>(act)) + (with_bias ? " bias" : "") +
                         (with_res ? " residual" : ""));
            const float* bias = with_bias ? b.data() : nullptr;
            std::vector<float> want(static_cast<size_t>(c.m * c.n));
            for (int64_t r = 0; r < c.m; ++r) {
              float* row = want.data() + r * c.n;
              for (int64_t s = 0; s < c.n; ++s) {
                const float sum = sums[static_cast<size_t>(r * c.n + s)];
                // (sum + bias) + residual, then the activation: the unfused ops' order.
                row[s] = with_res ? finish(finish(sum, bias, r, ConvActivation::kNone) +
                                               res[static_cast<size_t>(r * ldy + s)],
                                           nullptr, r, act)
                                  : finish(sum, bias, r, act);
              }
              if (conv_activation_exp(act)) conv_activate_exp(act, row, c.n);
            }
            const float* rp = with_res ? res.data() : nullptr;
            const PointwiseFn kernel = pointwise_kernel(act, with_res);
            ASSERT_NE(kernel, nullptr);
            constexpr float kSentinel = 12345.0f;
            std::vector<float> y(static_cast<size_t>(c.m * ldy), kSentinel);
            kernel(c.m, c.n, c.k, packed.data(), x.data(), ldx, bias, rp, y.data(), ldy);
            for (int64_t r = 0; r < c.m; ++r)
              for (int64_t s = 0; s < ldy; ++s) {
                const float got = y[static_cast<size_t>(r * ldy + s)];
                if (s >= c.n) {
                  ASSERT_EQ(got, kSentinel) << "wrote past the block: row " << r << " column " << s;
                  continue;
                }
                const float expect = want[static_cast<size_t>(r * c.n + s)];
                ASSERT_EQ(got, expect) << "row " << r << " column " << s;
              }
            // Run after run: the same bits.
            std::vector<float> again(y.size(), kSentinel);
            kernel(c.m, c.n, c.k, packed.data(), x.data(), ldx, bias, rp, again.data(), ldy);
            ASSERT_EQ(again, y);
          }
    }
  }
}

// FusedConv2D's 1 × 1 convolutions with a packed weight (what the optimiser makes of every 1 × 1
// layer) against the unpacked kernel, 7 × 7 and 14 × 14 planes, a squeeze-excitation's 1 × 1 and
// 2 × 2 ones, odd channel counts, batch 2, groups, every activation, across two threads and on one
// (the same bits).
TEST(PointwiseKernels, PackedOneByOneConvolutionsMatchTheUnpackedOnes) {
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  struct Geo {
    int64_t n, c, h, w, o, group;
  };
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    if (!packed_kernels()) GTEST_SKIP() << "no packed kernels on this CPU";
    for (const Geo& geo : std::vector<Geo>{{1, 160, 7, 7, 960, 1},
                                           {3, 300, 7, 7, 37, 1},
                                           {2, 129, 14, 14, 61, 1},
                                           {2, 24, 14, 14, 77, 1},
                                           {1, 16, 56, 56, 96, 1},
                                           {1, 40, 5, 13, 36, 2},
                                           {2, 17, 9, 9, 19, 1},
                                           {1, 96, 4, 4, 576, 1},
                                           {1, 144, 1, 1, 576, 1},
                                           {2, 64, 2, 2, 40, 1},
                                           {1, 5, 1, 3, 9, 1}}) {
      for (const char* act : {"none", "relu", "relu6", "hswish", "hsigmoid", "silu", "x_sigmoid"}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + act + " c " + std::to_string(geo.c) +
                     " o " + std::to_string(geo.o) + " plane " + std::to_string(geo.h) + " × " +
                     std::to_string(geo.w));
        const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.o, geo.c / geo.group, 1, 1};
        Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.o});
        auto fill = [](Tensor& t, unsigned seed) {
          const auto v = uniform(static_cast<size_t>(t.numel()), seed);
          std::copy(v.begin(), v.end(), t.data<float>());
        };
        fill(x, 31), fill(w, 32), fill(bias, 33);
        ir::Attrs attrs = {{"pad_mode", std::string("valid")},
                           {"group", geo.group},
                           {"activation", std::string(act)}};
        const std::vector<TensorType> types = {
            {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{geo.o}}};
        const TensorType out = fused->infer(types, attrs)[0];
        ir::Attrs packed_attrs = attrs;
        packed_attrs["packed_weight"] = true;
        const Kernel plain = fused->make_kernel(types, attrs);
        const Kernel packed = fused->make_kernel(types, packed_attrs);
        Tensor want(DType::Float32, out.shape), got(DType::Float32, out.shape),
            serial(DType::Float32, out.shape);
        std::vector<Tensor> plain_in{x, w, bias},
            packed_in{x, pack_conv_weight(w, geo.group), bias};
        std::vector<Tensor> want_out{want}, got_out{got}, serial_out{serial};
        plain(plain_in, want_out);
        runtime::ThreadPool pool(2);
        packed(packed_in, got_out, pool);
        packed(packed_in, serial_out);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < want.numel(); ++i) {
          worst = std::max(
              worst, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
          scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
        }
        EXPECT_GT(scale, 0.1);
        EXPECT_LE(worst, 1e-5 * std::max(scale, 1.0));
        EXPECT_TRUE(serial.equal(got));
      }
    }
  }
}

}  // namespace
}  // namespace cellar::ops
