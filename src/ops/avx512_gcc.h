// Included by the files with AVX-512 kernels (private to src/ops): gcc 12 warns
// (-Wmaybe-uninitialized) inside its own AVX-512 intrinsics once they are inlined into a kernel
// (_mm512_max_ps, _mm512_cvtps_pd and others pass an `__Y = __Y` undefined vector as the unused
// masked-off operand), which -Werror would make an error. The rest of the including file is
// compiled without that warning.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
