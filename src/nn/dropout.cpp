#include "cellar/nn/dropout.h"

#include "cellar/ops.h"
#include "nn/cell_input.h"

namespace cellar::nn {

DropoutImpl::DropoutImpl(const DropoutOptions& o) : Cell("Dropout"), options_(o) {
  if (!(o.p >= 0 && o.p < 1))
    throw ValueError(ErrorCode::kInvalidArgument,
                     "Dropout: p must be in [0, 1), got " + std::to_string(o.p));
  if (o.generator == nullptr) own_ = std::make_unique<Generator>();
}

Value DropoutImpl::construct(const std::vector<Value>& inputs) {
  const Tensor& x = detail::single_tensor(inputs, cls_name());
  // As MindSpore: eval mode, or nothing to drop, is the input itself (no op is recorded).
  if (!training() || options_.p == 0) return x;
  Generator& gen = options_.generator ? *options_.generator : *own_;
  // Inside an export trace this call is the random-op refusal.
  Tensor u = ops::uniform(x.shape(), 0.0, 1.0, gen, DType::Float64);
  const double keep = 1.0 - options_.p;
  double* m = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) m[i] = m[i] < keep ? 1.0 / keep : 0.0;
  return ops::mul(x, u.to(x.dtype()));
}

std::shared_ptr<DropoutImpl> Dropout(const DropoutOptions& options) {
  return std::make_shared<DropoutImpl>(options);
}
std::shared_ptr<DropoutImpl> Dropout(double p) { return Dropout(DropoutOptions{.p = p}); }

}  // namespace cellar::nn
