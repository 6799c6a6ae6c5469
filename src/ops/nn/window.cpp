#include "ops/nn/window.h"

#include <algorithm>
#include <string>

namespace cellar::ops {

std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t out = (in + s - 1) / s;
  const int64_t need = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
  return {need / 2, need - need / 2};
}

std::vector<OnnxWindow> onnx_window(OnnxImporter& m, const Shape& x, int64_t kh, int64_t kw) {
  const auto strides = m.attr_ints("strides").value_or(std::vector<int64_t>{1, 1});
  const auto dil = m.attr_ints("dilations").value_or(std::vector<int64_t>{1, 1});
  if (strides.size() != 2 || dil.size() != 2) m.fail("strides and dilations must have 2 values");
  std::vector<OnnxWindow> sp = {{x[2], kh, strides[0], dil[0], 0, 0},
                                {x[3], kw, strides[1], dil[1], 0, 0}};
  for (const auto& s : sp)
    if (s.k < 1 || s.s < 1 || s.d < 1) m.fail("kernel, strides and dilations must be positive");
  const std::string auto_pad = m.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const auto pads = m.attr_ints("pads").value_or(std::vector<int64_t>(4, 0));
    if (pads.size() != 4) m.fail("pads must have 4 values, has " + std::to_string(pads.size()));
    for (int64_t p : pads)
      if (p < 0) m.fail("pads must be non-negative");
    sp[0].before = pads[0], sp[1].before = pads[1], sp[0].after = pads[2], sp[1].after = pads[3];
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

}  // namespace cellar::ops
