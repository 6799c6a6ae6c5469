#include "cellar/nn/activation.h"

#include "cellar/nn_functional.h"
#include "nn/cell_input.h"

namespace cellar::nn {

Value SoftmaxImpl::construct(const std::vector<Value>& inputs) {
  return ops::softmax(detail::single_tensor(inputs, cls_name()), axis_);
}
Value LogSoftmaxImpl::construct(const std::vector<Value>& inputs) {
  return ops::log_softmax(detail::single_tensor(inputs, cls_name()), axis_);
}
Value SigmoidImpl::construct(const std::vector<Value>& inputs) {
  return ops::sigmoid(detail::single_tensor(inputs, cls_name()));
}
Value TanhImpl::construct(const std::vector<Value>& inputs) {
  return ops::tanh(detail::single_tensor(inputs, cls_name()));
}

Value GELUImpl::construct(const std::vector<Value>& inputs) {
  return ops::gelu(detail::single_tensor(inputs, cls_name()), approximate_);
}

std::shared_ptr<SoftmaxImpl> Softmax(int64_t axis) { return std::make_shared<SoftmaxImpl>(axis); }
std::shared_ptr<LogSoftmaxImpl> LogSoftmax(int64_t axis) {
  return std::make_shared<LogSoftmaxImpl>(axis);
}
std::shared_ptr<SigmoidImpl> Sigmoid() { return std::make_shared<SigmoidImpl>(); }
std::shared_ptr<TanhImpl> Tanh() { return std::make_shared<TanhImpl>(); }
std::shared_ptr<GELUImpl> GELU(bool approximate) { return std::make_shared<GELUImpl>(approximate); }

}  // namespace cellar::nn
