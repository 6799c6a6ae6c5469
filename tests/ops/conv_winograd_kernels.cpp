// EXPERIMENT (branch tap-wino): the Winograd F(2 × 2, 3 × 3) kernel (src/ops/nn/conv_winograd.h)
// against a double-precision reference within float rounding: odd and rectangular planes (partial
// tiles, chunks ending inside a tile row), several chunks, batch 2, odd input channel counts,
// bias or none, residual or none, the register activations, one and two threads, run twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_support.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_winograd.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

ConvGeometry geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o) {
  ConvGeometry g{};
  g.n = n, g.c = c, g.h = h, g.w = w, g.o = o, g.kh = g.kw = 3, g.group = 1;
  g.sh = g.sw = g.dh = g.dw = 1;
  g.pt = g.pl = g.pb = g.pr = 1;
  g.oh = h, g.ow = w;
  return g;
}

double activate(double v, ConvActivation act) {
  switch (act) {
    case ConvActivation::kReLU:
      return std::max(v, 0.0);
    case ConvActivation::kReLU6:
      return std::min(std::max(v, 0.0), 6.0);
    case ConvActivation::kHSwish:
      return v * std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
    case ConvActivation::kHSigmoid:
      return std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
    default:
      return v;
  }
}

TEST(ConvWinogradKernels, WithinRoundingOfTheDoubleReference) {
  if (!cpu_has(Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  ForcedIsa forced(Isa::kAvx512);
  const std::vector<ConvGeometry> geos = {
      geometry(1, 16, 14, 14, 8),   // one chunk of 49 tiles
      geometry(2, 5, 15, 15, 16),   // odd plane: 64 tiles (49 + 15), batch 2
      geometry(1, 7, 14, 20, 8),    // rectangular: tile rows of 10
      geometry(1, 64, 56, 56, 24),  // 16 chunks of 49
      geometry(1, 3, 17, 14, 8),    // odd height
  };
  constexpr ConvActivation kActs[] = {ConvActivation::kNone, ConvActivation::kReLU,
                                      ConvActivation::kReLU6, ConvActivation::kHSwish,
                                      ConvActivation::kHSigmoid};
  runtime::ThreadPool pool(2);
  for (const ConvGeometry& g : geos) {
    ASSERT_TRUE(conv_winograd_fits(g, ConvActivation::kReLU));
    const auto x = uniform(static_cast<size_t>(g.n * g.c * g.h * g.w), 1);
    const auto w = uniform(static_cast<size_t>(g.o * g.c * 9), 2);
    const auto bv = uniform(static_cast<size_t>(g.o), 3);
    const auto rv = uniform(static_cast<size_t>(g.n * g.o * g.h * g.w), 4, -2.0f, 2.0f);
    const Shape xs{g.n, g.c, g.h, g.w}, ws{g.o, g.c, 3, 3}, ys{g.n, g.o, g.h, g.w};
    Tensor xt(DType::Float32, xs), wt(DType::Float32, ws), bt(DType::Float32, Shape{g.o}),
        rt(DType::Float32, ys);
    std::copy(x.begin(), x.end(), xt.data<float>());
    std::copy(w.begin(), w.end(), wt.data<float>());
    std::copy(bv.begin(), bv.end(), bt.data<float>());
    std::copy(rv.begin(), rv.end(), rt.data<float>());
    const Tensor packed = pack_conv_weight(wt, 1);
    // The convolution alone in double.
    std::vector<double> conv(static_cast<size_t>(g.n * g.o * g.h * g.w));
    for (int64_t b = 0; b < g.n; ++b)
      for (int64_t o = 0; o < g.o; ++o)
        for (int64_t oy = 0; oy < g.h; ++oy)
          for (int64_t ox = 0; ox < g.w; ++ox) {
            double acc = 0;
            for (int64_t c = 0; c < g.c; ++c)
              for (int64_t i = 0; i < 3; ++i)
                for (int64_t j = 0; j < 3; ++j) {
                  const int64_t iy = oy + i - 1, ix = ox + j - 1;
                  if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                    acc += static_cast<double>(
                               w[static_cast<size_t>(((o * g.c + c) * 3 + i) * 3 + j)]) *
                           x[static_cast<size_t>(((b * g.c + c) * g.h + iy) * g.w + ix)];
                }
            conv[static_cast<size_t>(((b * g.o + o) * g.h + oy) * g.w + ox)] = acc;
          }
    for (ConvActivation act : kActs)
      for (bool with_bias : {true, false})
        for (bool with_res : {false, true}) {
          SCOPED_TRACE("n " + std::to_string(g.n) + " c " + std::to_string(g.c) + " " +
                       std::to_string(g.h) + "×" + std::to_string(g.w) + " o " +
                       std::to_string(g.o) + " activation " +
                       std::to_string(static_cast<int>(act)) + (with_bias ? " bias" : "") +
                       (with_res ? " residual" : ""));
          const Kernel kernel = conv_winograd_kernel(g, with_bias, act, with_res);
          std::vector<Tensor> in{xt, packed};
          if (with_bias) in.push_back(bt);
          if (with_res) in.push_back(rt);
          for (int run = 0; run < 2; ++run) {
            Tensor one(DType::Float32, ys), two(DType::Float32, ys);
            std::fill_n(one.data<float>(), one.numel(), 12345.0f);
            std::fill_n(two.data<float>(), two.numel(), 12345.0f);
            std::vector<Tensor> one_out{one}, two_out{two};
            kernel(in, one_out);
            kernel(in, two_out, pool);
            for (size_t i = 0; i < conv.size(); ++i) {
              const int64_t o = static_cast<int64_t>(i) / (g.h * g.w) % g.o;
              const double want =
                  activate(conv[i] + (with_bias ? bv[static_cast<size_t>(o)] : 0.0) +
                               (with_res ? rv[i] : 0.0),
                           act);
              // The chains run over c input channels of 9 taps' worth: a few ulps of the sum of
              // the products' magnitudes.
              const double tol = 1e-6 * (1.0 + 9.0 * static_cast<double>(g.c));
              ASSERT_NEAR(one.data<float>()[i], want, tol) << "output " << i << " run " << run;
              ASSERT_NEAR(two.data<float>()[i], want, tol) << "output " << i << " on 2 threads";
            }
          }
        }
  }
}

TEST(ConvWinogradKernels, TakesOnlyWhatItComputes) {
  if (!cpu_has(Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  ForcedIsa forced(Isa::kAvx512);
  EXPECT_TRUE(conv_winograd_fits(geometry(1, 8, 14, 14, 8), ConvActivation::kReLU));
  EXPECT_FALSE(conv_winograd_fits(geometry(1, 8, 7, 7, 8), ConvActivation::kReLU));  // direct wins
  EXPECT_FALSE(conv_winograd_fits(geometry(1, 8, 14, 14, 12), ConvActivation::kReLU));
  EXPECT_FALSE(conv_winograd_fits(geometry(1, 8, 14, 14, 8), ConvActivation::kSiLU));
  ConvGeometry s2 = geometry(1, 8, 28, 28, 8);
  s2.sh = s2.sw = 2, s2.oh = s2.ow = 14;
  EXPECT_FALSE(conv_winograd_fits(s2, ConvActivation::kReLU));
  ForcedIsa avx2(Isa::kAvx2);
  EXPECT_FALSE(conv_winograd_fits(geometry(1, 8, 14, 14, 8), ConvActivation::kReLU));
}

}  // namespace
}  // namespace cellar::ops
