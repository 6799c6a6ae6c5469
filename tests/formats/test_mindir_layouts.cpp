// The argument layouts of MindIR across MindSpore versions: one network whose ops take arguments
// (Cast's dtype, Gather's axis and batch_dims, ReduceSum's axis and keep_dims, Reshape's shape,
// Transpose's perm, ExpandDims' axis, Softmax's and Concat's axis, Tile's multiples, MatMul's
// transpose flags), as MindSpore 2.10 wrote it and as 2.2 and 1.1 wrote the same graph
// (tests/fixtures/mindspore/2.10/mindir_layouts/make_layouts.py says how each file was made and
// layouts.txt what MindSpore 2.10 did with it). Each must load and run within 1e-5 of MindSpore's
// output. Then the reader's one input rule under hostile edits of the real 2.10 file: too many
// or too few inputs, an argument computed in the graph, a constant of the wrong kind, an
// unknown TypeId, trailing monads: each a typed cellar::Error naming the node, or a clean load.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "cellar/cellar.h"
#include "expect_error.h"
#include "formats/mindir.h"
#include "mind_ir.pb.h"
#include "tensor_compare.h"

using namespace cellar;
using cellar::testing::expect_error;
using cellar::testing::max_abs_diff;
namespace pb = ::mind_ir;

namespace {

const std::filesystem::path kDir =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir_layouts";

std::string bytes_of(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ir::Graph read(const std::string& bytes, const std::string& name = "edited.mindir") {
  return formats::read_mindir(
      std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), name);
}

// Runs the graph on the fixtures' input and compares with MindSpore's outputs of `reference`.
void run_and_compare(const ir::Graph& g, const std::string& reference) {
  nn::GraphCell cell(g);
  const Value out = cell({Value(read_npy(kDir / "args.input.npy"))});
  ASSERT_TRUE(out.is_tuple());
  ASSERT_EQ(out.tuple().size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const Tensor want = read_npy(kDir / (reference + ".output" + std::to_string(k) + ".npy"));
    const Tensor& got = out.tuple()[k].tensor();
    ASSERT_EQ(got.shape(), want.shape()) << reference << " output " << k;
    EXPECT_LE(max_abs_diff(got, want), 1e-5) << reference << " output " << k;
  }
}

const ir::Node& only(const ir::Graph& g, const std::string& op, size_t k = 0) {
  std::vector<const ir::Node*> found;
  for (const auto& n : g.nodes)
    if (n.op == op) found.push_back(&n);
  if (k >= found.size()) throw std::runtime_error("no " + op + " node #" + std::to_string(k));
  return *found[k];
}

class Layout : public ::testing::TestWithParam<const char*> {};

TEST_P(Layout, LoadsAndRunsLikeMindSpore) {
  const std::string stem = GetParam();
  const ir::Graph g = load(kDir / (stem + ".mindir"));
  // The arguments arrived as the row's attributes, whichever way the file passed them.
  const ir::Node& gather = only(g, "Gather");
  EXPECT_EQ(std::get<int64_t>(gather.attrs.at("axis")), 1);
  EXPECT_EQ(gather.inputs.size(), 2u);
  EXPECT_EQ(std::get<std::string>(only(g, "Cast", 0).attrs.at("dst_type")), "Int32");
  EXPECT_EQ(std::get<std::string>(only(g, "Cast", 1).attrs.at("dst_type")), "Float32");
  EXPECT_EQ(std::get<std::vector<int64_t>>(only(g, "Reshape").attrs.at("shape")),
            (std::vector<int64_t>{3, 2, 5}));
  EXPECT_EQ(std::get<std::vector<int64_t>>(only(g, "Tile").attrs.at("multiples")),
            (std::vector<int64_t>{2, 1, 1, 3}));
  // MindSpore 2.10 runs 2.10's and 2.2's files; 1.1's it refuses (layouts.txt), whose graph is
  // the same as the others', so 2.10's output is its reference.
  const std::string ref =
      std::filesystem::exists(kDir / (stem + ".output0.npy")) ? stem : "args_2.10";
  run_and_compare(g, ref);
}

INSTANTIATE_TEST_SUITE_P(MindSporeVersions, Layout,
                         ::testing::Values("args_2.10", "args_2.2", "args_1.1"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s)
                             if (c == '.') c = '_';
                           return s;
                         });

// ---- hostile edits of the real 2.10 file ----

pb::ModelProto base_model() {
  pb::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes_of(kDir / "args_2.10.mindir")));
  return m;
}

pb::NodeProto* node_of(pb::ModelProto& m, const std::string& primitive) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type().rfind("REF::" + primitive + ":", 0) == 0) return &n;
  throw std::runtime_error("no " + primitive + " node");
}

