// Sliding-window geometry shared by Conv2D and the pooling ops (private to src/ops/nn): MindSpore's
// "same" padding, and the ONNX Conv/MaxPool/AveragePool pad attributes read as (before, after)
// per spatial dimension.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ops/onnx_spelling.h"

namespace cellar::ops {

// Padding (before, after) along one spatial dimension for pad mode "same" (MindSpore's and
// ONNX's SAME_UPPER): out = ⌈in / s⌉, the total shortfall split with the smaller half before.
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d);

// One spatial dimension of an ONNX window node: input size, kernel, stride, dilation, pads.
struct OnnxWindow {
  int64_t in, k, s, d, before, after;
};

// The two spatial dimensions (H, W) of the importer's current node over an NCHW input `x` with
// kernel kh × kw, from its strides, dilations and auto_pad / pads attributes as ONNX defines
// them. FormatError (through the importer) for malformed attributes.
std::vector<OnnxWindow> onnx_window(OnnxImporter& m, const Shape& x, int64_t kh, int64_t kw);

}  // namespace cellar::ops
