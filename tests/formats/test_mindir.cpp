// MindIR: round trips Graph → file → Graph through the op table, the layout the writer puts on
// disk (MindSpore's conventions), MindSpore's graph plumbing, and files MindSpore 2.10 wrote
// (tests/fixtures/mindspore/2.10/mindir, made by make_fixtures.py there).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "cellar/cellar.h"
#include "formats/format.h"
#include "formats/mindir.h"
#include "mind_ir.pb.h"
#include "ops/op_table.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::TempDir;
namespace pb = ::mind_ir;

namespace {
using cellar::testing::max_abs_diff;
using cellar::testing::read_f32;

const std::filesystem::path kFixtures =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir";

Tensor iota(DType t, Shape s) {
  Tensor x = Tensor::from_vector(std::vector<double>(static_cast<size_t>(s.numel())), s);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = 0.25 * double(i % 7) - 0.5;
  return x.to(t);
}

ir::Node node(std::string op, std::vector<int> in, std::vector<int> out, ir::Attrs attrs = {}) {
  ir::Node n;
  n.name = op + "-op" + std::to_string(out.at(0));
  n.op = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  return n;
}

// x(2,4) → MatMul(w, transpose_b) → BiasAdd → ReLU → {Reshape(3,2), Mul(const) + ReLU}.
ir::Graph small_graph() {
  ir::Graph g;
  g.name = "Small";
  const int x = g.add_value("x", DType::Float32, {2, 4});
  const int w = g.add_value("dense.weight", DType::Float32, {3, 4});
  const int b = g.add_value("dense.bias", DType::Float32, {3});
  const int c = g.add_value("scale", DType::Float32, {2, 3});
  const int m = g.add_value("MatMul-op0", DType::Float32, {2, 3});
  const int ba = g.add_value("BiasAdd-op1", DType::Float32, {2, 3});
  const int r = g.add_value("ReLU-op2", DType::Float32, {2, 3});
  const int rs = g.add_value("Reshape-op3", DType::Float32, {3, 2});
  const int mu = g.add_value("Mul-op4", DType::Float32, {2, 3});
  const int ad = g.add_value("Add-op5", DType::Float32, {2, 3});
  g.inputs = {x};
  g.initializers = {{.value = w, .data = iota(DType::Float32, {3, 4})},
                    {.value = b, .data = iota(DType::Float32, {3})},
                    {.value = c, .data = iota(DType::Float32, {2, 3}), .is_parameter = false}};
  g.nodes = {node("MatMul", {x, w}, {m}, {{"transpose_a", false}, {"transpose_b", true}}),
             node("BiasAdd", {m, b}, {ba}, {{"data_format", int64_t{0}}}),
             node("ReLU", {ba}, {r}),
             node("Reshape", {r}, {rs}, {{"shape", std::vector<int64_t>{3, 2}}}),
             node("Mul", {r, c}, {mu}),
             node("Add", {mu, r}, {ad})};
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = g.value(g.nodes[i].outputs[0]).name;
  g.outputs = {rs, ad};
  g.validate();
  return g;
}

void expect_attr_eq(const ir::Attr& a, const ir::Attr& b, const std::string& what) {
  ASSERT_EQ(a.index(), b.index()) << what;
  if (auto* t = std::get_if<Tensor>(&a)) {
    EXPECT_TRUE(t->equal(std::get<Tensor>(b))) << what;
  } else if (auto* i = std::get_if<int64_t>(&a)) {
    EXPECT_EQ(*i, std::get<int64_t>(b)) << what;
  } else if (auto* d = std::get_if<double>(&a)) {
    EXPECT_EQ(*d, std::get<double>(b)) << what;
  } else if (auto* x = std::get_if<bool>(&a)) {
    EXPECT_EQ(*x, std::get<bool>(b)) << what;
  } else if (auto* s = std::get_if<std::string>(&a)) {
    EXPECT_EQ(*s, std::get<std::string>(b)) << what;
  } else if (auto* v = std::get_if<std::vector<int64_t>>(&a)) {
    EXPECT_EQ(*v, std::get<std::vector<int64_t>>(b)) << what;
  } else {
    EXPECT_EQ(std::get<std::vector<double>>(a), std::get<std::vector<double>>(b)) << what;
  }
}

// Same values (by name: dtype, shape), inputs, outputs, initializers (bytes, kind), nodes (op,
// attrs, inputs and outputs by name).
void expect_same_graph(const ir::Graph& a, const ir::Graph& b) {
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i)
    EXPECT_EQ(a.value(a.inputs[i]).name, b.value(b.inputs[i]).name);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i)
    EXPECT_EQ(a.value(a.outputs[i]).name, b.value(b.outputs[i]).name);
  for (const auto& v : a.values) {
    const int id = b.find_value(v.name);
    ASSERT_GE(id, 0) << v.name;
    EXPECT_EQ(b.value(id).dtype, v.dtype) << v.name;
    EXPECT_EQ(b.value(id).shape, v.shape) << v.name;
  }
  ASSERT_EQ(a.initializers.size(), b.initializers.size());
  for (const auto& init : a.initializers) {
    const std::string& name = a.value(init.value).name;
    const ir::Initializer* got = b.find_initializer(b.find_value(name));
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->is_parameter, init.is_parameter) << name;
    EXPECT_TRUE(got->data.equal(init.data)) << name;
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (const auto& n : a.nodes) {
    const std::string out = a.value(n.outputs.at(0)).name;
    const ir::Node* m = nullptr;
    for (const auto& k : b.nodes)
      if (b.value(k.outputs.at(0)).name == out) m = &k;
    ASSERT_NE(m, nullptr) << out;
    EXPECT_EQ(m->op, n.op) << out;
    ASSERT_EQ(m->inputs.size(), n.inputs.size()) << out;
    for (size_t i = 0; i < n.inputs.size(); ++i)
      EXPECT_EQ(b.value(m->inputs[i]).name, a.value(n.inputs[i]).name) << out;
    ASSERT_EQ(m->attrs.size(), n.attrs.size()) << out;
    for (const auto& [k, v] : n.attrs) {
      ASSERT_TRUE(m->attrs.count(k)) << out << " " << k;
      expect_attr_eq(m->attrs.at(k), v, out + " " + k);
    }
  }
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

