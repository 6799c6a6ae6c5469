// MaxPool2d and AvgPool2d, as MindSpore's nn.MaxPool2d / nn.AvgPool2d with pad_mode "valid" or
// "same" (the modes of MindSpore's MaxPool and AvgPool primitives). No parameters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "cellar/nn/cell.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

struct Pool2dOptions {
  std::array<int64_t, 2> kernel_size = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::string pad_mode = "valid";  // "valid" or "same"
};

class MaxPool2dImpl : public Cell {
 public:
  explicit MaxPool2dImpl(const Pool2dOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

// "same" averages only the pixels inside the input.
class AvgPool2dImpl : public Cell {
 public:
  explicit AvgPool2dImpl(const Pool2dOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

std::shared_ptr<MaxPool2dImpl> MaxPool2d(const Pool2dOptions& options);
std::shared_ptr<MaxPool2dImpl> MaxPool2d(int64_t kernel_size, int64_t stride,
                                         const std::string& pad_mode = "valid");
std::shared_ptr<AvgPool2dImpl> AvgPool2d(const Pool2dOptions& options);
std::shared_ptr<AvgPool2dImpl> AvgPool2d(int64_t kernel_size, int64_t stride,
                                         const std::string& pad_mode = "valid");

}  // namespace cellar::nn

CELLAR_API_END
