// BatchNorm2d, as MindSpore's nn.BatchNorm2d. Parameters, in MindSpore's order and names:
// `moving_mean` (zeros), `moving_variance` (ones), both requires_grad = false, then `gamma`
// (ones) and `beta` (zeros), each [num_features].
//
// Eval mode (the default of a new Cell) normalises with the moving statistics through
// MindSpore's BatchNorm primitive (is_training = false), which is what export records.
// Training mode normalises with the batch's statistics and updates the moving ones
// (moving = momentum·moving + (1 − momentum)·batch, variance unbiased), eagerly only: tracing a
// BatchNorm2d in training mode is an ExportError (call set_train(false) before export).
#pragma once

#include <cstdint>
#include <memory>

#include "cellar/nn/cell.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

struct BatchNorm2dOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.9;  // MindSpore's convention: the weight of the old moving value
  bool affine = true;     // false: gamma and beta are not trainable
  DType dtype = DType::Float32;
};

class BatchNorm2dImpl : public Cell {
 public:
  explicit BatchNorm2dImpl(const BatchNorm2dOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const BatchNorm2dOptions& options() const { return options_; }
  Parameter moving_mean;
  Parameter moving_variance;
  Parameter gamma;
  Parameter beta;

 private:
  Tensor train_forward(const Tensor& x);
  BatchNorm2dOptions options_;
};

std::shared_ptr<BatchNorm2dImpl> BatchNorm2d(const BatchNorm2dOptions& options);
std::shared_ptr<BatchNorm2dImpl> BatchNorm2d(int64_t num_features);

}  // namespace cellar::nn

CELLAR_API_END
