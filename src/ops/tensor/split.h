// Cutting a tensor into consecutive pieces along one axis (private to src/ops/tensor/): the
// kernel Split and Unstack share.
#pragma once

#include <vector>

#include "ops/tensor/data_movement.h"

namespace cellar::ops::tensor {

// Output k takes sizes[k] consecutive indices of `axis` (the sizes add up to the dimension);
// the outputs are allocated by the caller with those shapes.
inline Kernel split_kernel(const TensorType& x, size_t axis, const std::vector<int64_t>& sizes) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < x.shape.rank(); ++d)
    if (d < axis)
      outer *= x.shape[d];
    else if (d > axis)
      inner *= x.shape[d];
  const size_t unit = static_cast<size_t>(inner) * itemsize(x.dtype);
  const size_t row = static_cast<size_t>(x.shape[axis]) * unit;
  return [outer, unit, row, sizes](std::span<const Tensor> in, std::span<Tensor> out) {
    const std::byte* src = in[0].raw_data();
    size_t begin = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const size_t block = static_cast<size_t>(sizes[k]) * unit;
      std::byte* dst = out[k].raw_data();
      if (block)
        for (int64_t o = 0; o < outer; ++o)
          std::memcpy(dst + static_cast<size_t>(o) * block,
                      src + static_cast<size_t>(o) * row + begin, block);
      begin += block;
    }
  };
}

}  // namespace cellar::ops::tensor
