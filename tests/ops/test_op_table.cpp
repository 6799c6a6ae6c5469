// Every row of the op table against its naive reference (tests/ops/op_case.h): eagerly, through
// a one-node graph on the Executor (twice: kernels are reusable), and after a MindIR and an ONNX
// write → read round trip when the row has those spellings. One test fails when a row has no
// case, so an op cannot land untested. The eager and Executor paths run once per instruction set
// the CPU has (ops/isa.h: the best one, then each lesser one forced, down to the portable code),
// so that the kernel variants another CPU would pick are checked here too.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "ops/isa.h"
#include "ops/op_case.h"
#include "ops/op_table.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace cellar::testing {

namespace {

std::vector<std::function<std::vector<OpCase>()>>& tables() {
  static std::vector<std::function<std::vector<OpCase>()>> t;
  return t;
}

}  // namespace

OpCaseTable::OpCaseTable(std::function<std::vector<OpCase>()> make) {
  tables().push_back(std::move(make));
}

std::vector<OpCase> all_op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> all;
    for (const auto& make : tables())
      for (auto& c : make()) all.push_back(std::move(c));
    return all;
  }();
  return cases;
}

// ---- inputs and reference helpers ----

Tensor uniform(const Shape& s, uint64_t seed, double lo, double hi, DType dt) {
  Generator g(seed);
  Tensor u = ops::uniform(s, lo, hi, g, DType::Float64);
  std::vector<double> v = as_doubles(u);
  if (!is_floating(dt))
    for (double& x : v) x = std::floor(x);
  return from_doubles(v, s, dt);
}

Tensor values(const std::vector<double>& v, const Shape& s, DType dt) {
  return from_doubles(v, s, dt);
}

std::vector<double> as_doubles(const Tensor& t) {
  const Tensor d = t.to(DType::Float64);
  return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
}

Tensor from_doubles(const std::vector<double>& v, const Shape& s, DType dt) {
  EXPECT_EQ(static_cast<int64_t>(v.size()), s.numel());
  return Tensor::from_vector(v, s).to(dt);
}

