// The direct convolution on column-shifted copies (src/ops/nn/conv_taps.h) on every instruction
// set this CPU has: each output the chain of fused multiply-adds over the packed weight's columns
// (tap-major) from zero, then + bias, then + the residual when there is one, then the activation
// (gemm_packed + conv2d.cpp's epilogue, bit for bit), for odd channel counts (partial panels),
// planes whose positions end inside a tile (7 × 7, 14 × 14, odd widths), padding 0 and 1 (and
// uneven), stride 1 and 2, dilation, groups, batch > 1, taps that only meet padding; on one and two
// threads and run after run (the same bits); and through FusedConv2D with a packed weight against
// the portable kernel.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cellar/storage.h"
#include "kernel_test_support.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_taps.h"
#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

ConvGeometry geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t k, int64_t s,
                      int64_t pad, int64_t d = 1, int64_t group = 1, int64_t pad_after = -1) {
  ConvGeometry g{};
  g.n = n, g.c = c, g.h = h, g.w = w, g.o = o, g.kh = k, g.kw = k, g.group = group;
  g.sh = g.sw = s, g.dh = g.dw = d;
  g.pt = g.pl = pad;
  g.pb = g.pr = pad_after < 0 ? pad : pad_after;
  const int64_t span = d * (k - 1) + 1;
  g.oh = (h + g.pt + g.pb - span) / s + 1;
  g.ow = (w + g.pl + g.pr - span) / s + 1;
  return g;
}

// Every output as the kernel must form it: Σ over (tap, channel) in tap-major order of fma from
// zero, a tap outside the input contributing w · 0 (which leaves the chain's value as it is);
// with a residual, (chain + bias) + residual, then the activation (the unfused ops' order).
std::vector<float> reference(const ConvGeometry& g, const std::vector<float>& x,
                             const std::vector<float>& w, const float* bias, ConvActivation act,
                             const float* res = nullptr) {
  const int64_t cg = g.c / g.group, og = g.o / g.group;
  std::vector<float> y(static_cast<size_t>(g.n * g.o * g.oh * g.ow));
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t oc = 0; oc < g.o; ++oc) {
      const int64_t gr = oc / og;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          float acc = 0.0f;
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j)
              for (int64_t ci = 0; ci < cg; ++ci) {
                const int64_t iy = oy * g.sh + i * g.dh - g.pt, ix = ox * g.sw + j * g.dw - g.pl;
                const float v =
                    iy >= 0 && iy < g.h && ix >= 0 && ix < g.w
                        ? x[static_cast<size_t>(((b * g.c + gr * cg + ci) * g.h + iy) * g.w + ix)]
                        : 0.0f;
                acc = std::fma(w[static_cast<size_t>(((oc * cg + ci) * g.kh + i) * g.kw + j)], v,
                               acc);
              }
          const auto at = static_cast<size_t>(((b * g.o + oc) * g.oh + oy) * g.ow + ox);
          y[at] =
              res ? finish(finish(acc, bias, oc, ConvActivation::kNone) + res[at], nullptr, oc, act)
                  : finish(acc, bias, oc, act);
        }
    }
  return y;
}

std::string describe(const ConvGeometry& g) {
  return "n " + std::to_string(g.n) + " c " + std::to_string(g.c) + " " + std::to_string(g.h) +
         "×" + std::to_string(g.w) + " o " + std::to_string(g.o) + " k " + std::to_string(g.kh) +
         " s " + std::to_string(g.sh) + " pad " + std::to_string(g.pt) + "/" +
         std::to_string(g.pb) + " d " + std::to_string(g.dh) + " group " + std::to_string(g.group);
}

