// The load-time graph optimiser: rewrites a Graph into one that computes the same outputs with
// fewer passes over memory. The Executor runs it once, before planning (ExecutorOptions::optimize);
// the graph a user sees (Executor::graph(), GraphCell::graph(), what export writes) stays the
// original. Passes, in order:
//   1. constant folding: a node whose inputs are all initializers (and whose op draws no random
//      numbers) is computed once, its outputs becoming constants (up to kMaxFoldedBytes each);
//   2. identity removal: Identity nodes, and Reshape / Flatten / ExpandDims / Squeeze / Cast
//      nodes whose output has their input's dtype and shape, are bypassed (not when the output
//      is a graph output);
//   3. BatchNorm folding: inference BatchNorm(Conv2D(x, w) [+ BiasAdd b]) with constant
//      statistics becomes Conv2D(x, w·a) + BiasAdd(b·a + β − μ·a), a = γ / √(σ² + ε), computed
//      in double (its running mean and variance outputs must be unused);
//   4. fusion: Conv2D [→ BiasAdd] [→ ReLU | ReLU6 | HSwish | HSigmoid | SiLU] becomes one
//      FusedConv2D node (ops/nn/fused_conv2d.cpp) when every intermediate value has that one
//      reader and is no graph output; so does swish as MindSpore writes it, Mul(v, Sigmoid(v))
//      with v read by those two nodes only;
//   4c. residual adds: Add(c, r) (or AddExt with alpha 1) [→ ReLU], c a Conv2D's or an
//   activation-free FusedConv2D's output
//      read by the Add alone and no graph output, r of c's known dtype and shape (no broadcast),
//      becomes that convolution with r as a residual input (FusedConv2D's `residual`: added
//      after the bias, before the activation, as the convolution stores its output), the ReLU as
//      its activation: a ResNet block's Add and ReLU in its last convolution's pass (same bits);
//   4b. MatMul [→ BiasAdd | Add of a Float32 [n] bias] [→ ReLU | GeLU] becomes one FusedMatMul
//      node (ops/math/matmul.cpp: the GEMM kernels apply bias and activation as they store C),
//      under the same one-reader rule; an activation behind a Reshape of the product is taken in
//      too (the Reshape then writes the activation's output);
//   5a. Winograd weights: a 3 × 3 stride-1 pad-1 FusedConv2D with a Float32 constant weight,
//      known shapes, planes of 14 × 14 or more and output channels a multiple of 8 gets its weight
//      transformed once, here, for the Winograd F(2 × 2, 3 × 3) kernel (ops/nn/conv_winograd.h;
//      attribute winograd_weight), in place of the weight, when the kernels run AVX-512 at load
//      (planes of 14 × 14 and under: the weight packed by pass 5 and the node marked `winograd`,
//      the kernel transforming each panel per run, for memory);
//      outputs then differ from the direct kernels' at float rounding (another summation order);
//   5. weight packing: a FusedConv2D whose weight is a Float32 constant and which runs as GEMMs
//      (not depthwise) gets the weight packed once, here, for cellar's own GEMM kernels
//      (ops/gemm.h gemm_packed; attribute packed_weight), when the CPU has them (AVX2 + FMA);
//   5b. a 1 × 1 FusedConv2D (packed weight) whose output only a depthwise FusedConv2D reads
//      becomes one FusedPointwiseDepthwise node (ops/nn/pointwise_depthwise.cpp: the expanded
//      tensor computed a band of rows at a time into L2, the same bits) where one image's
//      expanded tensor exceeds 1 MiB;
//   6. a MatMul's (or FusedMatMul's) constant Float32 B read transposed (transpose_b: a Dense
//      weight) is stored transposed once, here, so that the kernels read its rows as they lie
//      (same CPUs); with one known row of A (batch 1) the other way round: a B as stored (k × n)
//      is stored transposed, so that the one-row kernel reads each output's weights contiguously;
//      a B that pass 7 packs is left to it;
//   7. a MatMul's or FusedMatMul's constant Float32 B, with A of at least 8 known rows, is packed
//      in column tiles (ops/gemm.h pack_columns, or pack_columns_transposed in the same pass from
//      a B read transposed; a MatMul becomes a FusedMatMul with activation none and packed_b), so
//      that the kernels read each tile contiguously;
//   8. the constant Bᵀ of one-row products (batch-1 Dense layers) coming to 1 MiB or more, held
//      by the optimiser alone, copied into one block of 2 MiB huge pages, with their rows
//      interleaved (ops/gemm.h interleave_rows; FusedMatMul's rows_interleaved) where the CPU has
//      the one-row kernels (same CPUs), so that a run reads them as one stream.
// Passes that write a weight out in a new layout (6, 7, 8) read a file's misaligned weight (a
// deferred copy, StoragePool::pending_source) where the file holds it, rather than having it copied
// into fresh memory first. Values and initializers nothing reads any more are dropped. The result
// validates as any graph.
#pragma once

#include <cstddef>

#include "cellar/ir/graph.h"

namespace cellar::runtime {

struct OptimizeReport {
  int constants_folded = 0;    // nodes computed at load time
  int identities_removed = 0;  // nodes bypassed
  int batch_norms_folded = 0;  // BatchNorm nodes folded into a convolution
  int convolutions_fused = 0;  // FusedConv2D nodes made
  int residuals_fused = 0;     // Add [+ ReLU] nodes folded into a convolution as its residual
  int matmuls_fused = 0;       // FusedMatMul nodes made
  int weights_winograd = 0;    // FusedConv2D nodes given to the Winograd kernel (5a)
  int weights_packed = 0;      // FusedConv2D weights packed for the GEMM kernels
  int pointwise_depthwise_fused = 0;  // 1 × 1 + depthwise FusedConv2D pairs made one node (5b)
  int operands_transposed = 0;        // MatMul constant B operands stored transposed at load time
  int operands_packed = 0;            // MatMul constant B operands packed in column tiles
  int rows_interleaved = 0;  // one-row MatMul constant Bᵀ operands stored rows interleaved
  int nodes_before = 0, nodes_after = 0;
};

// A folded constant larger than this stays a node (a Tile or BroadcastTo of a small constant can
// be large; the graph's file should not grow in memory).
inline constexpr size_t kMaxFoldedBytes = size_t{16} << 20;

ir::Graph optimize(ir::Graph graph, OptimizeReport* report = nullptr);

}  // namespace cellar::runtime