pb::NodeProto* constant_of(pb::ModelProto& m, const std::string& name) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Constant" && n.output(0) == name) return &n;
  throw std::runtime_error("no constant " + name);
}

std::string add_constant(pb::ModelProto& m, const std::string& name,
                         const std::function<void(pb::AttributeProto&)>& set) {
  auto* c = m.mutable_graph()->add_node();
  c->set_op_type("Constant");
  c->add_output(name);
  c->set_name(name);
  auto* a = c->add_attribute();
  a->set_name("value");
  set(*a);
  // Constants come before their users in MindSpore's files; the reader does not need that.
  return name;
}

std::string serialized(const pb::ModelProto& m) { return m.SerializeAsString(); }

TEST(MindIRLayoutHostile, TooManyInputsNamesTheArguments) {
  auto m = base_model();
  auto* g = node_of(m, "Gather");
  g->add_input(g->input(3));  // a fifth input
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kFormat);
  EXPECT_NE(e.reason().find("Gather takes 2 tensor inputs and up to 2 argument inputs (axis, "
                            "batch_dims), but has 5 inputs"),
            std::string::npos)
      << e.what();
  EXPECT_EQ(e.tensor(), "g:8");
}

TEST(MindIRLayoutHostile, TooFewInputs) {
  auto m = base_model();
  auto* g = node_of(m, "Gather");
  while (g->input_size() > 1) g->mutable_input()->RemoveLast();
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kFormat);
  EXPECT_NE(e.reason().find("but has only 1 inputs"), std::string::npos) << e.what();
}

TEST(MindIRLayoutHostile, ArgumentComputedInTheGraph) {
  auto m = base_model();
  auto* g = node_of(m, "Gather");
  g->set_input(2, m.graph().input(0).name());  // axis := the graph input x
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kUnsupported);
  EXPECT_NE(e.reason().find("argument 'axis' of Gather) is computed in the graph"),
            std::string::npos)
      << e.what();
}

TEST(MindIRLayoutHostile, ArgumentOfTheWrongKind) {
  auto m = base_model();
  auto* g = node_of(m, "Gather");
  g->set_input(2, add_constant(m, "axis_str", [](pb::AttributeProto& a) {
                 a.set_type(pb::AttributeProto::STRING);
                 a.set_s("one");
               }));
  // The reader takes the constant; the op's shape rule refuses it, naming the node and key.
  const ir::Graph graph = read(serialized(m));
  const Error e = expect_error([&] { nn::GraphCell cell(graph); }, ErrorCode::kFormat);
  EXPECT_NE(std::string(e.what()).find("axis"), std::string::npos) << e.what();
}

TEST(MindIRLayoutHostile, ArgumentTensorOfRankTwo) {
  auto m = base_model();
  auto* g = node_of(m, "Gather");
  g->set_input(2, add_constant(m, "axis_matrix", [](pb::AttributeProto& a) {
                 a.set_type(pb::AttributeProto::TENSORS);
                 auto* t = a.add_tensors();
                 t->set_data_type(pb::TensorProto::INT64);
                 t->add_dims(1);
                 t->add_dims(1);
                 const int64_t one = 1;
                 t->set_raw_data(&one, sizeof one);
               }));
  const ir::Graph graph = read(serialized(m));  // a tensor argument is the op's to judge
  const Error e = expect_error([&] { nn::GraphCell cell(graph); }, ErrorCode::kFormat);
  EXPECT_NE(std::string(e.what()).find("axis"), std::string::npos) << e.what();
}

TEST(MindIRLayoutHostile, UnknownTypeId) {
  auto m = base_model();
  auto* cast = node_of(m, "Cast");
  constant_of(m, cast->input(1))->mutable_attribute(0)->set_i(999);
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kUnsupported);
  EXPECT_NE(e.reason().find("MindSpore TypeId 999"), std::string::npos) << e.what();
}

TEST(MindIRLayoutHostile, TypeIdOfTheWrongKind) {
  auto m = base_model();
  auto* cast = node_of(m, "Cast");
  cast->set_input(1, add_constant(m, "dtype_tuple", [](pb::AttributeProto& a) {
                    a.set_type(pb::AttributeProto::TUPLE);
                  }));
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kFormat);
  EXPECT_NE(e.reason().find("is neither a TypeId number nor a dtype"), std::string::npos)
      << e.what();
}

TEST(MindIRLayoutHostile, TupleHoldingATensorArgument) {
  auto m = base_model();
  auto* r = node_of(m, "Reshape");
  // shape := MakeTuple(x): a tuple holding something computed.
  auto* mk = m.mutable_graph()->add_node();
  mk->set_op_type("MakeTuple");
  mk->add_input(m.graph().input(0).name());
  mk->add_output("bad_shape");
  mk->set_name("bad_shape");
  r->set_input(1, "bad_shape");
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kUnsupported);
  EXPECT_NE(e.reason().find("is computed in the graph"), std::string::npos) << e.what();
}

