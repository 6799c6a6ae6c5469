#include <algorithm>

#include "ops/nn/lp_norm.h"

namespace cellar::ops {

std::vector<int64_t> norm_axes(const std::string& op, std::vector<int64_t> axes, int64_t rank) {
  if (axes.empty())
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  for (auto& a : axes) a = normalize_axis(op, a, std::max<int64_t>(rank, 1));
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw ValueError(ErrorCode::kInvalidArgument, op + ": attribute 'axis' repeats an axis");
  if (rank == 0) axes.clear();
  return axes;
}

NormPlan norm_plan(const Shape& x, const std::vector<int64_t>& axes) {
  const size_t r = x.rank();
  std::vector<int64_t> stride(r, 1);
  for (size_t i = r; i-- > 1;) stride[i - 1] = stride[i] * x[i];
  std::vector<bool> red(r, false);
  for (int64_t a : axes) red[static_cast<size_t>(a)] = true;
  // Offsets over a subset of axes, C order.
  auto offsets = [&](bool reduced) {
    std::vector<int64_t> out = {0};
    for (size_t i = 0; i < r; ++i) {
      if (red[i] != reduced) continue;
      std::vector<int64_t> next;
      next.reserve(out.size() * static_cast<size_t>(x[i]));
      for (int64_t o : out)
        for (int64_t k = 0; k < x[i]; ++k) next.push_back(o + k * stride[i]);
      out = std::move(next);
    }
    return out;
  };
  return {offsets(false), offsets(true)};
}

}  // namespace cellar::ops
