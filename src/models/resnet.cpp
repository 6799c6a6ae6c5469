#include "cellar/models/resnet.h"

#include <cmath>
#include <random>

#include "cellar/nn_functional.h"
#include "cellar/ops.h"
#include "nn/cell_input.h"

namespace cellar::models {

namespace {

// The zoo's _conv3x3/_conv1x1/_conv7x7 with res_base=True: pad_mode "pad", weight drawn from
// kaiming_normal(mode="fan_out", nonlinearity="relu"): N(0, √2/√(out·k·k)).
std::shared_ptr<nn::Conv2dImpl> conv(int64_t in, int64_t out, int64_t k, int64_t stride,
                                     int64_t pad, Generator& gen) {
  const double stddev = std::sqrt(2.0) / std::sqrt(static_cast<double>(out * k * k));
  Tensor w(DType::Float64, Shape{out, in, k, k});
  std::normal_distribution<double> normal(0.0, stddev);
  double* p = w.data<double>();
  for (int64_t i = 0, n = w.numel(); i < n; ++i) p[i] = normal(gen.engine());
  return nn::Conv2d({.in_channels = in,
                     .out_channels = out,
                     .kernel_size = {k, k},
                     .stride = {stride, stride},
                     .pad_mode = "pad",
                     .padding = {pad, pad, pad, pad},
                     .weight_init = w,
                     .generator = &gen});
}

// The zoo's _bn(channel, res_base): eps 1e-5 and momentum 0.1 with res_base, else 1e-4 and 0.9.
std::shared_ptr<nn::BatchNorm2dImpl> bn(int64_t channel, bool res_base) {
  return nn::BatchNorm2d(
      {.num_features = channel, .eps = res_base ? 1e-5 : 1e-4, .momentum = res_base ? 0.1 : 0.9});
}

std::shared_ptr<nn::SequentialCellImpl> make_layer(int64_t blocks, int64_t in, int64_t out,
                                                   int64_t stride, Generator& gen) {
  std::vector<nn::CellPtr> layers;
  layers.push_back(std::make_shared<ResidualBlockBaseImpl>(in, out, stride, gen));
  for (int64_t i = 1; i < blocks; ++i)
    layers.push_back(std::make_shared<ResidualBlockBaseImpl>(out, out, 1, gen));
  return nn::SequentialCell(std::move(layers));
}

}  // namespace

ResidualBlockBaseImpl::ResidualBlockBaseImpl(int64_t in, int64_t out, int64_t stride,
                                             Generator& gen)
    : Cell("ResidualBlockBase") {
  conv1 = register_cell("conv1", conv(in, out, 3, stride, 1, gen));
  bn1d = register_cell("bn1d", bn(out, false));
  conv2 = register_cell("conv2", conv(out, out, 3, 1, 1, gen));
  bn2d = register_cell("bn2d", bn(out, false));
  relu = register_cell("relu", nn::ReLU());
  if (stride != 1 || in != out)
    down_sample_layer = register_cell(
        "down_sample_layer", nn::SequentialCell({conv(in, out, 1, stride, 0, gen), bn(out, true)}));
}

Value ResidualBlockBaseImpl::construct(const std::vector<Value>& inputs) {
  const Tensor& x = nn::detail::single_tensor(inputs, cls_name());
  Tensor out = (*relu)((*bn1d)((*conv1)(x)));
  out = (*bn2d)((*conv2)(out));
  const Tensor identity = down_sample_layer ? (*down_sample_layer)(x) : x;
  return (*relu)(ops::add(out, identity));
}

ResNetImpl::ResNetImpl(const ResNetOptions& o) : Cell("ResNet") {
  Generator fallback;
  Generator& gen = o.generator ? *o.generator : fallback;
  const int64_t w = o.width;
  if (w < 1) throw ValueError(ErrorCode::kInvalidArgument, "ResNet width must be >= 1");
  conv1 = register_cell("conv1", conv(3, w, 7, 2, 3, gen));
  bn1 = register_cell("bn1", bn(w, true));
  pad = register_cell("pad", nn::Pad({{0, 0}, {0, 0}, {1, 1}, {1, 1}}));
  maxpool = register_cell("maxpool", nn::MaxPool2d(3, 2, "valid"));
  layer1 = register_cell("layer1", make_layer(2, w, w, 1, gen));
  layer2 = register_cell("layer2", make_layer(2, w, 2 * w, 2, gen));
  layer3 = register_cell("layer3", make_layer(2, 2 * w, 4 * w, 2, gen));
  layer4 = register_cell("layer4", make_layer(2, 4 * w, 8 * w, 2, gen));
  flatten = register_cell("flatten", nn::Flatten());
  // The zoo's _fc: weight kaiming_uniform(a=√5) (Dense's default), bias 0.
  end_point =
      register_cell("end_point", nn::Dense({.in = 8 * w, .out = o.num_classes, .generator = &gen}));
  end_point->bias.set_data(zeros(Shape{o.num_classes}));
}

Value ResNetImpl::construct(const std::vector<Value>& inputs) {
  Tensor x = nn::detail::single_tensor(inputs, cls_name());
  x = ops::relu((*bn1)((*conv1)(x)));
  x = (*maxpool)((*pad)(x));
  x = (*layer4)((*layer3)((*layer2)((*layer1)(x))));
  x = ops::reduce_mean(x, {2, 3}, true);
  x = (*flatten)(x);
  return (*end_point)(x);
}

std::shared_ptr<ResNetImpl> resnet18(const ResNetOptions& options) {
  return std::make_shared<ResNetImpl>(options);
}

}  // namespace cellar::models
