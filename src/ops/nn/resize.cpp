#include "ops/nn/resize.h"

#include <cmath>

namespace cellar::ops {

ResizeAttrs resize_attrs(const std::string& op, const ir::Attrs& a) {
  const auto size = attr_ints(a, op, "size");
  if (size.size() != 2)
    throw ValueError(ErrorCode::kInvalidArgument,
                     op + ": attribute 'size' must have 2 values (height, width), has " +
                         std::to_string(size.size()));
  if (size[0] < 1 || size[1] < 1)
    throw ValueError(ErrorCode::kInvalidArgument, op + ": attribute 'size' must be positive");
  const bool ac = attr_bool(a, op, "align_corners", false),
             hp = attr_bool(a, op, "half_pixel_centers", false);
  if (ac && hp)
    throw ValueError(ErrorCode::kInvalidArgument,
                     op + ": align_corners and half_pixel_centers cannot both be true");
  return {size[0], size[1], ac, hp};
}

std::vector<TensorType> resize_infer(const std::string& op, std::span<const TensorType> in,
                                     const ir::Attrs& a) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  const auto r = resize_attrs(op, a);
  const Shape& x = in[0].shape;
  if (x.rank() != 4) shape_error(op, "input must be (N, C, H, W), got " + x.str());
  return {{in[0].dtype, Shape{x[0], x[1], r.out_h, r.out_w}}};
}

double resize_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners && out > 1) return static_cast<double>(in - 1) / static_cast<double>(out - 1);
  return static_cast<double>(in) / static_cast<double>(out);
}

void import_onnx_resize(OnnxImporter& m) {
  if (m.opset() < 11) m.unsupported("Resize before opset 11 is not supported");
  m.require_inputs(1, 4);
  const int x = m.input(0);
  const Shape xs = m.info(x).shape;
  if (xs.rank() != 4) m.unsupported("only 4-D (N, C, H, W) inputs are supported");
  if (m.attr_int("antialias", 0) != 0) m.unsupported("antialias is not supported");
  if (m.has_attr("axes")) m.unsupported("the axes attribute is not supported");
  const std::string policy = m.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch") m.unsupported("keep_aspect_ratio_policy '" + policy + "'");
  std::vector<int64_t> out;
  if (m.num_inputs() > 3 && m.has_input(3)) {
    out = m.const_ints(3);
    if (out.size() != 4) m.fail("sizes must have 4 values");
  } else if (m.num_inputs() > 2 && m.has_input(2)) {
    const auto s = m.constant_input(2);
    if (!s || s->numel() != 4) m.unsupported("scales must be a constant of 4 values");
    const Tensor d = s->to(DType::Float64);
    for (size_t i = 0; i < 4; ++i) {
      const double v = static_cast<double>(xs[i]) * d.data<double>()[i];
      if (!(v >= 1) || v != std::floor(v) || v > 1e9)
        m.unsupported("scales must give whole output sizes (" + std::to_string(v) + ")");
      out.push_back(static_cast<int64_t>(v));
    }
  } else {
    m.fail("needs scales or sizes");
  }
  if (out[0] != xs[0] || out[1] != xs[1])
    m.unsupported("only the last two axes (H, W) may be resized");
  const std::string mode = m.attr_string("mode", "nearest");
  const std::string ctm = m.attr_string("coordinate_transformation_mode", "half_pixel");
  bool ac = false, hp = false;
  std::string op;
  if (mode == "linear") {
    op = "ResizeBilinearV2";
    if (ctm == "align_corners")
      ac = true;
    else if (ctm == "half_pixel" || (ctm == "pytorch_half_pixel" && out[2] > 1 && out[3] > 1))
      hp = true;
    else if (ctm != "asymmetric")
      m.unsupported("linear with coordinate_transformation_mode '" + ctm + "'");
  } else if (mode == "nearest") {
    op = "ResizeNearestNeighbor";
    const std::string nm = m.attr_string("nearest_mode", "round_prefer_floor");
    if (ctm == "align_corners" && nm == "round_prefer_ceil")
      ac = true;
    else if (ctm == "tf_half_pixel_for_nn" && nm == "floor")
      hp = true;
    else if (!(ctm == "asymmetric" && nm == "floor"))
      m.unsupported("nearest with coordinate_transformation_mode '" + ctm + "' and nearest_mode '" +
                    nm + "'");
  } else {
    m.unsupported("mode '" + mode + "'");
  }
  m.set_output(0, m.emit1(op, {x},
                          {{"size", std::vector<int64_t>{out[2], out[3]}},
                           {"align_corners", ac},
                           {"half_pixel_centers", hp}}));
}

}  // namespace cellar::ops
