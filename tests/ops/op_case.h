// The op table's test table, in the style of ggml's test-backend-ops: every row of the op table
// (src/ops/) has cases here, each with sample inputs, attributes and a naive reference written in
// double precision as the plainest loop that states what the op means. test_op_table.cpp runs
// every case eagerly, through a one-node graph on the Executor, and after a MindIR and an ONNX
// write → read round trip (where the row has those spellings), and fails when a row has no case.
//
// Adding an op: one OpCase in the table of its domain (tests/ops/cases_<domain>.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cellar/cellar.h"

namespace cellar::testing {

// The expected outputs for these inputs and attributes.
using OpReference =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const ir::Attrs& attrs)>;

struct OpCase {
  std::string op;     // the op table row
  std::string label;  // what this case covers; unique per op ([A-Za-z0-9_] in test names)
  std::vector<Tensor> inputs;
  ir::Attrs attrs;
  // Null only where `check` judges the outputs (random ops) or `error` is set.
  OpReference reference;
  // |got − want| ≤ tol · (1 + |want|) element-wise; NaN must meet NaN.
  double tol = 1e-5;
  // When set, the eager call must refuse the case with a cellar::Error whose message
  // contains this text.
  std::string error;
  // Extra judgement of the eager outputs (random ops: shape, range, distribution).
  std::function<void(const std::vector<Tensor>& outputs)> check;
  // Round trips to skip, with the reason (e.g. "ONNX has no int8 Abs"): the row's spelling exists
  // but cannot carry this case. Empty: run it whenever the row has the spelling.
  std::string no_mindir;
  std::string no_onnx;
};

// Registers one domain's table at static initialisation; the cases are made when the tests run.
struct OpCaseTable {
  explicit OpCaseTable(std::function<std::vector<OpCase>()> make);
};
std::vector<OpCase> all_op_cases();

// ---- inputs ----

// Seeded uniform values in [lo, hi), of dtype `dt` (integers: the floor of each).
Tensor uniform(const Shape& s, uint64_t seed, double lo = -2, double hi = 2,
               DType dt = DType::Float32);
// The given values, in C order, as `dt`.
Tensor values(const std::vector<double>& v, const Shape& s, DType dt = DType::Float32);

// ---- reference helpers ----

// Element i of a numeric tensor as a double, and a tensor of `dt` from doubles.
std::vector<double> as_doubles(const Tensor& t);
Tensor from_doubles(const std::vector<double>& v, const Shape& s, DType dt);

// y = f(x) element-wise on input 0, in x's dtype.
OpReference unary_ref(std::function<double(double)> f);
// y = f(a, b) element-wise with NumPy broadcasting on inputs 0 and 1, in a's dtype (or `out`).
OpReference binary_ref(std::function<double(double, double)> f, std::optional<DType> out = {});
// The index in `in` (C order) of element `flat` of `out` under NumPy broadcasting.
int64_t broadcast_index(const Shape& in, const Shape& out, int64_t flat);
Shape broadcast_shape(const Shape& a, const Shape& b);

}  // namespace cellar::testing
