// The Winograd F(2 × 2, 3 × 3) kernel (src/ops/nn/conv_winograd.h), as FusedConv2D runs it with a
// `winograd_weight` (the optimiser's pass 5a), against a double-precision reference within float
// rounding: odd, small and rectangular planes (partial tiles, chunks ending inside a tile row),
// several chunks, batches, odd input channel counts, bias or none, residual or none, every
// activation, one and two threads, run twice; the residual added as the unfused ops add it; input,
// residual and output against unreadable pages; what the kernel refuses.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cellar/storage.h"
#include "kernel_test_support.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_winograd.h"
#include "ops/op_table.h"
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
    case ConvActivation::kSiLU:
    case ConvActivation::kXSigmoid:
      return v / (1.0 + std::exp(-v));
    default:
      return v;
  }
}

const char* act_name(ConvActivation act) {
  switch (act) {
    case ConvActivation::kReLU:
      return "relu";
    case ConvActivation::kReLU6:
      return "relu6";
    case ConvActivation::kHSwish:
      return "hswish";
    case ConvActivation::kHSigmoid:
      return "hsigmoid";
    case ConvActivation::kSiLU:
      return "silu";
    case ConvActivation::kXSigmoid:
      return "x_sigmoid";
    default:
      return "none";
  }
}

constexpr ConvActivation kActs[] = {ConvActivation::kNone,     ConvActivation::kReLU,
                                    ConvActivation::kReLU6,    ConvActivation::kHSwish,
                                    ConvActivation::kHSigmoid, ConvActivation::kSiLU,
                                    ConvActivation::kXSigmoid};

// FusedConv2D's kernel for a Winograd weight of g, as the executor makes it; with `packed`, for
// a packed weight marked `winograd` (the kernel transforms it per run).
Kernel fused_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool residual,
                    bool packed = false) {
  const OpDef* fused = op_table().find("FusedConv2D");
  ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                     {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                     {packed ? "winograd" : "winograd_weight", true},
                     {"packed_weight", packed},
                     {"residual", residual},
                     {"activation", std::string(act_name(act))}};
  std::vector<TensorType> types = {
      {DType::Float32, Shape{g.n, g.c, g.h, g.w}},
      {DType::Float32, Shape{g.o, g.c, packed ? 3 : 4, packed ? 3 : 4}}};
  if (bias) types.push_back({DType::Float32, Shape{g.o}});
  if (residual) types.push_back({DType::Float32, Shape{g.n, g.o, g.h, g.w}});
  return fused->make_kernel(types, attrs);
}

// The convolution alone in double.
std::vector<double> reference(const ConvGeometry& g, const std::vector<float>& x,
                              const std::vector<float>& w) {
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
                  acc +=
                      static_cast<double>(w[static_cast<size_t>(((o * g.c + c) * 3 + i) * 3 + j)]) *
                      x[static_cast<size_t>(((b * g.c + c) * g.h + iy) * g.w + ix)];
              }
          conv[static_cast<size_t>(((b * g.o + o) * g.h + oy) * g.w + ox)] = acc;
        }
  return conv;
}

