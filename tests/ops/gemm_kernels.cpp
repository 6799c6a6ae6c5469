// cellar's own GEMM kernels (src/ops/gemm.h) and the packed convolution weight they read
// (src/ops/nn/conv2d.h): against a double-precision reference, and computing every element the
// same way wherever it lies, so that a result does not depend on how the work is split (the
// ONNX backend's light/resnet50, whose 1000 classes all tie, fails otherwise) and channels with
// equal weights come out bit for bit equal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernel_test_support.h"
#include "ops/gemm.h"
#include "ops/isa.h"
#include "ops/nn/conv2d.h"
#include "ops/nn/phase_row.h"
#include "ops/op_table.h"
#include "ops/vec_math.h"
#include "runtime/thread_pool.h"

namespace cellar::ops {
namespace {

// C = A · B in double, A m × k, B k × n (both row-major, dense).
std::vector<double> reference(int64_t m, int64_t n, int64_t k, const std::vector<float>& a,
                              const std::vector<float>& b) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j)
        c[static_cast<size_t>(i * n + j)] +=
            static_cast<double>(a[static_cast<size_t>(i * k + p)]) *
            b[static_cast<size_t>(p * n + j)];
  return c;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, int64_t k) {
  ASSERT_EQ(got.size(), want.size());
  // |Σ| of k products of numbers in [-1, 1], each rounded once or twice: well inside k·2⁻²².
  const double bound = static_cast<double>(k) * std::ldexp(1.0, -22);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], bound) << "element " << i;
}

using Shape3 = std::tuple<int64_t, int64_t, int64_t>;  // m, n, k

// Every test below runs once per SIMD instruction set this CPU has (simd_isas), each forced in
// turn.
TEST(GemmKernels, TheCpusBestInstructionSetIsTheDefault) {
  const Isa best = cpu_has(Isa::kAvx512) ? Isa::kAvx512
                   : cpu_has(Isa::kAvx2) ? Isa::kAvx2
                                         : Isa::kNone;
  EXPECT_EQ(kernel_isa(), best) << isa_name(kernel_isa());
  EXPECT_TRUE(cpu_has(Isa::kNone));
  {
    ForcedIsa none(Isa::kNone);
    EXPECT_EQ(kernel_isa(), Isa::kNone);
    EXPECT_FALSE(packed_kernels());
  }
  EXPECT_EQ(kernel_isa(), best);
  // CELLAR_ISA, read once at start-up: a lesser set the CPU has, never a better one.
  EXPECT_EQ(isa_from_env(nullptr, Isa::kAvx512), Isa::kAvx512);
  EXPECT_EQ(isa_from_env("avx2", Isa::kAvx512), Isa::kAvx2);
  EXPECT_EQ(isa_from_env("none", Isa::kAvx2), Isa::kNone);
  EXPECT_EQ(isa_from_env("avx512", Isa::kAvx2), Isa::kAvx2);
  EXPECT_EQ(isa_from_env("sse", Isa::kAvx512), Isa::kAvx512);
  if (!cpu_has(Isa::kAvx512)) {
    EXPECT_THROW(force_isa(Isa::kAvx512), std::invalid_argument);
  }
}

TEST(GemmKernels, OneRowBothLayoutsMatchTheReferenceAndEveryColumnSplit) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {7, 3}, {100, 33}, {513, 17}, {1000, 256}, {64, 16}}) {
      const auto x = uniform(static_cast<size_t>(k), 1);
      const auto b = uniform(static_cast<size_t>(k * n), 2);
      std::vector<float> bt(b.size());
      for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j)
          bt[static_cast<size_t>(j * k + p)] = b[static_cast<size_t>(p * n + j)];
      const auto want = reference(1, n, k, x, b);
      for (bool tb : {false, true}) {
        const float* bp = tb ? bt.data() : b.data();
        const int64_t ldb = tb ? k : n;
        std::vector<float> whole(static_cast<size_t>(n));
        gemm(false, tb, 1, n, k, x.data(), k, bp, ldb, whole.data(), n);
        expect_close(whole, want, k);
        // In pieces of 13 columns (not a multiple of any vector width): the same bits.
        std::vector<float> pieces(static_cast<size_t>(n));
        for (int64_t j0 = 0; j0 < n; j0 += 13) {
          const int64_t w = std::min<int64_t>(13, n - j0);
          gemm(false, tb, 1, w, k, x.data(), k, tb ? bp + j0 * ldb : bp + j0, ldb,
               pieces.data() + j0, n);
        }
        EXPECT_EQ(pieces, whole) << "n " << n << " k " << k << " transposed " << tb;
        // And split over two threads by the executor's entry point.
        runtime::ThreadPool pool(2);
        std::vector<float> split(static_cast<size_t>(n));
        gemm(pool, false, tb, 1, n, k, x.data(), k, bp, ldb, split.data(), n);
        EXPECT_EQ(split, whole) << "n " << n << " k " << k << " transposed " << tb;
      }
    }
  }
}

TEST(GemmKernels, OneRowWithEqualWeightColumnsGivesEqualOutputs) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    // A Dense layer whose output units all have the same weights: every output the same float.
    const int64_t n = 1000, k = 2048;
    const auto x = uniform(static_cast<size_t>(k), 3);
    const auto row = uniform(static_cast<size_t>(k), 4);
    std::vector<float> bt(static_cast<size_t>(n * k));
    for (int64_t j = 0; j < n; ++j) std::copy(row.begin(), row.end(), bt.begin() + j * k);
    runtime::ThreadPool pool(2);
    std::vector<float> y(static_cast<size_t>(n));
    gemm(pool, false, true, 1, n, k, x.data(), k, bt.data(), k, y.data(), n);
    for (int64_t j = 1; j < n; ++j) ASSERT_EQ(y[static_cast<size_t>(j)], y[0]) << j;
  }
}

// Products with A as stored (MatMul): the narrow kernel (n ≤ 32, m ≥ 8), the panel kernels
// (n ≥ 16) with full and short panels, masked column tails; and split over two threads.
TEST(GemmKernels, UnpackedProductsMatchTheReferenceAndAnySplit) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    for (auto [m, n, k] : std::vector<Shape3>{{8, 1, 3},
                                              {9, 31, 17},
                                              {16, 32, 64},
                                              {2, 17, 5},
                                              {2, 10, 84},
                                              {7, 3, 40},
                                              {13, 45, 7},
                                              {64, 512, 784},
                                              {23, 97, 130},
                                              {7, 200, 1}}) {
      const auto a = uniform(static_cast<size_t>(m * k), 12);
      const auto b = uniform(static_cast<size_t>(k * n), 13);
      std::vector<float> whole(static_cast<size_t>(m * n));
      gemm(false, false, m, n, k, a.data(), k, b.data(), n, whole.data(), n);
      expect_close(whole, reference(m, n, k, a, b), k);
      runtime::ThreadPool pool(2);
      std::vector<float> split(whole.size());
      gemm(pool, false, false, m, n, k, a.data(), k, b.data(), n, split.data(), n);
      expect_close(split, reference(m, n, k, a, b), k);
    }
  }
}

