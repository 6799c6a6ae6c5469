#include "ops/nn/pool3d.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "ops/nn/window3d.h"

namespace cellar::ops {

namespace {

struct Pool3Geometry {
  int64_t planes = 0;  // n · c
  Window3 w{};
  bool include_pad = false;
  int64_t divisor = 0;  // divisor_override; 0: none
};

// pad_mode, with MaxPool3D's "CALCULATED" (its spelling of PAD) read as "pad".
std::string pool_mode(const ir::Attrs& attrs, const std::string& op) {
  if (auto it = attrs.find("pad_mode"); it != attrs.end())
    if (auto* s = std::get_if<std::string>(&it->second)) {
      std::string m = *s;
      for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (m == "calculated") return "pad";
    }
  return attr_pad_mode(attrs, op, "valid");
}

Pool3Geometry pool3_geometry(const std::string& op, bool is_max, std::span<const TensorType> in,
                             const ir::Attrs& attrs) {
  require_dtype_in(op, in[0].dtype, {DType::Float32, DType::Float64});
  require_ncdhw(attrs, op);
  const Shape& x = in[0].shape;
  if (x.rank() != 5) shape_error(op, "input must be NCDHW (rank 5), got " + x.str());
  Pool3Geometry g;
  g.planes = x[0] * x[1];
  const auto k = attr_dhw(attrs, op, "kernel_size", 1);
  const auto s = attr_dhw(attrs, op, "strides", 1);
  const std::string mode = pool_mode(attrs, op);
  // MindSpore writes pad_list resolved in every mode (SAME's too): only PAD reads it.
  const auto pads = attr_pad6(attrs, op, has_attr(attrs, "pad_list") ? "pad_list" : "pad");
  const bool ceil_mode = attr_bool(attrs, op, "ceil_mode", false);
  if (!is_max) {
    g.include_pad = attr_bool(attrs, op, "count_include_pad", true);
    g.divisor = attr_int(attrs, op, "divisor_override", 0);
    if (g.divisor < 0)
      shape_error(op, "divisor_override must be non-negative, got " + std::to_string(g.divisor));
  }
  for (size_t i = 0; i < 3; ++i) {
    g.w[i] = {.in = x[2 + i], .k = k[i], .s = s[i], .d = 1};
    // A window that starts in the padding must reach the input (PyTorch's and ONNX Runtime's
    // bound): padding of at least the kernel would make windows of padding only.
    if (mode == "pad" && (pads[2 * i] >= k[i] || pads[2 * i + 1] >= k[i]))
      shape_error(op, "pads must be smaller than the kernel (" + std::to_string(k[i]) +
                          ") along each axis");
  }
  resolve_window3(op, g.w, mode, pads, ceil_mode && mode == "pad", x);
  return g;
}

template <class T, bool kMax>
void pool3_run(const Pool3Geometry& g, const T* x, T* y, int64_t p0, int64_t p1) {
  const Axis3 &ad = g.w[0], &ah = g.w[1], &aw = g.w[2];
  // The window along one axis from output index o: [lo, hi) inside the input, and its extent
  // inside the padded input (count_include_pad's divisor).
  auto span = [](const Axis3& a, int64_t o, int64_t* lo, int64_t* hi) {
    const int64_t start = o * a.s - a.before;
    *lo = std::max<int64_t>(0, start);
    *hi = std::min(a.in, start + a.k);
    return std::min(start + a.k, a.in + a.after) - std::max(start, -a.before);
  };
  for (int64_t p = p0; p < p1; ++p) {
    const T* plane = x + p * ad.in * ah.in * aw.in;
    T* out = y + p * ad.out * ah.out * aw.out;
    for (int64_t oz = 0; oz < ad.out; ++oz) {
      int64_t z0, z1;
      const int64_t ez = span(ad, oz, &z0, &z1);
      for (int64_t oy = 0; oy < ah.out; ++oy) {
        int64_t y0, y1;
        const int64_t ey = span(ah, oy, &y0, &y1);
        for (int64_t ox = 0; ox < aw.out; ++ox) {
          int64_t x0, x1;
          const int64_t ex = span(aw, ox, &x0, &x1);
          if constexpr (kMax) {
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t iz = z0; iz < z1; ++iz)
              for (int64_t iy = y0; iy < y1; ++iy)
                for (int64_t ix = x0; ix < x1; ++ix)
                  m = std::max(m, plane[(iz * ah.in + iy) * aw.in + ix]);
            *out++ = m;
          } else {
            double sum = 0;
            for (int64_t iz = z0; iz < z1; ++iz)
              for (int64_t iy = y0; iy < y1; ++iy)
                for (int64_t ix = x0; ix < x1; ++ix) sum += plane[(iz * ah.in + iy) * aw.in + ix];
            const int64_t inside = std::max<int64_t>(0, z1 - z0) * std::max<int64_t>(0, y1 - y0) *
                                   std::max<int64_t>(0, x1 - x0);
            const int64_t count = g.divisor > 0 ? g.divisor : g.include_pad ? ez * ey * ex : inside;
            *out++ = static_cast<T>(count > 0 ? sum / static_cast<double>(count) : 0.0);
          }
        }
      }
    }
  }
}

template <bool kMax>
Kernel pool3_kernel(const std::string& name, std::span<const TensorType> in,
                    const ir::Attrs& attrs) {
  const Pool3Geometry g = pool3_geometry(name, kMax, in, attrs);
  auto kernel = [g]<class T>(T) -> Kernel {
    return [g](std::span<const Tensor> x, std::span<Tensor> y, Parallel& par) {
      const int64_t per_plane =
          g.w[0].out * g.w[1].out * g.w[2].out * g.w[0].k * g.w[1].k * g.w[2].k;
      par.for_range(g.planes, rows_grain(per_plane), [&](int64_t p0, int64_t p1, int) {
        pool3_run<T, kMax>(g, x[0].data<T>(), y[0].data<T>(), p0, p1);
      });
    };
  };
  if (in[0].dtype == DType::Float64) return kernel(0.0);
  return kernel(0.0f);
}

}  // namespace

