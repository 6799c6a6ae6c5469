// MindIR parameters read in place (src/formats/mindir/in_place.cpp): a model loaded from a file
// keeps its large weights where they lie in the mapping (viewed when their address suits the
// dtype, copied on first use otherwise) instead of in protobuf's copies, with the same values, the
// same errors and the same verdict on every corrupted file as a parse of the whole message.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "formats/mindir.h"
#include "mind_ir.pb.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::TempDir;
namespace pb = ::mind_ir;

namespace {

Tensor ramp(DType dt, Shape s, float start) {
  Tensor t(dt, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = start + 0.001f * static_cast<float>(i);
    if (dt == DType::Float32) t.data<float>()[i] = v;
    if (dt == DType::Float64) t.data<double>()[i] = v;
    if (dt == DType::Bool) t.data<bool>()[i] = i % 3 == 0;
  }
  return t;
}

// x (2, 64) → MatMul(w_k: 64 × 64) for four weights whose names are 1 to 4 characters long, so
// that their raw_data lie at four consecutive residues modulo 4 in the file; + a Float64 weight, a
// Bool one (both over 4 KiB) and a small bias, all read by the graph.
ir::Graph weights_graph() {
  ir::Graph g;
  g.name = "G";
  int x = g.add_value("x", DType::Float32, {2, 64});
  g.inputs = {x};
  int y = x;
  for (int k = 0; k < 4; ++k) {
    const int w =
        g.add_value(std::string(static_cast<size_t>(k + 1), 'w'), DType::Float32, {64, 64});
    g.initializers.push_back({.value = w, .data = ramp(DType::Float32, {64, 64}, float(k))});
    const int out = g.add_value("mm" + std::to_string(k), DType::Float32, {2, 64});
    g.nodes.push_back({.name = "mm" + std::to_string(k),
                       .op = "MatMul",
                       .inputs = {y, w},
                       .outputs = {out},
                       .attrs = {{"transpose_a", false}, {"transpose_b", false}}});
    y = out;
  }
  const int b = g.add_value("b", DType::Float32, {64});
  g.initializers.push_back({.value = b, .data = ramp(DType::Float32, {64}, -1.0f)});
  const int ba = g.add_value("ba", DType::Float32, {2, 64});
  g.nodes.push_back({.name = "ba",
                     .op = "BiasAdd",
                     .inputs = {y, b},
                     .outputs = {ba},
                     .attrs = {{"data_format", int64_t{0}}}});
  const int d = g.add_value("d", DType::Float64, {2, 512});
  g.initializers.push_back({.value = d, .data = ramp(DType::Float64, {2, 512}, 0.5f)});
  const int mask = g.add_value("mask", DType::Bool, {2, 4096});
  g.initializers.push_back({.value = mask, .data = ramp(DType::Bool, {2, 4096}, 0)});
  g.outputs = {ba};
  g.validate();
  return g;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The bytes of every initializer, by value name.
std::map<std::string, std::vector<std::byte>> weights_of(const ir::Graph& g) {
  std::map<std::string, std::vector<std::byte>> out;
  for (const auto& init : g.initializers) {
    const auto b = init.data.bytes();
    out[g.value(init.value).name].assign(b.begin(), b.end());
  }
  return out;
}

// `bytes` read as a file mapping holds them (in place) and as bytes alone (every weight copied by
// protobuf): the same graph or the same error, either way.
void expect_same_outcome(const std::string& bytes, const std::string& what) {
  std::optional<ir::Graph> copied, in_place;
  std::string copied_error, in_place_error;
  try {
    copied = formats::read_mindir(as_bytes(bytes), "m.mindir");
    copied->validate("m.mindir");
  } catch (const Error& e) {
    copied_error = e.what();
  }
  try {
    const auto view = as_bytes(bytes);
    auto source = MappedFile::adopt("m.mindir", std::vector<std::byte>(view.begin(), view.end()));
    formats::GraphReadOptions options;
    options.source = source;
    in_place = formats::read_mindir({source->data(), source->size()}, "m.mindir", options);
    in_place->validate("m.mindir");
  } catch (const Error& e) {
    in_place_error = e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a cellar::Error: " << e.what();
  }
  ASSERT_EQ(in_place_error, copied_error) << what;
  ASSERT_EQ(in_place.has_value(), copied.has_value()) << what;
  if (!copied) return;
  EXPECT_EQ(in_place->nodes.size(), copied->nodes.size()) << what;
  EXPECT_EQ(weights_of(*in_place), weights_of(*copied)) << what;
}

}  // namespace

TEST(MindIRInPlace, LargeWeightsStayInTheFileWithTheirValues) {
  TempDir dir;
  const ir::Graph g = weights_graph();
  const std::string bytes = formats::write_mindir(g);
  cellar::testing::write_string(dir / "w.mindir", bytes);
  const ir::Graph loaded = load(dir / "w.mindir");
  EXPECT_EQ(weights_of(loaded), weights_of(g));
  int viewed = 0, deferred = 0;
  for (const auto& init : loaded.initializers) {
    const std::string& name = loaded.value(init.value).name;
    const Storage& s = *init.data.storage();
    SCOPED_TRACE(name);
    if (init.data.nbytes() < 4096 || init.data.dtype() == DType::Bool) {
      // Small tensors come out of the parse as before; Bool bytes are normalised, so copied.
      EXPECT_FALSE(s.is_mapped());
      EXPECT_FALSE(s.is_pending());
      continue;
    }
    // Viewed where the dtype's typed access allows it, else copied when first read.
    const bool aligned =
        reinterpret_cast<uintptr_t>(init.data.raw_data()) % itemsize(init.data.dtype()) == 0;
    EXPECT_TRUE(aligned);
    if (s.is_mapped()) ++viewed;
    if (!s.is_mapped()) ++deferred;
  }
  // Four float weights at four residues modulo 4: one viewed in place at least, and at least one
  // copied (the Float64 weight may fall either way).
  EXPECT_GE(viewed, 1);
  EXPECT_GE(deferred, 1);
  // It runs, and as the copied graph does.
  const ir::Graph copied = formats::read_mindir(as_bytes(bytes), "w.mindir");
  runtime::Executor a(loaded), b(copied);
  const Tensor x = ramp(DType::Float32, {2, 64}, 0.25f);
  const auto ya = a.run(std::vector<Tensor>{x}), yb = b.run(std::vector<Tensor>{x});
  ASSERT_EQ(ya.size(), yb.size());
  for (size_t i = 0; i < ya.size(); ++i)
    EXPECT_EQ(0, std::memcmp(ya[i].raw_data(), yb[i].raw_data(), ya[i].nbytes())) << i;
}

TEST(MindIRInPlace, AWrongRawDataSizeIsTheSameErrorNamingTheParameter) {
  pb::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(formats::write_mindir(weights_graph())));
  for (auto& p : *m.mutable_graph()->mutable_parameter())
    if (p.raw_data().size() >= 4096) p.mutable_raw_data()->resize(p.raw_data().size() - 4);
  const std::string bytes = m.SerializeAsString();
  expect_same_outcome(bytes, "short raw_data");
  TempDir dir;
  cellar::testing::write_string(dir / "short.mindir", bytes);
  try {
    (void)load(dir / "short.mindir");
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), (dir / "short.mindir").string());
    EXPECT_NE(std::string(e.what()).find("raw_data has 16380 bytes"), std::string::npos)
        << e.what();
  }
}

