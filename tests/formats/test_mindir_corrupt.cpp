// Corrupt MindIR files: a table of hand-made corruptions, each of which must give a
// cellar::Error naming the file (never a crash, never another exception type), then seeded
// mutation loops (random bytes, and random edits of the parsed message) where every outcome is
// a load or a cellar::Error. Run under ASan/UBSan by the sanitizer build.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <random>

#include "cellar/cellar.h"
#include "corrupt_cases.h"
#include "formats/mindir.h"
#include "mind_ir.pb.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::TempDir;
namespace pb = ::mind_ir;

namespace {

const std::filesystem::path kFixtures =
    std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/mindir";

Tensor filled(Shape s, float v) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v + 0.01f * float(i);
  return t;
}

// x(2,4) → MatMul(w) → BiasAdd(b) → ReLU → Reshape(4,2)... as in test_mindir, smaller.
ir::Graph base_graph() {
  ir::Graph g;
  g.name = "G";
  const int x = g.add_value("x", DType::Float32, {2, 4});
  const int w = g.add_value("w", DType::Float32, {4, 3});
  const int b = g.add_value("b", DType::Float32, {3});
  const int c = g.add_value("c", DType::Float32, {2, 3});
  const int m = g.add_value("mm", DType::Float32, {2, 3});
  const int ba = g.add_value("ba", DType::Float32, {2, 3});
  const int r = g.add_value("relu", DType::Float32, {2, 3});
  const int rs = g.add_value("rs", DType::Float32, {3, 2});
  const int mu = g.add_value("mul", DType::Float32, {2, 3});
  g.inputs = {x};
  g.initializers = {{.value = w, .data = filled({4, 3}, 0.5f)},
                    {.value = b, .data = filled({3}, -0.1f)},
                    {.value = c, .data = filled({2, 3}, 2.0f), .is_parameter = false}};
  auto node = [&](std::string name, std::string op, std::vector<int> in, int out,
                  ir::Attrs attrs = {}) {
    g.nodes.push_back({.name = std::move(name),
                       .op = std::move(op),
                       .inputs = std::move(in),
                       .outputs = {out},
                       .attrs = std::move(attrs)});
  };
  node("mm", "MatMul", {x, w}, m, {{"transpose_a", false}, {"transpose_b", false}});
  node("ba", "BiasAdd", {m, b}, ba, {{"data_format", int64_t{0}}});  // NCHW, as MindSpore 2.x
  node("relu", "ReLU", {ba}, r);
  node("rs", "Reshape", {r}, rs, {{"shape", std::vector<int64_t>{3, 2}}});
  node("mul", "Mul", {r, c}, mu);
  g.outputs = {rs, mu};
  g.validate();
  return g;
}

pb::ModelProto base_model() {
  pb::ModelProto m;
  const std::string bytes = formats::write_mindir(base_graph());
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

pb::NodeProto* node_named(pb::ModelProto& m, const std::string& name) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.name() == name) return &n;
  ADD_FAILURE() << "no node " << name;
  return m.mutable_graph()->mutable_node(0);
}

pb::PrimitiveProto* prim_of(pb::ModelProto& m, const pb::NodeProto& n) {
  for (auto& p : *m.mutable_primitives())
    if ("REF::" + p.name() == n.op_type()) return &p;
  ADD_FAILURE() << "no primitive for " << n.name();
  return m.mutable_primitives(0);
}

pb::AttributeProto* constant_value(pb::ModelProto& m, const std::string& name) {
  return node_named(m, name)->mutable_attribute(0);
}

std::string bytes_of(const pb::ModelProto& m) { return m.SerializeAsString(); }

struct Corruption {
  std::string name;
  std::function<std::string()> make;  // the file's bytes
  std::string expect;                 // a piece of the message ("" = any)
};

