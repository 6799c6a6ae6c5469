// FusedConv2D with a residual input (the optimiser's fold of a ResNet block's Add [→ ReLU] into its
// last convolution, src/runtime/optimizer.h pass 4c) on every path a convolution can take, on
// every instruction set this CPU has and on the portable kernels (the paths switch with the
// instruction set): conv_taps (3 × 3, stride 2, a 1 × 1 stride-2 shortcut, 48 + 1 positions),
// the 1 × 1 pointwise kernels (tiles of 49, tails), im2col + the packed GEMM (a padded 1 × 1, a
// kernel of more taps than conv_taps takes), im2col + GEMM on a weight as given, the direct stem
// kernel (copied and in place, masked last vectors), depthwise (channel-blocked and per plane),
// groups, Float64. Each output must be the unfused ops' value bit for bit (the e^x activations:
// within rounding): the same convolution without the residual (its sums + bias), then
// + residual, then the activation; with garbage in
// the output beforehand, on one and two threads, run after run; and within float rounding of the
// portable kernels' result.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_support.h"
#include "ops/nn/conv2d.h"
#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

Tensor random_tensor(const Shape& s, unsigned seed, DType dt, float lo = -1.0f, float hi = 1.0f) {
  const auto v = uniform(static_cast<size_t>(s.numel()), seed, lo, hi);
  Tensor t(DType::Float32, s);
  std::copy(v.begin(), v.end(), t.data<float>());
  return dt == DType::Float32 ? t : t.to(dt);
}

std::vector<double> values(const Tensor& t) {
  const Tensor d = t.to(DType::Float64);
  return {d.data<double>(), d.data<double>() + d.numel()};
}

// The unfused ops' last two steps on one element: Add, then the activation (as the portable
// epilogue computes it; the e^x ones over the whole tensor afterwards).
template <class T>
T add_then_activate(T conv, T res, ConvActivation act) {
  return activate_as_epilogue(conv + res, act);
}

struct Case {
  std::string label;
  Shape x, w;
  int64_t stride, pad, group;
};

Tensor run(const Kernel& k, std::vector<Tensor> in, const Shape& out, DType dt, Parallel* pool) {
  Tensor y(dt, out);
  // Garbage first: every output must be written.
  if (dt == DType::Float32)
    std::fill_n(y.data<float>(), y.numel(), 12345.0f);
  else
    std::fill_n(y.data<double>(), y.numel(), 12345.0);
  std::vector<Tensor> outs{y};
  if (pool)
    k(in, outs, *pool);
  else
    k(in, outs);
  return y;
}

