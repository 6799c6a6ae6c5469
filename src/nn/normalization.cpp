#include "cellar/nn/normalization.h"

#include <cmath>

#include "cellar/nn_functional.h"
#include "ir/trace.h"
#include "nn/cell_input.h"

namespace cellar::nn {

BatchNorm2dImpl::BatchNorm2dImpl(const BatchNorm2dOptions& o) : Cell("BatchNorm2d"), options_(o) {
  if (o.num_features <= 0)
    throw ValueError(
        ErrorCode::kInvalidArgument,
        "BatchNorm2d: num_features must be positive, got " + std::to_string(o.num_features));
  if (!(o.momentum >= 0 && o.momentum <= 1))
    throw ValueError(ErrorCode::kInvalidArgument, "BatchNorm2d: momentum must be in [0, 1]");
  if (!is_floating(o.dtype))
    throw ValueError(ErrorCode::kInvalidArgument, "BatchNorm2d: the dtype must be floating");
  const Shape s{o.num_features};
  moving_mean = register_parameter("moving_mean", zeros(s, o.dtype), false);
  moving_variance = register_parameter("moving_variance", ones(s, o.dtype), false);
  gamma = register_parameter("gamma", ones(s, o.dtype), o.affine);
  beta = register_parameter("beta", zeros(s, o.dtype), o.affine);
}

Value BatchNorm2dImpl::construct(const std::vector<Value>& inputs) {
  const Tensor& x = detail::single_tensor(inputs, cls_name());
  if (x.rank() != 4)
    throw ValueError(ErrorCode::kShapeMismatch,
                     "BatchNorm2d expects NCHW input, got " + x.shape().str());
  if (training()) return train_forward(x);
  return ops::batch_norm(x, gamma.value(), beta.value(), moving_mean.value(),
                         moving_variance.value(), options_.eps, 1.0 - options_.momentum);
}

Tensor BatchNorm2dImpl::train_forward(const Tensor& x) {
  if (ir::Tracer::current() != nullptr || x.is_symbolic())
    throw ExportError(
        "BatchNorm2d in training mode computes batch statistics and updates its "
        "moving statistics, which an exported graph cannot; call set_train(false) "
        "before export");
  const Shape& s = x.shape();
  const int64_t n = s[0], c = s[1], inner = s[2] * s[3], count = n * inner;
  if (c != options_.num_features)
    throw ValueError(
        ErrorCode::kShapeMismatch,
        "BatchNorm2d(" + std::to_string(options_.num_features) + ") got input " + s.str());
  if (count == 0)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "BatchNorm2d: batch statistics of an empty batch");
  const Tensor xd = x.to(DType::Float64);
  const double* p = xd.data<double>();
  Tensor mean(DType::Float64, Shape{c}), var(DType::Float64, Shape{c});
  Tensor new_mean = moving_mean.data().to(DType::Float64);
  Tensor new_var = moving_variance.data().to(DType::Float64);
  const double m = options_.momentum;
  for (int64_t j = 0; j < c; ++j) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) sum += p[(i * c + j) * inner + k];
    const double mu = sum / static_cast<double>(count);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) {
        const double d = p[(i * c + j) * inner + k] - mu;
        sq += d * d;
      }
    mean.data<double>()[j] = mu;
    var.data<double>()[j] = sq / static_cast<double>(count);
    const double unbiased = count > 1 ? sq / static_cast<double>(count - 1) : 0.0;
    new_mean.data<double>()[j] = m * new_mean.data<double>()[j] + (1 - m) * mu;
    new_var.data<double>()[j] = m * new_var.data<double>()[j] + (1 - m) * unbiased;
  }
  const DType t = x.dtype();
  Tensor y = ops::batch_norm(x, gamma.data(), beta.data(), mean.to(t), var.to(t), options_.eps,
                             1.0 - options_.momentum);
  moving_mean.set_data(new_mean.to(moving_mean.data().dtype()));
  moving_variance.set_data(new_var.to(moving_variance.data().dtype()));
  return y;
}

std::shared_ptr<BatchNorm2dImpl> BatchNorm2d(const BatchNorm2dOptions& options) {
  return std::make_shared<BatchNorm2dImpl>(options);
}
std::shared_ptr<BatchNorm2dImpl> BatchNorm2d(int64_t num_features) {
  return BatchNorm2d(BatchNorm2dOptions{.num_features = num_features});
}

}  // namespace cellar::nn