ir::Graph roundtrip(const ir::Graph& g) {
  ir::Graph back = formats::read_mindir(as_bytes(formats::write_mindir(g)), "memory.mindir");
  back.validate("memory.mindir");
  return back;
}

}  // namespace

TEST(MindIR, RoundTripThroughAFile) {
  TempDir dir;
  const ir::Graph g = small_graph();
  const auto path = dir / "small.mindir";
  {
    formats::AtomicFile out(path);
    formats::mindir_format().write(g, out);
    out.commit();
  }
  const ir::Graph back = load(path);  // reader + Graph::validate
  EXPECT_EQ(back.name, "Small");
  expect_same_graph(g, back);
  expect_same_graph(back, g);

  // Both graphs compute the same thing.
  nn::GraphCell a(g), b(back);
  const Tensor x = iota(DType::Float32, {2, 4});
  const Value va = a({Value(x)}), vb = b({Value(x)});
  ASSERT_TRUE(va.is_tuple() && vb.is_tuple());
  for (size_t i = 0; i < 2; ++i)
    EXPECT_TRUE(va.tuple()[i].tensor().equal(vb.tuple()[i].tensor())) << i;
}

TEST(MindIR, RoundTripEveryDType) {
  ir::Graph g;
  g.name = "dtypes";
  for (DType t : {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8,
                  DType::UInt16, DType::UInt32, DType::UInt64, DType::Float16, DType::BFloat16,
                  DType::Float32, DType::Float64}) {
    const Shape s = t == DType::Int64 ? Shape{} : Shape{2, 3};
    const int v = g.add_value(std::string(mindspore_name(t)), t, s);
    g.initializers.push_back({.value = v, .data = iota(t, s)});
    g.outputs.push_back(v);
  }
  const int e = g.add_value("empty", DType::Float32, {0, 4});
  g.initializers.push_back({.value = e, .data = Tensor(DType::Float32, {0, 4})});
  g.outputs.push_back(e);
  g.validate();
  const ir::Graph back = roundtrip(g);
  expect_same_graph(g, back);
}

