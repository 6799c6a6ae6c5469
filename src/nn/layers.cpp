#include "cellar/nn/layers.h"

#include <cmath>

#include "cellar/nn_functional.h"
#include "cellar/ops.h"

namespace cellar::nn {

namespace {
const Tensor& single_tensor(const std::vector<Value>& inputs, const std::string& cls) {
  if (inputs.size() != 1)
    throw ValueError(ErrorCode::kInvalidArgument,
                     cls + " takes 1 input, got " + std::to_string(inputs.size()));
  return inputs[0].tensor();
}
}  // namespace

SequentialCellImpl::SequentialCellImpl(std::vector<CellPtr> cells) : Cell("SequentialCell") {
  for (auto& c : cells) append(std::move(c));
}

SequentialCellImpl::SequentialCellImpl(std::vector<std::pair<std::string, CellPtr>> named_cells)
    : Cell("SequentialCell") {
  for (auto& [name, c] : named_cells) register_cell(name, std::move(c));
}

void SequentialCellImpl::append(CellPtr cell) {
  register_cell(std::to_string(size()), std::move(cell));
}

Value SequentialCellImpl::construct(const std::vector<Value>& inputs) {
  std::vector<Value> x = inputs;
  for (const auto& [_, c] : name_cells()) x = {c->construct(x)};
  if (x.size() != 1) return Value(Value::Tuple(x.begin(), x.end()));
  return x[0];
}

Value FlattenImpl::construct(const std::vector<Value>& inputs) {
  return ops::flatten(single_tensor(inputs, cls_name()));
}

Value PadImpl::construct(const std::vector<Value>& inputs) {
  return ops::pad(single_tensor(inputs, cls_name()), paddings_, mode_);
}

Value ReLUImpl::construct(const std::vector<Value>& inputs) {
  return ops::relu(single_tensor(inputs, cls_name()));
}

DenseImpl::DenseImpl(const DenseOptions& options) : Cell("Dense"), options_(options) {
  if (options.in <= 0 || options.out <= 0)
    throw ValueError(ErrorCode::kInvalidArgument,
                     "Dense needs positive in and out channels, got in=" +
                         std::to_string(options.in) + " out=" + std::to_string(options.out));
  if (!is_floating(options.dtype))
    throw ValueError(ErrorCode::kInvalidArgument, "Dense needs a floating dtype");
  Generator fallback;
  Generator& gen = options.generator ? *options.generator : fallback;
  // HeUniform(a = √5) on fan_in = in: gain = √(2 / (1 + a²)), bound = gain·√(3 / fan_in)
  // = 1/√in. Drawn in float64 and stored in the requested dtype.
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.in));
  Tensor w(DType::Float64, Shape{options.out, options.in});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = gen.uniform(-bound, bound);
  weight = register_parameter("weight", w.to(options.dtype));
  if (options.has_bias) {
    Tensor b(DType::Float64, Shape{options.out});
    for (int64_t i = 0; i < b.numel(); ++i) b.data<double>()[i] = gen.uniform(-bound, bound);
    bias = register_parameter("bias", b.to(options.dtype));
  }
}

Value DenseImpl::construct(const std::vector<Value>& inputs) {
  Tensor x = single_tensor(inputs, cls_name());
  const Shape in_shape = x.shape();
  if (in_shape.rank() == 0 || in_shape[in_shape.rank() - 1] != options_.in)
    throw ValueError(ErrorCode::kShapeMismatch, "Dense(" + std::to_string(options_.in) + ", " +
                                                    std::to_string(options_.out) +
                                                    ") got input of shape " + in_shape.str());
  if (in_shape.rank() != 2) x = ops::reshape(x, Shape{-1, options_.in});
  Tensor y = ops::matmul(x, weight.value(), false, true);
  if (bias.defined()) y = ops::bias_add(y, bias.value());
  if (in_shape.rank() != 2) {
    std::vector<int64_t> out(in_shape.begin(), in_shape.end());
    out.back() = options_.out;
    y = ops::reshape(y, Shape(out));
  }
  return y;
}

std::shared_ptr<SequentialCellImpl> SequentialCell(std::vector<CellPtr> cells) {
  return std::make_shared<SequentialCellImpl>(std::move(cells));
}
std::shared_ptr<FlattenImpl> Flatten() { return std::make_shared<FlattenImpl>(); }
std::shared_ptr<ReLUImpl> ReLU() { return std::make_shared<ReLUImpl>(); }
std::shared_ptr<PadImpl> Pad(std::vector<std::pair<int64_t, int64_t>> paddings, std::string mode) {
  return std::make_shared<PadImpl>(std::move(paddings), std::move(mode));
}
std::shared_ptr<DenseImpl> Dense(int64_t in, int64_t out, bool has_bias) {
  return Dense(DenseOptions{.in = in, .out = out, .has_bias = has_bias});
}
std::shared_ptr<DenseImpl> Dense(const DenseOptions& options) {
  return std::make_shared<DenseImpl>(options);
}

}  // namespace cellar::nn
