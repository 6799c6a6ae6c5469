// ResizeBilinearV2(x; size, align_corners, half_pixel_centers): bilinear resize of x (N, C, H, W)
// to (N, C, size[0], size[1]) with TensorFlow's coordinates (ops/nn/resize.h). MindSpore 2.x
// writes the PRIMITIVE_FUNCTION "ResizeBilinearV2" with size, align_corners and
// half_pixel_centers as constant inputs (ops_def resize_bilinear_v2_op.yaml; ops.interpolate
// bilinear writes it too); 1.x's "ResizeBilinear" kept the three as attributes, read as this row.
// ONNX: written as Resize (mode linear, sizes) with the matching coordinate_transformation_mode;
// ONNX's Resize is read here for both modes (resize.h).
#include <cmath>

#include "ops/nn/resize.h"

namespace cellar::ops {

namespace {

const char* const kOp = "ResizeBilinearV2";

// Per output index along one axis: the two source indices and the weight of the upper.
struct Taps {
  std::vector<int64_t> lo, hi;
  std::vector<double> w;
};

Taps taps(int64_t in, int64_t out, bool ac, bool hp) {
  Taps t;
  const double scale = resize_scale(in, out, ac);
  for (int64_t o = 0; o < out; ++o) {
    const double src =
        hp ? (static_cast<double>(o) + 0.5) * scale - 0.5 : static_cast<double>(o) * scale;
    const double f = std::floor(src);
    t.lo.push_back(std::max<int64_t>(static_cast<int64_t>(f), 0));
    t.hi.push_back(std::min<int64_t>(static_cast<int64_t>(std::ceil(src)), in - 1));
    t.w.push_back(src - f);
  }
  return t;
}

template <class T>
Kernel bilinear_kernel(int64_t planes, int64_t ih, int64_t iw, Taps th, Taps tw) {
  return [=](std::span<const Tensor> in, std::span<Tensor> out) {
    const T* x = in[0].data<T>();
    T* y = out[0].data<T>();
    const int64_t oh = static_cast<int64_t>(th.w.size()), ow = static_cast<int64_t>(tw.w.size());
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = x + p * ih * iw;
      T* yp = y + p * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const T* top = xp + th.lo[static_cast<size_t>(i)] * iw;
        const T* bottom = xp + th.hi[static_cast<size_t>(i)] * iw;
        const double dy = th.w[static_cast<size_t>(i)];
        for (int64_t j = 0; j < ow; ++j) {
          const size_t uj = static_cast<size_t>(j);
          const double dx = tw.w[uj];
          const double t =
              static_cast<double>(top[tw.lo[uj]]) +
              (static_cast<double>(top[tw.hi[uj]]) - static_cast<double>(top[tw.lo[uj]])) * dx;
          const double b =
              static_cast<double>(bottom[tw.lo[uj]]) +
              (static_cast<double>(bottom[tw.hi[uj]]) - static_cast<double>(bottom[tw.lo[uj]])) *
                  dx;
          yp[i * ow + j] = static_cast<T>(t + (b - t) * dy);
        }
      }
    }
  };
}

Kernel make(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const auto r = resize_attrs(kOp, attrs);
  const Shape& x = in[0].shape;
  const int64_t planes = x[0] * x[1], ih = x[2], iw = x[3];
  if (ih == 0 || iw == 0) shape_error(kOp, "input " + x.str() + " has an empty image");
  Taps th = taps(ih, r.out_h, r.align_corners, r.half_pixel);
  Taps tw = taps(iw, r.out_w, r.align_corners, r.half_pixel);
  if (in[0].dtype == DType::Float64) return bilinear_kernel<double>(planes, ih, iw, th, tw);
  return bilinear_kernel<float>(planes, ih, iw, th, tw);
}

void export_bilinear(OnnxBuilder& b, const ir::Node& n) {
  const bool computed = n.inputs.size() == 2;  // sizes computed at run time: passed on
  ir::Attrs a = n.attrs;
  if (computed) a["size"] = std::vector<int64_t>{1, 1};  // only the flags are read here
  const auto r = onnx_checked(b, n, [&] { return resize_attrs(kOp, a); });
  const bool pytorch = computed && onnx_checked(b, n, [&] {
                         return attr_bool(n.attrs, kOp, "pytorch_half_pixel", false);
                       });
  const Shape& x = b.shape(n.inputs.at(0));
  const std::string y = b.name(n.outputs.at(0));
  const std::string ctm = r.align_corners ? "align_corners"
                          : pytorch       ? "pytorch_half_pixel"
                          : r.half_pixel  ? "half_pixel"
                                          : "asymmetric";
  const std::string sizes =
      computed ? resize_sizes_name(b, n) : b.ints(y + "/sizes", {x[0], x[1], r.out_h, r.out_w});
  b.add("Resize", {b.name(n.inputs[0]), "", "", sizes}, {y},
        {{"mode", std::string("linear")}, {"coordinate_transformation_mode", ctm}});
}

}  // namespace

CELLAR_REGISTER_OPS(resize_bilinear) {
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
                        .legacy_primitives = {"ResizeBilinear"},
                        .attr_inputs = {"size", "align_corners", "half_pixel_centers"},
                        .defaults = {{"align_corners", false}, {"half_pixel_centers", false}}},
             .onnx = export_bilinear,
             .onnx_import = {{"Resize", import_onnx_resize}}});
}

}  // namespace cellar::ops
