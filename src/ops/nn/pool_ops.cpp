// MaxPool and AvgPool (MindSpore's primitives, NCHW).
//
// Attributes, as ops.MaxPool / ops.AvgPool write them (mindspore/ops/operations/nn_ops.py,
// class _Pool): kernel_size and strides as (1, 1, h, w), pad_mode "VALID" or "SAME" (upper
// case; any case and the PadMode enum are read), data_format "NCHW". MindSpore's primitives have
// no explicit-padding mode, so neither do these rows.
//
// SAME pads (total = (out − 1)·stride + kernel − in, the smaller half before) with −∞ for
// MaxPool; AvgPool divides by the number of input pixels inside the window (padding excluded),
// as MindSpore's CPU kernel (oneDNN's pooling_avg_exclude_padding) does.
#include <algorithm>
#include <limits>

#include "ops/registry.h"

namespace cellar::ops {

namespace {

struct PoolGeometry {
  int64_t n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow;
};

int64_t pool_out(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t* pad_before) {
  if (mode == "valid") {
    *pad_before = 0;
    return in >= k ? (in - k) / s + 1 : 0;
  }
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + k - in);
  *pad_before = need / 2;
  return out;
}

PoolGeometry pool_geometry(const std::string& op, std::span<const TensorType> in,
                           const ir::Attrs& attrs) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  require_nchw(attrs, op);
  const Shape& x = in[0].shape;
  if (x.rank() != 4) shape_error(op, "input must be NCHW (rank 4), got " + x.str());
  PoolGeometry g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  std::tie(g.kh, g.kw) = attr_hw(attrs, op, "kernel_size", 1);
  std::tie(g.sh, g.sw) = attr_hw(attrs, op, "strides", 1);
  const std::string mode = attr_pad_mode(attrs, op, "valid");
  if (mode == "pad")
    throw ValueError(ErrorCode::kUnsupported, op +
                                                  ": pad_mode 'pad' is not a mode of MindSpore's " +
                                                  op + " primitive (supported: VALID, SAME)");
  g.oh = pool_out(mode, g.h, g.kh, g.sh, &g.pt);
  g.ow = pool_out(mode, g.w, g.kw, g.sw, &g.pl);
  if (g.oh <= 0 || g.ow <= 0)
    shape_error(op, "window (" + std::to_string(g.kh) + ", " + std::to_string(g.kw) +
                        ") does not fit input " + x.str() + " with pad_mode '" + mode + "'");
  return g;
}

template <class T, bool kMax>
void pool_run(const PoolGeometry& g, const T* x, T* y) {
  for (int64_t p = 0; p < g.n * g.c; ++p) {
    const T* plane = x + p * g.h * g.w;
    T* out = y + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t y0 = std::max<int64_t>(0, oy * g.sh - g.pt);
      const int64_t y1 = std::min(g.h, oy * g.sh - g.pt + g.kh);
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t x0 = std::max<int64_t>(0, ox * g.sw - g.pl);
        const int64_t x1 = std::min(g.w, ox * g.sw - g.pl + g.kw);
        if constexpr (kMax) {
          T m = -std::numeric_limits<T>::infinity();
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) m = std::max(m, plane[iy * g.w + ix]);
          out[oy * g.ow + ox] = m;
        } else {
          double s = 0;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) s += plane[iy * g.w + ix];
          const int64_t count = (y1 - y0) * (x1 - x0);
          out[oy * g.ow + ox] = static_cast<T>(count > 0 ? s / static_cast<double>(count) : 0.0);
        }
      }
    }
  }
}

template <bool kMax>
OpDef pool_op(const std::string& name) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const PoolGeometry g = pool_geometry(name, in, attrs);
    return std::vector<TensorType>{{in[0].dtype, Shape{g.n, g.c, g.oh, g.ow}}};
  };
  d.make_kernel = [name](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    const PoolGeometry g = pool_geometry(name, in, attrs);
    if (in[0].dtype == DType::Float64)
      return [g](std::span<const Tensor> x, std::span<Tensor> y) {
        pool_run<double, kMax>(g, x[0].data<double>(), y[0].data<double>());
      };
    return [g](std::span<const Tensor> x, std::span<Tensor> y) {
      pool_run<float, kMax>(g, x[0].data<float>(), y[0].data<float>());
    };
  };
  d.mindir.primitive = name;
  // AvgPool is defined by MindSpore 2.x's ops_def/avg_pool_op.yaml, so its init arguments are
  // constant inputs (pad_mode and data_format as enums); MaxPool stays a Python primitive with
  // attributes.
  if (!kMax) {
    d.mindir.attr_inputs = {"kernel_size", "strides", "pad_mode", "data_format"};
    d.mindir.defaults = {{"kernel_size", std::vector<int64_t>{1, 1}},
                         {"strides", std::vector<int64_t>{1, 1}},
                         {"pad_mode", int64_t{2}},
                         {"data_format", int64_t{0}}};
  } else {
    d.mindir.defaults = {{"data_format", std::string("NCHW")}};
    d.mindir.primitive_function = false;
    d.mindir.renamed = {{"data_format", "format"}};
  }
  return d;
}

}  // namespace

CELLAR_REGISTER_OPS(pool_ops) {
  OpTable& t = table;
  t.add(pool_op<true>("MaxPool"));
  t.add(pool_op<false>("AvgPool"));
}

}  // namespace cellar::ops
