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

namespace {

void check_sizes_input(const std::string& op, const TensorType& s) {
  if (s.dtype != DType::Int64 && s.dtype != DType::Int32)
    dtype_error(
        op, "the sizes input must be Int64 or Int32, got " + std::string(mindspore_name(s.dtype)));
  if (s.shape != Shape{4})
    shape_error(op, "the sizes input must have shape (4,) (N, C, H, W), got " + s.shape.str());
}

}  // namespace

std::vector<TensorType> resize_infer(const std::string& op, std::span<const TensorType> in,
                                     const ir::Attrs& a) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  const Shape& x = in[0].shape;
  if (x.rank() != 4) shape_error(op, "input must be (N, C, H, W), got " + x.str());
  if (in.size() == 2) {
    check_sizes_input(op, in[1]);
    // The sizes unknown: a representative of x's own size.
    if (!a.count("size")) return {{in[0].dtype, x}};
  }
  const auto r = resize_attrs(op, a);
  return {{in[0].dtype, Shape{x[0], x[1], r.out_h, r.out_w}}};
}

ir::Attrs resize_sizes_from_values(const std::string& op, std::span<const TensorType> in,
                                   std::span<const Tensor> v, const ir::Attrs& a) {
  check_sizes_input(op, in[1]);
  const Shape& x = in[0].shape;
  if (x.rank() != 4) shape_error(op, "input must be (N, C, H, W), got " + x.str());
  int64_t s[4];
  for (size_t i = 0; i < 4; ++i)
    s[i] = v[1].dtype() == DType::Int64 ? v[1].data<int64_t>()[i]
                                        : static_cast<int64_t>(v[1].data<int32_t>()[i]);
  if (s[0] != x[0] || s[1] != x[1])
    shape_error(op, "the sizes input (" + std::to_string(s[0]) + ", " + std::to_string(s[1]) +
                        ", " + std::to_string(s[2]) + ", " + std::to_string(s[3]) +
                        ") resizes N or C of " + x.str() + "; only H and W may be resized");
  if (s[2] < 1 || s[3] < 1)
    shape_error(op, "the sizes input asks for an output of " + std::to_string(s[2]) + " x " +
                        std::to_string(s[3]) + "; sizes must be positive");
  ir::Attrs out = a;
  out["size"] = std::vector<int64_t>{s[2], s[3]};
  if (attr_bool(a, op, "pytorch_half_pixel", false)) {
    if ((s[2] > 1) != (s[3] > 1))
      shape_error(op, "pytorch_half_pixel with one output side of 1 and the other larger (" +
                          std::to_string(s[2]) + " x " + std::to_string(s[3]) +
                          ") is not supported");
    out["half_pixel_centers"] = s[2] > 1;
    out.erase("pytorch_half_pixel");
  }
  return out;
}

std::string resize_sizes_name(OnnxBuilder& b, const ir::Node& n) {
  std::string sizes = b.name(n.inputs.at(1));
  if (b.info(n.inputs[1]).dtype != DType::Int64) {
    const std::string cast = b.fresh(sizes + "/int64");
    b.add("Cast", {sizes}, {cast}, {{"to", *b.dtype_code(DType::Int64)}});
    sizes = cast;
  }
  return sizes;
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
  const bool computed = m.num_inputs() > 3 && m.has_input(3) && !m.constant_input(3);
  if (computed) {
    // Sizes computed in the graph: the two-input form, planned with their values.
    const int s = m.input(3);
    const ir::ValueInfo info = m.info(s);
    if ((info.dtype != DType::Int64 && info.dtype != DType::Int32) || info.shape != Shape{4} ||
        !m.shape_known(s) || info.open(0))
      m.unsupported(
          "sizes (computed in the graph) must be a (4,) int64 tensor fixed in length at "
          "load time, got " +
          info.type_str());
  } else if (m.num_inputs() > 3 && m.has_input(3)) {
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
  if (!computed && (out[0] != xs[0] || out[1] != xs[1]))
    m.unsupported("only the last two axes (H, W) may be resized");
  bool pytorch_half_pixel = false;  // resolved with the sizes computed at run time
  const std::string mode = m.attr_string("mode", "nearest");
  const std::string ctm = m.attr_string("coordinate_transformation_mode", "half_pixel");
  bool ac = false, hp = false;
  std::string op;
  if (mode == "linear") {
    op = "ResizeBilinearV2";
    if (ctm == "align_corners")
      ac = true;
    else if (ctm == "pytorch_half_pixel" && computed)
      pytorch_half_pixel = true;
    else if (ctm == "half_pixel" || (ctm == "pytorch_half_pixel" && out[2] > 1 && out[3] > 1))
      hp = true;
    // pytorch_half_pixel to one pixel on each axis reads source 0, as asymmetric does.
    else if (ctm != "asymmetric" && !(ctm == "pytorch_half_pixel" && out[2] == 1 && out[3] == 1))
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
  if (computed) {
    ir::Attrs attrs{{"align_corners", ac}, {"half_pixel_centers", hp}};
    if (pytorch_half_pixel) attrs["pytorch_half_pixel"] = true;
    m.set_output(0, m.emit1(op, {x, m.input(3)}, std::move(attrs)));
    return;
  }
  m.set_output(0, m.emit1(op, {x},
                          {{"size", std::vector<int64_t>{out[2], out[3]}},
                           {"align_corners", ac},
                           {"half_pixel_centers", hp}}));
}

}  // namespace cellar::ops