std::vector<Corruption> corruptions() {
  auto edit = [](std::function<void(pb::ModelProto&)> f) {
    return [f] {
      pb::ModelProto m = base_model();
      f(m);
      return bytes_of(m);
    };
  };
  const std::string good = bytes_of(base_model());
  std::vector<Corruption> t;
  t.push_back({"empty file", [] { return std::string(); }, ""});
  t.push_back({"truncated to half", [good] { return good.substr(0, good.size() / 2); }, ""});
  t.push_back({"truncated by one byte", [good] { return good.substr(0, good.size() - 1); }, ""});
  t.push_back({"garbage bytes",
               [] {
                 std::mt19937 rng(7);
                 std::string s(1024, '\0');
                 for (auto& c : s) c = static_cast<char>(rng());
                 s[0] = 0x0A;
                 s[1] = 3;
                 s[2] = '1', s[3] = '.', s[4] = '1';
                 return s;
               },
               ""});
  t.push_back({"garbage after a valid model",
               [good] { return good + std::string("\xff\xff\xff\x07", 4); }, ""});
  t.push_back({"missing graph", edit([](auto& m) { m.clear_graph(); }), "no graph"});
  t.push_back({"unknown data_type",
               edit([](auto& m) { m.mutable_graph()->mutable_parameter(0)->set_data_type(99); }),
               "data_type 99"});
  t.push_back({"string data_type",
               edit([](auto& m) { m.mutable_graph()->mutable_parameter(0)->set_data_type(8); }),
               "data_type 8"});
  t.push_back({"wrong data_type for raw_data size", edit([](auto& m) {
                 m.mutable_graph()->mutable_parameter(0)->set_data_type(pb::TensorProto::DOUBLE);
               }),
               "raw_data"});
  t.push_back({"raw_data one byte short", edit([](auto& m) {
                 auto* p = m.mutable_graph()->mutable_parameter(0);
                 p->mutable_raw_data()->pop_back();
               }),
               "raw_data"});
  t.push_back({"raw_data too long", edit([](auto& m) {
                 m.mutable_graph()->mutable_parameter(1)->mutable_raw_data()->append("abcd");
               }),
               "raw_data"});
  t.push_back({"negative parameter dim",
               edit([](auto& m) { m.mutable_graph()->mutable_parameter(0)->set_dims(0, -4); }),
               "negative dimension"});
  t.push_back({"parameter dims overflow", edit([](auto& m) {
                 auto* p = m.mutable_graph()->mutable_parameter(0);
                 p->set_dims(0, int64_t{1} << 40);
                 p->set_dims(1, int64_t{1} << 40);
               }),
               "overflow"});
  t.push_back({"huge parameter dims", edit([](auto& m) {
                 auto* p = m.mutable_graph()->mutable_parameter(0);
                 p->set_dims(0, int64_t{1} << 30);
                 p->set_dims(1, int64_t{1} << 30);
               }),
               "raw_data"});
  t.push_back({"input dims overflow", edit([](auto& m) {
                 auto* d = m.mutable_graph()->mutable_input(0)->mutable_tensor(0);
                 d->set_dims(0, std::numeric_limits<int64_t>::max());
               }),
               "overflow"});
  // -1 is an open (dynamic) dimension and -2 an unknown rank (tests/runtime/test_dynamic_shapes);
  // other negative sizes mean nothing.
  t.push_back({"negative input dim", edit([](auto& m) {
                 m.mutable_graph()->mutable_input(0)->mutable_tensor(0)->set_dims(1, -3);
               }),
               "negative dimension"});
  t.push_back({"input without data_type", edit([](auto& m) {
                 m.mutable_graph()->mutable_input(0)->mutable_tensor(0)->clear_data_type();
               }),
               "data_type"});
  t.push_back({"input that is not a tensor",
               edit([](auto& m) { m.mutable_graph()->mutable_input(0)->clear_tensor(); }),
               "not a tensor"});
  t.push_back({"dangling node input",
               edit([](auto& m) { node_named(m, "G:relu")->set_input(0, "G:nowhere"); }),
               "G:nowhere"});
  t.push_back({"dangling graph output",
               edit([](auto& m) { m.mutable_graph()->mutable_output(0)->set_name("G:nothing"); }),
               "G:nothing"});
  t.push_back({"unknown op",
               edit([](auto& m) { prim_of(m, *node_named(m, "G:relu"))->set_op_type("FancyOp"); }),
               "FancyOp"});
  t.push_back({"op_type refers to a missing primitive",
               edit([](auto& m) { node_named(m, "G:relu")->set_op_type("REF::ReLU:999"); }),
               "ReLU:999"});
  t.push_back({"empty op_type", edit([](auto& m) { node_named(m, "G:relu")->clear_op_type(); }),
               "op_type"});
  t.push_back({"duplicate primitive", edit([](auto& m) { *m.add_primitives() = m.primitives(0); }),
               "twice"});
  t.push_back({"duplicate parameter name", edit([](auto& m) {
                 m.mutable_graph()->mutable_parameter(1)->set_name(m.graph().parameter(0).name());
               }),
               "twice"});
  t.push_back({"node output named like an input", edit([](auto& m) {
                 auto* n = node_named(m, "G:relu");
                 n->set_output(0, "G:x");
               }),
               "twice"});
  t.push_back(
      {"cycle", edit([](auto& m) { node_named(m, "G:mm")->set_input(0, "G:relu"); }), "cycle"});
  t.push_back({"self loop", edit([](auto& m) { node_named(m, "G:relu")->set_input(0, "G:relu"); }),
               "cycle"});
  t.push_back(
      {"no outputs", edit([](auto& m) { m.mutable_graph()->clear_output(); }), "no outputs"});
  t.push_back({"attribute of the wrong type (Reshape shape a string)", edit([](auto& m) {
                 auto* v = constant_value(m, node_named(m, "G:rs")->input(1));
                 v->Clear();
                 v->set_name("value");
                 v->set_type(pb::AttributeProto::STRING);
                 v->set_s("3,2");
               }),
               "shape"});
  t.push_back({"attribute of the wrong type (MatMul flag a tensor)", edit([](auto& m) {
                 // A primitive attribute (MindSpore 1.x) or a constant input (2.x), whichever the
                 // op table's MindIR spelling makes the writer use.
                 auto* mm = node_named(m, "G:mm");
                 pb::AttributeProto* a = nullptr;
                 if (mm->input_size() > 2) {
                   a = constant_value(m, mm->input(2));
                   a->Clear();
                   a->set_name("value");
                 } else {
                   a = prim_of(m, *mm)->add_attribute();
                   a->set_name("transpose_a");
                 }
                 a->set_type(pb::AttributeProto::TENSORS);
                 *a->add_tensors() = m.graph().parameter(1);
               }),
               "transpose_a"});
  t.push_back({"TENSORS attribute without a tensor", edit([](auto& m) {
                 auto* v = constant_value(m, "G:c");
                 v->clear_tensors();
               }),
               "exactly one tensor"});
  // Reshape's shape may be computed at run time (a value input, 053abff), so a non-constant shape
  // loads; one of the wrong dtype (here the float graph input) is refused naming the node.
  t.push_back({"shape input of the wrong dtype",
               edit([](auto& m) { node_named(m, "G:rs")->set_input(1, "G:x"); }),
               "the shape input must be Int64 or Int32"});
  t.push_back({"recorded output shape disagrees with the op", edit([](auto& m) {
                 auto* a = node_named(m, "G:mm")->mutable_attribute(0);
                 a->mutable_tensors(0)->set_dims(1, 9);
               }),
               "MatMul"});
  t.push_back({"shapes that do not agree (weight of the wrong shape)", edit([](auto& m) {
                 auto* p = m.mutable_graph()->mutable_parameter(0);  // w (4,3) → (3,4)
                 p->set_dims(0, 3);
                 p->set_dims(1, 4);
               }),
               "MatMul"});
  t.push_back({"too few inputs",
               edit([](auto& m) { node_named(m, "G:mul")->mutable_input()->RemoveLast(); }),
               "inputs"});
  t.push_back({"external data", edit([](auto& m) {
                 auto* p = m.mutable_graph()->mutable_parameter(0);
                 p->clear_raw_data();
                 p->mutable_external_data()->set_location("../../etc/passwd");
               }),
               "external data"});
  t.push_back({"call into a sub-graph", edit([](auto& m) {
                 m.add_functions()->set_name("sub");
                 node_named(m, "G:relu")->set_op_type("sub");
               }),
               "sub-graph"});
  t.push_back({"TupleGetItem index out of range", edit([](auto& m) {
                 auto* gp = m.mutable_graph();
                 auto* p = m.add_primitives();
                 p->set_name("TupleGetItem:99");
                 p->set_op_type("TupleGetItem");
                 auto* k = gp->add_node();
                 k->set_name("k");
                 k->add_output("k");
                 k->set_op_type("Constant");
                 auto* v = k->add_attribute();
                 v->set_name("value");
                 v->set_type(pb::AttributeProto::INT64);
                 v->set_i(5);
                 auto* n = gp->add_node();
                 n->set_name("G:item");
                 n->add_output("G:item");
                 n->set_op_type("REF::TupleGetItem:99");
                 n->add_input(gp->output(0).name());
                 n->add_input("k");
                 gp->mutable_output(0)->set_name("G:item");
               }),
               "out of range"});
  t.push_back({"tuples nested without end", edit([](auto& m) {
                 auto* gp = m.mutable_graph();
                 auto* p = m.add_primitives();
                 p->set_name("MakeTuple:98");
                 p->set_op_type("MakeTuple");
                 std::string prev = gp->output(0).name();
                 for (int i = 0; i < 200; ++i) {
                   auto* n = gp->add_node();
                   const std::string name = "G:nest" + std::to_string(i);
                   n->set_name(name);
                   n->add_output(name);
                   n->set_op_type("REF::MakeTuple:98");
                   n->add_input(prev);
                   prev = name;
                 }
                 gp->mutable_output(0)->set_name(prev);
               }),
               "nested"});
  return t;
}