// The epilogue (FusedMatMul's bias + ReLU) on each path of gemm(): one row (B as stored and
// transposed), narrow (n ≤ 32), the panel kernels with short panels and masked column tails,
// BLAS (A transposed) and k = 0; on every instruction set the CPU has and on none (BLAS and the
// portable epilogue). Each element is the plain product's float plus the bias, then ReLU: the same
// bits, whichever path, thread split or column block computed it. A NaN bias gives NaN, or 0
// after ReLU (as the ReLU op does).
TEST(GemmKernels, EpilogueAddsTheBiasAndAppliesReLUOnEveryPath) {
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::kNone);
  for (Isa isa : isas) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    struct Case {
      int64_t m, n, k;
      bool ta, tb;
    };
    for (const Case& t : std::vector<Case>{{1, 100, 33, false, false},
                                           {1, 513, 17, false, true},
                                           {9, 31, 17, false, false},
                                           {16, 5, 64, false, false},
                                           {13, 45, 7, false, false},
                                           {3, 17, 5, false, false},
                                           {2, 10, 84, false, false},
                                           {64, 512, 784, false, false},
                                           {23, 97, 130, false, false},
                                           {7, 200, 1, false, false},
                                           {11, 40, 30, true, false},
                                           {6, 70, 9, false, true},
                                           {5, 20, 0, false, false}}) {
      SCOPED_TRACE(std::to_string(t.m) + "x" + std::to_string(t.n) + "x" + std::to_string(t.k) +
                   (t.ta ? " A transposed" : "") + (t.tb ? " B transposed" : ""));
      const auto a = uniform(static_cast<size_t>(t.m * t.k), 21);
      const auto b = uniform(static_cast<size_t>(t.k * t.n), 22);
      auto bias = uniform(static_cast<size_t>(t.n), 23);
      bias[static_cast<size_t>(t.n / 2)] = std::numeric_limits<float>::quiet_NaN();
      const int64_t lda = t.ta ? t.m : t.k, ldb = t.tb ? t.k : t.n;
      std::vector<float> plain(static_cast<size_t>(t.m * t.n));
      gemm(t.ta, t.tb, t.m, t.n, t.k, a.data(), lda, b.data(), ldb, plain.data(), t.n);
      for (GemmActivation act :
           {GemmActivation::kNone, GemmActivation::kReLU, GemmActivation::kGeLU})
        for (bool with_bias : {true, false}) {
          const bool relu = act == GemmActivation::kReLU, gelu = act == GemmActivation::kGeLU;
          SCOPED_TRACE(std::string(relu   ? "relu"
                                   : gelu ? "gelu"
                                          : "none") +
                       (with_bias ? " bias" : ""));
          std::vector<float> want = plain;
          for (int64_t i = 0; i < t.m; ++i)
            for (int64_t j = 0; j < t.n; ++j) {
              float& v = want[static_cast<size_t>(i * t.n + j)];
              if (with_bias) v += bias[static_cast<size_t>(j)];
              if (relu) v = v > 0.0f ? v : 0.0f;
              if (gelu) {
                const double d = v;
                v = static_cast<float>(
                    0.5 * d * (1 + std::tanh(0.7978845608028654 * (d + 0.044715 * d * d * d))));
              }
            }
          const Epilogue ep{with_bias ? bias.data() : nullptr, act};
          std::vector<float> got(plain.size(), -7.0f);
          gemm(t.ta, t.tb, t.m, t.n, t.k, a.data(), lda, b.data(), ldb, got.data(), t.n, ep);
          for (size_t i = 0; i < got.size(); ++i) {
            if (std::isnan(want[i])) {
              ASSERT_TRUE(std::isnan(got[i])) << "element " << i;
            } else if (gelu) {  // a formula evaluated two ways: within its rounding
              ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << "element " << i;
            } else {
              ASSERT_EQ(got[i], want[i]) << "element " << i;
            }
          }
          runtime::ThreadPool pool(2);
          std::vector<float> split(plain.size(), -7.0f);
          gemm(pool, t.ta, t.tb, t.m, t.n, t.k, a.data(), lda, b.data(), ldb, split.data(), t.n,
               ep);
          for (size_t i = 0; i < split.size(); ++i) {
            if (std::isnan(want[i])) {
              ASSERT_TRUE(std::isnan(split[i])) << "element " << i;
            } else {
              ASSERT_NEAR(split[i], want[i], static_cast<double>(t.k + 1) * std::ldexp(1.0, -22))
                  << "element " << i;
            }
          }
        }
    }
  }
}

// interleave_rows (a batch-1 Dense weight as pass 8 stores it): rows in groups of 4, each group's
// columns in chunks of 16 (the last k mod 16 wide), the group's rows one after another in a chunk;
// the rows after the last group as given. Positions worked out by hand for 11 rows of 37 columns
// (two groups and 3 rows; chunks of 16, 16 and 5), read from a misaligned copy with a row stride
// wider than k.
TEST(GemmKernels, InterleavedRowsLayout) {
  ASSERT_EQ(kInterleaveRows, 4);
  const int64_t n = 11, k = 37, ld = 40;
  std::vector<float> bt(static_cast<size_t>(n * ld));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < ld; ++p) bt[static_cast<size_t>(j * ld + p)] = float(j * 100 + p);
  std::vector<std::byte> bytes(bt.size() * sizeof(float) + 3);
  std::memcpy(bytes.data() + 3, bt.data(), bt.size() * sizeof(float));
  std::vector<float> out(static_cast<size_t>(n * k), -1.0f);
  interleave_rows(n, k, bytes.data() + 3, ld, out.data());
  const auto at = [&](int64_t i) { return out[static_cast<size_t>(i)]; };
  EXPECT_EQ(at(0), 0.0f);                  // row 0, column 0
  EXPECT_EQ(at(15), 15.0f);                // row 0, column 15
  EXPECT_EQ(at(16), 100.0f);               // row 1, column 0
  EXPECT_EQ(at(3 * 16 + 15), 315.0f);      // row 3, column 15
  EXPECT_EQ(at(64), 16.0f);                // second chunk: row 0, column 16
  EXPECT_EQ(at(128), 32.0f);               // third chunk (5 wide): row 0, column 32
  EXPECT_EQ(at(128 + 5), 132.0f);          // row 1, column 32
  EXPECT_EQ(at(128 + 3 * 5 + 4), 336.0f);  // row 3, column 36: the group's last float
  EXPECT_EQ(at(4 * k), 400.0f);            // second group: row 4, column 0
  EXPECT_EQ(at(8 * k - 1), 736.0f);        // row 7, column 36
  EXPECT_EQ(at(8 * k), 800.0f);            // row 8 as given
  EXPECT_EQ(at(10 * k + 36), 1036.0f);     // the last float
  std::vector<float> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "each float once";
  EXPECT_EQ(sorted.front(), 0.0f);
}

// C = A · B with Bᵀ's rows interleaved (FusedMatMul's rows_interleaved): on AVX-512 and AVX2 the
// bits of gemm() with Bᵀ as stored, whole groups and rows after them (n mod 4 from 0 to 3), k a
// multiple of 16 or with a last chunk under 8 or from 8 columns wide, several rows of A (each
// that row's one-row product), each epilogue, on one worker and split over two (column blocks of
// whole groups; rows when the blocks are fewer); with no SIMD set, the reference within rounding.
TEST(GemmKernels, InterleavedRowsGiveTheOneRowProduct) {
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::kNone);
  for (Isa isa : isas) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    for (auto [m, n, k] : std::vector<Shape3>{{1, 1, 1},
                                              {1, 7, 3},
                                              {1, 8, 16},
                                              {1, 9, 17},
                                              {1, 13, 24},
                                              {1, 16, 8},
                                              {1, 30, 31},
                                              {1, 70, 513},
                                              {1, 100, 33},
                                              {1, 517, 301},
                                              {1, 512, 784},
                                              {3, 21, 45},
                                              {2, 24, 2000},
                                              {4, 13, 1000}}) {
      SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
      const auto a = uniform(static_cast<size_t>(m * k), 41);
      const auto bt = uniform(static_cast<size_t>(n * k), 42);
      const auto bias = uniform(static_cast<size_t>(n), 43);
      std::vector<float> w(bt.size());
      interleave_rows(n, k, bt.data(), k, w.data());
      if (n >= 8 && k > 16) {
        EXPECT_NE(w, bt);
      }
      std::vector<float> b(bt.size());  // B (k × n) for the reference
      for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p)
          b[static_cast<size_t>(p * n + j)] = bt[static_cast<size_t>(j * k + p)];
      const auto exact = reference(m, n, k, a, b);
      for (GemmActivation act :
           {GemmActivation::kNone, GemmActivation::kReLU, GemmActivation::kGeLU}) {
        const Epilogue ep{act == GemmActivation::kNone ? nullptr : bias.data(), act};
        for (int threads : {1, 2}) {
          runtime::ThreadPool pool(threads);
          std::vector<float> want(static_cast<size_t>(m * n)), got(want.size(), -7.0f);
          for (int64_t i = 0; i < m; ++i)  // row by row: the one-row kernels
            gemm(pool, false, true, 1, n, k, a.data() + i * k, k, bt.data(), k, want.data() + i * n,
                 n, ep);
          gemm_interleaved_b(pool, m, n, k, a.data(), k, w.data(), got.data(), n, ep);
          if (isa == Isa::kNone) {
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_NEAR(got[i], want[i], static_cast<double>(k) * std::ldexp(1.0, -21)) << i;
          } else {
            ASSERT_EQ(got, want) << threads << " threads";
          }
          if (act == GemmActivation::kNone) expect_close(got, exact, k);
        }
      }
    }
  }
}

