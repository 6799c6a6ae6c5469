#include "model_inputs.h"

#include <random>

#include "cellar/io/npy.h"
#include "cli.h"

namespace cellar::cli {

namespace {

// A tensor of dtype `t` holding the doubles `v` (converted as static_cast does).
Tensor from_doubles(const std::vector<double>& v, DType t, const Shape& shape) {
  Tensor d = Tensor::from_vector(v, shape);
  if (t == DType::Bool) {
    Tensor b(DType::Bool, shape);
    for (size_t i = 0; i < v.size(); ++i) b.data<bool>()[i] = v[i] != 0;
    return b;
  }
  return d.to(t);
}

}  // namespace

ModelInputs constant_inputs(const ir::Graph& g, double value) {
  ModelInputs in;
  for (int id : g.inputs) {
    const ir::ValueInfo& v = g.value(id);
    in.tensors.push_back(from_doubles(
        std::vector<double>(static_cast<size_t>(v.shape.numel()), value), v.dtype, v.shape));
    in.sources.push_back(value == 1.0 ? "ones" : "constant");
  }
  return in;
}

ModelInputs random_inputs(const ir::Graph& g, uint64_t seed) {
  ModelInputs in;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int id : g.inputs) {
    const ir::ValueInfo& v = g.value(id);
    std::vector<double> x(static_cast<size_t>(v.shape.numel()));
    for (double& e : x) {
      e = u(rng);
      if (v.dtype == DType::Bool)
        e = e < 0.5 ? 0 : 1;
      else if (!is_floating(v.dtype))
        e = std::floor(e * 10);
    }
    in.tensors.push_back(from_doubles(x, v.dtype, v.shape));
    in.sources.push_back("random");
  }
  return in;
}

ModelInputs npy_inputs(const ir::Graph& g, const std::vector<std::string>& specs) {
  std::string names;
  for (int id : g.inputs) names += (names.empty() ? "" : ", ") + g.value(id).name;
  std::vector<std::string> file(g.inputs.size());
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    std::string name, path;
    if (eq == std::string::npos) {
      if (g.inputs.size() != 1)
        throw UsageError("--input " + spec + ": the model has " + std::to_string(g.inputs.size()) +
                         " inputs (" + names + "): write NAME=FILE.npy");
      name = g.value(g.inputs[0]).name;
      path = spec;
    } else {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    if (path.empty()) throw UsageError("--input " + spec + ": no file");
    size_t k = 0;
    while (k < g.inputs.size() && g.value(g.inputs[k]).name != name) ++k;
    if (k == g.inputs.size())
      throw UsageError("--input " + spec + ": the model has no input '" + name +
                       "'; its inputs are: " + names);
    if (!file[k].empty()) throw UsageError("--input " + name + " is given twice");
    file[k] = path;
  }
  for (size_t k = 0; k < g.inputs.size(); ++k)
    if (file[k].empty())
      throw UsageError("no --input for the model's input '" + g.value(g.inputs[k]).name +
                       "' (inputs: " + names + ")");

  ModelInputs in;
  std::optional<int64_t> batch;
  bool rebatch = false;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const ir::ValueInfo& v = g.value(g.inputs[k]);
    Tensor t = read_npy(file[k]);
    if (t.dtype() != v.dtype) {
      const bool same_kind = (is_floating(t.dtype()) && is_floating(v.dtype)) ||
                             (is_integral(t.dtype()) && is_integral(v.dtype));
      if (!same_kind)
        throw FormatError("holds " + dtype_str(t.dtype()) + "; the model's input '" + v.name +
                              "' takes " + dtype_str(v.dtype),
                          {file[k]});
      t = t.to(v.dtype);
    }
    // A symbolic input takes any size on its open dimensions (the executor plans per shape).
    bool fits_open = v.symbolic() && t.rank() == v.shape.rank();
    for (size_t d = 0; fits_open && d < t.rank(); ++d)
      fits_open = v.open(d) || t.shape()[d] == v.shape[d];
    if (t.shape() != v.shape && !fits_open) {
      const bool only_leading =
          t.rank() == v.shape.rank() && t.rank() > 0 &&
          std::equal(t.shape().begin() + 1, t.shape().end(), v.shape.begin() + 1);
      if (!only_leading || (batch && *batch != t.shape()[0]))
        throw FormatError("shape " + t.shape().str() + " does not fit the model's input '" +
                              v.name + "' of shape " + v.shape_str(),
                          {file[k]});
      rebatch = true;
    }
    if (t.rank() > 0) {
      if (batch && *batch != t.shape()[0] && rebatch)
        throw FormatError("leading dimension " + std::to_string(t.shape()[0]) +
                              " differs from the other inputs' " + std::to_string(*batch),
                          {file[k]});
      if (!batch) batch = t.shape()[0];
    }
    in.tensors.push_back(std::move(t));
    in.sources.push_back(file[k]);
  }
  if (rebatch) in.batch = batch;
  return in;
}

}  // namespace cellar::cli
