// Conv2d, as MindSpore 2.x's nn.Conv2d: NCHW, weight [out, in/group, kh, kw], optional bias
// [out] added by BiasAdd. Parameter names are MindSpore's: `weight`, `bias`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "cellar/generator.h"
#include "cellar/nn/cell.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel_size = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::string pad_mode = "same";  // "same", "valid" or "pad" (MindSpore's default is "same")
  // With pad_mode "pad": top, bottom, left, right (MindSpore's `padding`); otherwise all 0.
  std::array<int64_t, 4> padding = {0, 0, 0, 0};
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t group = 1;
  bool has_bias = false;  // MindSpore 2.x default
  DType dtype = DType::Float32;
  // MindSpore's weight_init given as a tensor: used as the weight (converted to dtype) instead of
  // drawing one; its shape must be [out, in/group, kh, kw]. Undefined: HeUniform(√5).
  Tensor weight_init;
  // Draws the initial values: weight HeUniform(a = √5) over fan_in = in/group·kh·kw, bias
  // Uniform(±1/√fan_in), as MindSpore 2.x. Null: a generator seeded from std::random_device.
  Generator* generator = nullptr;
};

class Conv2dImpl : public Cell {
 public:
  explicit Conv2dImpl(const Conv2dOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const Conv2dOptions& options() const { return options_; }
  Parameter weight;
  Parameter bias;  // undefined when !has_bias

 private:
  Conv2dOptions options_;
};

std::shared_ptr<Conv2dImpl> Conv2d(const Conv2dOptions& options);
// Conv2d(in, out, kernel) with MindSpore's other defaults (stride 1, pad_mode "same", no bias).
std::shared_ptr<Conv2dImpl> Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size);

}  // namespace cellar::nn

CELLAR_API_END