// B packed in column tiles (a constant Dense weight, FusedMatMul's packed_b): the same bits as
// gemm() with B as stored, on one row, short and full panels, a last tile narrower than 48,
// fewer tiles than workers (rows split), and tiles that split less evenly than the rows in panels
// of 8 (64 × 520: 11 tiles, rows split), with each epilogue; on every instruction set and none.
TEST(GemmKernels, ColumnPackedBGivesTheUnpackedProduct) {
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::kNone);
  for (Isa isa : isas) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    for (auto [m, n, k] : std::vector<Shape3>{{1, 100, 33},
                                              {8, 48, 20},
                                              {50, 230, 77},
                                              {13, 30, 9},
                                              {64, 96, 5},
                                              {9, 500, 64},
                                              {64, 520, 33}}) {
      SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
      const auto a = uniform(static_cast<size_t>(m * k), 31);
      const auto b = uniform(static_cast<size_t>(k * n), 32);
      const auto bias = uniform(static_cast<size_t>(n), 33);
      std::vector<float> packed(b.size());
      pack_columns(k, n, b.data(), n, packed.data());
      for (GemmActivation act :
           {GemmActivation::kNone, GemmActivation::kReLU, GemmActivation::kGeLU}) {
        const Epilogue ep{bias.data(), act};
        std::vector<float> want(static_cast<size_t>(m * n));
        gemm(false, false, m, n, k, a.data(), k, b.data(), n, want.data(), n, ep);
        for (int threads : {1, 2}) {
          runtime::ThreadPool pool(threads);
          std::vector<float> got(want.size(), -7.0f);
          gemm_packed_b(pool, m, n, k, a.data(), k, packed.data(), got.data(), n, ep);
          if (isa == Isa::kNone) {  // BLAS: its sums may depend on the block's width
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_NEAR(got[i], want[i], static_cast<double>(k) * std::ldexp(1.0, -21)) << i;
          } else {
            ASSERT_EQ(got, want) << threads << " threads";
          }
        }
      }
    }
  }
}

// B packed from Bᵀ (a Dense weight [n, k] as a file stores it) in one pass is B packed from B,
// bit for bit, on every path of the transpose (AVX2 blocks, the portable loop), for widths that
// leave a narrow last tile and sizes off the transpose's 8 × 8 blocks and 32 × 32 tiles; read at
// an address misaligned for float (a MindIR weight read in the file where it lies, 1 to 3 bytes
// past a float boundary) as well as aligned, with a row stride wider than k.
TEST(GemmKernels, ColumnsPackedFromTheTransposeAreTheColumnsPacked) {
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::kNone);
  for (Isa isa : isas) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {48, 8}, {47, 33}, {100, 77}, {96, 64}, {200, 9}, {49, 130}}) {
      for (int64_t extra : {0, 3}) {
        for (size_t shift : {0, 1, 3}) {
          SCOPED_TRACE(std::to_string(n) + "x" + std::to_string(k) + " stride +" +
                       std::to_string(extra) + " shift " + std::to_string(shift));
          const int64_t ld = k + extra;
          const auto bt = uniform(static_cast<size_t>(n * ld), 41);  // n × k, row stride ld
          std::vector<float> b(static_cast<size_t>(k * n));          // k × n
          for (int64_t j = 0; j < n; ++j)
            for (int64_t p = 0; p < k; ++p)
              b[static_cast<size_t>(p * n + j)] = bt[static_cast<size_t>(j * ld + p)];
          std::vector<float> want(b.size()), got(b.size(), -7.0f);
          pack_columns(k, n, b.data(), n, want.data());
          std::vector<std::byte> raw(bt.size() * sizeof(float) + 4);
          std::memcpy(raw.data() + shift, bt.data(), bt.size() * sizeof(float));
          pack_columns_transposed(k, n, raw.data() + shift, ld, got.data());
          ASSERT_EQ(got, want);
          // pack_columns reads a misaligned B the same way.
          std::vector<std::byte> rawb(b.size() * sizeof(float) + 4);
          std::memcpy(rawb.data() + shift, b.data(), b.size() * sizeof(float));
          std::vector<float> again(b.size(), -7.0f);
          pack_columns(k, n, rawb.data() + shift, n, again.data());
          ASSERT_EQ(again, want);
        }
      }
    }
  }
}

TEST(GemmKernels, PackedMatchesTheReferenceAndAnySplit) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    if (!packed_kernels()) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512";
    for (auto [m, n, k] : std::vector<Shape3>{{1, 1, 1},
                                              {3, 1, 5},
                                              {8, 32, 9},
                                              {7, 50, 100},
                                              {13, 45, 7},
                                              {64, 1024, 64},
                                              {20, 300, 700},
                                              {17, 16, 300}}) {
      const auto a = uniform(static_cast<size_t>(m * k), 5);
      const auto b = uniform(static_cast<size_t>(k * n), 6);
      std::vector<float> packed(a.size());
      pack_rows(m, k, a.data(), k, packed.data());
      std::vector<float> whole(static_cast<size_t>(m * n));
      gemm_packed(m, n, k, packed.data(), b.data(), n, whole.data(), n);
      expect_close(whole, reference(m, n, k, a, b), k);
      // Row blocks at panel boundaries, columns in blocks of 19: the same bits.
      std::vector<float> pieces(whole.size());
      for (int64_t r0 = 0; r0 < m; r0 += kPackRows)
        for (int64_t j0 = 0; j0 < n; j0 += 19)
          gemm_packed(std::min(kPackRows, m - r0), std::min<int64_t>(19, n - j0), k,
                      packed.data() + r0 * k, b.data() + j0, n, pieces.data() + r0 * n + j0, n);
      EXPECT_EQ(pieces, whole) << m << "x" << n << "x" << k;
    }
  }
}