void expect_error_naming_file(const std::filesystem::path& path, const std::string& expect,
                              const std::string& what) {
  try {
    (void)load(path);
    ADD_FAILURE() << what << ": loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path.string()) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos)
        << what << ": " << e.what();
    if (!expect.empty()) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos)
          << what << ": '" << e.what() << "' does not mention '" << expect << "'";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a cellar::Error: " << e.what();
  }
}

}  // namespace

TEST(MindIRCorrupt, TheBaseFileLoads) {
  TempDir dir;
  cellar::testing::write_string(dir / "good.mindir", bytes_of(base_model()));
  EXPECT_NO_THROW(load(dir / "good.mindir"));
}

TEST(MindIRCorrupt, EveryHandMadeCorruptionIsAnErrorNamingTheFile) {
  TempDir dir;
  const auto table = corruptions();
  ASSERT_GE(table.size(), 20u);
  int i = 0;
  for (const auto& c : table) {
    const auto path = dir / ("corrupt" + std::to_string(i++) + ".mindir");
    const std::string s = c.make();
    cellar::testing::write_string(path, s);
    SCOPED_TRACE(c.name);
    // The table names a phrase of the message, not a code: "code" here is only a label.
    cellar::testing::export_corrupt_case(path, "mindir", c.name, ErrorCode::kFormat,
                                         {{"expect", c.expect}});
    if (s.empty()) {  // load() refuses an empty file before the reader sees it
      EXPECT_THROW(load(path), Error) << c.name;
      EXPECT_THROW(formats::mindir_format().read(path), Error) << c.name;
      continue;
    }
    expect_error_naming_file(path, c.expect, c.name);
  }
}

