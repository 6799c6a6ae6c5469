#include "ops/nn/window.h"

#include <algorithm>
#include <string>

namespace cellar::ops {

std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
  return {need / 2, need - need / 2};
}

std::vector<OnnxWindow> onnx_window(OnnxImporter& m, const Shape& x,
                                    const std::vector<int64_t>& kernel) {
  const size_t n = kernel.size();
  if ((n != 1 && n != 2) || x.rank() != n + 2)
    m.fail("a " + std::to_string(n) + "-D window does not fit input " + x.str());
  const auto strides = m.attr_ints("strides").value_or(std::vector<int64_t>(n, 1));
  const auto dil = m.attr_ints("dilations").value_or(std::vector<int64_t>(n, 1));
  if (strides.size() != n || dil.size() != n)
    m.fail("strides and dilations must have " + std::to_string(n) + " values");
  std::vector<OnnxWindow> sp;
  if (n == 1) sp.push_back({1, 1, 1, 1, 0, 0});
  for (size_t i = 0; i < n; ++i) sp.push_back({x[2 + i], kernel[i], strides[i], dil[i], 0, 0});
  for (const auto& s : sp) {
    if (s.k < 1 || s.s < 1 || s.d < 1) m.fail("kernel, strides and dilations must be positive");
    if (s.k > kMaxWindowAttr || s.s > kMaxWindowAttr || s.d > kMaxWindowAttr)
      m.unsupported("kernel, strides and dilations must be at most 2^31");
  }
  const std::string auto_pad = m.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const auto pads = m.attr_ints("pads").value_or(std::vector<int64_t>(2 * n, 0));
    if (pads.size() != 2 * n)
      m.fail("pads must have " + std::to_string(2 * n) + " values, has " +
             std::to_string(pads.size()));
    for (int64_t p : pads)
      if (p < 0 || p >= kMaxWindowAttr) m.fail("pads must be non-negative (and below 2^31)");
    // ONNX lists the begins of every axis, then the ends.
    for (size_t i = 0; i < n; ++i) {
      sp[2 - n + i].before = pads[i];
      sp[2 - n + i].after = pads[n + i];
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (m.has_attr("pads")) m.fail("pads must not be given with auto_pad " + auto_pad);
    for (auto& s : sp) {
      std::tie(s.before, s.after) = same_pads(s.in, s.k, s.s, s.d);
      if (auto_pad == "SAME_LOWER") std::swap(s.before, s.after);
    }
  } else if (auto_pad != "VALID") {
    m.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  }
  return sp;
}

int unsqueeze_2d(OnnxImporter& m, int x) {
  if (m.rank(x) != 3) return x;
  return m.emit1("ExpandDims", {x}, {{"axis", int64_t{2}}});
}

int squeeze_2d(OnnxImporter& m, int y, bool one_d) {
  if (!one_d) return y;
  return m.emit1("Squeeze", {y}, {{"axis", std::vector<int64_t>{2}}});
}

}  // namespace cellar::ops