// Products large enough for the kernels' blocking (ops/gemm.cpp: AVX2 takes B's rows in blocks of
// 128, copies tiles of B as stored when A has 16 rows or more, wider tiles when B has few rows,
// and, once A outgrows L2, runs its rows in groups), with a weight's columns in many pieces (every
// third skipped: more pieces than one block holds): each element is still one chain of
// multiply-adds over p in order, so every instruction set gives the same bits, A packed or as
// stored.
TEST(GemmKernels, BlockedProductsAreOneChainPerElementOnEverySet) {
  const std::vector<Isa> isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512";
  for (auto [m, n, k] : std::vector<Shape3>{{520, 50, 130},
                                            {40, 100, 300},
                                            {17, 130, 129},
                                            {16, 48, 257},
                                            {9, 61, 200},
                                            {24, 300, 20},
                                            {33, 1000, 5}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
    const auto a = uniform(static_cast<size_t>(m * k), 41);
    const auto b = uniform(static_cast<size_t>(k * n), 42);
    std::vector<float> packed(a.size());
    pack_rows(m, k, a.data(), k, packed.data());
    // The pieces [3i, 3i + 2), and B's rows for them one after another.
    std::vector<KRange> ranges;
    std::vector<float> a_used, b_used;
    for (int64_t p = 0; p < k; p += 3) ranges.push_back({p, std::min(k, p + 2)});
    for (int64_t i = 0; i < m; ++i)
      for (const KRange& r : ranges)
        for (int64_t p = r.begin; p < r.end; ++p)
          a_used.push_back(a[static_cast<size_t>(i * k + p)]);
    for (const KRange& r : ranges)
      for (int64_t p = r.begin; p < r.end; ++p)
        b_used.insert(b_used.end(), b.begin() + p * n, b.begin() + (p + 1) * n);
    const int64_t used = static_cast<int64_t>(b_used.size()) / n;
    const auto want_all = reference(m, n, k, a, b);
    const auto want_used = reference(m, n, used, a_used, b_used);
    std::vector<float> first_all, first_used, first_stored;
    for (Isa isa : isas) {
      SCOPED_TRACE(isa_name(isa));
      ForcedIsa forced(isa);
      std::vector<float> all(static_cast<size_t>(m * n), -7.0f), some(all), stored(all);
      gemm_packed(m, n, k, packed.data(), b.data(), n, all.data(), n);
      gemm_packed(m, n, k, ranges, packed.data(), b_used.data(), n, some.data(), n);
      gemm(false, false, m, n, k, a.data(), k, b.data(), n, stored.data(), n);
      expect_close(all, want_all, k);
      expect_close(some, want_used, used);
      EXPECT_EQ(stored, all);
      if (first_all.empty()) {
        first_all = all, first_used = some, first_stored = stored;
      } else {
        EXPECT_EQ(all, first_all);
        EXPECT_EQ(some, first_used);
        EXPECT_EQ(stored, first_stored);
      }
    }
  }
}

TEST(GemmKernels, PackedRowsWithEqualWeightsGiveEqualOutputs) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    if (!packed_kernels()) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512";
    // 13 equal rows: one full panel and a panel of 5, which runs another kernel instance.
    const int64_t m = 13, n = 70, k = 301;
    const auto row = uniform(static_cast<size_t>(k), 7);
    std::vector<float> a(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m; ++i) std::copy(row.begin(), row.end(), a.begin() + i * k);
    const auto b = uniform(static_cast<size_t>(k * n), 8);
    std::vector<float> packed(a.size()), c(static_cast<size_t>(m * n));
    pack_rows(m, k, a.data(), k, packed.data());
    gemm_packed(m, n, k, packed.data(), b.data(), n, c.data(), n);
    for (int64_t i = 1; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        ASSERT_EQ(c[static_cast<size_t>(i * n + j)], c[static_cast<size_t>(j)]) << i << ", " << j;
  }
}

// FusedConv2D with the packed weight against the same convolution with the weight as given, on
// geometries that take each path: im2col blocks, a 1×1 convolution read in place, a 1×1 one over
// 32×32 positions (a 4 KiB row stride, copied), groups with a panel of fewer than 8 rows, strides,
// dilations and padding, and more output positions than one column block; outputs 2 columns wide
// (a tile of im2col spans 24 output rows) and one row high; 1×1 convolutions read in place over
// several column tiles (each finished on its own), the last taking in a narrow remainder; ReLU,
// HSwish and x · sigmoid(x).
TEST(GemmKernels, PackedConvolutionMatchesTheUnpackedOne) {
  for (Isa isa : simd_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ForcedIsa forced(isa);
    if (!packed_kernels()) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512";
    struct Geo {
      int64_t n, c, h, w, o, k, group, stride, dilation, pad;
    };
    const auto& table = op_table();
    const OpDef* fused = table.find("FusedConv2D");
    ASSERT_NE(fused, nullptr);
    for (const Geo& geo : std::vector<Geo>{{1, 16, 9, 9, 24, 3, 1, 1, 1, 1},
                                           {2, 8, 7, 5, 12, 1, 1, 1, 1, 0},
                                           {1, 64, 32, 32, 40, 1, 1, 1, 1, 0},
                                           {1, 12, 10, 10, 18, 3, 3, 2, 1, 1},
                                           {1, 6, 12, 12, 16, 3, 2, 1, 2, 2},
                                           {1, 3, 70, 70, 10, 5, 1, 1, 1, 2},
                                           {2, 64, 20, 20, 16, 3, 1, 1, 1, 1},
                                           {2, 16, 30, 2, 24, 3, 1, 1, 1, 1},
                                           {3, 8, 1, 9, 8, 3, 1, 2, 1, 1},
                                           {1, 24, 40, 30, 21, 1, 1, 1, 1, 0},
                                           {2, 200, 19, 19, 12, 1, 1, 1, 1, 0},
                                           {1, 16, 37, 41, 30, 1, 2, 1, 1, 0}}) {
      for (const char* act : {"relu", "hswish", "x_sigmoid"}) {
        const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.o, geo.c / geo.group, geo.k, geo.k};
        Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.o});
        auto fill = [](Tensor& t, unsigned seed) {
          const auto v = uniform(static_cast<size_t>(t.numel()), seed);
          std::copy(v.begin(), v.end(), t.data<float>());
        };
        fill(x, 9), fill(w, 10), fill(bias, 11);
        ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                           {"pad", std::vector<int64_t>{geo.pad, geo.pad, geo.pad, geo.pad}},
                           {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                           {"dilation", std::vector<int64_t>{1, 1, geo.dilation, geo.dilation}},
                           {"group", geo.group},
                           {"activation", std::string(act)}};
        const std::vector<TensorType> types = {
            {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{geo.o}}};
        const TensorType out = fused->infer(types, attrs)[0];
        const Kernel plain = fused->make_kernel(types, attrs);
        ir::Attrs packed_attrs = attrs;
        packed_attrs["packed_weight"] = true;
        const Kernel packed = fused->make_kernel(types, packed_attrs);
        const Tensor pw = pack_conv_weight(w, geo.group);
        Tensor want(DType::Float32, out.shape), got(DType::Float32, out.shape);
        std::vector<Tensor> plain_in{x, w, bias}, packed_in{x, pw, bias};
        std::vector<Tensor> want_out{want}, got_out{got};
        plain(plain_in, want_out);
        runtime::ThreadPool pool(2);
        packed(packed_in, got_out, pool);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < want.numel(); ++i) {
          worst = std::max(
              worst, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
          scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
        }
        EXPECT_GT(scale, 0.5);
        EXPECT_LE(worst, 1e-5 * scale) << "input " << xs.str() << " weight " << ws.str();
        // One thread: the same bits as two.
        Tensor serial(DType::Float32, out.shape);
        std::vector<Tensor> serial_out{serial};
        packed(packed_in, serial_out);
        EXPECT_TRUE(serial.equal(got)) << "input " << xs.str() << " weight " << ws.str();
      }
    }
  }
}

