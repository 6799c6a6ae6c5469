// A 2-D transpose of 4-byte elements (private to src/): the Transpose op's (q, last) planes
// (NCHW ↔ NHWC: convnext's every block) and the optimiser's constant Dense weights turned for the
// GEMM kernels (vit_b_32's 85 M weights on every load).
#pragma once

#include <cstdint>

namespace cellar::ops {

// dst[j·ldd + i] = src[i·lds + j] for i < rows, j < cols (strides in elements of 4 bytes: float,
// int32, uint32). In 32 × 32 tiles (both sides' lines stay in L1), each 8 × 8 block through AVX2
// registers where the kernels run AVX2 or better (ops/isa.h), the edges element by element. A
// copy: the same bits whatever the path.
void transpose_plane32(const void* src, int64_t rows, int64_t cols, int64_t lds, void* dst,
                       int64_t ldd);

}  // namespace cellar::ops
