// Cases of LRN (src/ops/nn/lrn.cpp): local response normalisation across channels.
#include <algorithm>
#include <cmath>
#include <string>

#include "ops/op_case.h"

namespace cellar::testing {
namespace {

// y = x / (bias + alpha · Σ over channels c − r … c + r of x²)^beta.
OpReference lrn_ref(int64_t r, double bias, double alpha, double beta) {
  return [=](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape& s = in[0].shape();
    const auto x = as_doubles(in[0]);
    std::vector<double> y(x.size());
    const int64_t hw = s[2] * s[3];
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t c = 0; c < s[1]; ++c)
        for (int64_t i = 0; i < hw; ++i) {
          double sq = 0;
          for (int64_t k = std::max<int64_t>(0, c - r); k <= std::min(s[1] - 1, c + r); ++k)
            sq += x[static_cast<size_t>((n * s[1] + k) * hw + i)] *
                  x[static_cast<size_t>((n * s[1] + k) * hw + i)];
          const auto at = static_cast<size_t>((n * s[1] + c) * hw + i);
          y[at] = x[at] / std::pow(bias + alpha * sq, beta);
        }
    return std::vector<Tensor>{from_doubles(y, s, in[0].dtype())};
  };
}

const OpCaseTable kLrn([] {
  std::vector<OpCase> cases;
  struct P {
    Shape x;
    int64_t r;
    double bias, alpha, beta;
  };
  const std::vector<P> ps = {{{1, 7, 5, 5}, 2, 1.0, 2e-5, 0.75},  // AlexNet's (size 5)
                             {{2, 4, 3, 3}, 1, 2.0, 0.5, 0.6},
                             {{1, 3, 2, 2}, 5, 1.0, 1.0, 0.5},  // MindSpore's defaults
                             {{1, 6, 1, 4}, 0, 0.5, 0.1, 1.0}};
  uint64_t seed = 950;
  for (const auto& p : ps)
    for (DType dt : {DType::Float32, DType::Float64}) {
      OpCase c{.op = "LRN",
               .label = "r" + std::to_string(p.r) + "_c" + std::to_string(p.x[1]) + "_" +
                        std::string(mindspore_name(dt)),
               .inputs = {uniform(p.x, seed++, -3, 3, dt)},
               .attrs = {{"depth_radius", p.r},
                         {"bias", p.bias},
                         {"alpha", p.alpha},
                         {"beta", p.beta},
                         {"norm_region", std::string("ACROSS_CHANNELS")}},
               .reference = lrn_ref(p.r, p.bias, p.alpha, p.beta)};
      cases.push_back(std::move(c));
    }
  cases.push_back({.op = "LRN",
                   .label = "defaults",
                   .inputs = {uniform({1, 12, 2, 3}, 960)},
                   .reference = lrn_ref(5, 1.0, 1.0, 0.5)});
  cases.push_back({.op = "LRN",
                   .label = "rank3_refused",
                   .inputs = {uniform({1, 3, 4}, 961)},
                   .error = "input must be NCHW"});
  cases.push_back({.op = "LRN",
                   .label = "negative_radius",
                   .inputs = {uniform({1, 3, 2, 2}, 962)},
                   .attrs = {{"depth_radius", int64_t{-1}}},
                   .error = "depth_radius must be in"});
  cases.push_back({.op = "LRN",
                   .label = "other_region",
                   .inputs = {uniform({1, 3, 2, 2}, 963)},
                   .attrs = {{"norm_region", std::string("WITHIN_CHANNEL")}},
                   .error = "norm_region must be"});
  cases.push_back({.op = "LRN",
                   .label = "int_refused",
                   .inputs = {uniform({1, 3, 2, 2}, 964, -3, 3, DType::Int32)},
                   .error = "Int32"});
  return cases;
});

}  // namespace
}  // namespace cellar::testing
