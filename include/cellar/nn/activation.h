// Activation cells, as MindSpore's nn.Softmax, nn.LogSoftmax, nn.Sigmoid, nn.Tanh, nn.GELU.
// No parameters.
#pragma once

#include <cstdint>
#include <memory>

#include "cellar/nn/cell.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

class SoftmaxImpl : public Cell {
 public:
  explicit SoftmaxImpl(int64_t axis = -1) : Cell("Softmax"), axis_(axis) {}
  Value construct(const std::vector<Value>& inputs) override;

 private:
  int64_t axis_;
};

class LogSoftmaxImpl : public Cell {
 public:
  explicit LogSoftmaxImpl(int64_t axis = -1) : Cell("LogSoftmax"), axis_(axis) {}
  Value construct(const std::vector<Value>& inputs) override;

 private:
  int64_t axis_;
};

class SigmoidImpl : public Cell {
 public:
  SigmoidImpl() : Cell("Sigmoid") {}
  Value construct(const std::vector<Value>& inputs) override;
};

class TanhImpl : public Cell {
 public:
  TanhImpl() : Cell("Tanh") {}
  Value construct(const std::vector<Value>& inputs) override;
};

// approximate = true (MindSpore's default) is the GeLU primitive's tanh form; false is the exact
// erf form, which MindSpore (and so cellar's export) writes as Div, Erf, Add and Mul.
class GELUImpl : public Cell {
 public:
  explicit GELUImpl(bool approximate = true) : Cell("GELU"), approximate_(approximate) {}
  Value construct(const std::vector<Value>& inputs) override;
  bool approximate() const { return approximate_; }

 private:
  bool approximate_;
};

std::shared_ptr<SoftmaxImpl> Softmax(int64_t axis = -1);
std::shared_ptr<LogSoftmaxImpl> LogSoftmax(int64_t axis = -1);
std::shared_ptr<SigmoidImpl> Sigmoid();
std::shared_ptr<TanhImpl> Tanh();
std::shared_ptr<GELUImpl> GELU(bool approximate = true);

}  // namespace cellar::nn

CELLAR_API_END
