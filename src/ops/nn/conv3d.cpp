// Conv3D: 3-D convolution of an NCDHW input x with a weight [out, in/group, kd, kh, kw], with
// strides, dilations, groups and padding (pad_mode "valid" | "same" | "pad"), computed as im2col
// + GEMM per (image, group, block of output positions).
//
// MindSpore (2.x as 1.x) writes ops.Conv3D (nn.Conv3d) as a PRIMITIVE with attributes, as its
// constructor sets them (mindspore/ops/operations/nn_ops.py): out_channel, kernel_size (d, h, w),
// mode 1, pad_mode (lower case), pad (head, tail, top, bottom, left, right), pad_list (what its
// kernel pads by, "same" resolved), strides and dilations as (1, 1, d, h, w) beside its
// arguments stride and dilation as given, groups beside group, offset_x 0, format "NCDHW"
// (cellar's data_format). The bias is a separate BiasAdd, as nn.Conv3d does it.
//
// ONNX: written as Conv with explicit pads; a Conv on a rank-5 input is read as this row (the
// ONNX Conv import of the Conv2D row hands it over), its optional bias input as a BiasAdd.
#include "ops/nn/conv3d.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "ops/gemm.h"
#include "ops/nn/window3d.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Conv3D";

struct Conv3Geometry {
  int64_t n = 0, c = 0, o = 0, group = 1;
  Window3 w{};  // D, H, W
};

Conv3Geometry conv3_geometry(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  require_ncdhw(attrs, kOp);
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (x.rank() != 5) shape_error(kOp, "input must be NCDHW (rank 5), got " + x.str());
  if (w.rank() != 5) shape_error(kOp, "weight must be [out, in/group, kd, kh, kw], got " + w.str());
  Conv3Geometry g;
  g.n = x[0], g.c = x[1], g.o = w[0];
  g.group = attr_int(attrs, kOp, "groups", attr_int(attrs, kOp, "group", 1));
  if (g.group < 1) shape_error(kOp, "group must be positive, got " + std::to_string(g.group));
  if (g.c % g.group != 0 || g.o % g.group != 0)
    shape_error(kOp, "input channels " + std::to_string(g.c) + " and output channels " +
                         std::to_string(g.o) + " must both be divisible by group " +
                         std::to_string(g.group));
  if (w[1] * g.group != g.c)
    shape_error(kOp, "weight " + w.str() + " expects " + std::to_string(w[1] * g.group) +
                         " input channels (group " + std::to_string(g.group) + "), input " +
                         x.str() + " has " + std::to_string(g.c));
  if (has_attr(attrs, "out_channel") && attr_int(attrs, kOp, "out_channel") != g.o)
    shape_error(kOp, "out_channel " + std::to_string(attr_int(attrs, kOp, "out_channel")) +
                         " differs from the weight's " + w.str());
  for (size_t i = 0; i < 3; ++i)
    if (w[2 + i] < 1) shape_error(kOp, "weight " + w.str() + " has an empty kernel");
  if (has_attr(attrs, "kernel_size")) {
    const auto k = attr_dhw(attrs, kOp, "kernel_size", 1);
    if (k[0] != w[2] || k[1] != w[3] || k[2] != w[4])
      shape_error(kOp, "kernel_size (" + std::to_string(k[0]) + ", " + std::to_string(k[1]) + ", " +
                           std::to_string(k[2]) + ") differs from the weight's " + w.str());
  }
  const auto s = attr_dhw(attrs, kOp, has_attr(attrs, "strides") ? "strides" : "stride", 1);
  const auto d = attr_dhw(attrs, kOp, has_attr(attrs, "dilations") ? "dilations" : "dilation", 1);
  const std::string mode = attr_pad_mode(attrs, kOp, "valid");
  const auto pad = attr_pad6(attrs, kOp, "pad");
  if (mode != "pad" && pad != std::array<int64_t, 6>{})
    shape_error(kOp, "pad must be zero when pad_mode is '" + mode + "'");
  for (size_t i = 0; i < 3; ++i) {
    if (w[2 + i] >= (int64_t{1} << 31)) shape_error(kOp, "kernel " + w.str() + " is too large");
    g.w[i] = {.in = x[2 + i], .k = w[2 + i], .s = s[i], .d = d[i]};
  }
  resolve_window3(kOp, g.w, mode, pad, false, x);
  return g;
}

