// The 1 × 1 convolution's kernels (src/ops/nn/pointwise.h) on the shapes of resnet50 and
// mobilenet_v2 at batch 1, one thread: µs per call and GFLOP/s against this core's FMA peak.
//
//   pointwise_bench [REPEATS [FILTER]]
//
// Each timed call works on one of several sets of buffers (x, weight, residual, y) that together
// exceed L2 (24 MiB): as in a net, a layer's tensors come from L3, not from the call before.
// PW_SETS=N uses N sets instead (1: the layer's tensors warm in L3). Median, min and 10th
// percentile of REPEATS (default 200) calls; CELLAR_ISA forces an instruction set.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ops/gemm.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/pointwise.h"

namespace {

using cellar::ops::ConvActivation;

struct Layer {
  const char* name;
  int64_t c, hw, o;  // input channels, plane (h · w), output channels
  bool res;
  ConvActivation act;
  // A band of FusedPointwiseDepthwise (pointwise_depthwise.cpp): `n` of the plane's columns into a
  // buffer of row stride `ldy` (0: the whole plane, y's stride the plane's).
  int64_t n = 0, ldy = 0;
};

struct Set {
  std::vector<float> x, w, b, r, y;
};

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  const std::string filter = argc > 2 ? argv[2] : "";
  using A = ConvActivation;
  const std::vector<Layer> layers = {
      {"r50 56 64->64 relu", 64, 3136, 64, false, A::kReLU},
      {"r50 56 64->256 +res relu", 64, 3136, 256, true, A::kReLU},
      {"r50 56 64->256 (proj)", 64, 3136, 256, false, A::kNone},
      {"r50 56 256->64 relu", 256, 3136, 64, false, A::kReLU},
      {"r50 28 256->128 relu", 256, 784, 128, false, A::kReLU},
      {"r50 28 128->512 +res relu", 128, 784, 512, true, A::kReLU},
      {"r50 28 512->128 relu", 512, 784, 128, false, A::kReLU},
      {"r50 14 256->1024 +res relu", 256, 196, 1024, true, A::kReLU},
      {"r50 14 1024->256 relu", 1024, 196, 256, false, A::kReLU},
      {"r50 7 512->2048 +res relu", 512, 49, 2048, true, A::kReLU},
      {"r50 7 2048->512 relu", 2048, 49, 512, false, A::kReLU},
      {"mb2 112 16->96 relu6", 16, 12544, 96, false, A::kReLU6},
      {"mb2 112 16->32 band 896", 16, 12544, 32, false, A::kReLU6, 896, 1008},
      {"mb2 56 24->64 band 448", 24, 3136, 64, false, A::kReLU6, 448, 504},
      {"mb2 56 24->96 band 224", 24, 3136, 96, false, A::kReLU6, 224, 336},
      {"mb2 56 96->24", 96, 3136, 24, false, A::kNone},
      {"mb2 56 24->144 relu6", 24, 3136, 144, false, A::kReLU6},
      {"mb2 56 144->24 +res", 144, 3136, 24, true, A::kNone},
      {"mb2 28 144->32", 144, 784, 32, false, A::kNone},
      {"mb2 28 32->192 relu6", 32, 784, 192, false, A::kReLU6},
      {"mb2 28 192->32 +res", 192, 784, 32, true, A::kNone},
      {"mb2 14 64->384 relu6", 64, 196, 384, false, A::kReLU6},
      {"mb2 14 384->64 +res", 384, 196, 64, true, A::kNone},
      {"mb2 14 96->576 relu6", 96, 196, 576, false, A::kReLU6},
      {"mb2 14 576->96 +res", 576, 196, 96, true, A::kNone},
      {"mb2 7 160->960 relu6", 160, 49, 960, false, A::kReLU6},
      {"mb2 7 960->160 +res", 960, 49, 160, true, A::kNone},
      {"mb2 7 320->1280 relu6", 320, 49, 1280, false, A::kReLU6},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& f : v) f = u(rng);
    return v;
  };
  std::printf("%-28s %10s %10s %10s %8s\n", "layer", "median us", "min us", "p10 us", "GFLOP/s");
  for (const Layer& l : layers) {
    if (!filter.empty() && std::string(l.name).find(filter) == std::string::npos) continue;
    const cellar::ops::PointwiseFn fn = cellar::ops::pointwise_kernel(l.act, l.res);
    if (fn == nullptr) return 1;
    const int64_t n = l.n ? l.n : l.hw, ldy = l.ldy ? l.ldy : l.hw;
    const size_t bytes = static_cast<size_t>(l.c * l.hw + l.c * l.o + 2 * l.o * ldy) * 4;
    const int sets =
        getenv("PW_SETS")
            ? std::atoi(getenv("PW_SETS"))
            : static_cast<int>(std::clamp<size_t>((size_t{24} << 20) / bytes + 1, 2, 64));
    std::vector<Set> s(static_cast<size_t>(sets));
    for (Set& t : s) {
      t.x = fill(static_cast<size_t>(l.c * l.hw));
      const auto w = fill(static_cast<size_t>(l.c * l.o));
      t.w.resize(w.size());
      cellar::ops::pack_rows(l.o, l.c, w.data(), l.c, t.w.data());
      t.b = fill(static_cast<size_t>(l.o));
      t.r = fill(static_cast<size_t>(l.o * ldy));
      t.y = fill(static_cast<size_t>(l.o * ldy));
    }
    std::vector<double> us;
    for (int i = 0; i < repeats + sets; ++i) {
      Set& t = s[static_cast<size_t>(i % sets)];
      const auto t0 = std::chrono::steady_clock::now();
      // A band's x: a different place in the plane each call, as the bands go down the image.
      const int64_t at = l.n ? i * n % (l.hw - n + 1) : 0;
      fn(l.o, n, l.c, t.w.data(), t.x.data() + at, l.hw, t.b.data(), l.res ? t.r.data() : nullptr,
         t.y.data(), ldy);
      const auto t1 = std::chrono::steady_clock::now();
      if (i >= sets) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(us.begin(), us.end());
    const double med = us[us.size() / 2];
    std::printf("%-28s %10.1f %10.1f %10.1f %8.1f\n", l.name, med, us.front(), us[us.size() / 10],
                2.0 * static_cast<double>(l.c * n * l.o) / med * 1e-3);
  }
  return 0;
}
