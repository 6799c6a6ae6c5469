// Conv2D: 2-D convolution of an NCHW input x with a weight [out, in/group, kh, kw], with
// stride, dilation, groups and padding (MindSpore's pad_mode "valid" | "same" | "pad"). Computed
// as im2col into a per-node scratch buffer, then one GEMM per image and group.
//
// MindSpore (2.x as 1.x) writes Conv2D as a PRIMITIVE with attributes, as ops.Conv2D sets them
// (mindspore/ops/operations/nn_ops.py): out_channel, kernel_size (kh, kw), mode (1), pad_mode,
// pad (top, bottom, left, right), pad_list (what its kernel pads by), stride and dilation (1, 1,
// h, w), group (and its copy "groups"), format "NCHW" (cellar's data_format). The bias is a
// separate BiasAdd, as nn.Conv2d does it.
//
// ONNX: written as Conv with explicit pads (the pad mode resolved against the input shape),
// strides, dilations, group; Conv is read back with pad_mode "pad" (or "valid" when unpadded), its
// optional bias input as a BiasAdd.
#include <algorithm>
#include <cctype>
#include <memory>

#include "ops/gemm.h"
#include "ops/nn/window.h"
#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Conv2D";

struct ConvGeometry {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw;   // weight
  int64_t group;
  int64_t sh, sw, dh, dw;  // stride, dilation
  int64_t pt, pb, pl, pr;  // padding
  int64_t oh, ow;          // output
};

// Output size along one dimension (MindSpore's Conv2D shape rule).
int64_t out_dim(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t d,
                int64_t pad_before, int64_t pad_after, int64_t* pb, int64_t* pa) {
  const int64_t span = d * (k - 1) + 1;
  if (mode == "valid") {
    *pb = *pa = 0;
    return in >= span ? (in - span) / s + 1 : 0;
  }
  if (mode == "same") {
    const int64_t out = (in + s - 1) / s;
    const int64_t need = std::max<int64_t>(0, (out - 1) * s + span - in);
    *pb = need / 2;
    *pa = need - *pb;
    return out;
  }
  *pb = pad_before;
  *pa = pad_after;
  const int64_t padded = in + pad_before + pad_after;
  return padded >= span ? (padded - span) / s + 1 : 0;
}

ConvGeometry geometry(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  require_dtype_in(kOp, in[0].dtype, {DType::Float32, DType::Float64});
  require_nchw(attrs, kOp);
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (x.rank() != 4) shape_error(kOp, "input must be NCHW (rank 4), got " + x.str());
  if (w.rank() != 4) shape_error(kOp, "weight must be [out, in/group, kh, kw], got " + w.str());
  ConvGeometry g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = w[0], g.kh = w[2], g.kw = w[3];
  g.group = attr_int(attrs, kOp, "group", attr_int(attrs, kOp, "groups", 1));
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
  if (has_attr(attrs, "kernel_size")) {
    const auto [kh, kw] = attr_hw(attrs, kOp, "kernel_size", 1);
    if (kh != g.kh || kw != g.kw)
      shape_error(kOp, "kernel_size (" + std::to_string(kh) + ", " + std::to_string(kw) +
                           ") differs from the weight's " + w.str());
  }
  std::tie(g.sh, g.sw) = attr_hw(attrs, kOp, "stride", 1);
  std::tie(g.dh, g.dw) = attr_hw(attrs, kOp, "dilation", 1);
  const std::string mode = attr_pad_mode(attrs, kOp, "valid");
  std::vector<int64_t> pad = attr_ints(attrs, kOp, "pad", {0});
  if (pad.size() == 1) pad.assign(4, pad[0]);
  if (pad.size() != 4) shape_error(kOp, "pad must have 1 or 4 values (top, bottom, left, right)");
  for (int64_t p : pad)
    if (p < 0) shape_error(kOp, "pad values must be non-negative");
  if (mode != "pad" && pad != std::vector<int64_t>(4, 0))
    shape_error(kOp, "pad must be zero when pad_mode is '" + mode + "'");
  g.oh = out_dim(mode, g.h, g.kh, g.sh, g.dh, pad[0], pad[1], &g.pt, &g.pb);
  g.ow = out_dim(mode, g.w, g.kw, g.sw, g.dw, pad[2], pad[3], &g.pl, &g.pr);
  if (g.oh <= 0 || g.ow <= 0)
    shape_error(kOp, "kernel " + w.str() + " (dilation " + std::to_string(g.dh) + ", " +
                         std::to_string(g.dw) + ") does not fit input " + x.str() +
                         " with pad_mode '" + mode + "'");
  return g;
}