// How an im2col convolution is cut over workers (conv2d.cpp, conv_split): by output channels
// where they outnumber the output positions (7 × 7 and 1 × 1 planes at batch 1, row blocks of
// whole panels, a last one shorter), by column ranges of each image otherwise (batch 1 and 3 on
// two workers: ranges of whole 48-column tiles, one of them empty with 81 positions on three),
// by whole images where they split evenly. On two and three workers the same bits as on one,
// weight as given and packed, on each instruction set, and within 1e-5 of the portable kernel.
TEST(GemmKernels, ConvolutionSplitsGiveTheSameBitsAsOneWorker) {
  struct Geo {
    int64_t n, c, h, w, o, k, group, stride;
  };
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  for (const Geo& geo : std::vector<Geo>{{1, 64, 7, 7, 200, 3, 1, 1},
                                         {1, 40, 5, 5, 100, 1, 1, 1},
                                         {1, 600, 1, 1, 72, 1, 1, 1},
                                         {1, 32, 14, 14, 61, 3, 1, 2},
                                         {1, 32, 28, 28, 48, 3, 1, 1},
                                         {3, 16, 11, 13, 24, 3, 1, 1},
                                         {1, 32, 9, 9, 64, 3, 2, 1},
                                         {2, 24, 10, 10, 40, 1, 1, 1}}) {
    const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.o, geo.c / geo.group, geo.k, geo.k};
    SCOPED_TRACE("input " + xs.str() + " weight " + ws.str());
    Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.o});
    auto fill = [](Tensor& t, unsigned seed) {
      const auto v = uniform(static_cast<size_t>(t.numel()), seed);
      std::copy(v.begin(), v.end(), t.data<float>());
    };
    fill(x, 41), fill(w, 42), fill(bias, 43);
    const int64_t pad = geo.k / 2;
    const ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                             {"pad", std::vector<int64_t>{pad, pad, pad, pad}},
                             {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                             {"dilation", std::vector<int64_t>{1, 1, 1, 1}},
                             {"group", geo.group},
                             {"activation", std::string("relu")}};
    const std::vector<TensorType> types = {
        {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{geo.o}}};
    const TensorType out = fused->infer(types, attrs)[0];
    Tensor want(DType::Float32, out.shape);
    {
      ForcedIsa portable(Isa::kNone);
      std::vector<Tensor> in{x, w, bias}, want_out{want};
      fused->make_kernel(types, attrs)(in, want_out);
    }
    for (Isa isa : simd_isas()) {
      ForcedIsa forced(isa);
      for (bool packed : {false, true}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + (packed ? " packed" : ""));
        ir::Attrs a = attrs;
        a["packed_weight"] = packed;
        const Kernel kernel = fused->make_kernel(types, a);
        std::vector<Tensor> in{x, packed ? pack_conv_weight(w, geo.group) : w, bias};
        Tensor serial(DType::Float32, out.shape);
        std::vector<Tensor> serial_out{serial};
        kernel(in, serial_out);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < want.numel(); ++i) {
          worst = std::max(worst, std::fabs(static_cast<double>(serial.data<float>()[i]) -
                                            want.data<float>()[i]));
          scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
        }
        EXPECT_GT(scale, 0.5);
        EXPECT_LE(worst, 1e-5 * scale);
        for (int threads : {2, 3}) {
          runtime::ThreadPool pool(threads);
          Tensor got(DType::Float32, out.shape);
          std::fill_n(got.data<float>(), got.numel(), -7.0f);
          std::vector<Tensor> got_out{got};
          kernel(in, got_out, pool);
          EXPECT_TRUE(serial.equal(got)) << threads << " workers";
        }
      }
    }
  }
}

// Convolutions of few input channels (ops/nn/conv_direct.h: computed directly, no im2col) on each
// instruction set, weight as given and packed, against im2col + BLAS (Isa::kNone): LeNet-5's
// layers, stems with stride 2 and padding, 7 × 7 taps, dilation, batch 2, rows of 1 to 13 vectors
// with every tail width, output channels in whole and partial panels of 8, across two threads and
// on one (the same bits), and the same bits on every instruction set (AVX2's 8-lane tiles and
// AVX-512's 16-lane ones sum each output in the same order) but for SiLU, whose e^x differs.
TEST(GemmKernels, DirectConvolutionMatchesIm2col) {
  struct Geo {
    int64_t n, c, h, w, o, k, stride, dilation, pt, pb, pl, pr;
  };
  const OpDef* fused = op_table().find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  for (const Geo& geo : std::vector<Geo>{{2, 1, 32, 32, 6, 5, 1, 1, 0, 0, 0, 0},
                                         {2, 4, 14, 14, 16, 5, 1, 1, 0, 0, 0, 0},
                                         {1, 3, 37, 37, 16, 3, 2, 1, 1, 1, 1, 1},
                                         {1, 3, 45, 45, 8, 7, 2, 1, 3, 3, 3, 3},
                                         {1, 2, 12, 11, 10, 3, 1, 2, 2, 1, 0, 2},
                                         {2, 3, 9, 104, 7, 3, 1, 1, 1, 1, 1, 1},
                                         {1, 1, 5, 5, 3, 1, 1, 1, 0, 0, 0, 0},
                                         {1, 4, 20, 20, 9, 3, 3, 1, 0, 2, 1, 0},
                                         {1, 3, 67, 225, 13, 3, 2, 1, 1, 1, 1, 1},
                                         {1, 3, 40, 98, 32, 7, 2, 1, 3, 3, 3, 3},
                                         {2, 2, 17, 40, 24, 3, 1, 1, 1, 1, 1, 1}}) {
    for (const char* act : {"hswish", "silu", "relu6", "none"}) {
      const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.o, geo.c, geo.k, geo.k};
      Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.o});
      auto fill = [](Tensor& t, unsigned seed) {
        const auto v = uniform(static_cast<size_t>(t.numel()), seed);
        std::copy(v.begin(), v.end(), t.data<float>());
      };
      fill(x, 21), fill(w, 22), fill(bias, 23);
      const ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                               {"pad", std::vector<int64_t>{geo.pt, geo.pb, geo.pl, geo.pr}},
                               {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                               {"dilation", std::vector<int64_t>{1, 1, geo.dilation, geo.dilation}},
                               {"group", int64_t{1}},
                               {"activation", std::string(act)}};
      const std::vector<TensorType> types = {
          {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{geo.o}}};
      const TensorType out = fused->infer(types, attrs)[0];
      Tensor want(DType::Float32, out.shape);
      {
        ForcedIsa portable(Isa::kNone);
        std::vector<Tensor> in{x, w, bias}, want_out{want};
        fused->make_kernel(types, attrs)(in, want_out);
      }
      std::optional<Tensor> first[2];  // the first instruction set's result, as given and packed
      for (Isa isa : simd_isas()) {
        ForcedIsa forced(isa);
        for (bool packed : {false, true}) {
          ir::Attrs a = attrs;
          a["packed_weight"] = packed;
          const Kernel kernel = fused->make_kernel(types, a);
          std::vector<Tensor> in{x, packed ? pack_conv_weight(w, 1) : w, bias};
          Tensor got(DType::Float32, out.shape), serial(DType::Float32, out.shape);
          std::vector<Tensor> got_out{got}, serial_out{serial};
          runtime::ThreadPool pool(2);
          kernel(in, got_out, pool);
          kernel(in, serial_out);
          double worst = 0, scale = 0;
          for (int64_t i = 0; i < want.numel(); ++i) {
            worst = std::max(worst, std::fabs(static_cast<double>(got.data<float>()[i]) -
                                              want.data<float>()[i]));
            scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
          }
          EXPECT_GT(scale, 0.5);
          EXPECT_LE(worst, 1e-5 * scale)
              << isa_name(isa) << (packed ? " packed" : "") << " input " << xs.str();
          EXPECT_TRUE(serial.equal(got)) << isa_name(isa) << " input " << xs.str();
          // SiLU's e^x is each set's own polynomial (vec_math.h): within the bound above only.
          if (std::string(act) == "silu") continue;
          std::optional<Tensor>& ref = first[packed ? 1 : 0];
          if (!ref) ref = got;
          EXPECT_TRUE(ref->equal(got))
              << isa_name(isa) << (packed ? " packed" : "") << " against the first set, input "
              << xs.str() << " " << act;
        }
      }
    }
  }
}

// The stride-2 phase split (ops/nn/phase_row.h) on each instruction set against the element-wise
// copy: every count from 0 to 70 (whole vectors of 8 and 16 and every tail), from a buffer that
// ends at the last input read (2n − 1 floats), so a read past it is a sanitizer's error.
TEST(GemmKernels, StrideTwoPhaseCopyOnEverySet) {
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::kNone);
  for (Isa isa : isas) {
    ForcedIsa forced(isa);
    for (int64_t n = 0; n <= 70; ++n) {
      const std::vector<float> v = uniform(static_cast<size_t>(2 * n + 1), 31);
      std::vector<float> src(v.begin(), v.begin() + std::max<int64_t>(0, 2 * n - 1));
      std::vector<float> got(static_cast<size_t>(n) + 1, -7.0f);
      gather_stride2(got.data(), n, src.data());
      for (int64_t c = 0; c < n; ++c)
        ASSERT_EQ(got[static_cast<size_t>(c)], src[static_cast<size_t>(2 * c)])
            << isa_name(isa) << " n " << n << " c " << c;
      EXPECT_EQ(got[static_cast<size_t>(n)], -7.0f) << isa_name(isa) << " wrote past n " << n;
    }
  }
}

