// The layers of the seed walkthrough: SequentialCell, Flatten, Dense, ReLU. Factories return
// shared pointers; options are plain structs.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cellar/generator.h"
#include "cellar/nn/cell.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar::nn {

// Children run in order, each fed the previous one's output; they are named "0", "1", ….
class SequentialCellImpl : public Cell {
 public:
  explicit SequentialCellImpl(std::vector<CellPtr> cells);  // named 0, 1, …
  // MindSpore's SequentialCell(OrderedDict): each cell named by its key (`conv.weight`), run in
  // the given order. Names are checked as register_cell's.
  explicit SequentialCellImpl(std::vector<std::pair<std::string, CellPtr>> named_cells);
  Value construct(const std::vector<Value>& inputs) override;
  void append(CellPtr cell);
  size_t size() const { return name_cells().size(); }
  CellPtr operator[](size_t i) const { return name_cells().at(i).second; }
};

// (N, d1, d2, …) → (N, d1·d2·…).
class FlattenImpl : public Cell {
 public:
  FlattenImpl() : Cell("Flatten") {}
  Value construct(const std::vector<Value>& inputs) override;
};

// MindSpore's nn.Pad(paddings, mode): (before, after) per dimension; mode "CONSTANT" (zeros),
// "REFLECT" or "SYMMETRIC" (MindSpore's spellings; ops::pad's lower-case names and "edge" are
// accepted too).
class PadImpl : public Cell {
 public:
  explicit PadImpl(std::vector<std::pair<int64_t, int64_t>> paddings, std::string mode = "CONSTANT")
      : Cell("Pad"), paddings_(std::move(paddings)), mode_(std::move(mode)) {}
  Value construct(const std::vector<Value>& inputs) override;
  const std::vector<std::pair<int64_t, int64_t>>& paddings() const { return paddings_; }
  const std::string& mode() const { return mode_; }

 private:
  std::vector<std::pair<int64_t, int64_t>> paddings_;
  std::string mode_;
};

class ReLUImpl : public Cell {
 public:
  ReLUImpl() : Cell("ReLU") {}
  Value construct(const std::vector<Value>& inputs) override;
};

struct DenseOptions {
  int64_t in = 0;
  int64_t out = 0;
  bool has_bias = true;
  DType dtype = DType::Float32;
  // Draws the initial weights: weight HeUniform(a = √5), bias Uniform(±1/√in), as MindSpore 2.x.
  // Null: a generator seeded from std::random_device.
  Generator* generator = nullptr;
};

// y = x · weightᵀ + bias; weight is [out, in], bias [out]. Inputs of rank > 2 are flattened to
// (−1, in) and the leading dimensions restored after, as MindSpore's Dense does.
class DenseImpl : public Cell {
 public:
  explicit DenseImpl(const DenseOptions& options);
  Value construct(const std::vector<Value>& inputs) override;
  const DenseOptions& options() const { return options_; }
  Parameter weight;
  Parameter bias;  // undefined when !has_bias

 private:
  DenseOptions options_;
};

std::shared_ptr<SequentialCellImpl> SequentialCell(std::vector<CellPtr> cells);
std::shared_ptr<FlattenImpl> Flatten();
std::shared_ptr<ReLUImpl> ReLU();
std::shared_ptr<PadImpl> Pad(std::vector<std::pair<int64_t, int64_t>> paddings,
                             std::string mode = "CONSTANT");
std::shared_ptr<DenseImpl> Dense(int64_t in, int64_t out, bool has_bias = true);
std::shared_ptr<DenseImpl> Dense(const DenseOptions& options);

}  // namespace cellar::nn

CELLAR_API_END
