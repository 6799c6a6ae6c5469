// FusedPointwiseDepthwise (ops/nn/pointwise_depthwise.cpp: an inverted-residual block's 1 × 1
// expansion and depthwise convolution computed a band of rows at a time) against the two
// FusedConv2D nodes it replaces (the 1 × 1 with its packed weight, then the depthwise), bit for
// bit: channel counts not a multiple of 16 or 8, stride 1 and 2, 3 × 3 and 5 × 5 taps, padding 0
// to kh − 1 and asymmetric, planes of many bands and channel groups (a band's shared rows copied
// from the band before) and of one, batch 2, every activation on either side, AVX2 and AVX-512
// each forced, one worker, two workers and a second run.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_support.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

struct Block {
  int64_t n, c, h, w, e, k, stride;
  std::vector<int64_t> pad;  // top, bottom, left, right
};

Tensor filled(const Shape& s, unsigned seed) {
  Tensor t(DType::Float32, s);
  const auto v = uniform(static_cast<size_t>(t.numel()), seed);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

ir::Attrs depthwise_attrs(const Block& b, const std::string& act) {
  return {{"pad_mode", std::string("pad")},
          {"pad", b.pad},
          {"group", b.e},
          {"stride", std::vector<int64_t>{b.stride, b.stride}},
          {"activation", act}};
}

// The two FusedConv2D nodes' output (the 1 × 1 with a packed weight, as the optimiser leaves it).
Tensor unfused(const Block& b, const std::vector<Tensor>& in, const std::string& act_e,
               const std::string& act_d) {
  const OpDef* conv = op_table().find("FusedConv2D");
  const ir::Attrs ea = {
      {"pad_mode", std::string("valid")}, {"activation", act_e}, {"packed_weight", true}};
  const std::vector<TensorType> et = {{DType::Float32, in[0].shape()},
                                      {DType::Float32, in[1].shape()},
                                      {DType::Float32, in[2].shape()}};
  const TensorType mid = conv->infer(et, ea)[0];
  std::vector<Tensor> e{Tensor(DType::Float32, mid.shape)};
  conv->make_kernel(et, ea)(std::vector<Tensor>{in[0], in[1], in[2]}, e);
  const ir::Attrs da = depthwise_attrs(b, act_d);
  const std::vector<TensorType> dt = {
      mid, {DType::Float32, in[3].shape()}, {DType::Float32, in[4].shape()}};
  std::vector<Tensor> y{Tensor(DType::Float32, conv->infer(dt, da)[0].shape)};
  conv->make_kernel(dt, da)(std::vector<Tensor>{e[0], in[3], in[4]}, y);
  return y[0];
}

TEST(PointwiseDepthwiseKernels, BandsGiveTheUnfusedNodesBits) {
  const OpDef* fused = op_table().find("FusedPointwiseDepthwise");
  ASSERT_NE(fused, nullptr);
  const std::vector<Block> blocks = {
      {1, 16, 112, 112, 96, 3, 2, {1, 1, 1, 1}},  // MobileNetV2's second block: many bands
      {1, 24, 56, 56, 144, 3, 1, {1, 1, 1, 1}},   // stride 1: 2 shared rows per band
      {2, 24, 29, 31, 72, 5, 2, {2, 2, 2, 2}},    // 5 × 5, odd plane, batch 2
      {1, 40, 28, 28, 240, 5, 1, {2, 2, 2, 2}},   // 5 × 5 stride 1
      {1, 8, 61, 67, 100, 3, 1, {1, 1, 1, 1}},    // 100 channels: groups of 16 end in 4
      {1, 5, 40, 90, 1000, 3, 2, {0, 2, 1, 0}},   // channel groups (a band of all is too large)
      {2, 7, 9, 11, 19, 3, 1, {0, 0, 2, 2}},      // small: one band, no top/bottom padding
      {1, 3, 33, 17, 9, 3, 2, {2, 1, 0, 1}},      // asymmetric, 9 channels (8-lane block)
      {1, 12, 20, 20, 34, 3, 1, {1, 1, 1, 1}},    // rows of 20 (AVX-512 direct rows)
      {1, 6, 5, 50, 48, 3, 1, {1, 1, 1, 1}},      // under 4 output rows (single rows)
      // The expansion written in the 16-lane depthwise kernel's layout (AVX-512: 3 × 3 taps
      // where the direct rows do not take them, 5 × 5, last blocks of 9 to 16 channels):
      {2, 16, 56, 56, 144, 3, 2, {1, 1, 1, 1}},  // MobileNetV2's 56 × 56 stride 2, batch 2
      {2, 3, 12, 12, 25, 3, 2, {0, 0, 0, 0}},    // a last column the depthwise never reads
      {1, 9, 2, 2, 41, 3, 1, {1, 1, 1, 1}},      // bands of under 8 pixels, blocks of 16 + 9
      {1, 11, 7, 7, 58, 5, 1, {2, 2, 2, 2}},     // 5 × 5 on 7 × 7, a block of 10
      {1, 5, 40, 90, 1001, 3, 2, {0, 2, 1, 0}},  // channel groups, a last block of 9
      {1, 17, 14, 14, 92, 3, 1, {1, 1, 1, 1}},   // 14 × 14 stride 1, k odd
      {1, 24, 30, 26, 80, 5, 2, {2, 1, 2, 1}},   // 5 × 5 stride 2, asymmetric
  };
  const std::vector<std::pair<std::string, std::string>> acts = {
      {"relu6", "relu6"}, {"none", "none"},           {"hswish", "hswish"},
      {"relu", "relu"},   {"x_sigmoid", "x_sigmoid"}, {"silu", "hsigmoid"}};
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    if (!packed_kernels()) GTEST_SKIP() << "no packed kernels on this CPU";
    for (const Block& b : blocks)
      for (const auto& [act_e, act_d] : acts) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + act_e + "/" + act_d + " c " +
                     std::to_string(b.c) + " e " + std::to_string(b.e) + " " + std::to_string(b.h) +
                     " × " + std::to_string(b.w) + " k " + std::to_string(b.k) + " s " +
                     std::to_string(b.stride));
        const Tensor w = filled(Shape{b.e, b.c, 1, 1}, 2);
        const std::vector<Tensor> in = {filled(Shape{b.n, b.c, b.h, b.w}, 1),
                                        pack_conv_weight(w, 1), filled(Shape{b.e}, 3),
                                        filled(Shape{b.e, 1, b.k, b.k}, 4), filled(Shape{b.e}, 5)};
        const Tensor want = unfused(b, in, act_e, act_d);
        ir::Attrs attrs = depthwise_attrs(b, act_d);
        attrs["expand_activation"] = act_e;
        attrs["packed_weight"] = true;
        std::vector<TensorType> types;
        for (const Tensor& t : in) types.push_back({DType::Float32, t.shape()});
        ASSERT_EQ(fused->infer(types, attrs)[0].shape, want.shape());
        const Kernel kernel = fused->make_kernel(types, attrs);
        std::vector<Tensor> one{Tensor(DType::Float32, want.shape())},
            two{Tensor(DType::Float32, want.shape())}, again{Tensor(DType::Float32, want.shape())};
        kernel(in, one);
        runtime::ThreadPool pool(2);
        kernel(in, two, pool);
        kernel(in, again);
        EXPECT_TRUE(one[0].equal(want)) << "one worker";
        EXPECT_TRUE(two[0].equal(want)) << "two workers";
        EXPECT_TRUE(again[0].equal(want)) << "second run";
      }
  }
}

// A packed weight on a CPU (or a forced instruction set) without the SIMD kernels: refused, as
// FusedConv2D refuses it.
TEST(PointwiseDepthwiseKernels, APackedWeightNeedsTheSimdKernels) {
  const OpDef* fused = op_table().find("FusedPointwiseDepthwise");
  ASSERT_NE(fused, nullptr);
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD kernels on this CPU";
  const Block b{1, 4, 8, 8, 16, 3, 1, {1, 1, 1, 1}};
  ir::Attrs attrs = depthwise_attrs(b, "relu6");
  attrs["expand_activation"] = std::string("relu6");
  attrs["packed_weight"] = true;
  const std::vector<TensorType> types = {{DType::Float32, Shape{1, 4, 8, 8}},
                                         {DType::Float32, Shape{16, 4, 1, 1}},
                                         {DType::Float32, Shape{16}},
                                         {DType::Float32, Shape{16, 1, 3, 3}},
                                         {DType::Float32, Shape{16}}};
  ForcedIsa forced(Isa::kNone);
  EXPECT_THROW(fused->make_kernel(types, attrs), ValueError);
}

}  // namespace
}  // namespace cellar::ops