TEST(MindIR, RoundTripAttributeKinds) {
  ir::Graph g;
  g.name = "attrs";
  const int x = g.add_value("x", DType::Float32, {4});
  const int y = g.add_value("y", DType::Float32, {4});
  g.inputs = {x};
  ir::Attrs attrs{{"an_int", int64_t{-7}},
                  {"a_float", 0.1},  // not a float32: kept exact through `d`
                  {"a_true", true},
                  {"a_false", false},
                  {"a_string", std::string("NCHW")},
                  {"ints", std::vector<int64_t>{1, -2, 3}},
                  {"no_ints", std::vector<int64_t>{}},
                  {"floats", std::vector<double>{0.5, -1.25, 1e-7}},
                  {"a_tensor", iota(DType::Int32, {2, 2})}};
  g.nodes = {node("ReLU", {x}, {y}, attrs)};
  g.outputs = {y};
  g.validate();
  expect_same_graph(g, roundtrip(g));
}

TEST(MindIR, WriterUsesMindSporesLayout) {
  const ir::Graph g = small_graph();
  pb::ModelProto m;
  const std::string bytes = formats::write_mindir(g);
  ASSERT_TRUE(m.ParseFromString(bytes));
  EXPECT_EQ(m.ir_version(), "1.1");
  EXPECT_EQ(m.producer_name(), "cellar");
  EXPECT_EQ(m.mind_ir_version(), 3);
  EXPECT_TRUE(m.little_endian());
  const auto& gp = m.graph();
  EXPECT_EQ(gp.name(), "Small");
  ASSERT_EQ(gp.input_size(), 1);
  EXPECT_EQ(gp.input(0).name(), "Small:x");
  EXPECT_EQ(gp.input(0).tensor(0).data_type(), pb::TensorProto::FLOAT);
  EXPECT_EQ(std::vector<int64_t>(gp.input(0).tensor(0).dims().begin(),
                                 gp.input(0).tensor(0).dims().end()),
            (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(gp.parameter_size(), 2);
  EXPECT_EQ(gp.parameter(0).name(), "Small:dense.weight");
  EXPECT_EQ(gp.parameter(0).ref_key(), "dense.weight");
  EXPECT_EQ(gp.parameter(0).raw_data().size(), 3u * 4u * 4u);
  std::map<std::string, const pb::NodeProto*> by_name;
  std::map<std::string, const pb::PrimitiveProto*> prims;
  for (const auto& p : m.primitives()) prims[p.name()] = &p;
  for (const auto& n : gp.node()) {
    by_name[n.name()] = &n;
    ASSERT_EQ(n.output_size(), 1);
    EXPECT_EQ(n.output(0), n.name());
    if (n.op_type() == "Constant") continue;
    ASSERT_EQ(n.op_type().rfind("REF::", 0), 0u) << n.op_type();
    ASSERT_TRUE(prims.count(n.op_type().substr(5))) << n.op_type();
    bool has_shape = false;
    for (const auto& a : n.attribute()) has_shape |= a.name() == "shape";
    EXPECT_TRUE(has_shape) << n.name();
  }
  // The constant tensor is a value node; Reshape's shape is a constant tuple input.
  ASSERT_TRUE(by_name.count("Small:scale"));
  EXPECT_EQ(by_name["Small:scale"]->attribute(0).type(), pb::AttributeProto::TENSORS);
  const pb::NodeProto* reshape = by_name.at("Small:Reshape-op3");
  const auto* rp = prims.at(reshape->op_type().substr(5));
  EXPECT_EQ(rp->op_type(), "Reshape");
  EXPECT_EQ(rp->prim_type(), pb::PrimitiveProto::PRIMITIVE_FUNCTION);
  ASSERT_EQ(reshape->input_size(), 2);
  const pb::NodeProto* shape = by_name.at(reshape->input(1));
  EXPECT_EQ(shape->op_type(), "Constant");
  const auto& value = shape->attribute(0);
  EXPECT_EQ(value.type(), pb::AttributeProto::TUPLE);
  ASSERT_EQ(value.values_size(), 2);
  EXPECT_EQ(value.values(0).type(), pb::AttributeProto::INT64);
  EXPECT_EQ(value.values(0).ints(0), 3);
  // Two outputs: a MakeTuple, declared a tuple.
  ASSERT_EQ(gp.output_size(), 1);
  EXPECT_EQ(gp.output(0).denotation(), "Tuple");
  EXPECT_EQ(by_name.at(gp.output(0).name())->input_size(), 2);
  // Deterministic.
  EXPECT_EQ(formats::write_mindir(g), bytes);
}

TEST(MindIR, SniffTellsMindIRFromCheckpointsAndGarbage) {
  const auto& f = formats::mindir_format();
  const std::string ours = formats::write_mindir(small_graph());
  EXPECT_TRUE(f.sniff(as_bytes(ours.substr(0, 64))));
  const std::string ckpt("\x0a\x1c\x0a\x06weight\x12\x12", 11);  // Checkpoint{value{tag ...}}
  EXPECT_FALSE(f.sniff(as_bytes(ckpt)));
  EXPECT_FALSE(f.sniff(as_bytes(std::string("\x7f\x45\x4c\x46", 4))));
  EXPECT_FALSE(f.sniff({}));
}

// A graph as MindSpore's compiler leaves it: parameters behind Load(param, U), an UpdateState
// chain, Depend on the result, MakeTuple/TupleGetItem, a Return node instead of declared
// outputs, an old-style PRIMITIVE MatMul with attributes, and a constant tensor input.
TEST(MindIR, ReadsMindSporesGraphPlumbing) {
  pb::ModelProto m;
  m.set_ir_version("0.1.1");
  m.set_producer_name("MindSpore");
  auto* gp = m.mutable_graph();
  gp->set_name("g");
  auto type = [](pb::TensorProto* t, std::vector<int64_t> dims) {
    for (auto d : dims) t->add_dims(d);
    t->set_data_type(pb::TensorProto::FLOAT);
  };
  auto* in = gp->add_input();
  in->set_name("g:x");
  type(in->add_tensor(), {1, 3});
  auto* w = gp->add_parameter();
  type(w, {2, 3});
  w->set_name("g:fc.weight");
  const float wv[6] = {1, 2, 3, -1, -2, -3};
  w->set_raw_data(reinterpret_cast<const char*>(wv), sizeof wv);
  auto prim = [&](const std::string& name, const std::string& op) {
    auto* p = m.add_primitives();
    p->set_name(name);
    p->set_op_type(op);
    return p;
  };
  auto* mm = prim("MatMul:1", "MatMul");
  auto* tb = mm->add_attribute();
  tb->set_name("transpose_b");
  tb->set_type(pb::AttributeProto::BOOL);
  tb->set_i(1);
  auto* names = mm->add_attribute();  // 1.x primitives carry these; not representable, ignored
  names->set_name("input_names");
  names->set_type(pb::AttributeProto::LIST);
  names->add_values()->set_type(pb::AttributeProto::STRING);
  for (auto [n, op] : {std::pair{"Load:2", "Load"},
                       {"UpdateState:3", "UpdateState"},
                       {"Depend:4", "Depend"},
                       {"MakeTuple:5", "MakeTuple"},
                       {"TupleGetItem:6", "TupleGetItem"},
                       {"Return:7", "Return"},
                       {"Add:8", "Add"}})
    prim(n, op);
  auto add_node = [&](const std::string& out, const std::string& op,
                      std::vector<std::string> inputs) {
    auto* n = gp->add_node();
    n->set_name(out);
    n->add_output(out);
    n->set_op_type(op);
    for (auto& i : inputs) n->add_input(i);
    return n;
  };
  auto* u = add_node("U", "Constant", {});
  u->add_attribute()->set_type(pb::AttributeProto::UMONAD);
  u->mutable_attribute(0)->set_name("value");
  auto* idx = add_node("one", "Constant", {});
  idx->add_attribute()->set_name("value");
  idx->mutable_attribute(0)->set_type(pb::AttributeProto::INT64);
  idx->mutable_attribute(0)->set_i(1);
  auto* bias = add_node("bias", "Constant", {});
  auto* bv = bias->add_attribute();
  bv->set_name("value");
  bv->set_type(pb::AttributeProto::TENSORS);
  type(bv->add_tensors(), {1, 2});
  const float b2[2] = {10, 20};
  bv->mutable_tensors(0)->set_raw_data(reinterpret_cast<const char*>(b2), sizeof b2);
  add_node("g:load_w", "REF::Load:2", {"g:fc.weight", "U"});
  add_node("g:mm", "REF::MatMul:1", {"g:x", "g:load_w"});  // no "shape": inferred
  add_node("g:add", "REF::Add:8", {"g:mm", "bias"});
  add_node("g:tuple", "REF::MakeTuple:5", {"g:load_w", "g:add"});
  add_node("g:item", "REF::TupleGetItem:6", {"g:tuple", "one"});
  add_node("g:us", "REF::UpdateState:3", {"U", "g:tuple"});
  add_node("g:dep", "REF::Depend:4", {"g:item", "g:us"});
  add_node("g:ret", "REF::Return:7", {"g:dep"});

  const std::string bytes = m.SerializeAsString();
  ir::Graph g = formats::read_mindir(as_bytes(bytes), "plumbing.mindir");
  g.validate("plumbing.mindir");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "MatMul");
  EXPECT_EQ(std::get<bool>(g.nodes[0].attrs.at("transpose_b")), true);
  EXPECT_EQ(g.nodes[0].attrs.count("input_names"), 0u);
  EXPECT_EQ(g.nodes[1].op, "Add");
  EXPECT_EQ(g.value(g.inputs.at(0)).name, "x");
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).name, "fc.weight");
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{1, 2}));
  const ir::Initializer* c = g.find_initializer(g.nodes[1].inputs[1]);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->is_parameter);

  nn::GraphCell cell(std::move(g));
  const Tensor y = cell(Tensor::from_vector<float>({1, 1, 1}, {1, 3}));
  EXPECT_EQ(y.data<float>()[0], 16.0f);
  EXPECT_EQ(y.data<float>()[1], 14.0f);
}

