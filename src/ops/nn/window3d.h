// Window geometry of the 3-D rows (Conv3D, MaxPool3D, AvgPool3D; private to src/ops/nn): their
// attribute forms, the output size along one spatial axis with its overflow and fit checks, and
// the ONNX window attributes of a 3-D node. The 1-D and 2-D window ops keep theirs in window.h.
//
// MindSpore's 3-D primitives (mindspore/ops/operations/nn_ops.py: Conv3D, MaxPool3D, AvgPool3D)
// write kernel_size as (d, h, w), strides and dilations as (1, 1, d, h, w) (an int or (d, h, w)
// accepted here too), pads as six values (head, tail, top, bottom, left, right), data_format
// "NCDHW".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

// One spatial axis of a 3-D window: input size, kernel, stride, dilation, padding before and
// after, output size.
struct Axis3 {
  int64_t in = 0, k = 1, s = 1, d = 1, before = 0, after = 0, out = 0;
};
using Window3 = std::array<Axis3, 3>;  // D, H, W

// An int, 3 values (d, h, w) or 5 (N, C, d, h, w: the last three); each ≥ 1.
std::array<int64_t, 3> attr_dhw(const ir::Attrs& a, const std::string& op, const std::string& key,
                                int64_t dflt);
// An int or 6 values (head, tail, top, bottom, left, right); each ≥ 0 and < 2^31.
std::array<int64_t, 6> attr_pad6(const ir::Attrs& a, const std::string& op, const std::string& key);
// data_format (or format) must be NCDHW when present.
void require_ncdhw(const ir::Attrs& a, const std::string& op);

// Fills `w` (in, k, s, d set by the caller) for pad mode "valid", "same" (MindSpore's: out =
// ⌈in / s⌉, the smaller half of the shortfall before) or "pad" (`pads` as attr_pad6 gives them),
// with ceil_mode's rounding up (a last window that would start in the end padding dropped, as
// PyTorch and ONNX Runtime do). ValueError naming `op` when a size overflows or no window fits.
void resolve_window3(const std::string& op, Window3& w, const std::string& mode,
                     const std::array<int64_t, 6>& pads, bool ceil_mode, const Shape& x);

// The ONNX window attributes (kernel_shape as given, strides, dilations, pads or auto_pad) of the
// importer's current 3-D node over input `x` (rank 5); FormatError through the importer for
// malformed ones. Returns the axes (out unset) and whether ceil_mode is set.
Window3 onnx_window3(OnnxImporter& m, const Shape& x, const std::vector<int64_t>& kernel);

// The attribute values as ONNX writes them: begins of every axis, then the ends.
std::vector<int64_t> onnx_pads3(const Window3& w);

}  // namespace cellar::ops