// Depthwise convolution (groups of one input channel) on each instruction set against the
// portable loop (Isa::kNone): planes from 1×1 to 33×33 (vector tails of every width), strides,
// dilation, asymmetric padding, 5×5 taps, a channel multiplier of 2, batch 2, across two threads;
// ReLU6 in registers, SiLU and x · sigmoid(x) over each finished block.
TEST(GemmKernels, DepthwiseMatchesThePortableLoop) {
  struct Geo {
    int64_t n, c, h, w, mult, k, stride, dilation, pt, pb, pl, pr;
  };
  const auto& table = op_table();
  const OpDef* fused = table.find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  for (const Geo& geo : std::vector<Geo>{{1, 32, 4, 4, 1, 3, 1, 1, 1, 1, 1, 1},
                                         {1, 24, 2, 2, 1, 3, 1, 1, 1, 1, 1, 1},
                                         {2, 17, 8, 8, 1, 3, 2, 1, 0, 1, 0, 1},
                                         {1, 16, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1},
                                         {1, 8, 33, 31, 1, 3, 2, 1, 1, 1, 1, 1},
                                         {1, 5, 12, 9, 2, 5, 1, 1, 2, 1, 0, 2},
                                         {1, 20, 7, 7, 1, 3, 1, 2, 2, 2, 2, 2},
                                         {1, 40, 16, 16, 1, 5, 2, 1, 2, 2, 2, 2},
                                         {2, 48, 6, 5, 1, 3, 1, 1, 1, 1, 1, 1}}) {
    for (const char* act : {"relu6", "silu", "x_sigmoid"}) {
      const int64_t o = geo.c * geo.mult;
      const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{o, 1, geo.k, geo.k};
      Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{o});
      auto fill = [](Tensor& t, unsigned seed) {
        const auto v = uniform(static_cast<size_t>(t.numel()), seed);
        std::copy(v.begin(), v.end(), t.data<float>());
      };
      fill(x, 14), fill(w, 15), fill(bias, 16);
      const ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                               {"pad", std::vector<int64_t>{geo.pt, geo.pb, geo.pl, geo.pr}},
                               {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                               {"dilation", std::vector<int64_t>{1, 1, geo.dilation, geo.dilation}},
                               {"group", geo.c},
                               {"activation", std::string(act)}};
      const std::vector<TensorType> types = {
          {DType::Float32, xs}, {DType::Float32, ws}, {DType::Float32, Shape{o}}};
      const TensorType out = fused->infer(types, attrs)[0];
      std::vector<Tensor> in{x, w, bias};
      Tensor want(DType::Float32, out.shape);
      {
        ForcedIsa portable(Isa::kNone);
        std::vector<Tensor> want_out{want};
        fused->make_kernel(types, attrs)(in, want_out);
      }
      for (Isa isa : simd_isas()) {
        ForcedIsa forced(isa);
        const Kernel kernel = fused->make_kernel(types, attrs);
        Tensor got(DType::Float32, out.shape), serial(DType::Float32, out.shape);
        std::vector<Tensor> got_out{got}, serial_out{serial};
        runtime::ThreadPool pool(2);
        kernel(in, got_out, pool);
        kernel(in, serial_out);
        double worst = 0;
        for (int64_t i = 0; i < want.numel(); ++i)
          worst = std::max(
              worst, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
        EXPECT_LE(worst, 1e-5) << isa_name(isa) << " " << act << " input " << xs.str() << " weight "
                               << ws.str();
        EXPECT_TRUE(serial.equal(got)) << isa_name(isa) << " input " << xs.str();
      }
    }
  }
}

// Every 4099th float's bits (both signs, zeros, denormals, all exponents, NaNs), for the lanes'
// tests below.
std::vector<float> floats_across_the_range() {
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) {
    const auto bits = static_cast<uint32_t>(u);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    x.push_back(v);
  }
  return x;
}

// The direct depthwise kernel (stride 1, 3 × 3 and 5 × 5 taps read straight from the NCHW rows:
// AVX-512 from 16 outputs a row, 12 with 5 × 5 taps, AVX2 3 × 3 from 48) and the blocked one
// beside it (stride 2, narrower rows, a 1-pixel-wide plane) against the portable loop on each
// instruction set: widths that are not a multiple of the vector (exactly one vector, and 12 to 15
// outputs: one vector spilling into the next row), heights that are not a multiple of the block
// of four rows (and under four rows), blocked 5 × 5 planes of under 8, exactly 8 and more output
// pixels (8 at a time), padding 0, 1, 2 and asymmetric, every fused activation,
// with and without bias, batch 2, across two workers (the same bits as one) and run after run
// (the same bits). Every instruction set gives the same bits as the others for the
// activations applied in registers: the direct and the blocked kernels sum the same fused
// multiply-adds in the same order.
struct DepthwiseGeo {
  int64_t n, c, h, w, k, stride, pt, pb, pl, pr, dilation = 1;
};

// One depthwise geometry, every fused activation with and without bias, on each instruction set
// against the portable loop: within a few ulp, two workers the same bits as one and as a second
// run, and every set the same bits as the others for the activations applied in registers.
void expect_depthwise_matches_the_portable_loop(const DepthwiseGeo& geo) {
  const auto& table = op_table();
  const OpDef* fused = table.find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  for (const char* act : {"none", "relu", "relu6", "hswish", "hsigmoid", "silu", "x_sigmoid"}) {
    for (bool with_bias : {true, false}) {
      const Shape xs{geo.n, geo.c, geo.h, geo.w}, ws{geo.c, 1, geo.k, geo.k};
      Tensor x(DType::Float32, xs), w(DType::Float32, ws), bias(DType::Float32, Shape{geo.c});
      auto fill = [](Tensor& t, unsigned seed) {
        const auto v = uniform(static_cast<size_t>(t.numel()), seed);
        std::copy(v.begin(), v.end(), t.data<float>());
      };
      // Inputs in [−3, 3]: the clamps of ReLU6, HSwish and HSigmoid are crossed both ways.
      fill(x, 21), fill(w, 22), fill(bias, 23);
      for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] *= 3.0f;
      const ir::Attrs attrs = {{"pad_mode", std::string("pad")},
                               {"pad", std::vector<int64_t>{geo.pt, geo.pb, geo.pl, geo.pr}},
                               {"stride", std::vector<int64_t>{1, 1, geo.stride, geo.stride}},
                               {"dilation", std::vector<int64_t>{1, 1, geo.dilation, geo.dilation}},
                               {"group", geo.c},
                               {"activation", std::string(act)}};
      std::vector<TensorType> types = {{DType::Float32, xs}, {DType::Float32, ws}};
      std::vector<Tensor> in{x, w};
      if (with_bias) types.push_back({DType::Float32, Shape{geo.c}}), in.push_back(bias);
      const TensorType out = fused->infer(types, attrs)[0];
      Tensor want(DType::Float32, out.shape);
      {
        ForcedIsa portable(Isa::kNone);
        std::vector<Tensor> want_out{want};
        fused->make_kernel(types, attrs)(in, want_out);
      }
      const std::string what = std::string(act) + (with_bias ? " bias" : "") + " input " +
                               xs.str() + " kernel " + std::to_string(geo.k) + " stride " +
                               std::to_string(geo.stride) + " dilation " +
                               std::to_string(geo.dilation);
      std::vector<Tensor> by_isa;
      for (Isa isa : simd_isas()) {
        ForcedIsa forced(isa);
        const Kernel kernel = fused->make_kernel(types, attrs);
        Tensor got(DType::Float32, out.shape), serial(DType::Float32, out.shape),
            again(DType::Float32, out.shape);
        std::vector<Tensor> got_out{got}, serial_out{serial}, again_out{again};
        runtime::ThreadPool pool(2);
        kernel(in, got_out, pool);
        kernel(in, serial_out);
        kernel(in, again_out, pool);
        double worst = 0, scale = 1;
        for (int64_t i = 0; i < want.numel(); ++i) {
          worst = std::max(
              worst, std::fabs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
          scale = std::max(scale, std::fabs(static_cast<double>(want.data<float>()[i])));
        }
        // ≤ 25 products of |x| ≤ 3, |w| ≤ 1, rounded in another order (the portable loop's
        // separate multiply and add): a few ulp of the largest output.
        EXPECT_LE(worst, 1e-5 * scale) << isa_name(isa) << " " << what;
        EXPECT_TRUE(serial.equal(got)) << isa_name(isa) << " " << what;
        EXPECT_TRUE(again.equal(got)) << isa_name(isa) << " " << what;
        by_isa.push_back(got);
      }
      const bool in_registers = std::string(act) != "silu" && std::string(act) != "x_sigmoid";
      for (size_t i = 1; in_registers && i < by_isa.size(); ++i)
        EXPECT_TRUE(by_isa[i].equal(by_isa[0])) << what;
    }
  }
}