std::vector<TensorType> conv3_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Conv3Geometry g = conv3_geometry(in, attrs);
  Shape out{g.n, g.o, g.w[0].out, g.w[1].out, g.w[2].out};
  if (!out.checked_numel()) shape_error(kOp, "output " + out.str() + " is too large");
  return {{in[0].dtype, std::move(out)}};
}

// Columns of the im2col matrix per block: enough for the GEMM to run at speed, few enough that
// one block stays in cache.
constexpr int64_t kMinColumns = 64;
constexpr size_t kColumnBytes = size_t{512} << 10;

// Columns [s0, s1) (output positions, (z, y, x) in C order) of the im2col rows of one image-group
// `xg` (cg channels) into `col` (row stride ld): row (ci, a, b, e) holds input
// (z·sd + a·dd − pd, y·sh + b·dh − ph, x·sw + e·dw − pw) of channel ci, zero outside.
template <class T>
void im2col3(const Window3& w, int64_t cg, const T* xg, int64_t s0, int64_t s1, T* col,
             int64_t ld) {
  const int64_t ind = w[0].in, inh = w[1].in, inw = w[2].in;
  const int64_t oh = w[1].out, ow = w[2].out;
  T* row = col;
  for (int64_t ci = 0; ci < cg; ++ci) {
    const T* plane = xg + ci * ind * inh * inw;
    for (int64_t a = 0; a < w[0].k; ++a)
      for (int64_t b = 0; b < w[1].k; ++b)
        for (int64_t e = 0; e < w[2].k; ++e, row += ld) {
          for (int64_t s = s0; s < s1; ++s) {
            const int64_t ox = s % ow, oy = (s / ow) % oh, oz = s / (ow * oh);
            const int64_t iz = oz * w[0].s + a * w[0].d - w[0].before;
            const int64_t iy = oy * w[1].s + b * w[1].d - w[1].before;
            const int64_t ix = ox * w[2].s + e * w[2].d - w[2].before;
            const bool in = iz >= 0 && iz < ind && iy >= 0 && iy < inh && ix >= 0 && ix < inw;
            row[s - s0] = in ? plane[(iz * inh + iy) * inw + ix] : T(0);
          }
        }
  }
}

template <class T>
Kernel conv3_typed(const Conv3Geometry& g) {
  const int64_t cg = g.c / g.group, og = g.o / g.group;
  const int64_t taps = g.w[0].k * g.w[1].k * g.w[2].k;
  const int64_t kdim = cg * taps;
  const int64_t spatial = g.w[0].out * g.w[1].out * g.w[2].out;
  const int64_t in_spatial = g.w[0].in * g.w[1].in * g.w[2].in;
  const int64_t cols =
      kdim > 0 ? std::clamp<int64_t>(static_cast<int64_t>(kColumnBytes / sizeof(T)) / kdim,
                                     kMinColumns, std::max<int64_t>(spatial, 1))
               : std::max<int64_t>(spatial, 1);
  return [g, cg, og, kdim, spatial, in_spatial, cols](std::span<const Tensor> in,
                                                      std::span<Tensor> out, Parallel& par) {
    if (out[0].numel() == 0) return;
    const T* x = in[0].data<T>();
    const T* wt = in[1].data<T>();
    T* y = out[0].data<T>();
    const int64_t blocks = (spatial + cols - 1) / cols;
    const int64_t units = g.n * g.group * blocks;
    par.for_range(units, 1, [&](int64_t u0, int64_t u1, int worker) {
      T* col = par.scratch<T>(worker, static_cast<size_t>(kdim * cols));
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t blk = u % blocks, img = u / blocks;  // img = b·group + gr
        const int64_t b = img / g.group, gr = img % g.group;
        const int64_t s0 = blk * cols, s1 = std::min(spatial, s0 + cols);
        const T* xg = x + (b * g.c + gr * cg) * in_spatial;
        im2col3(g.w, cg, xg, s0, s1, col, s1 - s0);
        T* yg = y + (b * g.o + gr * og) * spatial + s0;
        gemm(false, false, og, s1 - s0, kdim, wt + gr * og * kdim, kdim, col, s1 - s0, yg, spatial);
      }
    });
  };
}

