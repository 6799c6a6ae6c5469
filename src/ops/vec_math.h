// Float32 element-wise functions in SIMD registers (private to src/ops): e^x computed in vector
// lanes (AVX-512: a 16-entry table of 2^(j/16), a cubic and vscalefps, within 1.01 ulp of
// std::exp; AVX2: a polynomial on x − n·ln 2 and 2^n through the exponent bits, within 1 ulp)
// instead of one libm call per element (SiLU was a third of mobilevit_xx_small's run in expf).
// AVX-512 or AVX2 + FMA, as ops/isa.h says.
#pragma once

#include <cstdint>

#include "ops/op_table.h"

namespace cellar::ops {

// y[0, n) = f(x[0, n)); x and y may be the same array.
using VecFn = void (*)(const float* x, float* y, int64_t n);

// y = x / (1 + e^−x) (SiLU), or null when the kernels have no SIMD set.
VecFn silu_simd();
// y = 1 / (1 + e^−x) (Sigmoid), or null.
VecFn sigmoid_simd();
// y = x · (1 / (1 + e^−x)): Mul(x, Sigmoid(x)), the two ops' values bit for bit, in one pass; or
// null.
VecFn x_sigmoid_simd();
// y = e^x, NaN kept, or null. AVX-512: the float result (+∞ from 88.73, denormals, 0 below
// −103.98); AVX2: +∞ above 88.376, 0 below −87.68 (no denormal results).
VecFn exp_simd();
// y = GeLU(x), the tanh form (MindSpore's GeLU primitive), or null.
VecFn gelu_simd();

// Σ x[0, n) in double: 32 running sums (element k into sum k mod 32), then added pairwise (sum i
// += sum i + w for w = 16, 8, 4, 2, 1): one order, so the same bits, on every instruction set
// (AVX-512 and AVX2 lanes, or a plain loop where the kernels have no SIMD set; never null).
using SumFn = double (*)(const float* x, int64_t n);
SumFn float_sum_simd();

// An OpDef's make_kernel that runs Float32 inputs of n elements through choose()'s function,
// chosen at each run (ops/isa.h may be forced between runs), and every other dtype, or Float32
// where choose() gives null, through `generic` (the row's own make_kernel).
using MakeKernel = std::function<Kernel(std::span<const TensorType>, const ir::Attrs&)>;
MakeKernel vec_make_kernel(VecFn (*choose)(), MakeKernel generic);

}  // namespace cellar::ops