TEST(MindIRCorrupt, OverTwoGiBIsRefusedClearly) {
  TempDir dir;
  const auto path = dir / "huge.mindir";
  cellar::testing::write_bytes(path, {std::byte{0x0A}, std::byte{3}, std::byte{'1'}});
  std::error_code ec;
  std::filesystem::resize_file(path, (uint64_t{1} << 31) + 16, ec);  // sparse
  if (ec) GTEST_SKIP() << "cannot make a sparse file: " << ec.message();
  try {
    (void)formats::mindir_format().read(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_EQ(e.file(), path.string());
    EXPECT_NE(std::string(e.what()).find("2 GiB"), std::string::npos) << e.what();
  }
}

TEST(MindIRCorrupt, ALongPlumbingChainDoesNotExhaustTheStack) {
  pb::ModelProto m = base_model();
  auto* gp = m.mutable_graph();
  auto* p = m.add_primitives();
  p->set_name("Depend:97");
  p->set_op_type("Depend");
  std::string prev = gp->output(0).name();
  for (int i = 0; i < 200000; ++i) {
    auto* n = gp->add_node();
    const std::string name = "d" + std::to_string(i);
    n->set_name(name);
    n->add_output(name);
    n->set_op_type("REF::Depend:97");
    n->add_input(prev);
    prev = name;
  }
  gp->mutable_output(0)->set_name(prev);
  const std::string s = m.SerializeAsString();
  ir::Graph g =
      formats::read_mindir({reinterpret_cast<const std::byte*>(s.data()), s.size()}, "chain");
  g.validate("chain");
  EXPECT_EQ(g.outputs.size(), 2u);
}

namespace {

// Every outcome is a Graph that validates, or a cellar::Error; anything else fails.
void load_or_error(const std::string& bytes, const std::string& what) {
  try {
    ir::Graph g = formats::read_mindir(
        {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "mutant.mindir");
    g.validate("mutant.mindir");
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "mutant.mindir") << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a cellar::Error: " << e.what();
  }
}

std::vector<std::string> seeds() {
  std::vector<std::string> out{bytes_of(base_model())};
  // MindSpore 2.10's own files: a two-output net, and the issue-12 ops with their argument
  // inputs (StridedSlice's masks, Split's counts, tuple outputs, monads) for edits to hit.
  for (const char* f :
       {"tuple.mindir", "ops_a_slice.mindir", "ops_a_tuple.mindir", "ops_a_arith.mindir"}) {
    const auto ms = cellar::testing::read_bytes(kFixtures / f);
    out.emplace_back(reinterpret_cast<const char*>(ms.data()), ms.size());
  }
  return out;
}

}  // namespace

TEST(MindIRCorrupt, RandomByteMutationsLoadOrFailCleanly) {
  std::mt19937_64 rng(0x5eed'c0de);
  const auto bases = seeds();
  for (int iter = 0; iter < 4000; ++iter) {
    std::string s = bases[static_cast<size_t>(iter) % bases.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0:
          s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
          break;  // bit flip
        case 1:
          s[at] = static_cast<char>(rng());
          break;  // random byte
        case 2:
          s.resize(at);
          break;  // truncate
        case 3:
          s.insert(at, std::string(1 + rng() % 8, static_cast<char>(rng())));
          break;
        case 4:
          s.erase(at, 1 + rng() % 16);
          break;
      }
    }
    load_or_error(s, "byte mutation #" + std::to_string(iter));
  }
}

// Edits of the parsed message reach deeper than byte flips, which mostly fail to parse.
TEST(MindIRCorrupt, RandomStructuredEditsLoadOrFailCleanly) {
  std::mt19937_64 rng(0xfeed'beef);
  const auto bases = seeds();
  for (int iter = 0; iter < 3000; ++iter) {
    pb::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(bases[static_cast<size_t>(iter) % bases.size()]));
    auto* gp = m.mutable_graph();
    std::vector<std::string> names;
    for (const auto& n : gp->node()) names.push_back(n.output_size() ? n.output(0) : n.name());
    for (const auto& i : gp->input()) names.push_back(i.name());
    for (const auto& p : gp->parameter()) names.push_back(p.name());
    names.push_back("nowhere");
    auto pick = [&](int n) {
      return n > 0 ? static_cast<int>(rng() % static_cast<uint64_t>(n)) : 0;
    };
    const int64_t wild[] = {
        -1, 0, 1, 2, 3, 7, int64_t{1} << 31, int64_t{1} << 62, -(int64_t{1} << 62)};
    const int edits = 1 + pick(3);
    for (int e = 0; e < edits; ++e) {
      switch (pick(9)) {
        case 0:
          if (gp->node_size()) {
            auto* n = gp->mutable_node(pick(gp->node_size()));
            if (n->input_size())
              n->set_input(pick(n->input_size()),
                           names[static_cast<size_t>(pick(static_cast<int>(names.size())))]);
          }
          break;
        case 1:
          if (gp->node_size()) {
            auto* n = gp->mutable_node(pick(gp->node_size()));
            n->add_input(names[static_cast<size_t>(pick(static_cast<int>(names.size())))]);
          }
          break;
        case 2:
          if (gp->node_size())
            if (auto* n = gp->mutable_node(pick(gp->node_size())); n->input_size() > 0)
              n->mutable_input()->RemoveLast();
          break;
        case 3:
          if (gp->parameter_size())
            gp->mutable_parameter(pick(gp->parameter_size()))->set_data_type(pick(20));
          break;
        case 4:
          if (gp->parameter_size()) {
            auto* p = gp->mutable_parameter(pick(gp->parameter_size()));
            if (p->dims_size()) p->set_dims(pick(p->dims_size()), wild[pick(9)]);
          }
          break;
        case 5:
          if (gp->input_size() && gp->input(0).tensor_size()) {
            auto* t = gp->mutable_input(pick(gp->input_size()))->mutable_tensor(0);
            if (t->dims_size())
              t->set_dims(pick(t->dims_size()), wild[pick(9)]);
            else
              t->add_dims(wild[pick(9)]);
          }
          break;
        case 6:
          if (gp->node_size()) {
            auto* n = gp->mutable_node(pick(gp->node_size()));
            if (n->attribute_size()) {
              auto* a = n->mutable_attribute(pick(n->attribute_size()));
              a->set_type(static_cast<pb::AttributeProto::AttributeType>(pick(41)));
              if (pick(2)) a->clear_tensors();
              if (pick(2)) a->clear_values();
            }
          }
          break;
        case 7:
          if (m.primitives_size()) {
            static const char* ops[] = {"MatMul", "Reshape", "MakeTuple", "TupleGetItem",
                                        "Depend", "Load",    "Return",    "UpdateState",
                                        "Nope",   ""};
            m.mutable_primitives(pick(m.primitives_size()))->set_op_type(ops[pick(10)]);
          }
          break;
        case 8:
          if (gp->output_size())
            gp->mutable_output(0)->set_name(
                names[static_cast<size_t>(pick(static_cast<int>(names.size())))]);
          break;
      }
    }
    load_or_error(m.SerializeAsString(), "structured edit #" + std::to_string(iter));
  }
}

// MindSpore's Pad (resnet18w8.mindir's stem) with its `paddings` tuple of pairs broken: an error
// naming the file and the Pad node, never a crash or a silently wrong shape.
TEST(MindIRCorrupt, BrokenPadPaddingsAreErrorsNamingTheNode) {
  TempDir dir;
  pb::ModelProto good;
  {
    const auto b = cellar::testing::read_bytes(kFixtures / "resnet18w8.mindir");
    ASSERT_TRUE(good.ParseFromArray(b.data(), static_cast<int>(b.size())));
  }
  auto paddings = [](pb::ModelProto& m) -> pb::AttributeProto* {
    for (auto& p : *m.mutable_primitives())
      if (p.op_type() == "Pad")
        for (auto& a : *p.mutable_attribute())
          if (a.name() == "paddings") return &a;
    ADD_FAILURE() << "no Pad paddings";
    return nullptr;
  };
  ASSERT_NE(paddings(good), nullptr);
  struct Edit {
    std::string name;
    std::function<void(pb::AttributeProto&)> f;
  };
  const std::vector<Edit> edits = {
      {"ragged pairs", [](auto& a) { a.mutable_values(2)->mutable_values()->RemoveLast(); }},
      {"a pair too many", [](auto& a) { *a.add_values() = a.values(0); }},
      {"a pair missing", [](auto& a) { a.mutable_values()->RemoveLast(); }},
      {"negative padding",
       [](auto& a) { a.mutable_values(3)->mutable_values(0)->set_ints(0, -2); }},
      {"a string inside",
       [](auto& a) {
         auto* e = a.mutable_values(1)->mutable_values(0);
         e->Clear();
         e->set_type(pb::AttributeProto::STRING);
         e->set_s("x");
       }},
      {"huge padding",
       [](auto& a) { a.mutable_values(2)->mutable_values(1)->set_ints(0, int64_t{1} << 62); }},
      {"no paddings",
       [](auto& a) {
         a.Clear();
         a.set_name("not_paddings");
       }},
  };
  int i = 0;
  for (const Edit& e : edits) {
    pb::ModelProto m = good;
    e.f(*paddings(m));
    const auto path = dir / ("pad" + std::to_string(i++) + ".mindir");
    const std::string s = bytes_of(m);
    cellar::testing::write_string(path, s);
    expect_error_naming_file(path, "Pad", e.name);
  }
}

// resnet18w8's Conv2D and MaxPool with a window attribute at INT64_MAX (or 2^31 + 1): refused
// naming the file and the op, where the window arithmetic overflowed int64 before (UBSan).
TEST(MindIRCorrupt, HugeWindowAttributesAreErrorsNamingTheNode) {
  TempDir dir;
  pb::ModelProto good;
  {
    const auto b = cellar::testing::read_bytes(kFixtures / "resnet18w8.mindir");
    ASSERT_TRUE(good.ParseFromArray(b.data(), static_cast<int>(b.size())));
  }
  // Every integer of the attribute, as a list or a tuple of values, set to v. False when the
  // fixture has no such attribute.
  auto set_all = [](pb::ModelProto& m, const std::string& op, const std::string& key, int64_t v) {
    bool found = false;
    for (auto& p : *m.mutable_primitives()) {
      if (p.op_type() != op) continue;
      for (auto& a : *p.mutable_attribute()) {
        if (a.name() != key) continue;
        found = true;
        if (a.has_i()) a.set_i(v);
        for (int k = 0; k < a.ints_size(); ++k) a.set_ints(k, v);
        for (auto& e : *a.mutable_values()) {
          if (e.has_i()) e.set_i(v);
          for (int k = 0; k < e.ints_size(); ++k) e.set_ints(k, v);
        }
      }
    }
    return found;
  };
  int i = 0;
  for (const auto& [op, key] :
       std::vector<std::pair<std::string, std::string>>{{"Conv2D", "stride"},
                                                        {"Conv2D", "dilation"},
                                                        {"MaxPool", "strides"},
                                                        {"MaxPool", "kernel_size"}}) {
    for (const int64_t v : {std::numeric_limits<int64_t>::max(), (int64_t{1} << 31) + 1}) {
      pb::ModelProto m = good;
      ASSERT_TRUE(set_all(m, op, key, v)) << op << "." << key;
      const auto path = dir / ("window" + std::to_string(i++) + ".mindir");
      cellar::testing::write_string(path, bytes_of(m));
      expect_error_naming_file(path, op, op + "." + key + " = " + std::to_string(v));
    }
  }
}

// Concat in MindIR is Concat(MakeTuple(x0, x1, ...), axis) (MindSpore 2.10's spelling; the op
// table's tuple_input). A tuple of the wrong kind or shape is an error naming the file and node.
TEST(MindIRCorrupt, BrokenConcatTuplesAreErrorsNamingTheNode) {
  ir::Graph g;
  g.name = "G";
  const int x = g.add_value("x", DType::Float32, {2, 3});
  const int w = g.add_value("w", DType::Float32, {2, 3});
  const int cat = g.add_value("cat", DType::Float32, {4, 3});
  g.inputs = {x};
  g.initializers = {{.value = w, .data = filled({2, 3}, 0.5f)}};
  g.nodes.push_back({.name = "cat",
                     .op = "Concat",
                     .inputs = {x, w},
                     .outputs = {cat},
                     .attrs = {{"axis", int64_t{0}}}});
  g.outputs = {cat};
  g.validate();
  pb::ModelProto good;
  ASSERT_TRUE(good.ParseFromString(formats::write_mindir(g)));
  ASSERT_EQ(node_named(good, "G:cat:tuple")->input_size(), 2);

  struct Edit {
    std::string name;
    std::function<void(pb::ModelProto&)> edit;
    std::string expect;
  };
  const std::vector<Edit> edits = {
      {"a tensor instead of the tuple",
       [](auto& m) { node_named(m, "G:cat")->set_input(0, "G:x"); }, "is not a tuple"},
      {"no tuple at all (only the axis)",
       [](auto& m) {
         auto* n = node_named(m, "G:cat");
         n->mutable_input()->DeleteSubrange(0, 1);
       },
       "is not a tuple"},
      {"two tuples", [](auto& m) { node_named(m, "G:cat")->add_input("G:cat:tuple"); },
       "takes one tuple of tensors and up to 1 argument inputs (axis), but has 3 inputs"},
      {"an empty tuple", [](auto& m) { node_named(m, "G:cat:tuple")->clear_input(); },
       "has 0 elements"},
      {"a scalar in the tuple",
       [](auto& m) {
         auto* t = node_named(m, "G:cat:tuple");
         t->set_input(1, node_named(m, "G:cat")->input(1));  // the axis constant
       },
       "scalar or tuple where a tensor is expected"},
      {"a tuple in the tuple",
       [](auto& m) {
         auto* gp = m.mutable_graph();
         auto* inner = gp->add_node();
         *inner = *node_named(m, "G:cat:tuple");
         inner->set_name("G:inner");
         inner->set_output(0, "G:inner");
         // the inner tuple must come first: move it to the front
         gp->mutable_node()->SwapElements(0, gp->node_size() - 1);
         node_named(m, "G:cat:tuple")->set_input(0, "G:inner");
       },
       "is not a tensor"},
      {"tuple elements whose shapes do not agree",
       [](auto& m) {
         auto* p = m.mutable_graph()->mutable_parameter(0);
         p->clear_dims();
         p->add_dims(3);
         p->add_dims(2);
       },
       "Concat"},
  };
  TempDir dir;
  int i = 0;
  for (const auto& e : edits) {
    pb::ModelProto m = good;
    e.edit(m);
    const auto path = dir / ("concat" + std::to_string(i++) + ".mindir");
    const std::string s = m.SerializeAsString();
    cellar::testing::write_string(path, s);
    expect_error_naming_file(path, e.expect, e.name);
    try {
      (void)load(path);
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("cat"), std::string::npos)
          << e.name << ": the node is not named: " << err.what();
      std::cout << e.name << ": " << err.what() << "\n";
    }
  }
  // The unedited file loads and runs: the writer's MakeTuple is what the reader unpacks.
  const auto path = dir / "good.mindir";
  const std::string s = good.SerializeAsString();
  cellar::testing::write_string(path, s);
  const ir::Graph back = load(path);
  ASSERT_EQ(back.nodes.size(), 1u);
  EXPECT_EQ(back.nodes[0].op, "Concat");
  EXPECT_EQ(back.nodes[0].inputs.size(), 2u);
}

