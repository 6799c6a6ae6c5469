// Per layer, how the Winograd F(2 × 2, 3 × 3) kernel (ops/nn/conv_winograd.h) compares with
// conv_taps (ops/nn/conv_taps.h) on ResNet's stride-1 3 × 3 layers, both as the library runs them:
// F(2 × 2, 3 × 3) forms each 2 × 2 block of outputs from a 4 × 4 block of inputs with 16
// multiply-adds per (input channel, output channel) instead of 36 (docs/benchmarks.md, Session 14:
// "the 3 × 3 stride-1 kernel at the FMA peak, and Winograd F(2 × 2, 3 × 3) measured").
//
//   winograd_probe [ROUNDS]   → per layer (batch 1, bias + ReLU, one thread, AVX-512 only):
//                               FusedConv2D on its packed weight (conv_taps) and
//                               conv_winograd_kernel on its transformed weight, alternately
//                               ROUNDS times (default 15), best and median thread CPU time,
//                               GFLOP/s counted as the direct convolution's 2 × multiply-adds,
//                               and each one's largest difference from a double-precision
//                               reference. The 7 × 7 row is there to show why the optimiser
//                               leaves it to conv_taps (conv_winograd_pays).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/conv_winograd.h"
#include "ops/op_table.h"

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Layer {
  int64_t c, h, o;
};

#if defined(__x86_64__)

// act(bias + Σ w · x) in double, padding 1.
std::vector<double> reference(const Layer& l, const float* x, const float* w, const float* b) {
  const int64_t h = l.h;
  std::vector<double> y(static_cast<size_t>(l.o * h * h));
  for (int64_t o = 0; o < l.o; ++o)
    for (int64_t oy = 0; oy < h; ++oy)
      for (int64_t ox = 0; ox < h; ++ox) {
        double acc = b[o];
        for (int64_t c = 0; c < l.c; ++c)
          for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 3; ++j) {
              const int64_t iy = oy + i - 1, ix = ox + j - 1;
              if (iy >= 0 && iy < h && ix >= 0 && ix < h)
                acc += static_cast<double>(w[((o * l.c + c) * 3 + i) * 3 + j]) *
                       x[(c * h + iy) * h + ix];
            }
        y[static_cast<size_t>((o * h + oy) * h + ox)] = std::max(acc, 0.0);
      }
  return y;
}

double worst(const std::vector<double>& want, const float* got) {
  double d = 0;
  for (size_t i = 0; i < want.size(); ++i) d = std::max(d, std::fabs(want[i] - got[i]));
  return d;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

#endif  // __x86_64__

}  // namespace

int main(int argc, char** argv) {
#if defined(__x86_64__)
  using cellar::DType;
  using cellar::Shape;
  using cellar::Tensor;
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  if (!cellar::ops::cpu_has(cellar::ops::Isa::kAvx512)) {
    std::printf("no AVX-512 on this CPU: nothing to probe\n");
    return 0;
  }
  cellar::ops::force_isa(cellar::ops::Isa::kAvx512);
  const cellar::ops::OpDef* fused = cellar::ops::op_table().find("FusedConv2D");
  std::printf(
      "| layer (batch 1, bias + ReLU) | conv_taps best / median µs | Winograd best / median µs | "
      "conv_taps GFLOP/s | Winograd GFLOP/s (direct-equivalent) | Winograd / conv_taps (medians) | "
      "max abs diff conv_taps / Winograd (max abs y) |\n|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Layer l :
       {Layer{64, 56, 64}, Layer{128, 28, 128}, Layer{256, 14, 256}, Layer{512, 7, 512}}) {
    const Shape xs{1, l.c, l.h, l.h}, ws{l.o, l.c, 3, 3};
    Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{l.o});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(9 * l.c));
    for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = scale * u(rng);
    for (int64_t i = 0; i < l.o; ++i) bias.data<float>()[i] = 0.1f * u(rng);
    const cellar::ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                                     {"pad", std::vector<int64_t>{1, 1, 1, 1}},
                                     {"stride", std::vector<int64_t>{1, 1, 1, 1}},
                                     {"group", int64_t{1}},
                                     {"activation", std::string("relu")},
                                     {"packed_weight", true}};
    const std::vector<cellar::ops::TensorType> types = {
        {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{l.o}}};
    const cellar::ops::Kernel kernel = fused->make_kernel(types, attrs);
    std::vector<Tensor> in{x, cellar::ops::pack_conv_weight(w, 1), bias};
    std::vector<Tensor> y{Tensor(DType::Float32, Shape{1, l.o, l.h, l.h})};
    const cellar::ops::Kernel wino =
        cellar::ops::conv_winograd_kernel(cellar::ops::conv_geometry("FusedConv2D", types, attrs),
                                          true, cellar::ops::ConvActivation::kReLU, false);
    std::vector<Tensor> win{x, cellar::ops::conv_winograd_weight(w), bias};
    std::vector<Tensor> wy{Tensor(DType::Float32, Shape{1, l.o, l.h, l.h})};
    std::vector<double> a, b;
    for (int r = 0; r < rounds + 1; ++r) {
      double t = thread_seconds();
      kernel(in, y);
      const double ta = thread_seconds() - t;
      t = thread_seconds();
      wino(win, wy);
      const double tb = thread_seconds() - t;
      if (r > 0) a.push_back(ta), b.push_back(tb);  // the first round warms up
    }
    const auto want = reference(l, x.data<float>(), w.data<float>(), bias.data<float>());
    double ymax = 0;
    for (double v : want) ymax = std::max(ymax, std::fabs(v));
    const double flop = 2.0 * static_cast<double>(l.o * l.c * 9 * l.h * l.h);
    std::printf(
        "| %lld→%lld at %lld×%lld | %.0f / %.0f | %.0f / %.0f | %.1f | %.1f | %.2f | "
        "%.1e / %.1e (%.2f) |\n",
        static_cast<long long>(l.c), static_cast<long long>(l.o), static_cast<long long>(l.h),
        static_cast<long long>(l.h), 1e6 * *std::min_element(a.begin(), a.end()), 1e6 * median(a),
        1e6 * *std::min_element(b.begin(), b.end()), 1e6 * median(b), flop / median(a) / 1e9,
        flop / median(b) / 1e9, median(b) / median(a), worst(want, y[0].data<float>()),
        worst(want, wy[0].data<float>()), ymax);
  }
#else
  (void)argc;
  (void)argv;
  std::printf("x86-64 only\n");
#endif
  return 0;
}
