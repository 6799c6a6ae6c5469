#include "cellar/nn/conv.h"

#include <cmath>
#include <optional>

#include "cellar/nn_functional.h"
#include "cellar/ops.h"
#include "nn/cell_input.h"

namespace cellar::nn {

namespace {
[[noreturn]] void bad(const std::string& why) {
  throw ValueError(ErrorCode::kInvalidArgument, "Conv2d: " + why);
}
}  // namespace

Conv2dImpl::Conv2dImpl(const Conv2dOptions& o) : Cell("Conv2d"), options_(o) {
  if (o.in_channels <= 0 || o.out_channels <= 0)
    bad("in_channels and out_channels must be positive, got " + std::to_string(o.in_channels) +
        " and " + std::to_string(o.out_channels));
  if (o.group <= 0 || o.in_channels % o.group != 0 || o.out_channels % o.group != 0)
    bad("in_channels " + std::to_string(o.in_channels) + " and out_channels " +
        std::to_string(o.out_channels) + " must be divisible by group " + std::to_string(o.group));
  for (int64_t v :
       {o.kernel_size[0], o.kernel_size[1], o.stride[0], o.stride[1], o.dilation[0], o.dilation[1]})
    if (v <= 0) bad("kernel_size, stride and dilation must be positive");
  if (o.pad_mode != "same" && o.pad_mode != "valid" && o.pad_mode != "pad")
    bad("pad_mode must be 'same', 'valid' or 'pad', got '" + o.pad_mode + "'");
  for (int64_t p : o.padding) {
    if (p < 0) bad("padding must be non-negative");
    if (p != 0 && o.pad_mode != "pad") bad("padding must be 0 unless pad_mode is 'pad'");
  }
  if (!is_floating(o.dtype)) bad("the dtype must be floating");
  std::optional<Generator> fallback;  // seeded from std::random_device only when needed
  Generator& gen = o.generator ? *o.generator : fallback.emplace();
  // HeUniform(a = √5): bound = √(2/(1 + a²))·√(3/fan_in) = 1/√fan_in; the bias uses the same
  // bound (MindSpore 2.x's _Conv default initialisers).
  const int64_t fan_in = o.in_channels / o.group * o.kernel_size[0] * o.kernel_size[1];
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  const Shape wshape{o.out_channels, o.in_channels / o.group, o.kernel_size[0], o.kernel_size[1]};
  if (o.weight_init.defined() && o.weight_init.shape() != wshape)
    bad("weight_init has shape " + o.weight_init.shape().str() + ", the weight is " + wshape.str());
  weight = register_parameter("weight", o.weight_init.defined()
                                            ? o.weight_init.to(o.dtype)
                                            : ops::uniform(wshape, -bound, bound, gen, o.dtype));
  if (o.has_bias)
    bias = register_parameter("bias",
                              ops::uniform(Shape{o.out_channels}, -bound, bound, gen, o.dtype));
}

Value Conv2dImpl::construct(const std::vector<Value>& inputs) {
  const Tensor& x = detail::single_tensor(inputs, cls_name());
  const auto& o = options_;
  Tensor y = ops::conv2d(x, weight.value(),
                         {.stride = o.stride,
                          .pad_mode = o.pad_mode,
                          .pad = o.padding,
                          .dilation = o.dilation,
                          .group = o.group});
  if (bias.defined()) y = ops::bias_add(y, bias.value());
  return y;
}

std::shared_ptr<Conv2dImpl> Conv2d(const Conv2dOptions& options) {
  return std::make_shared<Conv2dImpl>(options);
}
std::shared_ptr<Conv2dImpl> Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  return Conv2d(Conv2dOptions{.in_channels = in_channels,
                              .out_channels = out_channels,
                              .kernel_size = {kernel_size, kernel_size}});
}

}  // namespace cellar::nn