TEST(GemmKernels, DepthwiseDirectRowsMatchThePortableLoop) {
  for (const DepthwiseGeo& geo : std::vector<DepthwiseGeo>{
           {1, 9, 19, 37, 3, 1, 1, 1, 1, 1}, {1, 3, 6, 16, 3, 1, 1, 1, 1, 1},
           {1, 3, 5, 17, 3, 1, 0, 0, 0, 0},  {2, 10, 23, 40, 3, 2, 1, 1, 1, 1},
           {1, 4, 22, 45, 3, 2, 0, 1, 0, 1}, {1, 5, 17, 33, 5, 1, 2, 2, 2, 2},
           {1, 6, 30, 47, 5, 2, 2, 2, 2, 2}, {1, 3, 9, 18, 5, 2, 1, 2, 0, 2},
           {1, 2, 3, 24, 3, 1, 2, 2, 2, 2},  {1, 4, 11, 16, 5, 1, 0, 0, 0, 0},
           {1, 3, 7, 1, 3, 1, 1, 1, 1, 1},   {1, 17, 3, 70, 3, 2, 0, 0, 1, 0},
           {1, 3, 9, 53, 3, 1, 1, 1, 1, 1},  {2, 5, 6, 49, 3, 1, 0, 2, 2, 0},
           {1, 2, 5, 64, 3, 1, 0, 0, 0, 0},  {1, 3, 2, 50, 3, 1, 1, 1, 1, 1},
           {1, 2, 7, 100, 5, 1, 2, 2, 2, 2}, {1, 5, 14, 14, 5, 1, 2, 2, 2, 2},
           {2, 3, 3, 13, 5, 1, 1, 1, 2, 2},  {1, 4, 9, 15, 5, 1, 2, 2, 2, 2},
           {1, 9, 2, 3, 5, 1, 2, 2, 2, 2},   {1, 9, 2, 4, 5, 1, 2, 2, 2, 2}}) {
    SCOPED_TRACE(geo.c);
    expect_depthwise_matches_the_portable_loop(geo);
  }
}

// AVX-512's blocks of 16 channels (one per lane; 3 × 3 and 5 × 5 taps without dilation, the
// rest as two blocks of 8): channel counts that are not a multiple of 16 or 8 (a last block of 9
// to 15 channels, and of 1 to 8: the 8-lane kernel), planes of 1 × 1 to 7 × 7 (groups of 8
// pixels spanning rows, planes of under 8 pixels), 14 × 14 at stride 1 (narrower than the direct
// kernel's rows), stride 2 on planes large enough to be cut into bands of rows (the last band
// shorter, the last 8 pixels of each band overlapping the ones before), padding 0, 1, 2 and
// asymmetric, batch 2, and dilation 2 and 7 × 7 taps (not the 16-lane kernel's) beside them; on
// AVX2 the same geometries in blocks of 8.
TEST(GemmKernels, DepthwiseSixteenLaneBlocksMatchThePortableLoop) {
  for (const DepthwiseGeo& geo : std::vector<DepthwiseGeo>{{1, 16, 7, 7, 3, 1, 1, 1, 1, 1},
                                                           {1, 33, 14, 14, 3, 1, 1, 1, 1, 1},
                                                           {2, 25, 7, 7, 5, 1, 2, 2, 2, 2},
                                                           {1, 17, 2, 2, 3, 1, 1, 1, 1, 1},
                                                           {1, 31, 1, 1, 3, 1, 1, 1, 1, 1},
                                                           {1, 20, 3, 5, 5, 1, 2, 2, 2, 2},
                                                           {1, 40, 90, 90, 3, 2, 1, 1, 1, 1},
                                                           {1, 33, 75, 71, 5, 2, 2, 2, 2, 2},
                                                           {2, 24, 61, 64, 3, 2, 0, 1, 0, 1},
                                                           {1, 48, 28, 28, 3, 2, 1, 1, 1, 1},
                                                           {1, 19, 14, 14, 5, 2, 1, 2, 2, 1},
                                                           {1, 41, 9, 11, 3, 1, 0, 0, 0, 0},
                                                           {1, 18, 13, 13, 3, 1, 1, 1, 1, 1, 2},
                                                           {1, 17, 12, 12, 7, 1, 3, 3, 3, 3}}) {
    SCOPED_TRACE(std::to_string(geo.c) + " channels, " + std::to_string(geo.h) + " × " +
                 std::to_string(geo.w));
    expect_depthwise_matches_the_portable_loop(geo);
  }
}

// SiLU and Sigmoid in SIMD lanes (ops/vec_math.h) on each instruction set: within 2e-7·(1 + |y|)
// of the double-precision formula over [−100, 100] and across the float range (denormals, huge
// |x|) at every length's tail, and the scalar formula's values at ±∞, NaN, ±0 and where e^−x
// over- or underflows.
TEST(GemmKernels, SiluAndSigmoidLanesMatchTheFormula) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = floats_across_the_range();
  for (double v = -100; v <= 100; v += 0.0137) x.push_back(static_cast<float>(v));
  for (float v : {-inf, inf, std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, 88.0f, -88.0f,
                  88.5f, -88.5f, 89.0f, -89.0f, 1e-30f, -1e-30f})
    x.push_back(v);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    // x · sigmoid(x) in one pass: Mul's product of Sigmoid's values, bit for bit.
    {
      const VecFn xs = x_sigmoid_simd(), sig = sigmoid_simd();
      ASSERT_NE(xs, nullptr);
      for (size_t len : {x.size(), size_t{1}, size_t{7}, size_t{9}, size_t{17}}) {
        const size_t start = x.size() - len;
        std::vector<float> y(len), s(len);
        xs(x.data() + start, y.data(), static_cast<int64_t>(len));
        sig(x.data() + start, s.data(), static_cast<int64_t>(len));
        for (size_t i = 0; i < len; ++i) {
          const float want = x[start + i] * s[i];
          if (std::isnan(want))
            EXPECT_TRUE(std::isnan(y[i])) << isa_name(isa) << " x " << x[start + i];
          else
            EXPECT_EQ(y[i], want) << isa_name(isa) << " x " << x[start + i];
        }
      }
    }
    for (bool silu : {true, false}) {
      const VecFn f = silu ? silu_simd() : sigmoid_simd();
      ASSERT_NE(f, nullptr);
      for (size_t len : {x.size(), size_t{1}, size_t{7}, size_t{9}, size_t{17}}) {
        const size_t start = x.size() - len;  // the tails: the special values
        std::vector<float> y(len);
        f(x.data() + start, y.data(), static_cast<int64_t>(len));
        for (size_t i = 0; i < len; ++i) {
          const double v = x[start + i];
          const double want = (silu ? v : 1.0) / (1.0 + std::exp(-v));
          const float scalar = (silu ? x[start + i] : 1.0f) / (1.0f + std::exp(-x[start + i]));
          if (std::isnan(want) || std::isinf(want)) {
            EXPECT_EQ(std::isnan(y[i]), std::isnan(scalar)) << isa_name(isa) << " x " << v;
            if (!std::isnan(scalar)) {
              EXPECT_EQ(y[i], scalar) << isa_name(isa) << " x " << v;
            }
            continue;
          }
          EXPECT_NEAR(y[i], want, 2e-7 * (1 + std::fabs(want)))
              << isa_name(isa) << (silu ? " SiLU" : " Sigmoid") << " x " << v;
        }
      }
    }
  }
}

