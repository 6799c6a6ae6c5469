// Running a batch in slices (private to src/runtime). At batch 8 the activations of the 8 images
// outgrow the caches (ResNet-50's 256 × 56 × 56 fp32 tensor is 25.7 MB at batch 8, L3 is 32 MiB):
// every layer then streams its input and output through memory, and a run costs ~5% more per
// image than at batch 1. Where every op computes each image apart from the others, the executor
// plans the graph for a slice of the batch (a few images, the leading axis of every input and
// output) and runs that plan once per slice, on pointer offsets into the inputs and outputs: the
// slice's activations stay in the caches, and its arena is the slice's, not the batch's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cellar/ir/graph.h"

namespace cellar::runtime {

// Whether running `g` on equal slices of its inputs' leading axis, and concatenating the slices of
// its outputs, computes the same values as one run at `types` (per value id, the plan's types):
// every input and output has the same leading size N ≥ 2, and every op that reads a value derived
// from an input computes each index of that axis from the same index of its inputs alone
// (element-wise ops, convolution and pooling, BatchNorm in inference mode, reductions, softmax and
// concatenation over other axes, MatMul whose rows are the batch against constant weights,
// Flatten, Transpose keeping axis 0 first, Pad leaving axis 0 alone). Any op or attribute the
// analysis does not know makes it false, with the reason in `why` (when given): be conservative, a
// wrong yes is a wrong result. The caller still checks the slice's plan: each such value's slice
// type must be its type with the leading size cut (see slice_types_match).
bool batch_separable(const ir::Graph& g, const std::vector<ir::ValueType>& types,
                     std::string* why = nullptr);

// Per value id: whether the value follows the graph's inputs along their leading axis (false for
// constants and what is computed from constants alone). Valid only where batch_separable is true.
std::vector<bool> batch_values(const ir::Graph& g);

// Whether the slice plan's types (`slice`, at leading size `b`) are `full`'s with the leading size
// cut to `b` on every value batch_values marks, and the same elsewhere.
bool slice_types_match(const ir::Graph& g, const std::vector<ir::ValueType>& full,
                       const std::vector<ir::ValueType>& slice, int64_t b);

// The most bytes one step reads and writes, per image, of the values that follow the batch
// (batch_values): the step's working set at a slice of one image, at batch size `n` in `types`.
size_t image_working_set(const ir::Graph& g, const std::vector<ir::ValueType>& types, int64_t n);

// The bytes a step's slice may read and write: an eighth of the L3 cache (sysfs; 32 MiB when
// unknown). Measured on Zen 5 (1 MiB L2 per core, 32 MiB L3; docs/benchmarks.md "Session 12: batch
// 8 image by image"), per image of the batch against the whole batch: MobileNetV3-small's slices of
// 2.7 MiB save 4.3%, of 5.4 MiB 2.3%, of 1.3 MiB (one image: more dispatches) 1.3%; MobileNetV2's
// one image (5.7 MiB) saves 20%, two (11.5 MiB) 16%, four 7.5%; ResNet-18's (3.8 MiB per image)
// one, two or four images 1–3%, within the noise.
size_t slice_budget();

// Images per slice at batch `n`: the largest divisor b of n for which `parallel` slices at once
// (one per worker) keep every step's working set within `budget` bytes (parallel × b ×
// image_working_set ≤ budget); 1 when even one image exceeds it, n (no slicing) when the whole
// batch fits.
int64_t choose_slice(int64_t n, size_t image_bytes, size_t budget, int parallel);

}  // namespace cellar::runtime
