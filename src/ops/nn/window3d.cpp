#include "ops/nn/window3d.h"

#include <algorithm>

#include "ops/nn/window.h"

namespace cellar::ops {

namespace {

[[noreturn]] void bad(const std::string& op, const std::string& key, const std::string& why) {
  throw ValueError(ErrorCode::kInvalidArgument, op + ": attribute '" + key + "' " + why);
}

std::string list(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

}  // namespace

std::array<int64_t, 3> attr_dhw(const ir::Attrs& a, const std::string& op, const std::string& key,
                                int64_t dflt) {
  const auto l = attr_ints(a, op, key, {dflt});
  std::array<int64_t, 3> v{};
  if (l.size() == 1)
    v = {l[0], l[0], l[0]};
  else if (l.size() == 3)
    v = {l[0], l[1], l[2]};
  else if (l.size() == 5)
    v = {l[2], l[3], l[4]};
  else
    bad(op, key, "must have 1, 3 or 5 values (a 3-D window), got " + list(l));
  for (int64_t x : v)
    if (x < 1 || x > kMaxWindowAttr)
      bad(op, key, "must be positive (and below 2^31), got " + list(l));
  return v;
}

std::array<int64_t, 6> attr_pad6(const ir::Attrs& a, const std::string& op,
                                 const std::string& key) {
  const auto l = attr_ints(a, op, key, {0});
  std::array<int64_t, 6> v{};
  if (l.size() == 1)
    v.fill(l[0]);
  else if (l.size() == 6)
    std::copy(l.begin(), l.end(), v.begin());
  else
    bad(op, key, "must have 1 or 6 values (head, tail, top, bottom, left, right), got " + list(l));
  for (int64_t x : v)
    if (x < 0 || x >= kMaxWindowAttr)
      bad(op, key, "must be non-negative (and below 2^31), got " + list(l));
  return v;
}

void require_ncdhw(const ir::Attrs& a, const std::string& op) {
  auto it = a.find("data_format");
  if (it == a.end()) it = a.find("format");
  if (it == a.end()) return;
  if (auto* s = std::get_if<std::string>(&it->second); s && *s == "NCDHW") return;
  throw ValueError(ErrorCode::kUnsupported, op + ": only data_format NCDHW is supported");
}

void resolve_window3(const std::string& op, Window3& w, const std::string& mode,
                     const std::array<int64_t, 6>& pads, bool ceil_mode, const Shape& x) {
  static const char* const kAxis[] = {"depth", "height", "width"};
  for (size_t i = 0; i < 3; ++i) {
    Axis3& a = w[i];
    const int64_t span = a.d * (a.k - 1) + 1;  // k, d < 2^31: no overflow
    if (mode == "same") {
      a.out = a.in / a.s + (a.in % a.s != 0 ? 1 : 0);
      const int64_t need = std::max<int64_t>(0, (a.out - 1) * a.s + span - a.in);
      a.before = need / 2;
      a.after = need - a.before;
    } else {
      a.before = mode == "pad" ? pads[2 * i] : 0;
      a.after = mode == "pad" ? pads[2 * i + 1] : 0;
      const int64_t padded = a.in + a.before + a.after;  // in < 2^62 (a shape), pads < 2^31
      if (padded < span) {
        a.out = 0;
      } else {
        const int64_t r = padded - span;
        a.out = (ceil_mode ? r / a.s + (r % a.s != 0 ? 1 : 0) : r / a.s) + 1;
        // ceil_mode: no window may start in the end padding.
        if (ceil_mode && (a.out - 1) * a.s >= a.in + a.before) --a.out;
      }
    }
    if (a.out <= 0)
      shape_error(op, std::string("the window (kernel ") + std::to_string(a.k) + ", dilation " +
                          std::to_string(a.d) + ") does not fit the input's " + kAxis[i] + " " +
                          std::to_string(a.in) + " (input " + x.str() + ", pad_mode '" + mode +
                          "')");
  }
}

Window3 onnx_window3(OnnxImporter& m, const Shape& x, const std::vector<int64_t>& kernel) {
  if (kernel.size() != 3 || x.rank() != 5)
    m.fail("a " + std::to_string(kernel.size()) + "-D window does not fit input " + x.str());
  auto ints = [&](const char* name, int64_t dflt, size_t n) {
    auto v = m.attr_ints(name).value_or(std::vector<int64_t>(n, dflt));
    if (v.size() != n)
      m.fail(std::string(name) + " must have " + std::to_string(n) + " values, has " +
             std::to_string(v.size()));
    return v;
  };
  const auto strides = ints("strides", 1, 3), dil = ints("dilations", 1, 3);
  Window3 w{};
  for (size_t i = 0; i < 3; ++i) {
    w[i] = {.in = x[2 + i], .k = kernel[i], .s = strides[i], .d = dil[i]};
    if (kernel[i] < 1 || strides[i] < 1 || dil[i] < 1)
      m.fail("kernel, strides and dilations must be positive");
    if (kernel[i] > kMaxWindowAttr || strides[i] > kMaxWindowAttr || dil[i] > kMaxWindowAttr)
      m.unsupported("kernel, strides and dilations must be below 2^31");
  }
  const std::string auto_pad = m.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const auto pads = ints("pads", 0, 6);
    for (int64_t p : pads)
      if (p < 0 || p >= kMaxWindowAttr) m.fail("pads must be non-negative (and below 2^31)");
    for (size_t i = 0; i < 3; ++i) {
      w[i].before = pads[i];
      w[i].after = pads[3 + i];
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (m.has_attr("pads")) m.fail("pads must not be given with auto_pad " + auto_pad);
    for (auto& a : w) {
      std::tie(a.before, a.after) = same_pads(a.in, a.k, a.s, a.d);
      if (auto_pad == "SAME_LOWER") std::swap(a.before, a.after);
    }
  } else if (auto_pad != "VALID") {
    m.fail("auto_pad '" + auto_pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  }
  return w;
}

std::vector<int64_t> onnx_pads3(const Window3& w) {
  return {w[0].before, w[1].before, w[2].before, w[0].after, w[1].after, w[2].after};
}

}  // namespace cellar::ops