// ---- files MindSpore 2.10 wrote ----

TEST(MindIRFromMindSpore, TupleNetworkRunsLikeMindSpore) {
  const ir::Graph g = load(kFixtures / "tuple.mindir");
  ASSERT_EQ(g.inputs.size(), 2u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(g.value(g.inputs[0]).shape, (Shape{6}));
  EXPECT_EQ(g.value(g.inputs[1]).name, "y");
  ASSERT_EQ(g.outputs.size(), 2u);
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  EXPECT_EQ(ops, (std::map<std::string, int>{{"Add", 1}, {"Mul", 1}, {"ReLU", 1}, {"Reshape", 1}}));
  for (const auto& n : g.nodes) {
    if (n.op == "Reshape") {
      EXPECT_EQ(std::get<std::vector<int64_t>>(n.attrs.at("shape")), (std::vector<int64_t>{2, 3}));
    }
  }

  nn::GraphCell cell(g);
  const Value out = cell({Value(read_f32(kFixtures / "tuple.input0.f32", {6})),
                          Value(read_f32(kFixtures / "tuple.input1.f32", {2, 3}))});
  ASSERT_TRUE(out.is_tuple());
  EXPECT_LE(
      max_abs_diff(out.tuple().at(0).tensor(), read_f32(kFixtures / "tuple.output0.f32", {2, 3})),
      1e-5);
  EXPECT_LE(
      max_abs_diff(out.tuple().at(1).tensor(), read_f32(kFixtures / "tuple.output1.f32", {2, 3})),
      1e-5);
}

TEST(MindIRFromMindSpore, QuickStartMLPRunsLikeMindSpore) {
  // MindSpore 2.x passes MatMul's transpose flags and BiasAdd's data_format as constant inputs;
  // reading them needs the op table to name them (OpDef::mindir.attr_inputs).
  const auto* mm = ops::op_table().find("MatMul");
  const auto* ba = ops::op_table().find("BiasAdd");
  if (mm->mindir.attr_inputs.size() != 2 || ba->mindir.attr_inputs.size() != 1)
    GTEST_SKIP() << "op table: MatMul needs attr_inputs {transpose_a, transpose_b} and BiasAdd "
                    "{data_format} to read MindSpore 2.x files";
  const ir::Graph g = load(kFixtures / "mlp.mindir");
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(g.value(g.inputs[0]).shape, (Shape{1, 1, 28, 28}));
  std::map<std::string, Shape> params;
  for (const auto& init : g.initializers)
    if (init.is_parameter) params[g.value(init.value).name] = init.data.shape();
  EXPECT_EQ(params, (std::map<std::string, Shape>{{"dense_relu_sequential.0.weight", {512, 784}},
                                                  {"dense_relu_sequential.0.bias", {512}},
                                                  {"dense_relu_sequential.2.weight", {512, 512}},
                                                  {"dense_relu_sequential.2.bias", {512}},
                                                  {"dense_relu_sequential.4.weight", {10, 512}},
                                                  {"dense_relu_sequential.4.bias", {10}}}));
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op];
  EXPECT_EQ(ops, (std::map<std::string, int>{
                     {"BiasAdd", 3}, {"Flatten", 1}, {"MatMul", 3}, {"ReLU", 2}}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{1, 10}));

  nn::GraphCell cell(g);
  const Tensor y = cell(read_f32(kFixtures / "mlp.input.f32", {1, 1, 28, 28}));
  EXPECT_LE(max_abs_diff(y, read_f32(kFixtures / "mlp.output.f32", {1, 10})), 1e-5);

  // And back out through our writer: same graph.
  expect_same_graph(g, roundtrip(g));
}