OpDef pool3d_row(const std::string& name, bool is_max) {
  OpDef d;
  d.name = name;
  d.work = work_plane_window;
  d.infer = [name, is_max](std::span<const TensorType> in, const ir::Attrs& attrs) {
    const Pool3Geometry g = pool3_geometry(name, is_max, in, attrs);
    const Shape& x = in[0].shape;
    Shape out{x[0], x[1], g.w[0].out, g.w[1].out, g.w[2].out};
    if (!out.checked_numel()) shape_error(name, "output " + out.str() + " is too large");
    return std::vector<TensorType>{{in[0].dtype, std::move(out)}};
  };
  d.make_kernel = [name, is_max](std::span<const TensorType> in, const ir::Attrs& attrs) -> Kernel {
    return is_max ? pool3_kernel<true>(name, in, attrs) : pool3_kernel<false>(name, in, attrs);
  };
  return d;
}

OnnxExportFn onnx_pool3d_export(bool is_max) {
  return [is_max](OnnxBuilder& b, const ir::Node& n) {
    const auto [g, ceil_mode] = onnx_checked(b, n, [&] {
      const TensorType t{b.info(n.inputs.at(0)).dtype, b.shape(n.inputs.at(0))};
      return std::pair{pool3_geometry(n.op, is_max, std::span(&t, 1), n.attrs),
                       attr_bool(n.attrs, n.op, "ceil_mode", false)};
    });
    if (g.divisor > 0) b.fail(n, "divisor_override has no ONNX spelling");
    std::vector<int64_t> k, s;
    for (const Axis3& a : g.w) k.push_back(a.k), s.push_back(a.s);
    OnnxAttrs attrs = {{"kernel_shape", k}, {"strides", s}, {"pads", onnx_pads3(g.w)}};
    // ceil_mode only where the row applies it (PAD: resolve_window3 made the output with it).
    const bool pad_mode = onnx_checked(b, n, [&] { return pool_mode(n.attrs, n.op) == "pad"; });
    if (ceil_mode && pad_mode) attrs.push_back({"ceil_mode", int64_t{1}});
    if (!is_max) attrs.push_back({"count_include_pad", int64_t{g.include_pad ? 1 : 0}});
    b.add(is_max ? "MaxPool" : "AveragePool", {b.name(n.inputs[0])}, {b.name(n.outputs.at(0))},
          attrs);
  };
}

void import_pool3d(OnnxImporter& m, bool is_max) {
  m.require_inputs(1, 1);
  const int x = m.input(0);
  const Shape xs = m.info(x).shape;
  const auto k = m.attr_ints("kernel_shape");
  if (!k) m.fail("kernel_shape is required");
  if (k->size() != 3) m.fail("kernel_shape must have 3 values for a rank-5 input");
  const Window3 sp = onnx_window3(m, xs, *k);
  for (const Axis3& a : sp)
    if (a.d != 1)
      m.unsupported("a dilated 3-D pooling window (MindSpore's 3-D pooling has no dilation)");
  const bool ceil_mode = m.attr_int("ceil_mode", 0) != 0;
  std::vector<int64_t> pad = {sp[0].before, sp[0].after,  sp[1].before,
                              sp[1].after,  sp[2].before, sp[2].after};
  ir::Attrs attrs = {{"kernel_size", std::vector<int64_t>{1, 1, sp[0].k, sp[1].k, sp[2].k}},
                     {"strides", std::vector<int64_t>{1, 1, sp[0].s, sp[1].s, sp[2].s}},
                     {"pad_mode", std::string("PAD")},
                     {"pad_list", pad},
                     {"ceil_mode", int64_t{ceil_mode ? 1 : 0}},
                     {"data_format", std::string("NCDHW")}};
  // As MindSpore writes them: MaxPool3D's ceil_mode an int, AvgPool3D's flags bools (its loader
  // refuses an int there).
  if (is_max) {
    attrs["pad_mode"] = std::string("CALCULATED");
  } else {
    attrs["pad"] = pad;
    attrs["ceil_mode"] = ceil_mode;
    attrs["count_include_pad"] = m.attr_int("count_include_pad", 0) != 0;
    attrs["divisor_override"] = int64_t{0};
  }
  m.set_output(0, m.emit1(is_max ? "MaxPool3D" : "AvgPool3D", {x}, std::move(attrs)));
}

}  // namespace cellar::ops
