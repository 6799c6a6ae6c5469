#include "cellar/models/lenet.h"

#include <random>

#include "nn/cell_input.h"

namespace cellar::models {

namespace {
// Normal(σ) as MindSpore's initializer.Normal(sigma): mean 0, drawn in float64.
Tensor normal(const Shape& s, double sigma, Generator& gen, DType dtype) {
  Tensor t(DType::Float64, s);
  std::normal_distribution<double> normal(0.0, sigma);
  double* p = t.data<double>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = normal(gen.engine());
  return t.to(dtype);
}
}  // namespace

LeNet5Impl::LeNet5Impl(const LeNet5Options& o) : Cell("LeNet5"), include_top_(o.include_top) {
  Generator fallback;
  Generator& gen = o.generator ? *o.generator : fallback;
  // Children in the zoo's order: conv1, conv2, relu, max_pool2d, flatten, fc1, fc2, fc3.
  conv1 = register_cell("conv1", nn::Conv2d({.in_channels = o.num_channel,
                                             .out_channels = 6,
                                             .kernel_size = {5, 5},
                                             .pad_mode = "valid",
                                             .generator = &gen}));
  conv2 = register_cell("conv2", nn::Conv2d({.in_channels = 6,
                                             .out_channels = 16,
                                             .kernel_size = {5, 5},
                                             .pad_mode = "valid",
                                             .generator = &gen}));
  relu = register_cell("relu", nn::ReLU());
  max_pool2d = register_cell("max_pool2d", nn::MaxPool2d(2, 2));
  if (include_top_) {
    flatten = register_cell("flatten", nn::Flatten());
    // Dense(…, weight_init=Normal(0.02)); the bias keeps Dense's default initialiser.
    auto dense = [&](int64_t in, int64_t out) {
      auto d = nn::Dense({.in = in, .out = out, .generator = &gen});
      d->weight.set_data(normal(Shape{out, in}, 0.02, gen, DType::Float32));
      return d;
    };
    fc1 = register_cell("fc1", dense(16 * 5 * 5, 120));
    fc2 = register_cell("fc2", dense(120, 84));
    fc3 = register_cell("fc3", dense(84, o.num_class));
  }
}

Value LeNet5Impl::construct(const std::vector<Value>& inputs) {
  Tensor x = nn::detail::single_tensor(inputs, cls_name());
  x = (*max_pool2d)((*relu)((*conv1)(x)));
  x = (*max_pool2d)((*relu)((*conv2)(x)));
  if (!include_top_) return x;
  x = (*flatten)(x);
  x = (*relu)((*fc1)(x));
  x = (*relu)((*fc2)(x));
  return (*fc3)(x);
}

std::shared_ptr<LeNet5Impl> LeNet5(const LeNet5Options& options) {
  return std::make_shared<LeNet5Impl>(options);
}

}  // namespace cellar::models