Tensor tensor_of(const std::vector<float>& v, const Shape& s) {
  Tensor t(DType::Float32, s);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
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
      geometry(3, 9, 5, 7, 16),     // a small odd plane (the kernel's, not the optimiser's)
      geometry(2, 1, 1, 1, 8),      // one position, one input channel
  };
  runtime::ThreadPool pool(2);
  for (const ConvGeometry& g : geos) {
    ASSERT_TRUE(conv_winograd_geometry(g));
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
    const Tensor u = conv_winograd_weight(wt), packed = pack_conv_weight(wt, 1);
    const std::vector<double> conv = reference(g, x, w);
    for (ConvActivation act : kActs)
      for (bool with_bias : {true, false})
        for (bool with_res : {false, true}) {
          SCOPED_TRACE("n " + std::to_string(g.n) + " c " + std::to_string(g.c) + " " +
                       std::to_string(g.h) + "×" + std::to_string(g.w) + " o " +
                       std::to_string(g.o) + " " + act_name(act) + (with_bias ? " bias" : "") +
                       (with_res ? " residual" : ""));
          const Kernel kernel = fused_kernel(g, with_bias, act, with_res);
          const Kernel per_run = fused_kernel(g, with_bias, act, with_res, true);
          std::vector<Tensor> in{xt, u}, in_packed{xt, packed};
          if (with_bias) in.push_back(bt), in_packed.push_back(bt);
          if (with_res) in.push_back(rt), in_packed.push_back(rt);
          for (int run = 0; run < 2; ++run) {
            Tensor one(DType::Float32, ys), two(DType::Float32, ys);
            std::fill_n(one.data<float>(), one.numel(), 12345.0f);
            std::fill_n(two.data<float>(), two.numel(), 12345.0f);
            std::vector<Tensor> one_out{one}, two_out{two};
            kernel(in, one_out);
            kernel(in, two_out, pool);
            // The packed weight transformed per run: the same bits, on 1 and 2 threads.
            Tensor three(DType::Float32, ys);
            std::fill_n(three.data<float>(), three.numel(), 12345.0f);
            std::vector<Tensor> three_out{three};
            if (run == 0)
              per_run(in_packed, three_out, pool);
            else
              per_run(in_packed, three_out);
            for (size_t i = 0; i < conv.size(); ++i)
              ASSERT_EQ(three.data<float>()[i], one.data<float>()[i]) << "output " << i;
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

TEST(ConvWinogradKernels, PaysOnlyWhereMeasuredFasterAndRefusesWhatItCannotRun) {
  if (!cpu_has(Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  ForcedIsa forced(Isa::kAvx512);
  EXPECT_TRUE(conv_winograd_pays(geometry(1, 8, 14, 14, 8)));
  EXPECT_TRUE(conv_winograd_pays(geometry(8, 3, 56, 56, 64)));
  EXPECT_FALSE(conv_winograd_pays(geometry(1, 8, 7, 7, 8)));    // conv_taps is faster there
  EXPECT_FALSE(conv_winograd_pays(geometry(1, 8, 13, 14, 8)));  // one side under 14
  EXPECT_FALSE(conv_winograd_pays(geometry(1, 8, 14, 13, 8)));
  EXPECT_TRUE(conv_winograd_geometry(geometry(1, 8, 7, 7, 8)));
  ConvGeometry odd_out = geometry(1, 8, 14, 14, 12);  // not a multiple of 8
  EXPECT_FALSE(conv_winograd_geometry(odd_out));
  EXPECT_FALSE(conv_winograd_pays(odd_out));
  ConvGeometry s2 = geometry(1, 8, 28, 28, 8);
  s2.sh = s2.sw = 2, s2.oh = s2.ow = 14;
  EXPECT_FALSE(conv_winograd_geometry(s2));
  ConvGeometry unpadded = geometry(1, 8, 16, 16, 8);
  unpadded.pt = unpadded.pb = unpadded.pl = unpadded.pr = 0, unpadded.oh = unpadded.ow = 14;
  EXPECT_FALSE(conv_winograd_geometry(unpadded));
  ConvGeometry grouped = geometry(1, 8, 14, 14, 8);
  grouped.group = 2;
  EXPECT_FALSE(conv_winograd_geometry(grouped));
  ConvGeometry dilated = geometry(1, 8, 14, 14, 8);
  dilated.dh = dilated.dw = 2, dilated.pt = dilated.pb = dilated.pl = dilated.pr = 2;
  EXPECT_FALSE(conv_winograd_geometry(dilated));
  // A Winograd weight is made only where the kernels run AVX-512 at load, and its kernel is
  // refused elsewhere (as a packed weight's is without the packed kernels).
  for (Isa isa : {Isa::kAvx2, Isa::kNone}) {
    ForcedIsa lesser(isa);
    SCOPED_TRACE(isa_name(isa));
    EXPECT_FALSE(conv_winograd_pays(geometry(1, 8, 14, 14, 8)));
    EXPECT_THROW(fused_kernel(geometry(1, 8, 14, 14, 8), true, ConvActivation::kReLU, false),
                 ValueError);
  }
  // FusedConv2D's shape rule: a Winograd weight is [o, c, 4, 4] of a geometry the kernel takes.
  const OpDef* fused = op_table().find("FusedConv2D");
  const ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                           {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                           {"winograd_weight", true}};
  const TensorType x{DType::Float32, Shape{1, 8, 14, 14}};
  EXPECT_EQ(fused->infer(std::vector<TensorType>{x, {DType::Float32, Shape{16, 8, 4, 4}}}, attrs)[0]
                .shape,
            (Shape{1, 16, 14, 14}));
  EXPECT_THROW(
      fused->infer(std::vector<TensorType>{x, {DType::Float32, Shape{16, 8, 3, 3}}}, attrs),
      ValueError);
  EXPECT_THROW(
      fused->infer(std::vector<TensorType>{x, {DType::Float32, Shape{12, 8, 4, 4}}}, attrs),
      ValueError);
  ir::Attrs strided = attrs;
  strided["stride"] = std::vector<int64_t>{1, 1, 2, 2};
  EXPECT_THROW(
      fused->infer(std::vector<TensorType>{x, {DType::Float32, Shape{16, 8, 4, 4}}}, strided),
      ValueError);
}

// The residual added as the unfused ops add it: the same kernel's convolution (with its bias),
// then + residual, then the activation, bit for bit (the e^x activations within rounding: the
// fused kernel applies them a stored row piece at a time), on one and two threads.
TEST(ConvWinogradKernels, AddsTheResidualAsTheUnfusedOpsDo) {
  if (!cpu_has(Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  ForcedIsa forced(Isa::kAvx512);
  runtime::ThreadPool pool(2);
  for (const ConvGeometry& g : {geometry(2, 16, 30, 30, 24), geometry(1, 5, 15, 15, 8)}) {
    const Shape ys{g.n, g.o, g.h, g.w};
    const auto w = uniform(static_cast<size_t>(g.o * g.c * 9), 12);
    const Tensor x = tensor_of(uniform(static_cast<size_t>(g.n * g.c * g.h * g.w), 11),
                               Shape{g.n, g.c, g.h, g.w});
    const Tensor u = conv_winograd_weight(tensor_of(w, Shape{g.o, g.c, 3, 3}));
    const Tensor b = tensor_of(uniform(static_cast<size_t>(g.o), 13), Shape{g.o});
    const Tensor r = tensor_of(uniform(static_cast<size_t>(ys.numel()), 14, -2.0f, 2.0f), ys);
    for (ConvActivation act : kActs)
      for (bool with_bias : {true, false})
        for (int threads : {1, 2}) {
          SCOPED_TRACE(std::string(act_name(act)) + (with_bias ? " bias" : "") + " threads " +
                       std::to_string(threads) + " c " + std::to_string(g.c));
          std::vector<Tensor> in{x, u};
          if (with_bias) in.push_back(b);
          Tensor conv(DType::Float32, ys);
          std::vector<Tensor> conv_out{conv};
          const Kernel unfused = fused_kernel(g, with_bias, ConvActivation::kNone, false);
          if (threads == 2)
            unfused(in, conv_out, pool);
          else
            unfused(in, conv_out);
          std::vector<float> want(static_cast<size_t>(ys.numel()));
          for (size_t i = 0; i < want.size(); ++i)
            want[i] = activate_as_epilogue(conv.data<float>()[i] + r.data<float>()[i], act);
          if (conv_activation_exp(act))
            conv_activate_exp(act, want.data(), static_cast<int64_t>(want.size()));
          in.push_back(r);
          Tensor y(DType::Float32, ys);
          std::fill_n(y.data<float>(), y.numel(), 12345.0f);
          std::vector<Tensor> outs{y};
          const Kernel kernel = fused_kernel(g, with_bias, act, true);
          if (threads == 2)
            kernel(in, outs, pool);
          else
            kernel(in, outs);
          for (size_t i = 0; i < want.size(); ++i) {
            if (conv_activation_exp(act))
              ASSERT_NEAR(y.data<float>()[i], want[i], 1e-6 * (1.0 + std::fabs(want[i])))
                  << "output " << i;
            else
              ASSERT_EQ(y.data<float>()[i], want[i]) << "output " << i;
          }
        }
  }
}

// Bytes placed against an unreadable page: at the end of a readable span (the page after is
// PROT_NONE) or at its start (the page before is).
struct Guarded {
  Guarded(size_t bytes, bool at_end) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t span = (bytes + page - 1) / page * page, total = span + 2 * page;
    void* map = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return;
    owner = std::shared_ptr<void>(map, [total](void* p) { munmap(p, total); });
    auto* base = static_cast<std::byte*>(map) + page;
    if (mprotect(base, span, PROT_READ | PROT_WRITE) != 0) return;
    data = at_end ? base + (span - bytes) : base;
  }
  Tensor tensor(const Shape& s, const float* init = nullptr) const {
    const size_t bytes = static_cast<size_t>(s.numel()) * sizeof(float);
    if (init) std::memcpy(data, init, bytes);
    return Tensor(DType::Float32, s, Storage::external(data, bytes, owner));
  }
  std::shared_ptr<void> owner;
  std::byte* data = nullptr;
};

TEST(ConvWinogradKernels, ReadsAndWritesNothingOutsideItsTensors) {
  if (!cpu_has(Isa::kAvx512)) GTEST_SKIP() << "AVX-512 only";
  ForcedIsa forced(Isa::kAvx512);
  runtime::ThreadPool pool(2);
  const std::vector<ConvGeometry> geos = {
      geometry(1, 5, 15, 15, 8),    // odd plane: partial tiles on the last row and column
      geometry(2, 16, 14, 14, 16),  // batch 2
      geometry(1, 3, 17, 14, 8),    // odd height
      geometry(1, 7, 14, 20, 8),    // rectangular
      geometry(1, 2, 3, 5, 8),      // a plane narrower than a vector
  };
  for (const ConvGeometry& g : geos) {
    const Shape xs{g.n, g.c, g.h, g.w}, ys{g.n, g.o, g.h, g.w};
    const auto x = uniform(static_cast<size_t>(xs.numel()), 21);
    const auto w = uniform(static_cast<size_t>(g.o * g.c * 9), 22);
    const auto rv = uniform(static_cast<size_t>(ys.numel()), 23);
    const Tensor u = conv_winograd_weight(tensor_of(w, Shape{g.o, g.c, 3, 3}));
    const Tensor b = tensor_of(uniform(static_cast<size_t>(g.o), 24), Shape{g.o});
    const Kernel kernel = fused_kernel(g, true, ConvActivation::kReLU, true);
    // In ordinary memory first: the values every guarded run must give.
    Tensor want(DType::Float32, ys);
    std::vector<Tensor> want_out{want};
    kernel(std::vector<Tensor>{tensor_of(x, xs), u, b, tensor_of(rv, ys)}, want_out);
    for (bool at_end : {true, false}) {
      SCOPED_TRACE(std::to_string(g.h) + "×" + std::to_string(g.w) + " c " + std::to_string(g.c) +
                   (at_end ? " against the page after" : " against the page before"));
      const size_t out_bytes = static_cast<size_t>(ys.numel()) * sizeof(float);
      const Guarded gx(static_cast<size_t>(xs.numel()) * sizeof(float), at_end),
          gr(out_bytes, at_end), gy(out_bytes, at_end);
      ASSERT_NE(gx.data, nullptr);
      ASSERT_NE(gr.data, nullptr);
      ASSERT_NE(gy.data, nullptr);
      const std::vector<Tensor> in{gx.tensor(xs, x.data()), u, b, gr.tensor(ys, rv.data())};
      for (int threads : {1, 2}) {
        Tensor y = gy.tensor(ys);
        std::fill_n(y.data<float>(), y.numel(), 12345.0f);
        std::vector<Tensor> outs{y};
        if (threads == 2)
          kernel(in, outs, pool);
        else
          kernel(in, outs);
        for (int64_t i = 0; i < ys.numel(); ++i)
          ASSERT_EQ(y.data<float>()[i], want.data<float>()[i])
              << "output " << i << " threads " << threads;
      }
    }
  }
}

}  // namespace
}  // namespace cellar::ops