TEST(ConvTapsKernels, EveryOutputIsTheChainThenBiasThenActivation) {
  const std::vector<ConvGeometry> geos = {
      geometry(1, 3, 5, 5, 1, 3, 1, 1),             // one output channel, tiny plane
      geometry(2, 5, 7, 7, 13, 3, 1, 1),            // 7 × 7 (48 + 1 positions), partial panel
      geometry(1, 16, 14, 14, 24, 3, 1, 1),         // 14 × 14: four tiles of 48 + 1
      geometry(2, 17, 9, 11, 9, 3, 2, 1),           // stride 2, odd sizes
      geometry(1, 8, 12, 12, 16, 3, 2, 1),          // stride 2, even input
      geometry(1, 7, 10, 13, 11, 3, 1, 0),          // no padding
      geometry(1, 6, 9, 9, 8, 3, 1, 2, 2),          // dilation 2
      geometry(1, 12, 8, 8, 20, 3, 1, 1, 1, 2),     // 2 groups
      geometry(1, 4, 1, 1, 8, 3, 1, 1),             // 1 × 1 input: one tap of 9 meets it
      geometry(1, 5, 11, 11, 10, 5, 2, 2),          // 5 × 5 stride 2
      geometry(3, 9, 6, 20, 17, 3, 1, 1, 1, 1, 0),  // uneven padding, batch 3
      geometry(1, 64, 56, 56, 24, 3, 1, 1),         // 5 bands of 12 rows, blocks of 16 + 8 channels
      geometry(1, 64, 60, 60, 8, 3, 2, 1),          // stride 2 in bands
      geometry(1, 4, 10, 5, 8, 3, 1, 1),            // 48 + 2 positions
      geometry(2, 3, 17, 3, 9, 3, 1, 1),            // 48 + 3
      geometry(1, 3, 2, 2, 8, 3, 1, 3),             // a padding wider than the input
      geometry(1, 2, 23, 50, 3, 2, 2, 0),           // 2 × 2 stride 2, rows of 25
      geometry(2, 24, 14, 14, 40, 1, 2, 0),         // 1 × 1 stride 2 (a ResNet shortcut)
      geometry(1, 9, 15, 15, 8, 1, 2, 0),           // 1 × 1 stride 2, odd input
      geometry(1, 5, 9, 20, 8, 3, 1, 1),            // rows as wide as the input's, not square
      geometry(1, 64, 40, 40, 8, 5, 1, 2),          // 5 × 5, two padding columns, in bands
      geometry(1, 64, 40, 36, 8, 3, 1, 2, 2),       // dilation 2 in bands
      geometry(1, 3, 32, 32, 8, 3, 2, 1),           // stride 2, rows of 16 (one masked vector)
      geometry(1, 5, 7, 35, 13, 3, 1, 1),           // 5 · 48 + 5 positions: five tiles of 49
      // Strided layers on AVX-512's phase planes (each tap a run of one plane, ow wide):
      geometry(1, 6, 7, 7, 16, 3, 2, 1),      // ResNet's 3 × 3 / 2 on an odd plane: 4 × 4
      geometry(2, 5, 15, 15, 9, 3, 2, 1),     // 15 → 8
      geometry(1, 3, 225, 225, 8, 3, 2, 1),   // 225 → 113, in bands
      geometry(1, 4, 21, 21, 8, 7, 2, 3),     // a stem's 7 × 7 / 2 pad 3: columns −2 .. +1
      geometry(1, 4, 13, 14, 8, 3, 3, 1),     // stride 3: 9 planes, columns split one by one
      geometry(1, 4, 15, 15, 8, 3, 2, 2, 2),  // stride 2, dilation 2: one plane, rows −1 .. +1
      geometry(1, 6, 13, 13, 8, 3, 2, 0),     // a column past ow inside the input: copies
      geometry(1, 7, 11, 9, 10, 3, 2, 1, 1, 1, 0),  // uneven padding: rows 0 .. +1 only
  };
  constexpr ConvActivation kActs[] = {ConvActivation::kNone, ConvActivation::kReLU,
                                      ConvActivation::kReLU6, ConvActivation::kHSwish,
                                      ConvActivation::kHSigmoid};
  runtime::ThreadPool pool(2);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    for (const ConvGeometry& g : geos) {
      const int64_t cg = g.c / g.group;
      const auto x = uniform(static_cast<size_t>(g.n * g.c * g.h * g.w), 1);
      const auto w = uniform(static_cast<size_t>(g.o * cg * g.kh * g.kw), 2);
      const auto bv = uniform(static_cast<size_t>(g.o), 3, -2.0f, 2.0f);
      const Shape xs{g.n, g.c, g.h, g.w}, ws{g.o, cg, g.kh, g.kw}, ys{g.n, g.o, g.oh, g.ow};
      Tensor xt(DType::Float32, xs), wt(DType::Float32, ws), bt(DType::Float32, Shape{g.o});
      std::copy(x.begin(), x.end(), xt.data<float>());
      std::copy(w.begin(), w.end(), wt.data<float>());
      std::copy(bv.begin(), bv.end(), bt.data<float>());
      const Tensor packed = pack_conv_weight(wt, g.group);
      // A residual of the output's shape (a ResNet block's shortcut).
      const auto rv = uniform(static_cast<size_t>(g.n * g.o * g.oh * g.ow), 4, -2.0f, 2.0f);
      Tensor rt(DType::Float32, ys);
      std::copy(rv.begin(), rv.end(), rt.data<float>());
      for (ConvActivation act : kActs)
        for (bool with_bias : {true, false})
          for (bool with_res : {false, true}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + describe(g) + " activation " +
                         std::to_string(static_cast<int>(act)) + (with_bias ? " bias" : "") +
                         (with_res ? " residual" : ""));
            ASSERT_TRUE(conv_taps_fits(g, act));
            const auto want = reference(g, x, w, with_bias ? bv.data() : nullptr, act,
                                        with_res ? rv.data() : nullptr);
            const Kernel kernel = conv_taps_kernel(g, with_bias, act, with_res);
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
              for (size_t i = 0; i < want.size(); ++i) {
                ASSERT_EQ(one.data<float>()[i], want[i]) << "output " << i << " run " << run;
                ASSERT_EQ(two.data<float>()[i], want[i]) << "output " << i << " on 2 threads";
              }
            }
          }
    }
  }
}