Kernel conv3_make_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const Conv3Geometry g = conv3_geometry(in, attrs);
  if (in[0].dtype == DType::Float64) return conv3_typed<double>(g);
  return conv3_typed<float>(g);
}

// MindSpore's Conv3D kernel pads by pad_list, which its shape inference fills; written for the
// modes that do not depend on the input shape ("same" is resolved by MindSpore's inference).
void complete_pad_list(ir::Attrs& a) {
  if (a.count("pad_list")) return;
  std::string mode;
  try {
    mode = attr_pad_mode(a, kOp, "valid");
  } catch (const ValueError&) {
    return;  // the writer's own check reports it
  }
  if (mode == "valid") a["pad_list"] = std::vector<int64_t>(6, 0);
  if (mode == "pad")
    if (auto p = a.find("pad"); p != a.end()) a["pad_list"] = p->second;
}

void export_conv3d(OnnxBuilder& b, const ir::Node& n) {
  const Conv3Geometry g = onnx_checked(b, n, [&] {
    std::vector<TensorType> in;
    for (int v : n.inputs) in.push_back({b.info(v).dtype, b.shape(v)});
    return conv3_geometry(in, n.attrs);
  });
  std::vector<int64_t> k, s, d;
  for (const Axis3& a : g.w) k.push_back(a.k), s.push_back(a.s), d.push_back(a.d);
  b.add("Conv", {b.name(n.inputs[0]), b.name(n.inputs[1])}, {b.name(n.outputs.at(0))},
        {{"kernel_shape", k},
         {"strides", s},
         {"dilations", d},
         {"group", g.group},
         {"pads", onnx_pads3(g.w)}});
}

}  // namespace

void import_conv3d(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x = m.input(0), w = m.input(1);
  const Shape xs = m.info(x).shape;
  const Shape ws = m.info(w).shape;
  if (xs.rank() != 5 || ws.rank() != 5)
    m.fail("a 3-D Conv needs a rank-5 input and weight, got " + xs.str() + " and " + ws.str());
  std::vector<int64_t> kernel(ws.dims().begin() + 2, ws.dims().end());
  if (auto k = m.attr_ints("kernel_shape"); k && *k != kernel)
    m.fail("kernel_shape disagrees with the weight's shape " + ws.str());
  const Window3 sp = onnx_window3(m, xs, kernel);
  const int64_t group = m.attr_int("group", 1);
  const std::vector<int64_t> pad = {sp[0].before, sp[0].after,  sp[1].before,
                                    sp[1].after,  sp[2].before, sp[2].after};
  const bool unpadded = pad == std::vector<int64_t>(6, 0);
  ir::Attrs attrs = {{"out_channel", ws[0]},
                     {"kernel_size", kernel},
                     {"mode", int64_t{1}},
                     {"pad_mode", std::string(unpadded ? "valid" : "pad")},
                     {"pad", pad},
                     {"pad_list", pad},
                     {"strides", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s, sp[2].s}},
                     {"dilations", std::vector<int64_t>{1, 1, sp[0].d, sp[1].d, sp[2].d}},
                     {"group", group},
                     {"groups", group},
                     {"offset_x", int64_t{0}},
                     {"data_format", std::string("NCDHW")}};
  int y = m.emit1(kOp, {x, w}, std::move(attrs));
  if (m.num_inputs() == 3 && m.has_input(2))
    y = m.emit1("BiasAdd", {y, m.input(2)}, {{"data_format", int64_t{14}}});  // NCDHW
  m.set_output(0, y);
}

CELLAR_REGISTER_OPS(conv3d) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = conv3_infer,
             .make_kernel = conv3_make_kernel,
             .mindir = {.primitive = kOp,
                        .defaults = {{"data_format", std::string("NCDHW")},
                                     {"mode", int64_t{1}},
                                     {"offset_x", int64_t{0}}},
                        .primitive_function = false,
                        .renamed = {{"data_format", "format"}},
                        .complete = complete_pad_list},
             .onnx = export_conv3d,
             .work = work_weighted_window});
}

}  // namespace cellar::ops
