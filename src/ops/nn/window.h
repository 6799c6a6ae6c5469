// Sliding-window geometry shared by Conv2D and the pooling ops (private to src/ops/nn): MindSpore's
// "same" padding, and the ONNX Conv/MaxPool/AveragePool pad attributes read as (before, after)
// per spatial dimension.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ops/onnx_spelling.h"

namespace cellar::ops {

// Kernel sizes, strides, dilations and pads of window ops are refused from this value on (kernel,
// stride and dilation may equal it): no real model has them, and the window arithmetic over them
// (d·(k − 1) + 1, (out − 1)·s, in + pads) then stays far from int64 overflow.
inline constexpr int64_t kMaxWindowAttr = int64_t{1} << 31;

// Padding (before, after) along one spatial dimension for pad mode "same" (MindSpore's and
// ONNX's SAME_UPPER): out = ⌈in / s⌉, the total shortfall split with the smaller half before.
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d);

// One spatial dimension of an ONNX window node: input size, kernel, stride, dilation, pads.
struct OnnxWindow {
  int64_t in, k, s, d, before, after;
};

// The two spatial dimensions (H, W) of the importer's current node over its input `x`, NCHW or
// (1-D) NCL, with `kernel` (one size per spatial dimension), from its strides, dilations and
// auto_pad / pads attributes as ONNX defines them. A 1-D node's one dimension is W, beside a unit
// H window (in 1, kernel 1, stride 1, no padding), so that the 2-D rows run it on the
// (N, C, 1, L) view unsqueeze_2d makes. FormatError (through the importer) for malformed
// attributes, kUnsupported for a kernel, stride or dilation above kMaxWindowAttr.
std::vector<OnnxWindow> onnx_window(OnnxImporter& m, const Shape& x,
                                    const std::vector<int64_t>& kernel);

// 1-D window nodes (Conv, MaxPool, AveragePool on NCL input) run on the 2-D rows: `x` of rank 3
// becomes (N, C, 1, L) by an ExpandDims at axis 2, and the 2-D result comes back with a Squeeze of
// that axis. Rank-4 values pass through both unchanged.
int unsqueeze_2d(OnnxImporter& m, int x);
int squeeze_2d(OnnxImporter& m, int y, bool one_d);

}  // namespace cellar::ops