// e^x in SIMD lanes (softmax's): against std::exp in double across the float range and at the
// limits, every length's tail. AVX-512: within 1.01 ulp of the float result where it is normal, the
// float result itself (±1 denormal step) where it is +∞, 0 or denormal. AVX2: within 1 ulp where
// the result is normal and x ≤ 88.376, +∞ above, 0 or a denormal where the result is below the
// normal floats. NaN stays NaN.
TEST(GemmKernels, ExpLanesMatchStdExp) {
  const float inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::min();
  std::vector<float> x = floats_across_the_range();
  for (double v = -110; v <= 90; v += 0.00731) x.push_back(static_cast<float>(v));
  for (float v : {-inf, inf, std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, 88.72f, 88.73f,
                  88.3762626647949f, -88.3762626647949f, -87.33f, -103.97f, -103.98f, 1e-45f,
                  -1e-45f, 3e38f, -3e38f})
    x.push_back(v);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    const VecFn f = exp_simd();
    ASSERT_NE(f, nullptr);
    for (size_t len : {x.size(), size_t{1}, size_t{7}, size_t{9}, size_t{17}, size_t{33}}) {
      const size_t start = x.size() - len;
      std::vector<float> y(len);
      f(x.data() + start, y.data(), static_cast<int64_t>(len));
      for (size_t i = 0; i < len; ++i) {
        const float v = x[start + i];
        if (std::isnan(v)) {
          EXPECT_TRUE(std::isnan(y[i])) << isa_name(isa);
          continue;
        }
        const double want = std::exp(static_cast<double>(v));
        const auto rounded = static_cast<float>(want);
        if (isa == Isa::kAvx2 && v > 88.3762626647949f) {
          EXPECT_EQ(y[i], inf) << isa_name(isa) << " x " << v;
        } else if (isa == Isa::kAvx2 && rounded < tiny) {
          EXPECT_TRUE(y[i] >= 0 && y[i] < tiny) << isa_name(isa) << " x " << v << " y " << y[i];
        } else if (std::isinf(rounded) || rounded < tiny) {
          EXPECT_TRUE(y[i] == rounded || std::fabs(y[i] - rounded) <= std::ldexp(1.0, -149))
              << isa_name(isa) << " x " << v << " y " << y[i];
        } else {
          const double ulp = std::ldexp(1.0, std::ilogb(rounded) - 23);
          // (1.0069 and 0.976 ulp at worst over every float, checked once outside the tests)
          EXPECT_LE(std::fabs(y[i] - want), (isa == Isa::kAvx2 ? 1.0 : 1.01) * ulp)
              << isa_name(isa) << " x " << v << " y " << y[i];
        }
      }
    }
  }
}

// Sums of floats in double (ReduceSum/ReduceMean's contiguous runs): the same bits on every
// instruction set as the portable loop (one order: 32 running sums added pairwise), at every
// length's tail, with ∞, NaN and −0 among the terms; and within 1e-12·Σ|x| of a long double
// sum.
TEST(GemmKernels, FloatSumsInDoubleAreOneOrderOnEverySet) {
  const float inf = std::numeric_limits<float>::infinity();
  // Room for the longest run (19,999) from the latest start (5).
  std::vector<float> x = uniform(20004, 31);
  for (size_t i = 0; i < x.size(); i += 7) x[i] *= 1e6f;
  const auto sum_with = [&](Isa isa, size_t start, size_t len) {
    ForcedIsa forced(isa);
    const SumFn f = float_sum_simd();
    return f(x.data() + start, static_cast<int64_t>(len));
  };
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{7}, size_t{16}, size_t{17}, size_t{31}, size_t{32}, size_t{33},
        size_t{49}, size_t{100}, size_t{12544}, size_t{19999}}) {
    for (size_t start : {size_t{0}, size_t{1}, size_t{5}}) {
      const double portable = sum_with(Isa::kNone, start, len);
      long double want = 0, magnitude = 0;
      for (size_t i = start; i < start + len; ++i) want += x[i], magnitude += std::fabs(x[i]);
      EXPECT_NEAR(portable, static_cast<double>(want), 1e-12 * static_cast<double>(magnitude))
          << "len " << len;
      for (Isa isa : simd_isas()) {
        const double got = sum_with(isa, start, len);
        EXPECT_EQ(std::memcmp(&got, &portable, sizeof got), 0)
            << isa_name(isa) << " len " << len << " start " << start << ": " << got << " vs "
            << portable;
      }
    }
  }
  // Special terms: an ∞ (the sum is ∞), ∞ and −∞ (NaN), all −0 (+0: the sums start at +0).
  std::vector<float> special(45, -0.0f);
  const double zero = float_sum_simd()(special.data(), 45);
  EXPECT_EQ(std::signbit(zero), false);
  special[40] = inf;
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    EXPECT_EQ(float_sum_simd()(special.data(), 45), inf) << isa_name(isa);
    special[3] = -inf;
    EXPECT_TRUE(std::isnan(float_sum_simd()(special.data(), 45))) << isa_name(isa);
    special[3] = -0.0f;
    EXPECT_EQ(std::signbit(float_sum_simd()(special.data(), 45 - 5)), false) << isa_name(isa);
  }
}

// GeLU (the tanh form) in SIMD lanes, computed as x / (1 + e^(−2u)): within 1e-6·(1 + |y|) of
// the double-precision formula over [−100, 100] at every length's tail; +∞ at +∞, NaN at −∞ and
// NaN (the formula's 0.5·x·(1 + tanh u)), ±0 at ±0.
TEST(GemmKernels, GeluLanesMatchTheFormula) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x;
  for (double v = -100; v <= 100; v += 0.0137) x.push_back(static_cast<float>(v));
  for (float v : {-inf, inf, std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, 5.5f, -5.5f,
                  -12.0f, 1e-30f, -1e-30f, 3e12f, -3e12f})
    x.push_back(v);
  for (Isa isa : simd_isas()) {
    ForcedIsa forced(isa);
    const VecFn f = gelu_simd();
    ASSERT_NE(f, nullptr);
    for (size_t len : {x.size(), size_t{1}, size_t{7}, size_t{9}, size_t{17}}) {
      const size_t start = x.size() - len;  // the tails: the special values
      std::vector<float> y(len);
      f(x.data() + start, y.data(), static_cast<int64_t>(len));
      for (size_t i = 0; i < len; ++i) {
        const double v = x[start + i];
        const double want =
            0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
        if (std::isnan(v) || v == -inf) {
          EXPECT_TRUE(std::isnan(y[i])) << isa_name(isa) << " x " << v;
        } else if (v == inf) {
          EXPECT_EQ(y[i], inf) << isa_name(isa);
        } else {
          EXPECT_NEAR(y[i], want, 1e-6 * (1 + std::fabs(want))) << isa_name(isa) << " x " << v;
        }
      }
    }
  }
}

TEST(GemmKernels, APackedWeightIsRefusedWhereItCannotRun) {
  const auto& table = op_table();
  const OpDef* fused = table.find("FusedConv2D");
  ASSERT_NE(fused, nullptr);
  // Depthwise: no GEMM, so no packed weight.
  const std::vector<TensorType> types = {{DType::Float32, Shape{1, 4, 5, 5}},
                                         {DType::Float32, Shape{4, 1, 3, 3}}};
  const ir::Attrs attrs = {{"group", int64_t{4}}, {"packed_weight", true}};
  EXPECT_THROW(fused->make_kernel(types, attrs), ValueError);
}

}  // namespace
}  // namespace cellar::ops
