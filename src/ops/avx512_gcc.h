// Included by the files with AVX-512 kernels (private to src/ops): gcc 12 warns
// (-Wmaybe-uninitialized) inside its own AVX-512 intrinsics once they are inlined into a kernel
// (_mm512_max_ps, _mm512_cvtps_pd and others pass an `__Y = __Y` undefined vector as the unused
// masked-off operand), which -Werror would make an error; where the inlining makes it certain,
// as -Wuninitialized (gemm.cpp's sum16x4 inlined into a one-row kernel called from two places).
// The rest of the including file is compiled without those warnings.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
