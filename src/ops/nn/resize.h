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
// refused, naming what. Sizes computed in the graph (torch's F.interpolate(x, size=y.shape[-2:])
// on dynamic axes) make either row's two-input form Resize(x, sizes): `sizes` a value input, ONNX's
// (N, C, H', W') as a (4,) Int64 or Int32 tensor whose N and C must be x's, written in as `size`
// per plan; linear's pytorch_half_pixel is then the attribute `pytorch_half_pixel`, resolved with
// the sizes (half_pixel_centers when both are above 1, neither when both are 1).
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

// The two-input form's sizes written in as `size` (OpDef::attrs_from_values of both rows).
ir::Attrs resize_sizes_from_values(const std::string& op, std::span<const TensorType> in,
                                   std::span<const Tensor> v, const ir::Attrs& a);
// The ONNX name of the two-input form's sizes, as Int64 (a Cast added for Int32).
std::string resize_sizes_name(OnnxBuilder& b, const ir::Node& n);

}  // namespace cellar::ops