// A stride-1 layer whose output rows are as wide as its input's (3 × 3 pad 1) reads its input
// in place on AVX-512, taps in the padding as masked-out lanes: here the input ends against an
// unreadable page and starts right after one, so a lane read outside it would fault, and a lane
// read from a neighbouring row or channel instead of zero would change the sums. Also horizontal
// and vertical padding uneven (2 + 0: the taps' offsets all on one side), and 5 × 5; and strided
// layers, whose phase planes are split from the input's rows (odd widths: a masked last load).
TEST(ConvTapsKernels, InPlaceReadsNothingOutsideTheInput) {
  auto uneven = [](int64_t c, int64_t h, int64_t w, int64_t o, int64_t k, int64_t pt, int64_t pb,
                   int64_t pl, int64_t pr) {
    ConvGeometry g = geometry(1, c, h, w, o, k, 1, 0);
    g.pt = pt, g.pb = pb, g.pl = pl, g.pr = pr;
    g.oh = h + pt + pb - k + 1;
    g.ow = w + pl + pr - k + 1;
    return g;
  };
  const std::vector<ConvGeometry> geos = {
      geometry(1, 5, 7, 7, 13, 3, 1, 1),     // 48 + 1 positions
      geometry(2, 16, 14, 14, 24, 3, 1, 1),  // tiles of 48 + 1, batch 2
      geometry(1, 3, 10, 5, 8, 3, 1, 1),     // 48 + 2: halves of 4 rows
      geometry(1, 64, 56, 56, 16, 3, 1, 1),  // bands
      geometry(1, 7, 9, 20, 9, 3, 1, 1),     // 32 + 16 + masked remainders
      geometry(1, 6, 13, 13, 8, 5, 1, 2),    // 5 × 5
      uneven(5, 12, 12, 8, 3, 2, 0, 2, 0),   // every tap up and left
      uneven(5, 12, 12, 8, 3, 0, 2, 0, 2),   // every tap down and right
      // Strided: the phase planes' rows are split from the input's, whose last vector is masked.
      geometry(1, 5, 15, 15, 8, 3, 2, 1),
      geometry(2, 3, 7, 33, 8, 3, 2, 1),
      geometry(1, 4, 21, 21, 8, 7, 2, 3),
  };
  const long page = sysconf(_SC_PAGESIZE);
  runtime::ThreadPool pool(2);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    for (const ConvGeometry& g : geos) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + describe(g) + " pad left " +
                   std::to_string(g.pl) + " right " + std::to_string(g.pr));
      const int64_t count = g.n * g.c * g.h * g.w;
      const auto x = uniform(static_cast<size_t>(count), 5);
      const auto w = uniform(static_cast<size_t>(g.o * g.c * g.kh * g.kw), 6);
      const auto bv = uniform(static_cast<size_t>(g.o), 7);
      // The input's bytes end where an unreadable page starts; another one just before them.
      const size_t bytes = static_cast<size_t>(count) * sizeof(float);
      const size_t span = (bytes + static_cast<size_t>(page) - 1) / page * page;
      const size_t total = span + 2 * static_cast<size_t>(page);
      void* map = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(map, MAP_FAILED);
      std::shared_ptr<void> owner(map, [total](void* p) { munmap(p, total); });
      auto* base = static_cast<std::byte*>(map) + page;
      ASSERT_EQ(mprotect(base, span, PROT_READ | PROT_WRITE), 0);
      Tensor wt(DType::Float32, Shape{g.o, g.c, g.kh, g.kw}), bt(DType::Float32, Shape{g.o});
      std::copy(w.begin(), w.end(), wt.data<float>());
      std::copy(bv.begin(), bv.end(), bt.data<float>());
      ASSERT_TRUE(conv_taps_fits(g, ConvActivation::kReLU));
      const auto want = reference(g, x, w, bv.data(), ConvActivation::kReLU);
      const Kernel kernel = conv_taps_kernel(g, true, ConvActivation::kReLU);
      // Against the guard after the input, then against the one before it.
      for (bool at_end : {true, false}) {
        std::byte* data = at_end ? base + (span - bytes) : base;
        std::memcpy(data, x.data(), bytes);
        const Tensor input(DType::Float32, Shape{g.n, g.c, g.h, g.w},
                           Storage::external(data, bytes, owner));
        std::vector<Tensor> in{input, pack_conv_weight(wt, 1), bt};
        Tensor one(DType::Float32, Shape{g.n, g.o, g.oh, g.ow}),
            two(DType::Float32, Shape{g.n, g.o, g.oh, g.ow});
        std::vector<Tensor> one_out{one}, two_out{two};
        kernel(in, one_out);
        kernel(in, two_out, pool);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(one.data<float>()[i], want[i]) << "output " << i << (at_end ? " end" : "");
          ASSERT_EQ(two.data<float>()[i], want[i]) << "output " << i << " on 2 threads";
        }
      }
    }
  }
}

