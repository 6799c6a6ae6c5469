// EXPERIMENT (branch tap-wino, not for merging as it stands): Winograd F(2 × 2, 3 × 3) for the
// stride-1 3 × 3 pad-1 layers on AVX-512, to measure whole networks (docs/benchmarks.md,
// "Session 14: the 3 × 3 stride-1 kernel"). The transformed weight is made from the packed one
// on the first run and kept (a load-time pack in the optimiser is the real design).
// CELLAR_NO_WINOGRAD=1 at load time turns it off (the same binary's A/B).
#pragma once

#include "ops/nn/conv2d.h"

namespace cellar::ops {

bool conv_winograd_fits(const ConvGeometry& g, ConvActivation act);
Kernel conv_winograd_kernel(const ConvGeometry& g, bool bias, ConvActivation act, bool residual);

}  // namespace cellar::ops