// A raw_data field given twice (protobuf keeps the last): left to protobuf, with its meaning.
TEST(MindIRInPlace, ARepeatedRawDataMeansTheLastOne) {
  pb::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(formats::write_mindir(weights_graph())));
  std::string bytes = m.SerializeAsString();
  // Appending a second graph message with one parameter that repeats raw_data: protobuf merges
  // the graphs, so the parameter list grows by one, whose value is its second raw_data.
  pb::ModelProto extra;
  auto* p = extra.mutable_graph()->add_parameter();
  p->set_name("G:twice");
  p->set_data_type(pb::TensorProto::FLOAT);
  p->add_dims(1024);
  p->set_raw_data(std::string(4096, '\x01'));
  expect_same_outcome(bytes + extra.SerializeAsString(), "one more parameter");
  // The same parameter with a second raw_data field after the first, written by hand (a message
  // object holds one): tag, length, content.
  auto field = [](int number, const std::string& content) {
    std::string out(1, static_cast<char>(number << 3 | 2));
    for (uint64_t n = content.size();; n >>= 7) {
      out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    return out + content;
  };
  const std::string param = p->SerializeAsString() + field(9, std::string(4096, '\x02'));
  const std::string twice = field(7, field(3, param));
  expect_same_outcome(bytes + twice, "raw_data twice");
  pb::ModelProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes + twice));
  const auto& last = parsed.graph().parameter(parsed.graph().parameter_size() - 1);
  EXPECT_EQ(last.raw_data(), std::string(4096, '\x02'));  // what both paths must have read
}