// Pad's MindIR spellings, as MindSpore 2.10 writes and runs them: a zero fill is Pad (paddings a
// tuple of pairs), reflect/symmetric are MirrorPad (mode REFLECT/SYMMETRIC, paddings an int64
// (rank, 2) tensor input), edge and other fills are PadV3 (paddings for the last dimensions, last
// first; value a scalar of x's dtype, None in edge mode). Each reads back as the same Pad and runs
// to the same values; what MindSpore cannot run is refused at export naming the node.
TEST(MindIR, PadModesAsMindSporeSpellsThem) {
  struct Case {
    ir::Attrs attrs;
    Shape x;
    std::string primitive;
  };
  using V = std::vector<int64_t>;
  const std::vector<Case> cases = {
      {{{"paddings", V{0, 0, 1, 2}}}, {2, 3}, "Pad"},
      {{{"paddings", V{0, 0, 1, 2}}, {"mode", std::string("constant")}, {"value", 0.0}},
       {2, 3},
       "Pad"},
      {{{"paddings", V{1, 0, 0, 2}}, {"mode", std::string("reflect")}}, {2, 3}, "MirrorPad"},
      {{{"paddings", V{2, 1, 3, 0, 0, 0}}, {"mode", std::string("symmetric")}},
       {2, 3, 4},
       "MirrorPad"},
      {{{"paddings", V{0, 0, 0, 0, 2, 1, 0, 3}}, {"mode", std::string("edge")}},
       {2, 3, 4, 5},
       "PadV3"},
      {{{"paddings", V{0, 0, 1, 0, 0, 0}}, {"value", -1.5}}, {2, 3, 4}, "PadV3"},
      // No padding: the identity, whatever the mode or fill.
      {{{"paddings", V{0, 0, 0, 0}}, {"mode", std::string("symmetric")}}, {2, 3}, "Pad"},
      {{{"paddings", V{0, 0, 0, 0}}, {"value", 3.0}}, {2, 3}, "Pad"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.primitive);
    ir::Graph g;
    g.name = "P";
    const int x = g.add_value("x", DType::Float32, c.x);
    const ops::TensorType t{DType::Float32, c.x};
    const auto out = ops::op_table().find("Pad")->infer({&t, 1}, c.attrs);
    const int y = g.add_value("y", DType::Float32, out[0].shape);
    g.inputs = {x};
    g.outputs = {y};
    g.nodes.push_back(node("Pad", {x}, {y}, c.attrs));
    pb::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(formats::write_mindir(g)));
    const pb::PrimitiveProto* prim = nullptr;
    for (const auto& p : m.primitives())
      if (p.op_type() != "MakeTuple") prim = &p;
    ASSERT_NE(prim, nullptr);
    EXPECT_EQ(prim->op_type(), c.primitive);
    EXPECT_EQ(prim->prim_type(), pb::PrimitiveProto::PRIMITIVE);
    std::map<std::string, const pb::AttributeProto*> attrs;
    for (const auto& a : prim->attribute()) attrs[a.name()] = &a;
    std::vector<const pb::AttributeProto*> consts;  // the op's constant inputs, in order
    for (const auto& n : m.graph().node())
      if (n.op_type() == "Constant") consts.push_back(&n.attribute(0));
    if (c.primitive == "MirrorPad") {
      ASSERT_TRUE(attrs.count("mode"));
      EXPECT_EQ(attrs["mode"]->s(),
                std::get<std::string>(c.attrs.at("mode")) == "reflect" ? "REFLECT" : "SYMMETRIC");
      ASSERT_EQ(consts.size(), 1u);
      ASSERT_EQ(consts[0]->type(), pb::AttributeProto::TENSORS);
      EXPECT_EQ(consts[0]->tensors(0).data_type(), pb::TensorProto::INT64);
      EXPECT_EQ(consts[0]->tensors(0).dims_size(), 2);
      EXPECT_EQ(consts[0]->tensors(0).dims(1), 2);
    } else if (c.primitive == "PadV3") {
      ASSERT_TRUE(attrs.count("mode") && attrs.count("paddings_contiguous"));
      EXPECT_EQ(attrs["paddings_contiguous"]->type(), pb::AttributeProto::BOOL);
      ASSERT_EQ(consts.size(), 2u);
      EXPECT_EQ(consts[0]->type(), pb::AttributeProto::TUPLE);
      if (attrs["mode"]->s() == "edge") {
        EXPECT_EQ(consts[0]->values_size(), 2 * (int(c.x.rank()) - 2));  // dimensions 2 and up
        EXPECT_EQ(consts[1]->type(), pb::AttributeProto::NONE);
      } else {
        EXPECT_EQ(attrs["mode"]->s(), "constant");
        EXPECT_EQ(consts[0]->values_size(), 4);  // the last two dimensions, the last first
        EXPECT_EQ(consts[0]->values(2).ints(0), 1);
        EXPECT_EQ(consts[1]->type(), pb::AttributeProto::TENSORS);
        EXPECT_EQ(consts[1]->tensors(0).data_type(), pb::TensorProto::FLOAT);
      }
    } else {
      EXPECT_FALSE(attrs.count("mode"));
      EXPECT_FALSE(attrs.count("value"));
      ASSERT_TRUE(attrs.count("paddings"));
      EXPECT_EQ(attrs["paddings"]->values(0).type(), pb::AttributeProto::TUPLE);
    }
    const ir::Graph back = formats::read_mindir(as_bytes(formats::write_mindir(g)), "p.mindir");
    ASSERT_EQ(back.nodes.size(), 1u);
    EXPECT_EQ(back.nodes[0].op, "Pad");
    const Tensor in = iota(DType::Float32, c.x);
    EXPECT_TRUE(nn::GraphCell(back)(in).equal(nn::GraphCell(g)(in)));
  }
  // What MindSpore 2.10 cannot run: refused, naming the node.
  const std::vector<std::pair<ir::Attrs, Shape>> refused = {
      {{{"paddings", V{1, 0, 0, 0, 1, 1}}, {"mode", std::string("edge")}}, {2, 3, 4}},  // dim 0
      {{{"paddings", V{0, 0, 1, 1}}, {"mode", std::string("edge")}}, {2, 3}},           // rank 2
      {{{"paddings", V{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}}, {"mode", std::string("reflect")}},
       {2, 2, 2, 2, 2, 3}},  // rank 6
  };
  for (const auto& [attrs, shape] : refused) {
    ir::Graph g;
    const int x = g.add_value("x", DType::Float32, shape);
    const ops::TensorType t{DType::Float32, shape};
    const int y = g.add_value("y", DType::Float32,
                              ops::op_table().find("Pad")->infer({&t, 1}, attrs)[0].shape);
    g.inputs = {x};
    g.outputs = {y};
    g.nodes.push_back(node("Pad", {x}, {y}, attrs));
    try {
      (void)formats::write_mindir(g);
      ADD_FAILURE() << "no error for " << shape.str();
    } catch (const ExportError& e) {
      EXPECT_NE(std::string(e.what()).find("Pad-op1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("MindSpore's"), std::string::npos) << e.what();
    }
  }
}

// MindSpore 1.x wrote OneHot's axis as an attribute of its PRIMITIVE, the node taking (indices,
// depth, on_value, off_value) only; 2.x passes axis as a fifth, constant, input. MindSpore 2.10's
// file (make_ops_d_fixtures.py, OneHot on the last axis and on axis 0) rewritten to 1.x's form
// (one primitive per node, axis on it) runs as MindSpore ran the original.
TEST(MindIR, OneHotWithAxisAsAPrimitiveAttributeAs1xWroteIt) {
  const std::filesystem::path dir =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir";
  std::ifstream f(dir / "ops_d_onehot.mindir", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  pb::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  std::map<std::string, const pb::NodeProto*> by_name;
  for (const auto& n : m.graph().node()) by_name[n.name()] = &n;
  int rewritten = 0;
  std::vector<int64_t> axes;
  for (auto& n : *m.mutable_graph()->mutable_node()) {
    if (n.op_type().rfind("REF::OneHot:", 0) != 0) continue;
    ASSERT_EQ(n.input_size(), 5);
    const pb::NodeProto* axis = by_name.at(n.input(4));
    ASSERT_EQ(axis->op_type(), "Constant");
    auto* p = m.add_primitives();
    p->set_name("OneHot-op1x" + std::to_string(rewritten++));
    p->set_op_type("OneHot");
    p->set_prim_type(pb::PrimitiveProto::PRIMITIVE);
    auto* a = p->add_attribute();
    a->set_name("axis");
    a->set_type(pb::AttributeProto::INT64);
    a->set_i(axis->attribute(0).i());
    axes.push_back(axis->attribute(0).i());
    n.set_op_type("REF::" + p->name());
    n.mutable_input()->RemoveLast();
  }
  ASSERT_EQ(rewritten, 2);
  EXPECT_EQ(axes, (std::vector<int64_t>{-1, 0}));
  const std::string old_style = m.SerializeAsString();
  const ir::Graph g = formats::read_mindir(as_bytes(old_style), "onehot_1x.mindir");
  int one_hots = 0;
  for (const auto& n : g.nodes) one_hots += n.op == "OneHot";
  EXPECT_EQ(one_hots, 3);  // and OneHotExt's
  const Tensor y = nn::GraphCell(g)(read_npy(dir / "ops_d_onehot.input.npy"));
  EXPECT_EQ(cellar::testing::max_abs_diff(y, read_npy(dir / "ops_d_onehot.output.npy")), 0.0);

  // A 1.x node without the attribute is refused, naming the node.
  for (auto& p : *m.mutable_primitives())
    if (p.name() == "OneHot-op1x0") p.clear_attribute();
  try {
    formats::read_mindir(as_bytes(m.SerializeAsString()), "onehot_1x.mindir");
    FAIL() << "a OneHot without axis loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("takes 5 arguments"), std::string::npos) << e.what();
  }
}