// MirrorPad and PadV3 as MindSpore 2.10 wrote them (pad_mirror.mindir, pad_v3.mindir from
// make_pad_fixtures.py) with one attribute or constant input broken: an error naming the file,
// the primitive and what is wrong, never a crash, an allocation sized by the file, or a silently
// wrong shape.
namespace {

// The first node whose primitive is `op`, and the Constant node feeding its input k (null when
// that input is not a Constant).
pb::NodeProto* first_node_of(pb::ModelProto& m, const std::string& op) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type().rfind("REF::" + op + ":", 0) == 0) return &n;
  ADD_FAILURE() << "no " << op << " node";
  return nullptr;
}
pb::AttributeProto* prim_attr(pb::ModelProto& m, const std::string& op, const std::string& key) {
  const std::string ref = first_node_of(m, op)->op_type().substr(5);
  for (auto& p : *m.mutable_primitives())
    if (p.name() == ref)
      for (auto& a : *p.mutable_attribute())
        if (a.name() == key) return &a;
  ADD_FAILURE() << "no attribute " << key << " on " << op;
  return nullptr;
}
pb::AttributeProto* const_input(pb::ModelProto& m, const std::string& op, int k) {
  const std::string name = first_node_of(m, op)->input(k);
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Constant" && n.name() == name) return n.mutable_attribute(0);
  ADD_FAILURE() << op << "'s input " << k << " is not a Constant";
  return nullptr;
}