OpReference unary_ref(std::function<double(double)> f) {
  return [f](const std::vector<Tensor>& in, const ir::Attrs&) {
    std::vector<double> x = as_doubles(in.at(0));
    for (double& e : x) e = f(e);
    return std::vector<Tensor>{from_doubles(x, in[0].shape(), in[0].dtype())};
  };
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.rank() ? 1 : a[i - (r - a.rank())];
    const int64_t db = i < r - b.rank() ? 1 : b[i - (r - b.rank())];
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

int64_t broadcast_index(const Shape& in, const Shape& out, int64_t flat) {
  int64_t idx = 0, stride = 1;
  for (size_t k = 0; k < out.rank(); ++k) {
    const size_t d = out.rank() - 1 - k;
    const int64_t coord = flat % out[d];
    flat /= out[d];
    if (k < in.rank()) {
      const int64_t n = in[in.rank() - 1 - k];
      idx += (n == 1 ? 0 : coord) * stride;
      stride *= n;
    }
  }
  return idx;
}

OpReference binary_ref(std::function<double(double, double)> f, std::optional<DType> out) {
  return [f, out](const std::vector<Tensor>& in, const ir::Attrs&) {
    const Shape s = broadcast_shape(in.at(0).shape(), in.at(1).shape());
    const auto a = as_doubles(in[0]), b = as_doubles(in[1]);
    std::vector<double> y(static_cast<size_t>(s.numel()));
    for (int64_t i = 0; i < s.numel(); ++i)
      y[static_cast<size_t>(i)] = f(a[static_cast<size_t>(broadcast_index(in[0].shape(), s, i))],
                                    b[static_cast<size_t>(broadcast_index(in[1].shape(), s, i))]);
    return std::vector<Tensor>{from_doubles(y, s, out.value_or(in[0].dtype()))};
  };
}

namespace {

std::string test_name(const OpCase& c) {
  std::string n = c.op + "_" + c.label;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

// The one-node graph of a case: inputs in0…, the node, outputs out0… typed by the shape rule.
ir::Graph one_node_graph(const OpCase& c) {
  ir::Graph g;
  g.name = "case";
  ir::Node node{.name = c.op + "_node", .op = c.op, .attrs = c.attrs};
  std::vector<ops::TensorType> types;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    const int v = g.add_value("in" + std::to_string(i), t.dtype(), t.shape());
    g.inputs.push_back(v);
    node.inputs.push_back(v);
    types.push_back({t.dtype(), t.shape()});
  }
  const auto outs = ops::op_table().find(c.op)->infer(types, c.attrs);
  for (size_t i = 0; i < outs.size(); ++i) {
    const int o = g.add_value("out" + std::to_string(i), outs[i].dtype, outs[i].shape);
    node.outputs.push_back(o);
    g.outputs.push_back(o);
  }
  g.nodes.push_back(std::move(node));
  return g;
}

void expect_matches(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol,
                    const std::string& path) {
  SCOPED_TRACE(path);
  // Multi-output rows (BatchNorm) may give fewer reference outputs: those are compared.
  ASSERT_GE(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    ASSERT_EQ(got[i].shape(), want[i].shape());
    ASSERT_EQ(got[i].dtype(), want[i].dtype());
    const auto g = as_doubles(got[i]), w = as_doubles(want[i]);
    for (size_t k = 0; k < g.size(); ++k) {
      if (std::isnan(w[k]) || std::isnan(g[k])) {
        ASSERT_EQ(std::isnan(w[k]), std::isnan(g[k]))
            << "element " << k << ": got " << g[k] << ", want " << w[k];
        continue;
      }
      if (std::isinf(w[k])) {
        ASSERT_EQ(g[k], w[k]) << "element " << k;
        continue;
      }
      ASSERT_LE(std::fabs(g[k] - w[k]), tol * (1 + std::fabs(w[k])))
          << "element " << k << ": got " << g[k] << ", want " << w[k];
    }
  }
}

// On three workers (more than this machine's cores, so that chunks also meet descheduled
// workers): the cases large enough to be split check each kernel's split against the reference.
std::vector<Tensor> run_graph(ir::Graph g, const std::vector<Tensor>& in) {
  runtime::Executor ex(std::move(g), {.threads = 3});
  auto first = ex.run(in);
  auto second = ex.run(in);  // kernels are immutable: a second run gives the same bytes
  EXPECT_EQ(first.size(), second.size());
  for (size_t i = 0; i < std::min(first.size(), second.size()); ++i)
    EXPECT_TRUE(first[i].equal(second[i])) << "output " << i << " differs between two runs";
  return first;
}

// The instruction sets this CPU has below the one the kernels pick (ops/isa.h), best first: on an
// AVX-512 CPU AVX2 and none, on an AVX2 CPU none.
std::vector<ops::Isa> lesser_isas() {
  std::vector<ops::Isa> out;
  for (ops::Isa isa : {ops::Isa::kAvx512, ops::Isa::kAvx2, ops::Isa::kNone})
    if (isa != ops::kernel_isa() && ops::cpu_has(isa) &&
        (isa == ops::Isa::kNone || ops::kernel_isa() == ops::Isa::kAvx512))
      out.push_back(isa);
  return out;
}

// The kernels on `isa` while it lives, then on what they ran before.
class ForcedIsa {
 public:
  explicit ForcedIsa(ops::Isa isa) : previous_(ops::force_isa(isa)) {}
  ~ForcedIsa() { ops::force_isa(previous_); }
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;

 private:
  ops::Isa previous_;
};

class OpTableCase : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTableCase, MatchesReference) {
  const OpCase& c = GetParam();
  const ops::OpDef* def = ops::op_table().find(c.op);
  ASSERT_NE(def, nullptr) << "no row '" << c.op << "'";

  if (!c.error.empty()) {
    try {
      ops::call(c.op, c.inputs, c.attrs);
      FAIL() << "expected an error containing '" << c.error << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
    }
    return;
  }

  const auto eager = ops::call(c.op, c.inputs, c.attrs);
  if (c.check) c.check(eager);
  if (!c.reference) {
    ASSERT_TRUE(c.check) << "a case needs a reference, a check or an error";
    return;
  }
  const auto want = c.reference(c.inputs, c.attrs);
  expect_matches(eager, want, c.tol, "eager");
  if (!def->make_kernel) return;  // eager-only rows (random ops)
  expect_matches(run_graph(one_node_graph(c), c.inputs), want, c.tol, "executor");
  for (ops::Isa isa : lesser_isas()) {
    ForcedIsa forced(isa);
    const std::string on = std::string(" on ") + ops::isa_name(isa);
    expect_matches(ops::call(c.op, c.inputs, c.attrs), want, c.tol, "eager" + on);
    expect_matches(run_graph(one_node_graph(c), c.inputs), want, c.tol, "executor" + on);
  }

  TempDir dir;
  if (!def->mindir.primitive.empty() && c.no_mindir.empty()) {
    const auto path = export_graph(one_node_graph(c), (dir / "case").string(), FileFormat::MINDIR);
    expect_matches(run_graph(load(path), c.inputs), want, c.tol, "MindIR round trip");
  }
  if (def->onnx && c.no_onnx.empty()) {
    const auto path = export_graph(one_node_graph(c), (dir / "case").string(), FileFormat::ONNX);
    expect_matches(run_graph(load(path), c.inputs), want, c.tol, "ONNX round trip");
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTableCase, ::testing::ValuesIn(all_op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& param_info) {
                           return test_name(param_info.param);
                         });

TEST(OpTable, EveryRowHasACaseAndEveryCaseARow) {
  std::map<std::string, int> cases;
  std::set<std::string> names;
  for (const auto& c : all_op_cases()) {
    ++cases[c.op];
    EXPECT_TRUE(names.insert(test_name(c)).second) << "two cases named " << test_name(c);
    EXPECT_NE(ops::op_table().find(c.op), nullptr) << "a case for unknown row '" << c.op << "'";
  }
  for (const auto& name : ops::op_table().names())
    EXPECT_GT(cases[name], 0) << "row '" << name << "' has no case in tests/ops/cases_*.cpp";
}

TEST(OpTable, RegistrationRefusesClashes) {
  ops::OpTable t;
  auto row = [](std::string name, std::string prim, std::string onnx) {
    ops::OpDef d{.name = std::move(name)};
    d.infer = [](std::span<const ops::TensorType> in, const ir::Attrs&) {
      return std::vector<ops::TensorType>{in[0]};
    };
    d.mindir.primitive = std::move(prim);
    if (!onnx.empty()) d.onnx_import.push_back({onnx, [](ops::OnnxImporter&) {}});
    return d;
  };
  t.add(row("A", "A", "OnnxA"));
  EXPECT_THROW(t.add(row("A", "Other", "")), std::logic_error);         // the name
  EXPECT_THROW(t.add(row("B", "A", "")), std::logic_error);             // a MindIR primitive
  EXPECT_THROW(t.add(row("C", "C", "OnnxA")), std::logic_error);        // an ONNX import op type
  EXPECT_THROW(t.add(ops::OpDef{.name = "NoRule"}), std::logic_error);  // no shape rule
  t.add(row("D", "D", "OnnxD"));  // a clean row still goes in after the refusals
  EXPECT_NE(t.find("D"), nullptr);
  EXPECT_EQ(t.find("B"), nullptr);
  EXPECT_EQ(t.find_mindir("C"), nullptr);
}

}  // namespace

}  // namespace cellar::testing
