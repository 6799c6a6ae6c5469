// Which SIMD instruction set cellar's own kernels run (private to src/): GEMM panels, one-row and
// narrow products, depthwise convolution. Chosen once at run time from the CPU's features (the
// build targets baseline x86-64: kernels are compiled per instruction set with target
// attributes), never from the build machine. Tests and benchmarks may force a lesser set the CPU
// also has, so that every path is exercised on one machine.
#pragma once

namespace cellar::ops {

enum class Isa { kNone, kAvx2, kAvx512 };

// Whether this CPU can run kernels of `isa` (kAvx2 means AVX2 + FMA; kAvx512 means AVX-512F,
// which every such CPU pairs with AVX2 + FMA). kNone: always.
bool cpu_has(Isa isa);
// The set the kernels run now: the best one this CPU has unless force_isa() said otherwise, or
// the environment variable CELLAR_ISA ("avx2" or "none", read once, at the first call; a set the
// CPU lacks is ignored) named a lesser one: to compare the paths on one CPU (`cellar bench`).
Isa kernel_isa();
// Makes the kernels run `isa` (which the CPU must have: std::invalid_argument otherwise) and
// returns the previous choice. For tests and benchmarks, between runs: a kernel already running
// finishes on what it started with.
Isa force_isa(Isa isa);
const char* isa_name(Isa isa);
// What CELLAR_ISA = `value` (null: unset) makes of a CPU whose best set is `best`: the set it
// names ("none", "avx2", "avx512") when the CPU has it, otherwise `best`.
Isa isa_from_env(const char* value, Isa best);

}  // namespace cellar::ops
