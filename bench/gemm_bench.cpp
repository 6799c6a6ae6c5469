// The fp32 peak of this CPU's cores and how close cellar's GEMM kernels come to it (issue 13:
// "the convolution and GEMM kernels reach ≥ 70% of this CPU's measured fp32 peak").
//
//   OPENBLAS_NUM_THREADS=1 gemm_bench [REPEATS [FILTER [cold]]]
//                          → the CPU model and flags, the FMA peak of one core (AVX-512 and AVX2
//                            loops), then GFLOP/s on one thread of each SIMD path cellar has on
//                            this CPU (ops/isa.h, each forced in turn; "of peak" against that
//                            set's own FMA peak) and of OpenBLAS's sgemm (against the best),
//                            for the products the benchmark nets run, best of REPEATS (default 30)
//                            (OpenBLAS takes a thread per CPU unless told otherwise); then whole
//                            convolution layers (FusedConv2D with bias and ReLU, the weight packed
//                            as the optimiser packs it, im2col or direct included) at batch 8 on
//                            one thread, GFLOP/s counted as 2 × the multiply-adds of the layer;
//                            with FILTER, only the products and layers whose names contain it;
//                            with "cold", the caches evicted before each timed layer run (the
//                            weight and input then come from memory, as in a network)
//
// The peak loop: 12 independent chains of fused multiply-adds on registers (enough to cover the
// FMA latency on every x86 core of the last ten years), nothing loaded or stored: what the FMA
// units can do, the bound the kernels are measured against.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cellar/cellar.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/op_table.h"

namespace {

using cellar::ops::Isa;

// Not inlined nor analysed across the call (gcc's noipa; clang has only noinline), so that the loop
// is timed as written.
#if defined(__clang__)
#define BENCH_OPAQUE noinline
#else
#define BENCH_OPAQUE noipa
#endif

#if defined(__x86_64__)
__attribute__((target("avx512f"), BENCH_OPAQUE)) float fma_loop_avx512(int64_t iters) {
  __m512 a0 = _mm512_set1_ps(0.f), a1 = _mm512_set1_ps(1.f), a2 = _mm512_set1_ps(2.f),
         a3 = _mm512_set1_ps(3.f), a4 = _mm512_set1_ps(4.f), a5 = _mm512_set1_ps(5.f),
         a6 = _mm512_set1_ps(6.f), a7 = _mm512_set1_ps(7.f), a8 = _mm512_set1_ps(8.f),
         a9 = _mm512_set1_ps(9.f), a10 = _mm512_set1_ps(10.f), a11 = _mm512_set1_ps(11.f);
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm512_fmadd_ps(a0, x, y), a1 = _mm512_fmadd_ps(a1, x, y);
    a2 = _mm512_fmadd_ps(a2, x, y), a3 = _mm512_fmadd_ps(a3, x, y);
    a4 = _mm512_fmadd_ps(a4, x, y), a5 = _mm512_fmadd_ps(a5, x, y);
    a6 = _mm512_fmadd_ps(a6, x, y), a7 = _mm512_fmadd_ps(a7, x, y);
    a8 = _mm512_fmadd_ps(a8, x, y), a9 = _mm512_fmadd_ps(a9, x, y);
    a10 = _mm512_fmadd_ps(a10, x, y), a11 = _mm512_fmadd_ps(a11, x, y);
  }
  const __m512 s =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                  _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
                    _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  alignas(64) float lanes[16];  // through memory: gcc 12 warns inside _mm512_reduce_add_ps
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx2,fma"), BENCH_OPAQUE)) float fma_loop_avx2(int64_t iters) {
  __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f),
         a3 = _mm256_set1_ps(3.f), a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f),
         a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f), a8 = _mm256_set1_ps(8.f),
         a9 = _mm256_set1_ps(9.f), a10 = _mm256_set1_ps(10.f), a11 = _mm256_set1_ps(11.f);
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, x, y), a1 = _mm256_fmadd_ps(a1, x, y);
    a2 = _mm256_fmadd_ps(a2, x, y), a3 = _mm256_fmadd_ps(a3, x, y);
    a4 = _mm256_fmadd_ps(a4, x, y), a5 = _mm256_fmadd_ps(a5, x, y);
    a6 = _mm256_fmadd_ps(a6, x, y), a7 = _mm256_fmadd_ps(a7, x, y);
    a8 = _mm256_fmadd_ps(a8, x, y), a9 = _mm256_fmadd_ps(a9, x, y);
    a10 = _mm256_fmadd_ps(a10, x, y), a11 = _mm256_fmadd_ps(a11, x, y);
  }
  const __m256 s =
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                  _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                    _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  return lanes[0] + lanes[7];
}
#endif

