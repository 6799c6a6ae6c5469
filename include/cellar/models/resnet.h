// A ResNet-18-shaped network with MindSpore's model-zoo names
// (models/official/cv/ResNet/src/resnet.py, resnet18 = ResNet(ResidualBlockBase, [2, 2, 2, 2],
// res_base=True)): conv1, bn1, layer1…layer4 of blocks (conv1, bn1d, conv2, bn2d, relu,
// down_sample_layer = SequentialCell[conv 1×1, BatchNorm2d]), end_point (Dense). Parameter names
// therefore match the zoo's checkpoints: `layer2.0.down_sample_layer.1.moving_mean`, ….
// The stem is the zoo's res_base one: conv 7×7/2, BN, ReLU, nn.Pad by 1 on H and W, max-pool
// 3×3/2 "valid". `width` scales the channel counts (64, 128, 256, 512 at the zoo's 64), so
// width 8 is the network of tests/fixtures/mindspore/2.10/mindir/resnet18w8.*.
#pragma once

#include <memory>

#include "cellar/generator.h"
#include "cellar/nn/conv.h"
#include "cellar/nn/layers.h"
#include "cellar/nn/normalization.h"
#include "cellar/nn/pooling.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::models {

// ResidualBlockBase: conv3×3(stride)–BN–ReLU–conv3×3–BN, plus the input (through a 1×1 conv and
// BN when the stride or the channel count changes), then ReLU.
class ResidualBlockBaseImpl : public nn::Cell {
 public:
  ResidualBlockBaseImpl(int64_t in_channel, int64_t out_channel, int64_t stride, Generator& gen);
  Value construct(const std::vector<Value>& inputs) override;

  std::shared_ptr<nn::Conv2dImpl> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2dImpl> bn1d, bn2d;
  std::shared_ptr<nn::ReLUImpl> relu;
  std::shared_ptr<nn::SequentialCellImpl> down_sample_layer;  // null without down-sampling
};

struct ResNetOptions {
  int64_t num_classes = 10;
  int64_t width = 64;  // channels of layer1 (the stem's output); later layers 2×, 4×, 8×
  Generator* generator = nullptr;  // null: seeded from std::random_device
};

class ResNetImpl : public nn::Cell {
 public:
  explicit ResNetImpl(const ResNetOptions& options = {});
  // x: (N, 3, H, W) float32 → (N, num_classes).
  Value construct(const std::vector<Value>& inputs) override;

  std::shared_ptr<nn::Conv2dImpl> conv1;
  std::shared_ptr<nn::BatchNorm2dImpl> bn1;
  std::shared_ptr<nn::PadImpl> pad;
  std::shared_ptr<nn::MaxPool2dImpl> maxpool;
  std::shared_ptr<nn::SequentialCellImpl> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::FlattenImpl> flatten;
  std::shared_ptr<nn::DenseImpl> end_point;
};

std::shared_ptr<ResNetImpl> resnet18(const ResNetOptions& options = {});

}  // namespace cellar::models

CELLAR_API_END
