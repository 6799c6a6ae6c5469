// LeNet-5 as MindSpore's model zoo defines it (models/official/cv/lenet/src/lenet.py), with its
// parameter names, so its checkpoints load as they are: conv1.weight [6, C, 5, 5],
// conv2.weight [16, 6, 5, 5], fc1.{weight,bias} [120, 400], fc2 [84, 120], fc3 [classes, 84].
// Input NCHW (N, C, 32, 32). The zoo's version transposes an NHWC input first; this one takes
// NCHW, as the classic LeNet5 of MindSpore's tutorials does.
#pragma once

#include <memory>

#include "cellar/generator.h"
#include "cellar/nn/conv.h"
#include "cellar/nn/layers.h"
#include "cellar/nn/pooling.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::models {

struct LeNet5Options {
  int64_t num_class = 10;
  int64_t num_channel = 1;
  bool include_top = true;         // false: stops after the second pooling (N, 16, 5, 5)
  Generator* generator = nullptr;  // null: seeded from std::random_device
};

class LeNet5Impl : public nn::Cell {
 public:
  explicit LeNet5Impl(const LeNet5Options& options = {});
  Value construct(const std::vector<Value>& inputs) override;

  std::shared_ptr<nn::Conv2dImpl> conv1, conv2;
  std::shared_ptr<nn::ReLUImpl> relu;
  std::shared_ptr<nn::MaxPool2dImpl> max_pool2d;
  std::shared_ptr<nn::FlattenImpl> flatten;
  std::shared_ptr<nn::DenseImpl> fc1, fc2, fc3;

 private:
  bool include_top_;
};

std::shared_ptr<LeNet5Impl> LeNet5(const LeNet5Options& options = {});

}  // namespace cellar::models

CELLAR_API_END