// A strided layer's phase planes (AVX-512) are written only where they hold input pixels; the
// kernels must read nothing else (their masks), the padding as zeros. Here every worker's scratch
// is NaN before the run: a lane read from a part of a plane the run did not write (a padding row
// or column, a plane's columns past the input's, a band's rows past the input) makes a NaN.
TEST(ConvTapsKernels, PhasePlanesReadOnlyWhatTheRunWrote) {
  const std::vector<ConvGeometry> geos = {
      geometry(1, 64, 56, 56, 16, 3, 2, 1),         // ResNet's 3 × 3 / 2 at 56, in bands
      geometry(1, 9, 7, 7, 8, 3, 2, 1),             // 7 → 4: a plane's last column past the input
      geometry(2, 5, 15, 15, 9, 3, 2, 1),           // 15 → 8, batch 2
      geometry(1, 3, 225, 225, 8, 3, 2, 1),         // 225 → 113
      geometry(1, 4, 21, 21, 8, 7, 2, 3),           // 7 × 7 / 2 pad 3
      geometry(1, 4, 13, 14, 8, 3, 3, 1),           // stride 3
      geometry(1, 4, 15, 15, 8, 3, 2, 2, 2),        // dilation 2
      geometry(1, 5, 12, 12, 8, 5, 2, 2, 1, 1, 0),  // uneven padding
  };
  constexpr size_t kScratchFloats = size_t{1} << 20;
  runtime::ThreadPool pool(2);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    for (const ConvGeometry& g : geos) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + describe(g));
      const auto x = uniform(static_cast<size_t>(g.n * g.c * g.h * g.w), 8);
      const auto w = uniform(static_cast<size_t>(g.o * g.c * g.kh * g.kw), 9);
      const auto rv = uniform(static_cast<size_t>(g.n * g.o * g.oh * g.ow), 10);
      const Shape xs{g.n, g.c, g.h, g.w}, ys{g.n, g.o, g.oh, g.ow};
      Tensor xt(DType::Float32, xs), wt(DType::Float32, Shape{g.o, g.c, g.kh, g.kw}),
          rt(DType::Float32, ys);
      std::copy(x.begin(), x.end(), xt.data<float>());
      std::copy(w.begin(), w.end(), wt.data<float>());
      std::copy(rv.begin(), rv.end(), rt.data<float>());
      ASSERT_TRUE(conv_taps_fits(g, ConvActivation::kNone));
      const auto want = reference(g, x, w, nullptr, ConvActivation::kNone, rv.data());
      const Kernel kernel = conv_taps_kernel(g, false, ConvActivation::kNone, true);
      std::vector<Tensor> in{xt, pack_conv_weight(wt, 1), rt};
      Parallel serial;
      for (Parallel* par : {static_cast<Parallel*>(&serial), static_cast<Parallel*>(&pool)}) {
        for (int worker = 0; worker < par->threads(); ++worker)
          std::fill_n(par->scratch<float>(worker, kScratchFloats), kScratchFloats, std::nanf(""));
        Tensor y(DType::Float32, ys);
        std::vector<Tensor> out{y};
        kernel(in, out, *par);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(y.data<float>()[i], want[i])
              << "output " << i << " on " << par->threads() << " threads";
      }
    }
  }
}

