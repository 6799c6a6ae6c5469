// The single-tensor input check shared by the layer cells of issue 4 (private to src/nn).
#pragma once

#include <string>
#include <vector>

#include "cellar/value.h"

namespace cellar::nn::detail {

inline const Tensor& single_tensor(const std::vector<Value>& inputs, const std::string& cls) {
  if (inputs.size() != 1)
    throw ValueError(ErrorCode::kInvalidArgument,
                     cls + " takes 1 input, got " + std::to_string(inputs.size()));
  return inputs[0].tensor();
}

}  // namespace cellar::nn::detail
