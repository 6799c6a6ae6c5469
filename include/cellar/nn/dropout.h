// Dropout, as MindSpore 2.x's nn.Dropout(p): identity in eval mode (MindSpore's construct
// returns its input, so an export records nothing); in training mode it zeroes each element
// with probability p and scales the rest by 1/(1 − p), drawing from a Generator. Random numbers
// cannot be exported, so tracing a Dropout in training mode is the random-op ExportError.
#pragma once

#include <memory>

#include "cellar/generator.h"
#include "cellar/nn/cell.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

struct DropoutOptions {
  double p = 0.5;  // probability of dropping an element, in [0, 1)
  // Draws the masks; null: a generator of the Cell's own, seeded from std::random_device.
  Generator* generator = nullptr;
};

class DropoutImpl : public Cell {
 public:
  explicit DropoutImpl(const DropoutOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
  std::unique_ptr<Generator> own_;
};

std::shared_ptr<DropoutImpl> Dropout(const DropoutOptions& options);
std::shared_ptr<DropoutImpl> Dropout(double p = 0.5);

}  // namespace cellar::nn

CELLAR_API_END
