// The one matrix-multiply entry point of the kernels (MatMul, BatchMatMul, Conv2D's im2col):
// whatever computes it (OpenBLAS today; the inference-speed work swaps what is behind it) is
// chosen here, not at each call site.
#pragma once

#include <cstdint>
#include <span>

#include "ops/parallel.h"

namespace cellar::ops {

// C[m×n] = op(A) · op(B), row-major, op = transpose when asked; op(A) is m×k, op(B) is k×n;
// lda/ldb/ldc are the row strides of A, B, C as stored. C is overwritten (zeros when k == 0);
// nothing happens when m or n is 0. Dimensions must fit an int (the BLAS interface).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc);

// The same product split over `par`'s workers: along n in column blocks (along m when n is too
// narrow to split), each block one single-threaded call; small products run on the caller. Each
// element of C is computed by one call. With one row of A (m == 1, float, a CPU with AVX2),
// cellar's own kernel computes every element alike, so the result does not depend on the split;
// BLAS's value for an element can depend on the block's size (OpenBLAS switches kernels by size).
void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc);
void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const double* a, int64_t lda, const double* b, int64_t ldb, double* c, int64_t ldc);

// What a product applies to each element of C as it stores it (FusedMatMul: a Dense layer's
// MatMul, BiasAdd and ReLU in one pass): C[i, j] = act(Σ_p A[i,p]·B[p,j] + bias[j]), the bias
// added once the sum is complete, so the sum itself is the plain product's, bit for bit. The
// panel kernels apply it to their accumulators in registers; the other paths (one row, narrow,
// BLAS) to each row of C right after computing it. ReLU gives 0 for NaN, as the ReLU op does;
// GeLU is the tanh form (the GeLU op's), applied to each block of C while it is in cache, in SIMD
// lanes (ops/vec_math.h) where the kernels have them.
enum class GemmActivation { kNone, kReLU, kGeLU };
struct Epilogue {
  const float* bias = nullptr;  // n floats, bias[j] added to column j; or none
  GemmActivation act = GemmActivation::kNone;

  bool empty() const { return bias == nullptr && act == GemmActivation::kNone; }
  // The same epilogue for columns [j0, …) of C.
  Epilogue from_column(int64_t j0) const { return {bias ? bias + j0 : nullptr, act}; }
};
// C = epilogue(A · B) (float only): what gemm(par, …) above computes, with `ep` applied.
void gemm(Parallel& par, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& ep);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc, const Epilogue& ep);

// Products with a constant B (a Dense weight, k × n), B packed once, at load time, by
// pack_columns: its columns in tiles of kPackCols, each tile's k rows one after another (tile t
// at packed + t·k·kPackCols, k × kPackCols; the last tile k × (n mod kPackCols) when n is not a
// multiple), so that a kernel reads one contiguous block per tile instead of k rows a matrix row
// apart (a 768 × 2304 weight: one 4 KiB page per row of a tile, TLB misses on every row: half the
// speed). Same size as B. `b` may lie at any address (a weight where a file puts it: copied as
// bytes).
inline constexpr int64_t kPackCols = 48;
void pack_columns(int64_t k, int64_t n, const void* b, int64_t ldb, float* out);
// The same packed form of B from Bᵀ (n × k, row stride ldbt, in floats: a Dense weight [out, in]
// as MindSpore and ONNX store it), in one pass: each tile is a transpose of kPackCols rows of Bᵀ
// (ops/transpose_plane.h), the same bits pack_columns writes from B. `bt` may lie at any address
// (a weight where a file puts it: read by unaligned loads and byte copies).
void pack_columns_transposed(int64_t k, int64_t n, const void* bt, int64_t ldbt, float* out);
// C = epilogue(A · B), A (m × k, row stride lda) as stored, B as pack_columns left it, over par's
// workers (column tiles, or rows when there are fewer tiles than workers). Each element is the sum
// gemm() computes for it (the same kernels, tile by tile).
void gemm_packed_b(Parallel& par, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                   const float* packed, float* c, int64_t ldc, const Epilogue& ep);