struct PadEdit {
  std::string name;
  std::function<void(pb::ModelProto&)> f;
  std::string expect;  // in the message
};

void expect_pad_edits_fail(const std::string& fixture, const std::vector<PadEdit>& edits) {
  TempDir dir;
  pb::ModelProto good;
  const auto b = cellar::testing::read_bytes(kFixtures / (fixture + ".mindir"));
  ASSERT_TRUE(good.ParseFromArray(b.data(), static_cast<int>(b.size())));
  (void)load(kFixtures / (fixture + ".mindir"));  // the unbroken file loads
  int i = 0;
  for (const PadEdit& e : edits) {
    SCOPED_TRACE(e.name);
    pb::ModelProto m = good;
    e.f(m);
    const auto path = dir / (fixture + std::to_string(i++) + ".mindir");
    const std::string s = bytes_of(m);
    cellar::testing::write_string(path, s);
    expect_error_naming_file(path, e.expect, e.name);
  }
}

void set_int64s(pb::TensorProto* t, const std::vector<int64_t>& v) {
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 8));
}

}  // namespace

TEST(MindIRCorrupt, BrokenMirrorPadIsAnErrorNamingTheNode) {
  using M = pb::ModelProto;
  auto paddings = [](M& m) { return const_input(m, "MirrorPad", 1)->mutable_tensors(0); };
  expect_pad_edits_fail(
      "pad_mirror",
      {
          {"mode of the wrong kind",
           [](M& m) {
             auto* a = prim_attr(m, "MirrorPad", "mode");
             a->set_type(pb::AttributeProto::INT64);
             a->set_i(1);
           },
           "'mode' is not a string"},
          {"unknown mode", [](M& m) { prim_attr(m, "MirrorPad", "mode")->set_s("WRAP"); },
           "mode 'WRAP'"},
          {"float paddings",
           [&](M& m) {
             auto* t = paddings(m);
             t->set_data_type(pb::TensorProto::FLOAT);
             t->set_raw_data(std::string(32, '\0'));
           },
           "dtype Float32"},
          {"paddings (2, 4)",
           [&](M& m) {
             paddings(m)->set_dims(0, 2);
             paddings(m)->set_dims(1, 4);
           },
           "want (4, 2)"},
          {"paddings of one dimension too few",
           [&](M& m) {
             paddings(m)->set_dims(0, 3);
             set_int64s(paddings(m), {0, 0, 1, 0, 2, 1});
           },
           "want (4, 2)"},
          {"negative padding",
           [&](M& m) {
             set_int64s(paddings(m), {0, 0, -1, 0, 2, 1, 0, 3});
           },
           "negative"},
          {"reflect by the whole dimension",
           [&](M& m) {
             set_int64s(paddings(m), {0, 0, 1, 0, 4, 1, 0, 3});
           },
           "smaller than the dimension"},
          {"huge padding",
           [&](M& m) {
             set_int64s(paddings(m), {0, 0, 1, 0, 2, int64_t{1} << 62, 0, 3});
           },
           "MirrorPad"},
          {"paddings not a constant",
           [](M& m) {
             auto* n = first_node_of(m, "MirrorPad");
             n->set_input(1, n->input(0));
           },
           "must be a constant"},
          {"paddings missing",
           [](M& m) { first_node_of(m, "MirrorPad")->mutable_input()->RemoveLast(); },
           "'paddings' is missing"},
          {"paddings a tuple",
           [](M& m) {
             auto* a = const_input(m, "MirrorPad", 1);
             a->Clear();
             a->set_name("value");
             a->set_type(pb::AttributeProto::TUPLE);
             for (int k = 0; k < 8; ++k) {
               auto* e = a->add_values();
               e->set_type(pb::AttributeProto::INT64);
               e->add_ints(0);
             }
           },
           "'paddings' is not a tensor"},
      });
}

