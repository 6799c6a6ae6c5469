// ResizeNearestNeighbor(x; size, align_corners, half_pixel_centers): nearest-neighbour resize of
// x (N, C, H, W) to (N, C, size[0], size[1]) with TensorFlow's coordinates (ops/nn/resize.h): the
// source index is round(o · scale) under align_corners, floor((o + 0.5) · scale) under
// half_pixel_centers, else floor(o · scale), at most in − 1. MindSpore 2.x writes the
// PRIMITIVE_FUNCTION "ResizeNearestNeighbor" with size, align_corners and half_pixel_centers as
// constant inputs (1.x: attributes), and ops.interpolate nearest writes "ResizeNearestNeighborV2"
// with the same arguments, read as this row. ONNX: written as Resize (mode nearest, sizes) with the
// matching coordinate_transformation_mode and nearest_mode; read by ResizeBilinearV2's row.
#include <cmath>

#include "ops/nn/activation.h"
#include "ops/nn/resize.h"

namespace cellar::ops {

namespace {

const char* const kOp = "ResizeNearestNeighbor";

std::vector<int64_t> sources(int64_t in, int64_t out, bool ac, bool hp) {
  const double scale = resize_scale(in, out, ac);
  std::vector<int64_t> s;
  for (int64_t o = 0; o < out; ++o) {
    const double src = static_cast<double>(o) + (hp ? 0.5 : 0.0);
    const double v = ac ? std::round(src * scale) : std::floor(src * scale);
    s.push_back(std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(v), 0), in - 1));
  }
  return s;
}

template <class T>
Kernel nearest_kernel(int64_t planes, int64_t ih, int64_t iw, std::vector<int64_t> sh,
                      std::vector<int64_t> sw) {
  return [=](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    const int64_t oh = static_cast<int64_t>(sh.size()), ow = static_cast<int64_t>(sw.size());
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t i = 0; i < oh; ++i) {
        const T* row = x + (p * ih + sh[static_cast<size_t>(i)]) * iw;
        T* yr = y + (p * oh + i) * ow;
        for (int64_t j = 0; j < ow; ++j) yr[j] = row[sw[static_cast<size_t>(j)]];
      }
  };
}

Kernel make(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto r = resize_attrs(kOp, attrs);
  const Shape& x = in[0].shape;
  const int64_t planes = x[0] * x[1], ih = x[2], iw = x[3];
  if (ih == 0 || iw == 0) shape_error(kOp, "input " + x.str() + " has an empty image");
  auto sh = sources(ih, r.out_h, r.align_corners, r.half_pixel);
  auto sw = sources(iw, r.out_w, r.align_corners, r.half_pixel);
  if (in[0].dtype == DType::Float64) return nearest_kernel<double>(planes, ih, iw, sh, sw);
  return nearest_kernel<float>(planes, ih, iw, sh, sw);
}

void export_nearest(OnnxBuilder& b, const ir::Node& n) {
  const bool computed = n.inputs.size() == 2;  // sizes computed at run time: passed on
  ir::Attrs a = n.attrs;
  if (computed) a["size"] = std::vector<int64_t>{1, 1};  // only the flags are read here
  const auto r = onnx_checked(b, n, [&] { return resize_attrs(kOp, a); });
  const Shape& x = b.shape(n.inputs.at(0));
  const std::string y = b.name(n.outputs.at(0));
  const std::string ctm = r.align_corners ? "align_corners"
                          : r.half_pixel  ? "tf_half_pixel_for_nn"
                                          : "asymmetric";
  const std::string sizes =
      computed ? resize_sizes_name(b, n) : b.ints(y + "/sizes", {x[0], x[1], r.out_h, r.out_w});
  b.add("Resize", {b.name(n.inputs[0]), "", "", sizes}, {y},
        {{"mode", std::string("nearest")},
         {"coordinate_transformation_mode", ctm},
         {"nearest_mode", std::string(r.align_corners ? "round_prefer_ceil" : "floor")}});
}

}  // namespace

CELLAR_REGISTER_OPS(resize_nearest) {
  MindIRSpelling v2 = {.primitive = "ResizeNearestNeighborV2",
                       .attr_inputs = {"size", "align_corners", "half_pixel_centers"},
                       .defaults = {{"align_corners", false}, {"half_pixel_centers", false}}};
  table.add({.name = kOp,
             .max_inputs = 2,
             .infer = [](std::span<const TensorType> in,
                         const ir::Attrs& a) { return resize_infer(kOp, in, a); },
             .value_inputs = {1},
             .attrs_from_values =
                 [](std::span<const TensorType> in, std::span<const Tensor> v, const ir::Attrs& a) {
                   return resize_sizes_from_values(kOp, in, v, a);
                 },
             .make_kernel = make,
             .mindir = {.primitive = kOp,
                        .attr_inputs = {"size", "align_corners", "half_pixel_centers"},
                        .defaults = {{"align_corners", false}, {"half_pixel_centers", false}},
                        .variants = {{.spelling = v2,
                                      .read = [](ir::Attrs&, std::span<const TensorType>) {},
                                      .write = [](ir::Attrs&,
                                                  std::span<const TensorType>) { return false; }}}},
             .onnx = export_nearest});
}

}  // namespace cellar::ops