// The e^x activations are not taken (they are applied to the stored block elsewhere), nor a 1 × 1
// kernel or a depthwise one.
TEST(ConvTapsKernels, TakesOnlyWhatItComputes) {
  if (kernel_isa() == Isa::kNone) GTEST_SKIP() << "no SIMD kernels on this CPU";
  EXPECT_FALSE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 3, 1, 1), ConvActivation::kSiLU));
  EXPECT_FALSE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 1, 1, 0), ConvActivation::kReLU));
  EXPECT_TRUE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 1, 2, 0), ConvActivation::kReLU));
  EXPECT_FALSE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 3, 1, 1, 1, 8), ConvActivation::kReLU));
  EXPECT_TRUE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 3, 2, 1), ConvActivation::kReLU));
  // Where it is faster than im2col + GEMM: AVX-512 everywhere, AVX2 on planes 28 wide or more.
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    EXPECT_TRUE(conv_taps_pays(geometry(1, 8, 56, 56, 8, 3, 1, 1)));
    EXPECT_EQ(conv_taps_pays(geometry(1, 8, 7, 7, 8, 3, 1, 1)), isa == Isa::kAvx512);
  }
  ForcedIsa none(Isa::kNone);
  EXPECT_FALSE(conv_taps_fits(geometry(1, 8, 8, 8, 8, 3, 1, 1), ConvActivation::kReLU));
}

// FusedConv2D with a packed weight (what the optimiser makes of ResNet's 3 × 3 layers) against the
// portable kernel (no SIMD set: im2col + the reference GEMM), within float rounding; batch 2,
// stride 1 and 2, odd channels.
TEST(ConvTapsKernels, PackedFusedConvolutionsMatchThePortableOnes) {
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  struct Geo {
    int64_t n, c, h, w, o, stride;
  };
  for (Isa isa : simd_isas()) {
    for (const Geo& geo :
         std::vector<Geo>{{2, 64, 14, 14, 64, 1}, {1, 33, 13, 9, 19, 2}, {2, 16, 7, 7, 40, 1}}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " c " + std::to_string(geo.c) + " o " +
                   std::to_string(geo.o) + " stride " + std::to_string(geo.stride));
      const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.o, geo.c, 3, 3};
      Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.o});
      auto fill = [](Tensor& t, unsigned seed) {
        const auto v = uniform(static_cast<size_t>(t.numel()), seed);
        std::copy(v.begin(), v.end(), t.data<float>());
      };
      fill(x, 41), fill(w, 42), fill(bias, 43);
      ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                         {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                         {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                         {"activation", std::string("relu")}};
      const std::vector<TensorType> types = {
          {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{geo.o}}};
      const TensorType out = fused->infer(types, attrs)[0];
      ir::Attrs packed_attrs = attrs;
      packed_attrs["packed_weight"] = true;
      Tensor want(DType::Float32, out.shape), got(DType::Float32, out.shape);
      {
        ForcedIsa portable(Isa::kNone);
        const Kernel plain = fused->make_kernel(types, attrs);
        std::vector<Tensor> plain_in{x, w, bias}, want_out{want};
        plain(plain_in, want_out);
      }
      ForcedIsa forced(isa);
      const Kernel packed = fused->make_kernel(types, packed_attrs);
      std::vector<Tensor> packed_in{x, pack_conv_weight(w, 1), bias}, got_out{got};
      runtime::ThreadPool pool(2);
      packed(packed_in, got_out, pool);
      double worst = 0, scale = 0;
      for (int64_t i = 0; i < want.numel(); ++i) {
        worst = std::max(
            worst, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
      }
      EXPECT_GT(scale, 0.1);
      EXPECT_LE(worst, 1e-5 * scale);
    }
  }
}

}  // namespace
}  // namespace cellar::ops
