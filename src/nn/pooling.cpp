#include "cellar/nn/pooling.h"

#include "cellar/nn_functional.h"
#include "nn/cell_input.h"

namespace cellar::nn {

namespace {
void check(const Pool2dOptions& o, const std::string& cls) {
  for (int64_t v : {o.kernel_size[0], o.kernel_size[1], o.stride[0], o.stride[1]})
    if (v <= 0)
      throw ValueError(ErrorCode::kInvalidArgument,
                       cls + ": kernel_size and stride must be positive");
  if (o.pad_mode != "valid" && o.pad_mode != "same")
    throw ValueError(ErrorCode::kInvalidArgument,
                     cls + ": pad_mode must be 'valid' or 'same', got '" + o.pad_mode + "'");
}
}  // namespace

MaxPool2dImpl::MaxPool2dImpl(const Pool2dOptions& o) : Cell("MaxPool2d"), options_(o) {
  check(o, cls_name());
}
Value MaxPool2dImpl::construct(const std::vector<Value>& inputs) {
  return ops::max_pool2d(detail::single_tensor(inputs, cls_name()), options_.kernel_size,
                         options_.stride, options_.pad_mode);
}

AvgPool2dImpl::AvgPool2dImpl(const Pool2dOptions& o) : Cell("AvgPool2d"), options_(o) {
  check(o, cls_name());
}
Value AvgPool2dImpl::construct(const std::vector<Value>& inputs) {
  return ops::avg_pool2d(detail::single_tensor(inputs, cls_name()), options_.kernel_size,
                         options_.stride, options_.pad_mode);
}

std::shared_ptr<MaxPool2dImpl> MaxPool2d(const Pool2dOptions& options) {
  return std::make_shared<MaxPool2dImpl>(options);
}
std::shared_ptr<MaxPool2dImpl> MaxPool2d(int64_t kernel_size, int64_t stride,
                                         const std::string& pad_mode) {
  return MaxPool2d(Pool2dOptions{
      .kernel_size = {kernel_size, kernel_size}, .stride = {stride, stride}, .pad_mode = pad_mode});
}
std::shared_ptr<AvgPool2dImpl> AvgPool2d(const Pool2dOptions& options) {
  return std::make_shared<AvgPool2dImpl>(options);
}
std::shared_ptr<AvgPool2dImpl> AvgPool2d(int64_t kernel_size, int64_t stride,
                                         const std::string& pad_mode) {
  return AvgPool2d(Pool2dOptions{
      .kernel_size = {kernel_size, kernel_size}, .stride = {stride, stride}, .pad_mode = pad_mode});
}

}  // namespace cellar::nn