// One-row products with a constant Bᵀ (a batch-1 Dense weight [n, k]) whose rows are stored
// interleaved, so that the one-row kernel reads the whole weight as one stream: rows in groups of
// kInterleaveRows, each group's k columns in chunks of 16 (the last chunk k mod 16 wide), a chunk
// holding the group's rows' pieces one after another (row r's at r × the chunk's width); the
// n mod kInterleaveRows rows after the last group as stored. Group g's rows lie in g·R·k …
// (g + 1)·R·k (R = kInterleaveRows), so the layout has Bᵀ's size and a block of whole groups
// holds Bᵀ's rows of that block. The AVX-512 and AVX2 kernels read a group's rows from one
// stream (prefetched ahead in software when one core runs the product), where they read 4 rows
// from 4 streams in Bᵀ as stored (the tutorial MLP's 2.6 MB of weights from L3: docs/benchmarks.md,
// Session 13), each row's sum in the same lanes and the same order.
inline constexpr int64_t kInterleaveRows = 4;
// Bᵀ (n × k, row stride ldbt in floats) into `out` (n·k floats). `bt` may lie at any address.
void interleave_rows(int64_t n, int64_t k, const void* bt, int64_t ldbt, float* out);
// C = epilogue(A · B), A (m × k, row stride lda) as stored, B given as interleave_rows left Bᵀ;
// over par's workers in the column blocks gemm(par, …) splits n into (whole groups). Each row of
// C has the bits gemm(par, false, true, 1, …) gives for that row of A with Bᵀ as stored, on
// AVX-512 and AVX2; without them, each element is the sum over p in order (BLAS's within rounding).
void gemm_interleaved_b(Parallel& par, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* w, float* c, int64_t ldc, const Epilogue& ep);

// Products with a constant A (a convolution's weights), A packed once, at load time, by
// pack_rows: C[m×n] = A · B, row-major, computed by cellar's own kernels (AVX-512 or AVX2 + FMA,
// chosen at run time from the CPU's features; packed_kernels() says whether this CPU has them).
// The packed form holds the m rows in panels of kPackRows (the last panel of m % kPackRows rows),
// each panel k × rows with the row index fastest, the panel of row r0 at packed + r0·k: the same
// layout whatever the CPU. The kernels keep a panel's rows × up to 48 columns of C in registers,
// reading B's rows where they lie or (AVX2, A of 16 rows or more) from a copy of a tile of them;
// every element of C is one chain of multiply-adds Σ_p A[i,p]·B[p,j] in order of p (AVX2 carries
// it through C between blocks of p), whichever panel, column block, instruction set or thread
// computes it.
inline constexpr int64_t kPackRows = 8;
bool packed_kernels();
// A (m × k, row stride lda) into `out` (m·k floats).
void pack_rows(int64_t m, int64_t k, const float* a, int64_t lda, float* out);
// Rows [r0, r0 + m) of a packed A (`packed` points at row r0's panel; r0 a multiple of kPackRows,
// and r0 + m either a multiple of it or A's last row) times B (k × n, row stride ldb) into C.
// Only where packed_kernels() is true.
void gemm_packed(int64_t m, int64_t n, int64_t k, const float* packed, const float* b, int64_t ldb,
                 float* c, int64_t ldc);
// The same product over some of A's columns only: the ranges [begin, end) of p, in increasing
// order; B holds just those rows, one after another (a convolution's taps that never touch the
// input, all padding, skipped). Each element of C is then Σ over the ranges' p, in order.
struct KRange {
  int64_t begin, end;
};
void gemm_packed(int64_t m, int64_t n, int64_t k, std::span<const KRange> ranges,
                 const float* packed, const float* b, int64_t ldb, float* c, int64_t ldc);

}  // namespace cellar::ops
