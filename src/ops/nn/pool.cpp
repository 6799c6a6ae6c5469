#include "ops/nn/pool.h"

#include <algorithm>
#include <limits>

#include "ops/nn/window.h"

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
Kernel pool_kernel(const std::string& name, std::span<const TensorType> in,
                   const ir::Attrs& attrs) {
  const PoolGeometry g = pool_geometry(name, in, attrs);
  if (in[0].dtype == DType::Float64)
    return [g](std::span<const Tensor> x, std::span<Tensor> y) {
      pool_run<double, kMax>(g, x[0].data<double>(), y[0].data<double>());
    };
  return [g](std::span<const Tensor> x, std::span<Tensor> y) {
    pool_run<float, kMax>(g, x[0].data<float>(), y[0].data<float>());
  };
}

// Concat of fill constants around `x` along `axis`: explicit pooling pads (−∞ for a max).
int pad_with(OnnxImporter& m, int x, size_t axis, int64_t before, int64_t after, double fill) {
  std::vector<int> parts;
  const DType dt = m.info(x).dtype;
  auto block = [&](int64_t n) {
    std::vector<int64_t> dims = m.info(x).shape.dims();
    dims[axis] = n;
    const Shape s(dims);
    const auto numel = s.checked_numel();
    if (!numel || *numel > kOnnxMaxConstElements)
      m.unsupported("padding block " + s.str() + " is too large");
    m.charge_generated(static_cast<uint64_t>(*numel) * 8);  // the float64 block, then its cast
    Tensor t = Tensor(DType::Float64, s);
    std::fill_n(t.data<double>(), *numel, fill);
    return m.constant(t.to(dt));
  };
  if (before > 0) parts.push_back(block(before));
  parts.push_back(x);
  if (after > 0) parts.push_back(block(after));
  if (parts.size() == 1) return x;
  return m.emit1("Concat", parts, {{"axis", static_cast<int64_t>(axis)}});
}

void import_pool(OnnxImporter& m, bool is_max) {
  m.require_inputs(1, 1);
  const int x0 = m.input(0);
  const Shape xs = m.info(x0).shape;
  if (xs.rank() != 4) m.unsupported("only 2-D pooling (NCHW input) is supported");
  const auto k = m.attr_ints("kernel_shape");
  if (!k) m.fail("kernel_shape is required");
  if (k->size() != 2) m.fail("kernel_shape must have 2 values");
  auto sp = onnx_window(m, xs, (*k)[0], (*k)[1]);
  for (const auto& s : sp)
    if (s.d != 1) m.unsupported("dilated pooling is not supported");
  const bool include_pad = !is_max && m.attr_int("count_include_pad", 0) != 0;
  if (m.attr_int("ceil_mode", 0) != 0) {
    for (const auto& s : sp) {
      const int64_t span = s.in + s.before + s.after - s.k;
      if (span >= 0 && span % s.s != 0)
        m.unsupported("ceil_mode with a partial last window is not supported");
    }
  }
  const bool no_pad = std::all_of(
      sp.begin(), sp.end(), [](const OnnxWindow& s) { return s.before == 0 && s.after == 0; });
  bool as_same = !include_pad;
  for (const auto& s : sp) {
    const auto [b, a] = same_pads(s.in, s.k, s.s, 1);
    as_same = as_same && s.before == b && s.after == a;
  }
  int x = x0;
  std::string mode = "VALID";
  if (!no_pad && as_same) {
    mode = "SAME";
  } else if (!no_pad) {
    if (!is_max && !include_pad)
      m.unsupported(
          "AveragePool with count_include_pad=0 and padding other than SAME is not "
          "supported");
    // Pad explicitly: −∞ never wins a max; zeros count in an average that includes padding.
    const double fill = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    x = pad_with(m, x, 2, sp[0].before, sp[0].after, fill);
    x = pad_with(m, x, 3, sp[1].before, sp[1].after, fill);
  }
  const int y = m.emit1(is_max ? "MaxPool" : "AvgPool", {x},
                        {{"kernel_size", std::vector<int64_t>{1, 1, sp[0].k, sp[1].k}},
                         {"strides", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s}},
                         {"pad_mode", mode},
                         {"data_format", std::string("NCHW")}});
  m.set_output(0, y);
}

}  // namespace

OpDef pool_row(const std::string& name, bool is_max) {
  OpDef d;
  d.name = name;
  d.infer = [name](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const PoolGeometry g = pool_geometry(name, in, attrs);
    return std::vector<TensorType>{{in[0].dtype, Shape{g.n, g.c, g.oh, g.ow}}};
  };
  d.make_kernel = [name, is_max](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    return is_max ? pool_kernel<true>(name, in, attrs) : pool_kernel<false>(name, in, attrs);
  };
  return d;
}

OnnxExportFn onnx_pool_export(bool is_max) {
  return [is_max](OnnxBuilder& b, const ir::Node& n) {
    const Shape& x = b.shape(n.inputs.at(0));
    if (x.rank() != 4) b.fail(n, "input must be NCHW");
    const auto [kh, kw, sh, sw, mode] = onnx_checked(b, n, [&] {
      require_nchw(n.attrs, n.op);
      const auto [k_h, k_w] = attr_hw(n.attrs, n.op, "kernel_size", 1);
      const auto [s_h, s_w] = attr_hw(n.attrs, n.op, "strides", 1);
      return std::tuple{k_h, k_w, s_h, s_w, attr_pad_mode(n.attrs, n.op, "valid")};
    });
    if (mode == "pad") b.fail(n, "pad_mode 'pad' is not a mode of " + n.op);
    std::vector<int64_t> pads(4, 0);
    if (mode == "same") {
      std::tie(pads[0], pads[2]) = same_pads(x[2], kh, sh, 1);
      std::tie(pads[1], pads[3]) = same_pads(x[3], kw, sw, 1);
    }
    OnnxAttrs attrs = {{"kernel_shape", std::vector<int64_t>{kh, kw}},
                       {"strides", std::vector<int64_t>{sh, sw}},
                       {"pads", pads}};
    // MindSpore's AvgPool averages the pixels inside the input only.
    if (!is_max) attrs.push_back({"count_include_pad", int64_t{0}});
    b.add(is_max ? "MaxPool" : "AveragePool", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))},
          attrs);
  };
}

OnnxImportFn onnx_pool_import(bool is_max) {
  return [is_max](OnnxImporter& m) { import_pool(m, is_max); };
}

}  // namespace cellar::ops