std::vector<TensorType> conv_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = geometry(in, attrs);
  return {{in[0].dtype, Shape{g.n, g.o, g.oh, g.ow}}};
}

template <class T>
Kernel conv_typed(const ConvGeometry& g) {
  const int64_t cg = g.c / g.group, og = g.o / g.group;
  const int64_t kdim = cg * g.kh * g.kw, spatial = g.oh * g.ow;
  // A 1×1, stride-1, unpadded convolution reads its input as the im2col matrix directly.
  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pb == 0 &&
                      g.pl == 0 && g.pr == 0;
  // Scratch for one group's im2col matrix, sized once per node. The kernel is not reentrant
  // through the same closure (nor is the Executor that owns it).
  auto col = std::make_shared<std::vector<T>>(direct ? 0 : static_cast<size_t>(kdim * spatial));
  return
      [g, cg, og, kdim, spatial, direct, col](std::span<const Tensor> in, std::span<Tensor> out) {
        const T* x = in[0].data<T>();
        const T* w = in[1].data<T>();
        T* y = out[0].data<T>();
        if (out[0].numel() == 0) return;
        if (kdim == 0) {
          std::fill_n(y, out[0].numel(), T(0));
          return;
        }
        T* c = col->data();
        for (int64_t b = 0; b < g.n; ++b) {
          for (int64_t gr = 0; gr < g.group; ++gr) {
            const T* xg = x + (b * g.c + gr * cg) * g.h * g.w;
            if (!direct) {
              // Row (ci, i, j) of the im2col matrix holds input pixel (ci, oy·sh + i·dh − pt,
              // ox·sw + j·dw − pl) for every output position (oy, ox); zero outside the input.
              T* row = c;
              for (int64_t ci = 0; ci < cg; ++ci)
                for (int64_t i = 0; i < g.kh; ++i)
                  for (int64_t j = 0; j < g.kw; ++j, row += spatial) {
                    const T* plane = xg + ci * g.h * g.w;
                    for (int64_t oy = 0; oy < g.oh; ++oy) {
                      const int64_t iy = oy * g.sh + i * g.dh - g.pt;
                      T* dst = row + oy * g.ow;
                      if (iy < 0 || iy >= g.h) {
                        std::fill_n(dst, g.ow, T(0));
                        continue;
                      }
                      const T* src = plane + iy * g.w;
                      for (int64_t ox = 0; ox < g.ow; ++ox) {
                        const int64_t ix = ox * g.sw + j * g.dw - g.pl;
                        dst[ox] = ix >= 0 && ix < g.w ? src[ix] : T(0);
                      }
                    }
                  }
            }
            gemm(false, false, og, spatial, kdim, w + gr * og * kdim, kdim, direct ? xg : c,
                 spatial, y + (b * g.o + gr * og) * spatial, spatial);
          }
        }
      };
}

Kernel conv_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const ConvGeometry g = geometry(in, attrs);
  if (in[0].dtype == DType::Float64) return conv_typed<double>(g);
  return conv_typed<float>(g);
}

// MindSpore's Conv2D kernel pads by the primitive's pad_list (top, bottom, left, right), which its
// Python constructor fills from `pad` in "pad" mode and with zeros in "valid" mode ("same" is
// resolved by its shape inference).
void complete_pad_list(ir::Attrs& a) {
  if (a.count("pad_list")) return;
  auto mode = a.find("pad_mode");
  const std::string* m = mode == a.end() ? nullptr : std::get_if<std::string>(&mode->second);
  if (m == nullptr) return;
  std::string lower;
  for (char c : *m) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "valid") a["pad_list"] = std::vector<int64_t>{0, 0, 0, 0};
  if (lower == "pad")
    if (auto p = a.find("pad"); p != a.end()) a["pad_list"] = p->second;
}

