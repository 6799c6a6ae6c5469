#include "ops/attr.h"

#include <algorithm>
#include <cctype>

#include "ops/registry.h"

namespace cellar::ops {

namespace {
[[noreturn]] void bad(const std::string& op, const std::string& key, const std::string& why) {
  throw ValueError(ErrorCode::kInvalidArgument, op + ": attribute '" + key + "' " + why);
}
const ir::Attr* find(const ir::Attrs& a, const std::string& key) {
  auto it = a.find(key);
  return it == a.end() ? nullptr : &it->second;
}
std::vector<int64_t> ints_of_tensor(const Tensor& t, const std::string& op,
                                    const std::string& key) {
  if (t.rank() > 1 || !(t.dtype() == DType::Int32 || t.dtype() == DType::Int64))
    bad(op, key,
        "must be an integer tensor of rank 0 or 1, got " + std::string(mindspore_name(t.dtype())) +
            t.shape().str());
  std::vector<int64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i)
    out.push_back(t.dtype() == DType::Int32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
  return out;
}
}  // namespace

bool has_attr(const ir::Attrs& a, const std::string& key) { return find(a, key) != nullptr; }

std::vector<int64_t> attr_ints(const ir::Attrs& a, const std::string& op, const std::string& key) {
  const ir::Attr* v = find(a, key);
  if (v == nullptr) bad(op, key, "is missing");
  if (auto* i = std::get_if<int64_t>(v)) return {*i};
  if (auto* l = std::get_if<std::vector<int64_t>>(v)) return *l;
  if (auto* t = std::get_if<Tensor>(v)) return ints_of_tensor(*t, op, key);
  if (auto* d = std::get_if<std::vector<double>>(v))
    if (d->empty()) return {};  // an empty tuple may come back typed as floats
  bad(op, key, "must be an integer or a list of integers");
}

std::vector<int64_t> attr_ints(const ir::Attrs& a, const std::string& op, const std::string& key,
                               std::vector<int64_t> dflt) {
  return find(a, key) ? attr_ints(a, op, key) : dflt;
}

int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key) {
  const auto l = attr_ints(a, op, key);
  if (l.size() != 1) bad(op, key, "must be a single integer");
  return l[0];
}

int64_t attr_int(const ir::Attrs& a, const std::string& op, const std::string& key, int64_t dflt) {
  return find(a, key) ? attr_int(a, op, key) : dflt;
}

bool attr_bool(const ir::Attrs& a, const std::string& op, const std::string& key, bool dflt) {
  const ir::Attr* v = find(a, key);
  if (v == nullptr) return dflt;
  if (auto* b = std::get_if<bool>(v)) return *b;
  if (auto* i = std::get_if<int64_t>(v)) return *i != 0;
  bad(op, key, "must be a bool");
}

double attr_double(const ir::Attrs& a, const std::string& op, const std::string& key, double dflt) {
  const ir::Attr* v = find(a, key);
  if (v == nullptr) return dflt;
  if (auto* d = std::get_if<double>(v)) return *d;
  if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  if (auto* t = std::get_if<Tensor>(v))
    if (t->numel() == 1 && is_floating(t->dtype())) return t->item();
  bad(op, key, "must be a number");
}

std::pair<int64_t, int64_t> attr_hw(const ir::Attrs& a, const std::string& op,
                                    const std::string& key, int64_t dflt) {
  const auto l = attr_ints(a, op, key, {dflt});
  std::pair<int64_t, int64_t> hw;
  if (l.size() == 1)
    hw = {l[0], l[0]};
  else if (l.size() == 2)
    hw = {l[0], l[1]};
  else if (l.size() == 4)
    hw = {l[2], l[3]};
  else
    bad(op, key, "must have 1, 2 or 4 values, got " + std::to_string(l.size()));
  // The upper bound is window.h's kMaxWindowAttr: the window arithmetic of Conv2D and the pools
  // over these values (d·(k − 1) + 1, (out − 1)·s) must not overflow int64.
  constexpr int64_t kMax = int64_t{1} << 31;
  if (hw.first < 1 || hw.second < 1 || hw.first > kMax || hw.second > kMax)
    bad(op, key,
        "must be positive (and at most 2^31), got (" + std::to_string(hw.first) + ", " +
            std::to_string(hw.second) + ")");
  return hw;
}

std::string attr_pad_mode(const ir::Attrs& a, const std::string& op, const std::string& dflt) {
  const ir::Attr* v = find(a, "pad_mode");
  if (v == nullptr) return dflt;
  if (auto* i = std::get_if<int64_t>(v)) {
    if (*i == 0) return "pad";
    if (*i == 1) return "same";
    if (*i == 2) return "valid";
    bad(op, "pad_mode", "enum value " + std::to_string(*i) + " is not PAD(0), SAME(1) or VALID(2)");
  }
  if (auto* s = std::get_if<std::string>(v)) {
    std::string m = *s;
    std::transform(m.begin(), m.end(), m.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (m == "same" || m == "valid" || m == "pad") return m;
    bad(op, "pad_mode", "'" + *s + "' is not one of same, valid, pad");
  }
  bad(op, "pad_mode", "must be a string or a PadMode enum value");
}

void require_nchw(const ir::Attrs& a, const std::string& op) {
  const ir::Attr* v = find(a, "data_format");
  if (v == nullptr) v = find(a, "format");
  if (v == nullptr) return;
  if (auto* s = std::get_if<std::string>(v); s && *s == "NCHW") return;
  if (auto* i = std::get_if<int64_t>(v); i && *i == 0) return;
  throw ValueError(ErrorCode::kUnsupported, op + ": only data_format NCHW is supported");
}

int64_t normalize_axis(const std::string& op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    shape_error(
        op, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

}  // namespace cellar::ops