TEST(MindIRCorrupt, BrokenPadV3IsAnErrorNamingTheNode) {
  using M = pb::ModelProto;
  auto padding = [](M& m) { return const_input(m, "PadV3", 1); };
  expect_pad_edits_fail(
      "pad_v3",
      {
          {"mode of the wrong kind",
           [](M& m) {
             auto* a = prim_attr(m, "PadV3", "mode");
             a->set_type(pb::AttributeProto::FLOAT);
             a->set_f(1);
           },
           "'mode' is not a string"},
          {"circular", [](M& m) { prim_attr(m, "PadV3", "mode")->set_s("circular"); },
           "'circular' is not supported"},
          {"unknown mode", [](M& m) { prim_attr(m, "PadV3", "mode")->set_s("wrap"); },
           "mode 'wrap'"},
          {"paddings_contiguous a string",
           [](M& m) {
             auto* a = prim_attr(m, "PadV3", "paddings_contiguous");
             a->set_type(pb::AttributeProto::STRING);
             a->set_s("yes");
           },
           "'paddings_contiguous' is not a bool"},
          {"an odd number of paddings", [&](M& m) { padding(m)->mutable_values()->RemoveLast(); },
           "want an even number"},
          {"more paddings than dimensions",
           [&](M& m) {
             for (int k = 0; k < 6; ++k) *padding(m)->add_values() = padding(m)->values(0);
           },
           "at most 8"},
          {"negative padding", [&](M& m) { padding(m)->mutable_values(0)->set_ints(0, -3); },
           "negative"},
          {"huge padding",
           [&](M& m) { padding(m)->mutable_values(1)->set_ints(0, int64_t{1} << 62); }, "PadV3"},
          {"float paddings",
           [&](M& m) {
             auto* e = padding(m)->mutable_values(0);
             e->Clear();
             e->set_type(pb::AttributeProto::FLOAT);
             e->set_f(1.5f);
           },
           "paddings"},
          {"paddings a float tensor",
           [&](M& m) {
             auto* a = padding(m);
             a->Clear();
             a->set_name("value");
             a->set_type(pb::AttributeProto::TENSORS);
             auto* t = a->add_tensors();
             t->set_data_type(pb::TensorProto::FLOAT);
             t->add_dims(4);
             t->set_raw_data(std::string(16, '\0'));
           },
           "paddings"},
          {"value a string",
           [](M& m) {
             auto* a = const_input(m, "PadV3", 2);
             a->Clear();
             a->set_name("value");
             a->set_type(pb::AttributeProto::STRING);
             a->set_s("half");
           },
           "value"},
          {"value of two elements",
           [](M& m) {
             auto* t = const_input(m, "PadV3", 2)->mutable_tensors(0);
             t->add_dims(2);
             t->set_raw_data(std::string(8, '\0'));
           },
           "'value' is not a scalar number"},
      });
}