void export_conv(OnnxBuilder& b, const ir::Node& n) {
  const Shape& x = b.shape(n.inputs.at(0));
  const Shape& w = b.shape(n.inputs.at(1));
  if (x.rank() != 4 || w.rank() != 4) b.fail(n, "only 2-D convolution (NCHW) is written");
  const auto [sh, sw, dh, dw, group, mode, pad] = onnx_checked(b, n, [&] {
    require_nchw(n.attrs, kOp);
    const auto [s_h, s_w] = attr_hw(n.attrs, kOp, "stride", 1);
    const auto [d_h, d_w] = attr_hw(n.attrs, kOp, "dilation", 1);
    const int64_t groups = attr_int(n.attrs, kOp, "group", attr_int(n.attrs, kOp, "groups", 1));
    auto pad_list = attr_ints(n.attrs, kOp, "pad", {0});
    if (pad_list.size() == 1) pad_list.assign(4, pad_list[0]);
    return std::tuple{s_h, s_w, d_h, d_w, groups, attr_pad_mode(n.attrs, kOp, "valid"), pad_list};
  });
  std::vector<int64_t> pads(4, 0);  // ONNX: top, left, bottom, right
  if (mode == "same") {
    std::tie(pads[0], pads[2]) = same_pads(x[2], w[2], sh, dh);
    std::tie(pads[1], pads[3]) = same_pads(x[3], w[3], sw, dw);
  } else if (mode == "pad") {
    if (pad.size() != 4) b.fail(n, "pad must have 1 or 4 values");
    pads = {pad[0], pad[2], pad[1], pad[3]};
  }
  b.add("Conv", {b.name(n.inputs[0]), b.name(n.inputs[1])}, {b.name(n.outputs.at(0))},
        {{"kernel_shape", std::vector<int64_t>{w[2], w[3]}},
         {"strides", std::vector<int64_t>{sh, sw}},
         {"dilations", std::vector<int64_t>{dh, dw}},
         {"group", group},
         {"pads", pads}});
}

void import_conv(OnnxImporter& m) {
  m.require_inputs(2, 3);
  const int x = m.input(0), w = m.input(1);
  const Shape& xs = m.info(x).shape;
  const Shape& ws = m.info(w).shape;
  if (xs.rank() != 4 || ws.rank() != 4)
    m.unsupported("only 2-D convolution (4-D input and weight) is supported");
  if (auto k = m.attr_ints("kernel_shape");
      k && (k->size() != 2 || (*k)[0] != ws[2] || (*k)[1] != ws[3]))
    m.fail("kernel_shape disagrees with the weight's shape " + ws.str());
  const auto sp = onnx_window(m, xs, ws[2], ws[3]);
  const int64_t group = m.attr_int("group", 1);
  std::string mode = "pad";
  std::vector<int64_t> pad = {sp[0].before, sp[0].after, sp[1].before, sp[1].after};
  if (pad == std::vector<int64_t>(4, 0)) mode = "valid";
  ir::Attrs attrs = {{"out_channel", ws[0]},
                     {"kernel_size", std::vector<int64_t>{ws[2], ws[3]}},
                     {"mode", int64_t{1}},
                     {"pad_mode", mode},
                     {"pad", pad},
                     {"stride", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                     {"dilation", std::vector<int64_t>{1, 1, sp[0].d, sp[1].d}},
                     {"group", group},
                     {"groups", group},
                     {"data_format", std::string("NCHW")}};
  int y = m.emit1("Conv2D", {x, w}, std::move(attrs));
  if (m.num_inputs() == 3 && m.has_input(2))
    y = m.emit1("BiasAdd", {y, m.input(2)}, {{"data_format", std::string("NCHW")}});
  m.set_output(0, y);
}

}  // namespace

CELLAR_REGISTER_OPS(conv2d) {
  table.add({.name = kOp,
             .min_inputs = 2,
             .max_inputs = 2,
             .infer = conv_infer,
             .make_kernel = conv_kernel,
             // MindSpore writes Conv2D as a PRIMITIVE with attributes; its loader needs "format".
             .mindir = {.primitive = kOp,
                        .defaults = {{"data_format", std::string("NCHW")}},
                        .primitive_function = false,
                        .renamed = {{"data_format", "format"}},
                        .complete = complete_pad_list},
             .onnx = export_conv,
             .onnx_import = {{"Conv", import_conv}}});
}

}  // namespace cellar::ops