// This thread's CPU time in seconds: on a shared machine (the 2-core VM at load 12 runs this
// process a third of the time) wall time measures the scheduler; a single-threaded kernel's CPU
// time does not count the slices it did not run in.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The best of `repeats` timings of f() (this thread's CPU time), in seconds (one untimed call
// first); `before` runs untimed ahead of each timed call.
template <class F, class G>
double best_seconds(F&& f, int repeats, G&& before) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    before();
    const double t0 = thread_seconds();
    f();
    best = std::min(best, thread_seconds() - t0);
  }
  return best;
}
template <class F>
double best_seconds(F&& f, int repeats) {
  return best_seconds(f, repeats, [] {});
}

// Evicts the caches (writes 64 MiB, twice the L3 of the CPUs measured so far): a layer of a
// network finds its weight and input where the layers before it left them, not in L2 or L3.
void evict_caches() {
  static std::vector<float> junk(size_t{16} << 20);
  for (size_t i = 0; i < junk.size(); i += 16) junk[i] += 1.0f;
}

// One core's FMA peak in GFLOP/s with `lanes`-wide vectors (0 when the CPU lacks them).
double peak_gflops(Isa isa, int repeats) {
#if defined(__x86_64__)
  if (!cellar::ops::cpu_has(isa) || isa == Isa::kNone) return 0;
  // Short (about 2 ms) and many: on a shared machine the best of them is one nobody preempted.
  constexpr int64_t kIters = 500'000;
  volatile float sink = 0;
  const int lanes = isa == Isa::kAvx512 ? 16 : 8;
  const double s = best_seconds(
      [&] { sink = isa == Isa::kAvx512 ? fma_loop_avx512(kIters) : fma_loop_avx2(kIters); },
      std::max(50, repeats));
  (void)sink;
  return static_cast<double>(kIters) * 12 * lanes * 2 / s / 1e9;
#else
  (void)isa, (void)repeats;
  return 0;
#endif
}

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

