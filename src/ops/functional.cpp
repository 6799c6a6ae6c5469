// The functional API (cellar/ops.h, cellar/nn_functional.h): each function names a row and its
// attributes, spelled as MindSpore's primitive writes them (so an exported graph carries
// MindSpore's attributes), and goes through ops::call. The random ops' functions are in their
// own files (src/ops/random/).
#include <cctype>
#include <cmath>

#include "cellar/nn_functional.h"
#include "cellar/ops.h"
#include "ops/op_table.h"

namespace cellar::ops {

namespace {
std::vector<int64_t> four(const std::array<int64_t, 2>& hw) { return {1, 1, hw[0], hw[1]}; }
std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
Tensor pool(const char* op, const Tensor& x, std::array<int64_t, 2> k, std::array<int64_t, 2> s,
            const std::string& pad_mode) {
  // ops.MaxPool stores kernel_size and strides as (1, 1, h, w) and pad_mode in upper case.
  return call(op, {x},
              {{"kernel_size", four(k)},
               {"strides", four(s)},
               {"pad_mode", upper(pad_mode)},
               {"data_format", std::string("NCHW")}})[0];
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Conv2dArgs& a) {
  const int64_t out = weight.rank() == 4 ? weight.shape()[0] : 0;
  const std::vector<int64_t> ks = weight.rank() == 4
                                      ? std::vector<int64_t>{weight.shape()[2], weight.shape()[3]}
                                      : std::vector<int64_t>{};
  ir::Attrs attrs{{"out_channel", out},
                  {"kernel_size", ks},
                  {"mode", int64_t{1}},
                  {"pad_mode", a.pad_mode},
                  {"pad", std::vector<int64_t>(a.pad.begin(), a.pad.end())},
                  {"stride", four(a.stride)},
                  {"dilation", four(a.dilation)},
                  {"group", a.group},
                  {"groups", a.group},
                  {"data_format", std::string("NCHW")}};
  if (weight.rank() != 4) attrs.erase("kernel_size");
  return call("Conv2D", {x, weight}, std::move(attrs))[0];
}

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> k, std::array<int64_t, 2> s,
                  const std::string& pad_mode) {
  return pool("MaxPool", x, k, s, pad_mode);
}
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> k, std::array<int64_t, 2> s,
                  const std::string& pad_mode) {
  // MindSpore 2.x's AvgPool (avg_pool_op.yaml) takes (h, w) windows and its PadMode and Format
  // enums as inputs; an unknown mode is passed as written, for the shape rule to name.
  const std::string m = upper(pad_mode);
  const ir::Attr mode = m == "SAME"    ? ir::Attr(int64_t{1})
                        : m == "VALID" ? ir::Attr(int64_t{2})
                                       : ir::Attr(pad_mode);
  return call("AvgPool", {x},
              {{"kernel_size", std::vector<int64_t>{k[0], k[1]}},
               {"strides", std::vector<int64_t>{s[0], s[1]}},
               {"pad_mode", mode},
               {"data_format", int64_t{0}}})[0];
}

Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean,
                  const Tensor& variance, double epsilon, double momentum) {
  return call("BatchNorm", {x, scale, bias, mean, variance},
              {{"is_training", false},
               {"epsilon", epsilon},
               {"momentum", momentum},
               {"data_format", int64_t{0}}})[0];  // data_format: MindSpore's Format enum, NCHW
}