TEST(ResidualConvKernels, EveryPathAddsTheResidualAsTheUnfusedOpsDo) {
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  const std::vector<Case> cases = {
      {"taps_3x3", {2, 16, 30, 30}, {24, 16, 3, 3}, 1, 1, 1},
      {"taps_7x7_plane", {1, 8, 7, 7}, {13, 8, 3, 3}, 1, 1, 1},
      // 14 × 14 = 4 · 48 + 4: tiles of 48 + 1 (an extra position inside the band, not at its end)
      {"taps_14x14_tiles_of_49", {1, 16, 14, 14}, {24, 16, 3, 3}, 1, 1, 1},
      {"taps_stride2_odd", {1, 9, 15, 15}, {10, 9, 3, 3}, 2, 1, 1},
      {"shortcut_1x1_stride2", {2, 24, 14, 14}, {40, 24, 1, 1}, 2, 0, 1},
      {"pointwise_7x7", {1, 20, 7, 7}, {19, 20, 1, 1}, 1, 0, 1},
      {"pointwise_50_columns", {2, 13, 10, 5}, {11, 13, 1, 1}, 1, 0, 1},
      {"pointwise_14x14", {1, 32, 14, 14}, {72, 32, 1, 1}, 1, 0, 1},
      {"im2col_padded_1x1", {1, 6, 9, 9}, {10, 6, 1, 1}, 1, 1, 1},
      {"im2col_8x8_kernel", {1, 5, 12, 12}, {9, 5, 8, 8}, 1, 2, 1},
      {"stem_direct", {1, 3, 21, 21}, {16, 3, 3, 3}, 2, 1, 1},
      {"stem_in_place", {2, 3, 9, 21}, {7, 3, 3, 3}, 1, 0, 1},
      {"depthwise_blocked", {1, 16, 12, 12}, {16, 1, 3, 3}, 1, 1, 16},
      {"depthwise_multiplier", {1, 4, 9, 9}, {8, 1, 3, 3}, 1, 1, 4},
      {"grouped", {1, 8, 10, 10}, {12, 4, 3, 3}, 1, 1, 2},
  };
  const std::map<std::string, ConvActivation> acts = {{"none", ConvActivation::kNone},
                                                      {"relu", ConvActivation::kReLU},
                                                      {"relu6", ConvActivation::kReLU6},
                                                      {"hswish", ConvActivation::kHSwish},
                                                      {"silu", ConvActivation::kSiLU}};
  std::vector<Isa> isas = {Isa::kNone};
  for (Isa isa : simd_isas()) isas.push_back(isa);
  runtime::ThreadPool pool(2);
  unsigned seed = 100;
  for (const Case& c : cases)
    for (DType dt : {DType::Float32, DType::Float64}) {
      const Shape bs{c.w[0]};
      const Tensor x = random_tensor(c.x, seed++, dt);
      const Tensor w = random_tensor(c.w, seed++, dt);
      const Tensor b = random_tensor(bs, seed++, dt);
      ir::Attrs base = {{"pad_mode", std::string("pad")},
                        {"pad", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad}},
                        {"stride", std::vector<int64_t>{1, 1, c.stride, c.stride}},
                        {"group", c.group}};
      const Shape ys = fused->infer(std::vector<TensorType>{{dt, c.x}, {dt, c.w}}, base)[0].shape;
      const Tensor r = random_tensor(ys, seed++, dt, -2.0f, 2.0f);
      for (const auto& [act_name, act_value] : acts)
        for (bool with_bias : {true, false}) {
          const ConvActivation act = act_value;  // (a structured binding: not for lambdas in clang)
          // The portable kernels' result: the reference for every instruction set.
          std::vector<double> portable;
          for (Isa isa : isas) {
            ForcedIsa forced(isa);
            const bool gemm = !(c.x[1] == c.group && c.group > 1);  // not depthwise
            for (bool packed : {false, true}) {
              if (packed && (isa == Isa::kNone || dt != DType::Float32 || !gemm)) continue;
              SCOPED_TRACE(c.label + " " + isa_name(isa) + (dt == DType::Float64 ? " f64" : "") +
                           " " + act_name + (with_bias ? " bias" : "") + (packed ? " packed" : ""));
              ir::Attrs attrs = base;
              attrs["packed_weight"] = packed;
              std::vector<TensorType> types = {{dt, c.x}, {dt, c.w}};
              std::vector<Tensor> in = {x, packed ? pack_conv_weight(w, c.group) : w};
              if (with_bias) {
                types.push_back({dt, bs});
                in.push_back(b);
              }
              // The unfused convolution (its sums + bias), then Add and the activation, on as
              // many threads as the fused one (a BLAS product's bits may depend on its blocks).
              attrs["activation"] = std::string("none");
              const Kernel unfused = fused->make_kernel(types, attrs);
              auto unfused_then_add = [&](Parallel* p) {
                const Tensor conv = run(unfused, in, ys, dt, p);
                Tensor want(dt, ys);
                if (dt == DType::Float32) {
                  const float* cv = conv.data<float>();
                  const float* rp = r.data<float>();
                  float* wp = want.data<float>();
                  for (int64_t i = 0; i < want.numel(); ++i)
                    wp[i] = add_then_activate(cv[i], rp[i], act);
                  if (conv_activation_exp(act)) conv_activate_exp(act, wp, want.numel());
                } else {
                  const double* cv = conv.data<double>();
                  const double* rp = r.data<double>();
                  double* wp = want.data<double>();
                  for (int64_t i = 0; i < want.numel(); ++i)
                    wp[i] = add_then_activate(cv[i], rp[i], act);
                  if (conv_activation_exp(act)) conv_activate_exp(act, wp, want.numel());
                }
                return std::pair{values(conv), values(want)};
              };
              const auto [cvals, wv] = unfused_then_add(nullptr);
              const auto wv2 = unfused_then_add(&pool).second;
              // The fused one.
              attrs["activation"] = act_name;
              attrs["residual"] = true;
              types.push_back({dt, ys});
              in.push_back(r);
              const Kernel k = fused->make_kernel(types, attrs);
              EXPECT_EQ(fused->infer(types, attrs)[0].shape, ys);
              for (int pass = 0; pass < 2; ++pass)
                for (Parallel* p :
                     {static_cast<Parallel*>(nullptr), static_cast<Parallel*>(&pool)}) {
                  const auto got = values(run(k, in, ys, dt, p));
                  const auto& want = p ? wv2 : wv;
                  for (size_t i = 0; i < got.size(); ++i) {
                    // The e^x activations' SIMD functions take a block's last few elements in
                    // scalar code: the kernels' blocks end elsewhere than the whole tensor's (as
                    // for FusedConv2D without a residual against the SiLU op): within rounding.
                    if (conv_activation_exp(act))
                      ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i])))
                          << "output " << i << (p ? " on 2 threads" : "") << " pass " << pass;
                    else
                      ASSERT_EQ(got[i], want[i])
                          << "output " << i << (p ? " on 2 threads" : "") << " pass " << pass;
                  }
                }
              // Not trivially the residual or zero, and the residual did change the outputs.
              double scale = 0, moved = 0;
              for (size_t i = 0; i < wv.size(); ++i) {
                scale = std::max(scale, std::fabs(wv[i]));
                moved = std::max(moved, std::fabs(wv[i] - cvals[i]));
              }
              EXPECT_GT(scale, 0.1);
              EXPECT_GT(moved, 0.1);
              if (isa == Isa::kNone && !packed) {
                portable = wv;
              } else {
                double worst = 0;
                for (size_t i = 0; i < wv.size(); ++i)
                  worst = std::max(worst, std::fabs(wv[i] - portable[i]));
                EXPECT_LE(worst, 1e-5 * scale);
              }
            }
          }
        }
    }
}

