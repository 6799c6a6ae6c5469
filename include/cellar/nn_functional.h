// Functional ops for convolutional and general networks (issue 4's op breadth). Like
// cellar/ops.h, each runs eagerly on concrete tensors and is recorded into the graph when an
// input is symbolic; each names one row of the op table (MindSpore's primitive) and its
// attributes with MindSpore's names and conventions. Layouts are NCHW.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::ops {

struct Conv2dArgs {
  std::array<int64_t, 2> stride = {1, 1};
  std::string pad_mode = "valid";             // "valid", "same" or "pad"
  std::array<int64_t, 4> pad = {0, 0, 0, 0};  // top, bottom, left, right; only with "pad"
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t group = 1;
};
// x [N, C, H, W] ⋆ weight [O, C/group, kh, kw] → [N, O, H', W'] (MindSpore's Conv2D; no bias).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Conv2dArgs& args = {});

// Pooling windows over H and W. pad_mode "valid" or "same" (MindSpore's MaxPool/AvgPool have no
// explicit padding). AvgPool in "same" mode averages the pixels inside the input only.
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  std::array<int64_t, 2> strides, const std::string& pad_mode = "valid");
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  std::array<int64_t, 2> strides, const std::string& pad_mode = "valid");

// Inference batch normalisation over dimension 1:
// (x − mean) / √(variance + epsilon) · scale + bias. Returns output 0 of MindSpore's 5-output
// BatchNorm (is_training = false).
Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                  const Tensor& variance, double epsilon = 1e-5, double momentum = 0.1);

Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// approximate (MindSpore's GeLU primitive): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)));
// otherwise the exact x·Φ(x) = 0.5·x·(1 + erf(x/√2)), built from Div, Erf, Add and Mul as
// MindSpore builds nn.GELU(approximate=False).
Tensor gelu(const Tensor& x, bool approximate = true);
// The Gauss error function, elementwise (floating dtypes).
Tensor erf(const Tensor& x);
Tensor abs(const Tensor& x);

// Elementwise with NumPy broadcasting; div is for floating dtypes.
Tensor sub(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// [..., m, k] @ [..., k, n] with the batch dimensions broadcast; transposes act on the last two.
Tensor batch_matmul(const Tensor& a, const Tensor& b, bool transpose_a = false,
                    bool transpose_b = false);

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm);
Tensor expand_dims(const Tensor& x, int64_t axis);
// Removes the given size-1 dimensions; every size-1 dimension when `axis` is empty.
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axis = {});
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
// params.take(indices, axis); indices Int32 or Int64, each in [0, params.shape[axis]).
Tensor gather(const Tensor& params, const Tensor& indices, int64_t axis);
// Repeats x multiples[i] times along dimension i (x is padded with leading 1s to the length of
// multiples).
Tensor tile(const Tensor& x, const std::vector<int64_t>& multiples);
// Constant padding: paddings[d] = (before, after) for each dimension d of x, both ≥ 0, filled
// with `value` (MindSpore's Pad / nn.Pad mode "CONSTANT", ops.pad mode "constant").
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& paddings,
           double value = 0);
// Padding by `mode`: "constant" (fill `value`), "reflect" (mirror without the edge, padding <
// dimension), "symmetric" (mirror with the edge, padding ≤ dimension) or "edge" (repeat the edge),
// as numpy.pad names them; MindSpore's nn.Pad modes "CONSTANT", "REFLECT", "SYMMETRIC" are accepted
// in upper case too. ONNX cannot carry "symmetric".
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& paddings,
           const std::string& mode, double value = 0);
// Over `axis` (every axis when empty).
Tensor reduce_sum(const Tensor& x, const std::vector<int64_t>& axis = {}, bool keep_dims = false);
Tensor reduce_mean(const Tensor& x, const std::vector<int64_t>& axis = {}, bool keep_dims = false);

}  // namespace cellar::ops

CELLAR_API_END