Tensor softmax(const Tensor& x, int64_t axis) {
  return call("Softmax", {x}, {{"axis", std::vector<int64_t>{axis}}})[0];
}
Tensor log_softmax(const Tensor& x, int64_t axis) {
  return call("LogSoftmax", {x}, {{"axis", axis}})[0];
}
Tensor sigmoid(const Tensor& x) { return call("Sigmoid", {x})[0]; }
Tensor tanh(const Tensor& x) { return call("Tanh", {x})[0]; }
Tensor gelu(const Tensor& x, bool approximate) {
  if (approximate) return call("GeLU", {x})[0];
  // As MindSpore 2.x builds nn.GELU(approximate=False): x · (erf(x / √2) + 1) · 0.5, the same
  // Div, Erf, Add and Mul nodes (with scalar constants of x's dtype) in an exported graph.
  auto c = [&](double v) { return Tensor::scalar<double>(v).to(x.dtype()); };
  const Tensor e = call("Erf", {call("Div", {x, c(std::sqrt(2.0))})[0]})[0];
  return call("Mul", {call("Mul", {x, call("Add", {e, c(1.0)})[0]})[0], c(0.5)})[0];
}
Tensor erf(const Tensor& x) { return call("Erf", {x})[0]; }
Tensor abs(const Tensor& x) { return call("Abs", {x})[0]; }

Tensor sub(const Tensor& a, const Tensor& b) { return call("Sub", {a, b})[0]; }
Tensor div(const Tensor& a, const Tensor& b) { return call("Div", {a, b})[0]; }
Tensor batch_matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  return call("BatchMatMul", {a, b},
              {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}})[0];
}

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  return call("Transpose", {x}, {{"perm", perm}})[0];
}
Tensor expand_dims(const Tensor& x, int64_t axis) {
  return call("ExpandDims", {x}, {{"axis", axis}})[0];
}
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axis) {
  return call("Squeeze", {x}, {{"axis", axis}})[0];
}
Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  return call("Concat", xs, {{"axis", axis}})[0];
}
Tensor gather(const Tensor& params, const Tensor& indices, int64_t axis) {
  return call("Gather", {params, indices}, {{"axis", axis}, {"batch_dims", int64_t{0}}})[0];
}
Tensor tile(const Tensor& x, const std::vector<int64_t>& multiples) {
  return call("Tile", {x}, {{"multiples", multiples}})[0];
}
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& paddings,
           double value) {
  std::vector<int64_t> flat;
  for (const auto& [b, a] : paddings) {
    flat.push_back(b);
    flat.push_back(a);
  }
  ir::Attrs attrs{{"paddings", flat}};
  if (value != 0) attrs["value"] = value;
  return call("Pad", {x}, std::move(attrs))[0];
}
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& paddings,
           const std::string& mode, double value) {
  std::string lower;
  for (char c : mode) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "constant") return pad(x, paddings, value);
  std::vector<int64_t> flat;
  for (const auto& [b, a] : paddings) {
    flat.push_back(b);
    flat.push_back(a);
  }
  ir::Attrs attrs{{"paddings", flat}, {"mode", lower}};
  if (value != 0) attrs["value"] = value;  // refused by the op: only constant mode has a fill
  return call("Pad", {x}, std::move(attrs))[0];
}
Tensor reduce_sum(const Tensor& x, const std::vector<int64_t>& axis, bool keep_dims) {
  return call("ReduceSum", {x},
              {{"axis", axis}, {"keep_dims", keep_dims}, {"skip_mode", false}})[0];
}
Tensor reduce_mean(const Tensor& x, const std::vector<int64_t>& axis, bool keep_dims) {
  return call("ReduceMean", {x}, {{"axis", axis}, {"keep_dims", keep_dims}})[0];
}

// ---- cellar/ops.h ----

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  return call("MatMul", {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}})[0];
}
Tensor bias_add(const Tensor& x, const Tensor& bias) { return call("BiasAdd", {x, bias})[0]; }
Tensor relu(const Tensor& x) { return call("ReLU", {x})[0]; }
Tensor flatten(const Tensor& x) { return call("Flatten", {x})[0]; }
Tensor reshape(const Tensor& x, const Shape& shape) {
  return call("Reshape", {x}, {{"shape", shape.dims()}})[0];
}
Tensor add(const Tensor& a, const Tensor& b) { return call("Add", {a, b})[0]; }
Tensor mul(const Tensor& a, const Tensor& b) { return call("Mul", {a, b})[0]; }

}  // namespace cellar::ops