// What the row checks: the residual's shape must be the output's, and a fourth input needs
// `residual`.
TEST(ResidualConvKernels, RefusesAResidualOfAnotherShape) {
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  const DType f = DType::Float32;
  ir::Attrs attrs = {
      {"pad_mode", std::string("same")}, {"activation", std::string("relu")}, {"residual", true}};
  const TensorType x{f, Shape{1, 4, 6, 6}}, w{f, Shape{8, 4, 3, 3}}, b{f, Shape{8}};
  using Types = std::vector<TensorType>;
  EXPECT_EQ(fused->infer(Types{x, w, b, {f, Shape{1, 8, 6, 6}}}, attrs)[0].shape,
            (Shape{1, 8, 6, 6}));
  EXPECT_EQ(fused->infer(Types{x, w, {f, Shape{1, 8, 6, 6}}}, attrs)[0].shape, (Shape{1, 8, 6, 6}));
  // A broadcasting shape (an Add would take it) is refused.
  EXPECT_THROW(fused->infer(Types{x, w, b, {f, Shape{1, 8, 1, 1}}}, attrs), ValueError);
  EXPECT_THROW(fused->infer(Types{x, w, b, {f, Shape{1, 8, 6, 5}}}, attrs), ValueError);
  // Another dtype.
  EXPECT_THROW(fused->infer(Types{x, w, b, {DType::Float64, Shape{1, 8, 6, 6}}}, attrs),
               ValueError);
  // No residual input at all.
  EXPECT_THROW(fused->infer(Types{x, w}, attrs), ValueError);
  // Four inputs without `residual`.
  attrs["residual"] = false;
  EXPECT_THROW(fused->infer(Types{x, w, b, {f, Shape{1, 8, 6, 6}}}, attrs), ValueError);
}

}  // namespace
}  // namespace cellar::ops