// Byte mutations of a file with large weights: whatever the skeleton walk makes of them, the
// outcome is protobuf's (the same graph and weights, or the same error).
TEST(MindIRInPlace, RandomByteMutationsMatchAParseOfTheWholeMessage) {
  std::mt19937_64 rng(0x1a7e'0b5e);
  const std::string base = formats::write_mindir(weights_graph());
  // The positions outside the large weights' bytes: tags, lengths, names, dims, the graph.
  pb::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(base));
  std::vector<bool> weight_byte(base.size(), false);
  for (const auto& p : m.graph().parameter()) {
    if (p.raw_data().size() < 4096) continue;
    const size_t at = base.find(p.raw_data());
    ASSERT_NE(at, std::string::npos);
    std::fill_n(weight_byte.begin() + static_cast<std::ptrdiff_t>(at), p.raw_data().size(), true);
  }
  std::vector<size_t> headers;
  for (size_t i = 0; i < base.size(); ++i)
    if (!weight_byte[i]) headers.push_back(i);
  for (int iter = 0; iter < 1500; ++iter) {
    std::string s = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      // Mostly outside the weights' bytes, where the walk has work to do.
      size_t at = rng() % 4 ? headers[rng() % headers.size()] : rng() % s.size();
      at = std::min(at, s.size() - 1);
      switch (rng() % 4) {
        case 0:
          s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
          break;
        case 1:
          s[at] = static_cast<char>(rng());
          break;
        case 2:
          s.resize(at);
          break;
        case 3:
          s.erase(at, 1 + rng() % 8);
          break;
      }
    }
    expect_same_outcome(s, "mutation #" + std::to_string(iter));
    if (HasFatalFailure()) return;
  }
}

// BatchNorm folding and weight packing write over a weight's bytes only when the graph they
// optimise is its one holder (Executor over a moved-in graph); a graph the caller keeps keeps the
// weights it loaded. Either way the outputs are those of a graph whose weights protobuf copied.
TEST(MindIRInPlace, WeightsAreRewrittenInPlaceOnlyWhenNothingElseHoldsThem) {
  auto net = nn::SequentialCell({nn::Conv2d(8, 16, 3), nn::BatchNorm2d(16), nn::ReLU()});
  TempDir dir;
  const Tensor x = ramp(DType::Float32, {1, 8, 12, 12}, 0.1f);
  const auto path = export_model(*net, {x}, (dir / "cb").string(), FileFormat::MINDIR);
  const ir::Graph kept = load(path);
  const auto before = weights_of(kept);
  runtime::Executor shared(kept);  // the executor's graph shares the weights with `kept`
  EXPECT_EQ(weights_of(kept), before);
  runtime::Executor alone(load(path));  // the only holder of its weights
  const auto bytes = cellar::testing::read_bytes(path);
  runtime::Executor copied(formats::read_mindir(bytes, "cb.mindir"));
  const auto y0 = copied.run(std::vector<Tensor>{x});
  for (runtime::Executor* e : {&shared, &alone}) {
    const auto y = e->run(std::vector<Tensor>{x});
    ASSERT_EQ(y.size(), 1u);
    EXPECT_EQ(0, std::memcmp(y[0].raw_data(), y0[0].raw_data(), y0[0].nbytes()));
  }
  EXPECT_EQ(weights_of(kept), before);
}
