// What the two image resize rows share (private to src/ops/nn/): ResizeBilinearV2 and
// ResizeNearestNeighbor take x (N, C, H, W) and the attributes size (out_h, out_w), align_corners
// and half_pixel_centers, with TensorFlow's coordinate rules, which MindSpore's CPU kernels follow:
// scale = (in − 1) / (out − 1) under align_corners (when out > 1), else in / out; a source
// coordinate is o · scale, or (o + 0.5) · scale − 0.5 (bilinear) / (o + 0.5) · scale (nearest)
// under half_pixel_centers. align_corners and half_pixel_centers together are refused (MindSpore
// refuses them too).
//
// ONNX's Resize is read by ResizeBilinearV2's row (mode linear) and turned into either row
// (import_onnx_resize): its coordinate_transformation_mode and nearest_mode map as
//   linear:  align_corners → align_corners, half_pixel (and pytorch_half_pixel for outputs
//            larger than 1) → half_pixel_centers, asymmetric → neither;
//   nearest: align_corners + round_prefer_ceil → align_corners, tf_half_pixel_for_nn + floor →
//            half_pixel_centers, asymmetric + floor → neither;
// any other combination, cubic, antialias, axes and scales that do not give whole sizes are
// refused, naming what.
#pragma once

#include <string>
#include <vector>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

struct ResizeAttrs {
  int64_t out_h, out_w;
  bool align_corners, half_pixel;
};

ResizeAttrs resize_attrs(const std::string& op, const ir::Attrs& a);
std::vector<TensorType> resize_infer(const std::string& op, std::span<const TensorType> in,
                                     const ir::Attrs& a);
// TensorFlow's scale for one axis.
double resize_scale(int64_t in, int64_t out, bool align_corners);

void import_onnx_resize(OnnxImporter& m);

}  // namespace cellar::ops
