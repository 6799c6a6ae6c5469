// The functional ops of cellar/ops.h and cellar/nn_functional.h, with MindSpore's argument names.
// Each runs eagerly or, inside export, is recorded by the C++ tracer; the random ones are refused
// there (export's third refusal). cellar.ops and cellar.mint (python/cellar/) choose among them.
#include <pybind11/stl.h>

#include "bindings.h"

namespace cellar::python {

namespace {

Tensor t_of(py::handle obj) { return to_tensor(obj); }

std::vector<int64_t> axes(py::handle a) {
  if (a.is_none()) return {};
  if (py::isinstance<py::int_>(a)) return {a.cast<int64_t>()};
  return a.cast<std::vector<int64_t>>();
}

Shape size_of(const py::args& size) {
  std::vector<int64_t> dims;
  if (size.size() == 1 && !py::isinstance<py::int_>(size[0])) {
    for (py::handle d : size[0]) dims.push_back(d.cast<int64_t>());
  } else {
    for (py::handle d : size) dims.push_back(d.cast<int64_t>());
  }
  return Shape(std::move(dims));
}

}  // namespace

void bind_ops(py::module_& m) {
  py::module_ f = m.def_submodule("ops", "Functional ops over cellar's op table.");
  f.def(
      "add", [](py::handle a, py::handle b) { return ops::add(t_of(a), t_of(b)); },
      py::arg("input"), py::arg("other"));
  f.def(
      "sub", [](py::handle a, py::handle b) { return ops::sub(t_of(a), t_of(b)); },
      py::arg("input"), py::arg("other"));
  f.def(
      "mul", [](py::handle a, py::handle b) { return ops::mul(t_of(a), t_of(b)); },
      py::arg("input"), py::arg("other"));
  f.def(
      "div", [](py::handle a, py::handle b) { return ops::div(t_of(a), t_of(b)); },
      py::arg("input"), py::arg("other"));
  f.def(
      "matmul",
      [](py::handle a, py::handle b, bool ta, bool tb) {
        const Tensor x = t_of(a), y = t_of(b);
        if (x.rank() == 2 && y.rank() == 2) return ops::matmul(x, y, ta, tb);
        return ops::batch_matmul(x, y, ta, tb);
      },
      py::arg("input"), py::arg("other"), py::arg("transpose_a") = false,
      py::arg("transpose_b") = false);
  f.def(
      "bias_add", [](py::handle x, py::handle b) { return ops::bias_add(t_of(x), t_of(b)); },
      py::arg("input_x"), py::arg("bias"));
  f.def(
      "relu", [](py::handle x) { return ops::relu(t_of(x)); }, py::arg("input"));
  f.def(
      "sigmoid", [](py::handle x) { return ops::sigmoid(t_of(x)); }, py::arg("input"));
  f.def(
      "tanh", [](py::handle x) { return ops::tanh(t_of(x)); }, py::arg("input"));
  f.def(
      "abs", [](py::handle x) { return ops::abs(t_of(x)); }, py::arg("input"));
  f.def(
      "erf", [](py::handle x) { return ops::erf(t_of(x)); }, py::arg("input"));
  f.def(
      "gelu",
      [](py::handle x, const std::string& approximate) {
        if (approximate != "tanh" && approximate != "none")
          throw py::value_error("approximate must be 'tanh' or 'none'");
        return ops::gelu(t_of(x), approximate == "tanh");
      },
      py::arg("input"), py::arg("approximate") = "none");
  f.def(
      "softmax", [](py::handle x, int64_t axis) { return ops::softmax(t_of(x), axis); },
      py::arg("input"), py::arg("axis") = -1);
  f.def(
      "log_softmax", [](py::handle x, int64_t axis) { return ops::log_softmax(t_of(x), axis); },
      py::arg("input"), py::arg("axis") = -1);
  f.def(
      "flatten", [](py::handle x) { return ops::flatten(t_of(x)); }, py::arg("input"),
      "(N, d1, d2, …) → (N, d1·d2·…).");
  f.def(
      "reshape",
      [](py::handle x, std::vector<int64_t> shape) {
        return ops::reshape(t_of(x), Shape(std::move(shape)));
      },
      py::arg("input"), py::arg("shape"));
  f.def(
      "transpose",
      [](py::handle x, std::vector<int64_t> perm) { return ops::transpose(t_of(x), perm); },
      py::arg("input"), py::arg("input_perm"));
  f.def(
      "expand_dims", [](py::handle x, int64_t axis) { return ops::expand_dims(t_of(x), axis); },
      py::arg("input_x"), py::arg("axis"));
  f.def(
      "squeeze", [](py::handle x, py::handle axis) { return ops::squeeze(t_of(x), axes(axis)); },
      py::arg("input"), py::arg("axis") = py::none());
  f.def(
      "concat",
      [](py::handle xs, int64_t axis) {
        std::vector<Tensor> ts;
        for (py::handle h : xs) ts.push_back(t_of(h));
        return ops::concat(ts, axis);
      },
      py::arg("tensors"), py::arg("axis") = 0);
  f.def(
      "gather",
      [](py::handle p, py::handle i, int64_t axis) { return ops::gather(t_of(p), t_of(i), axis); },
      py::arg("input_params"), py::arg("input_indices"), py::arg("axis"));
  f.def(
      "tile",
      [](py::handle x, std::vector<int64_t> multiples) { return ops::tile(t_of(x), multiples); },
      py::arg("input"), py::arg("dims"));
  f.def(
      "reduce_sum",
      [](py::handle x, py::handle axis, bool keep_dims) {
        return ops::reduce_sum(t_of(x), axes(axis), keep_dims);
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("keep_dims") = false);
  f.def(
      "reduce_mean",
      [](py::handle x, py::handle axis, bool keep_dims) {
        return ops::reduce_mean(t_of(x), axes(axis), keep_dims);
      },
      py::arg("input"), py::arg("axis") = py::none(), py::arg("keep_dims") = false);

  // Random ops: eager only (export refuses them), drawing from the module's generator.
  f.def(
      "randn",
      [](py::args size, std::optional<DType> dtype) {
        return ops::randn(size_of(size), default_generator(), dtype.value_or(DType::Float32));
      },
      py::kw_only(), py::arg("dtype") = py::none());
  f.def(
      "rand",
      [](py::args size, std::optional<DType> dtype) {
        return ops::uniform(size_of(size), 0.0, 1.0, default_generator(),
                            dtype.value_or(DType::Float32));
      },
      py::kw_only(), py::arg("dtype") = py::none());
  f.def(
      "randperm",
      [](int64_t n, std::optional<DType> dtype) {
        return ops::randperm(n, default_generator(), dtype.value_or(DType::Int64));
      },
      py::arg("n"), py::kw_only(), py::arg("dtype") = py::none());
}

}  // namespace cellar::python