TEST(MindIRLayoutHostile, TrailingMonadsAreDropped) {
  auto m = base_model();
  std::string monad;
  for (const auto& n : m.graph().node())
    if (n.op_type() == "Constant" && n.attribute(0).type() == pb::AttributeProto::UMONAD)
      monad = n.output(0);
  ASSERT_FALSE(monad.empty());
  node_of(m, "Transpose")->add_input(monad);
  node_of(m, "Gather")->add_input(monad);
  run_and_compare(read(serialized(m)), "args_2.10");
}

TEST(MindIRLayoutHostile, MonadInTheMiddleIsNotATensor) {
  auto m = base_model();
  std::string monad;
  for (const auto& n : m.graph().node())
    if (n.op_type() == "Constant" && n.attribute(0).type() == pb::AttributeProto::UMONAD)
      monad = n.output(0);
  auto* add = node_of(m, "Add");
  add->set_input(1, monad);
  add->add_input(m.graph().input(0).name());
  const Error e = expect_error([&] { read(serialized(m)); }, ErrorCode::kFormat);
  EXPECT_NE(e.reason().find("Add takes 2 tensor inputs and no argument inputs, but has 3 inputs"),
            std::string::npos)
      << e.what();
}

// ---- unknown ops: all at once, and the census ----

// The 2.10 file with Cast (two nodes share its primitive) renamed Foo and Tile renamed Bar.
pb::ModelProto with_unknown_ops() {
  auto m = base_model();
  for (auto& p : *m.mutable_primitives()) {
    if (p.op_type() == "Cast") p.set_op_type("Foo");
    if (p.op_type() == "Tile") p.set_op_type("Bar");
  }
  return m;
}

TEST(MindIRUnknownOps, ReportedAllAtOnce) {
  const Error e =
      expect_error([&] { read(serialized(with_unknown_ops())); }, ErrorCode::kUnsupported);
  EXPECT_EQ(e.reason(), "3 unsupported ops: Foo ×2, Bar ×1 (first: 'y:1')");
  EXPECT_EQ(e.tensor(), "y:1");
  EXPECT_EQ(e.file(), "edited.mindir");
}

TEST(MindIRUnknownOps, CensusListsEveryOpWithCounts) {
  const std::string bytes = serialized(with_unknown_ops());
  const auto census =
      graph_op_census(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                      FileKind::kMindIR, "edited.mindir");
  std::map<std::string, std::pair<int64_t, bool>> by_op;
  for (const auto& c : census) by_op[c.op] = {c.nodes, c.supported};
  EXPECT_EQ(by_op["Foo"], std::make_pair(int64_t{2}, false));
  EXPECT_EQ(by_op["Bar"], std::make_pair(int64_t{1}, false));
  EXPECT_EQ(by_op["ReduceSum"], std::make_pair(int64_t{3}, true));
  EXPECT_EQ(by_op["Gather"], std::make_pair(int64_t{1}, true));
  EXPECT_EQ(by_op.count("Load"), 0u);      // plumbing is not counted
  EXPECT_EQ(by_op.count("Constant"), 0u);  // nor constants
  EXPECT_EQ(census.front().op, "Add");     // most used first (3, as ReduceSum), then by name
  // The unedited file: every op supported, one census node per node of the loaded graph.
  const std::string real = bytes_of(kDir / "args_2.10.mindir");
  int64_t nodes = 0;
  for (const auto& c :
       graph_op_census(std::span(reinterpret_cast<const std::byte*>(real.data()), real.size()),
                       FileKind::kMindIR, "args_2.10.mindir")) {
    EXPECT_TRUE(c.supported) << c.op;
    nodes += c.nodes;
  }
  EXPECT_EQ(nodes, static_cast<int64_t>(read(real).nodes.size()));
}

TEST(MindIRUnknownOps, CensusOfGarbageIsAFormatError) {
  const std::string junk = "\x0a\x05hello-not-a-model";
  expect_error(
      [&] {
        graph_op_census(std::span(reinterpret_cast<const std::byte*>(junk.data()), junk.size()),
                        FileKind::kMindIR, "junk.mindir");
      },
      ErrorCode::kFormat);
  expect_error(
      [&] {
        graph_op_census(std::span(reinterpret_cast<const std::byte*>(junk.data()), junk.size()),
                        FileKind::kCheckpoint, "junk.ckpt");
      },
      ErrorCode::kInvalidArgument);
}

}  // namespace