// Whole convolution layers as the executor runs them after the optimiser (FusedConv2D, bias and
// ReLU, the weight packed), one thread, on each SIMD path the CPU has.
void conv_layers(double peak512, double peak256, int repeats, const std::string& filter,
                 bool cold) {
  using cellar::DType;
  using cellar::Shape;
  using cellar::Tensor;
  struct Layer {
    const char* what;
    int64_t n, c, h, w, o, k, stride, pad;
  };
  const Layer layers[] = {
      {"ResNet-18 stem 7x7/2 3->64 at 224", 8, 3, 224, 224, 64, 7, 2, 3},
      {"ResNet-18 3x3 64->64 at 56", 8, 64, 56, 56, 64, 3, 1, 1},
      {"ResNet-18 3x3 128->128 at 28", 8, 128, 28, 28, 128, 3, 1, 1},
      {"ResNet-18 3x3 256->256 at 14", 8, 256, 14, 14, 256, 3, 1, 1},
      {"ResNet-18 3x3 512->512 at 7", 8, 512, 7, 7, 512, 3, 1, 1},
      {"ResNet-18 3x3 256->256 at 14, batch 1", 1, 256, 14, 14, 256, 3, 1, 1},
      {"ResNet-18 3x3 512->512 at 7, batch 1", 1, 512, 7, 7, 512, 3, 1, 1},
      {"ResNet-50 3x3/2 128->128 at 56", 8, 128, 56, 56, 128, 3, 2, 1},
      // The stem and the strided layers as the zoo's batch-1 nets run them.
      {"ResNet-18 stem 7x7/2 3->64 at 224, batch 1", 1, 3, 224, 224, 64, 7, 2, 3},
      {"ResNet-18 3x3/2 64->128 at 56, batch 1", 1, 64, 56, 56, 128, 3, 2, 1},
      {"ResNet-18 3x3/2 128->256 at 28, batch 1", 1, 128, 28, 28, 256, 3, 2, 1},
      {"ResNet-18 3x3/2 256->512 at 14, batch 1", 1, 256, 14, 14, 512, 3, 2, 1},
      {"ResNet-50 3x3/2 128->128 at 56, batch 1", 1, 128, 56, 56, 128, 3, 2, 1},
      {"ResNet-50 3x3/2 256->256 at 28, batch 1", 1, 256, 28, 28, 256, 3, 2, 1},
      {"ResNet-50 3x3/2 512->512 at 14, batch 1", 1, 512, 14, 14, 512, 3, 2, 1},
      {"ResNet-18 1x1/2 64->128 at 56, batch 1", 1, 64, 56, 56, 128, 1, 2, 0},
      {"ResNet-18 1x1/2 256->512 at 14, batch 1", 1, 256, 14, 14, 512, 1, 2, 0},
      {"ResNet-50 1x1/2 256->512 at 56, batch 1", 1, 256, 56, 56, 512, 1, 2, 0},
      {"ResNet-50 1x1/2 512->1024 at 28, batch 1", 1, 512, 28, 28, 1024, 1, 2, 0},
      {"ResNet-50 1x1/2 1024->2048 at 14, batch 1", 1, 1024, 14, 14, 2048, 1, 2, 0},
      {"MobileNet 1x1 128->256 at 28", 8, 128, 28, 28, 256, 1, 1, 0},
      // ResNet-50's stride-1 1 x 1 layers (ops/nn/pointwise.h), at batch 8 and 1.
      {"ResNet-50 1x1 64->256 at 56", 8, 64, 56, 56, 256, 1, 1, 0},
      {"ResNet-50 1x1 256->64 at 56", 8, 256, 56, 56, 64, 1, 1, 0},
      {"ResNet-50 1x1 256->128 at 56", 8, 256, 56, 56, 128, 1, 1, 0},
      {"ResNet-50 1x1 512->128 at 28", 8, 512, 28, 28, 128, 1, 1, 0},
      {"ResNet-50 1x1 128->512 at 28", 8, 128, 28, 28, 512, 1, 1, 0},
      {"ResNet-50 1x1 512->256 at 28", 8, 512, 28, 28, 256, 1, 1, 0},
      {"ResNet-50 1x1 1024->256 at 14", 8, 1024, 14, 14, 256, 1, 1, 0},
      {"ResNet-50 1x1 256->1024 at 14", 8, 256, 14, 14, 1024, 1, 1, 0},
      {"ResNet-50 1x1 1024->512 at 14", 8, 1024, 14, 14, 512, 1, 1, 0},
      {"ResNet-50 1x1 2048->512 at 7", 8, 2048, 7, 7, 512, 1, 1, 0},
      {"ResNet-50 1x1 512->2048 at 7", 8, 512, 7, 7, 2048, 1, 1, 0},
      {"ResNet-50 1x1 64->256 at 56, batch 1", 1, 64, 56, 56, 256, 1, 1, 0},
      {"ResNet-50 1x1 256->64 at 56, batch 1", 1, 256, 56, 56, 64, 1, 1, 0},
      {"ResNet-50 1x1 512->128 at 28, batch 1", 1, 512, 28, 28, 128, 1, 1, 0},
      {"ResNet-50 1x1 128->512 at 28, batch 1", 1, 128, 28, 28, 512, 1, 1, 0},
      {"ResNet-50 1x1 1024->256 at 14, batch 1", 1, 1024, 14, 14, 256, 1, 1, 0},
      {"ResNet-50 1x1 256->1024 at 14, batch 1", 1, 256, 14, 14, 1024, 1, 1, 0},
      {"ResNet-50 1x1 2048->512 at 7, batch 1", 1, 2048, 7, 7, 512, 1, 1, 0},
      {"ResNet-50 1x1 512->2048 at 7, batch 1", 1, 512, 7, 7, 2048, 1, 1, 0},
      {"MobileNetV2 1x1 16->96 at 112", 8, 16, 112, 112, 96, 1, 1, 0},
      {"MobileNetV2 1x1 96->24 at 56", 8, 96, 56, 56, 24, 1, 1, 0},
      {"MobileNet stem 3x3/2 3->32 at 224", 8, 3, 224, 224, 32, 3, 2, 1},
      {"LeNet-5 5x5 1->6 at 32", 8, 1, 32, 32, 6, 5, 1, 0},
      {"LeNet-5 5x5 6->16 at 14", 8, 6, 14, 14, 16, 5, 1, 0},
  };
  const cellar::ops::OpDef* fused = cellar::ops::op_table().find("FusedConv2D");
  std::printf(
      "\n| layer (batch 8 unless said, 1 thread) | path | GFLOP/s | of peak "
      "|\n|---|---|---|---|\n");
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Layer& l : layers) {
    if (std::string(l.what).find(filter) == std::string::npos) continue;
    const Shape xs{l.n, l.c, l.h, l.w}, ws{l.o, l.c, l.k, l.k};
    Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{l.o});
    for (Tensor* t : {&x, &w, &bias})
      for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = u(rng);
    const cellar::ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                                     {"pad", std::vector<int64_t>{l.pad, l.pad, l.pad, l.pad}},
                                     {"stride", std::vector<int64_t>{1, 1, l.stride, l.stride}},
                                     {"group", int64_t{1}},
                                     {"activation", std::string("relu")},
                                     {"packed_weight", true}};
    const std::vector<cellar::ops::TensorType> types = {
        {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{l.o}}};
    const cellar::ops::TensorType out = fused->infer(types, attrs)[0];
    const double flop = 2.0 * static_cast<double>(out.shape.numel() * l.c * l.k * l.k);
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
      if (!cellar::ops::cpu_has(isa)) continue;
      const Isa previous = cellar::ops::force_isa(isa);
      const cellar::ops::Kernel kernel = fused->make_kernel(types, attrs);
      std::vector<Tensor> in{x, cellar::ops::pack_conv_weight(w, 1), bias};
      std::vector<Tensor> y{Tensor(DType::Float32, out.shape)};
      const double gf = flop /
                        best_seconds([&] { kernel(in, y); }, std::max(3, repeats),
                                     [&] {
                                       if (cold) evict_caches();
                                     }) /
                        1e9;
      std::printf("| %s | %s | %.1f | %.0f%% |\n", l.what, cellar::ops::isa_name(isa), gf,
                  100 * gf / (isa == Isa::kAvx512 ? peak512 : peak256));
      cellar::ops::force_isa(previous);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  const std::string filter = argc > 2 ? argv[2] : "";
  const bool cold = argc > 3 && std::string(argv[3]) == "cold";
  std::printf("CPU: %s\n", cpuinfo_field("model name").c_str());
  std::istringstream flags(cpuinfo_field("flags"));
  std::printf("flags:");
  for (std::string f; flags >> f;)
    if (f == "fma" || f.rfind("avx", 0) == 0 || f.rfind("amx", 0) == 0)
      std::printf(" %s", f.c_str());
  std::printf("\nkernels' default instruction set: %s\n",
              cellar::ops::isa_name(cellar::ops::kernel_isa()));
  const double peak512 = peak_gflops(Isa::kAvx512, repeats);
  const double peak256 = peak_gflops(Isa::kAvx2, repeats);
  const double peak = std::max(peak512, peak256);
  std::printf("FMA peak, one core: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s\n\n", peak512, peak256);

  struct Product {
    const char* what;
    int64_t m, n, k;
  };
  const Product products[] = {
      {"MLP b64 Dense 784->512 (x.W)", 64, 512, 784},
      {"MLP b64 Dense 512->512", 64, 512, 512},
      {"conv 3x3 64->64 at 32x32 (im2col)", 64, 1024, 576},
      {"conv 3x3 128->128 at 16x16", 128, 256, 1152},
      {"conv 3x3 256->256 at 8x8", 256, 64, 2304},
      {"square 512", 512, 512, 512},
      {"square 1024", 1024, 1024, 1024},
      // A convolution's whole batch as one product (N = H·W·batch, B as stored: copied in tiles).
      {"conv 3x3 64->64 at 56, batch 8", 64, 25088, 576},
      {"conv 3x3 512->512 at 7, batch 8", 512, 392, 4608},
  };
  std::printf("| product | m x n x k | path | GFLOP/s | of peak |\n|---|---|---|---|---|\n");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Product& p : products) {
    if (std::string(p.what).find(filter) == std::string::npos) continue;
    std::vector<float> a(static_cast<size_t>(p.m * p.k)), b(static_cast<size_t>(p.k * p.n)),
        c(static_cast<size_t>(p.m * p.n)), packed(a.size());
    for (auto& v : a) v = u(rng);
    for (auto& v : b) v = u(rng);
    cellar::ops::pack_rows(p.m, p.k, a.data(), p.k, packed.data());
    const double flop = 2.0 * static_cast<double>(p.m * p.n * p.k);
    auto row = [&](const char* path, double seconds, double of) {
      const double gf = flop / seconds / 1e9;
      std::printf("| %s | %lldx%lldx%lld | %s | %.1f | %.0f%% |\n", p.what,
                  static_cast<long long>(p.m), static_cast<long long>(p.n),
                  static_cast<long long>(p.k), path, gf, 100 * gf / of);
    };
    for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
      if (!cellar::ops::cpu_has(isa)) continue;
      const Isa previous = cellar::ops::force_isa(isa);
      const std::string name = cellar::ops::isa_name(isa);
      const double own = isa == Isa::kAvx512 ? peak512 : peak256;
      row((name + ", A as stored (MatMul)").c_str(),
          best_seconds(
              [&] {
                cellar::ops::gemm(false, false, p.m, p.n, p.k, a.data(), p.k, b.data(), p.n,
                                  c.data(), p.n);
              },
              repeats),
          own);
      row((name + ", A packed (Conv2D)").c_str(),
          best_seconds(
              [&] {
                cellar::ops::gemm_packed(p.m, p.n, p.k, packed.data(), b.data(), p.n, c.data(),
                                         p.n);
              },
              repeats),
          own);
      cellar::ops::force_isa(previous);
    }
    row("OpenBLAS sgemm",
        best_seconds(
            [&] {
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(p.m),
                          static_cast<int>(p.n), static_cast<int>(p.k), 1.0f, a.data(),
                          static_cast<int>(p.k), b.data(), static_cast<int>(p.n), 0.0f, c.data(),
                          static_cast<int>(p.n));
            },
            repeats),
        peak);
  }
  conv_layers(peak512, peak256, repeats, filter, cold);
  return 0;
}
