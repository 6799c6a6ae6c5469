// PyTorch files (src/formats/pytorch.h) through the public loader: files written by torch itself
// (tests/fixtures/pytorch/make_fixtures.py) compared value by value with what torch.load read
// back from them (expected.json), zero copy and shared storages, the refusal of pickles that call
// code, a table of hand-made corrupt archives and pickles, and a seeded mutation loop.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "expect_error.h"
#include "formats/pytorch.h"
#include "sanitized.h"
#include "test_util.h"

using namespace cellar;
using cellar::testing::expect_error;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/pytorch" / name;
}

const nlohmann::json& expected() {
  static const nlohmann::json j = [] {
    std::ifstream in(fixture("expected.json"));
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::string torch_dtype(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Float16:
      return "float16";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Int64:
      return "int64";
    case DType::Int32:
      return "int32";
    case DType::Int16:
      return "int16";
    case DType::Int8:
      return "int8";
    case DType::UInt8:
      return "uint8";
    case DType::UInt16:
      return "uint16";
    case DType::Bool:
      return "bool";
    case DType::String:
      return "str";
    default:
      return "?";
  }
}

double value_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::Float32:
      return t.data<float>()[i];
    case DType::Float64:
      return t.data<double>()[i];
    case DType::Float16:
      return half_to_float(t.data<uint16_t>()[i]);
    case DType::BFloat16:
      return bfloat16_to_float(t.data<uint16_t>()[i]);
    case DType::Int64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DType::UInt16:
      return t.data<uint16_t>()[i];
    case DType::Bool:
      return t.data<bool>()[i] ? 1.0 : 0.0;
    default:
      ADD_FAILURE() << "unexpected dtype " << t.dtype();
      return 0;
  }
}

// Every entry of `file` as torch read it: same names, dtypes, shapes and values (exactly: the
// values are the file's own bits, and expected.json holds them as doubles).
void expect_matches_torch(const std::string& file) {
  SCOPED_TRACE(file);
  const ParamDict dict = load_checkpoint(fixture(file));
  const nlohmann::json& want = expected().at(file);
  EXPECT_EQ(dict.size(), want.size());
  for (const auto& [name, spec] : want.items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(dict.contains(name));
    const Tensor& t = dict.at(name).data();
    EXPECT_EQ(torch_dtype(t.dtype()), spec.at("dtype").get<std::string>());
    EXPECT_EQ(t.shape().dims(), spec.at("shape").get<std::vector<int64_t>>());
    if (t.dtype() == DType::String) {
      EXPECT_EQ(t.string_value(), spec.at("text").get<std::string>());
      continue;
    }
    const auto values = spec.at("values").get<std::vector<double>>();
    ASSERT_EQ(static_cast<size_t>(t.numel()), values.size());
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(value_at(t, i), values[static_cast<size_t>(i)]) << "element " << i;
  }
}

TEST(PyTorch, ZipStateDictMatchesTorch) { expect_matches_torch("cnn_state_dict.pt"); }
TEST(PyTorch, LegacyLayoutMatchesTorch) { expect_matches_torch("cnn_legacy.pt"); }
TEST(PyTorch, Protocol4MatchesTorch) { expect_matches_torch("cnn_protocol4.pt"); }
TEST(PyTorch, Protocol5MatchesTorch) { expect_matches_torch("cnn_protocol5.pt"); }
TEST(PyTorch, NestedCheckpointMatchesTorch) { expect_matches_torch("nested.pt"); }

TEST(PyTorch, EntriesKeepPickleOrder) {
  const ParamDict dict = load_checkpoint(fixture("cnn_state_dict.pt"));
  const std::vector<std::string> keys = dict.keys();
  ASSERT_GE(keys.size(), 3u);
  EXPECT_EQ(keys[0], "conv1.weight");
  EXPECT_EQ(keys[1], "conv1.bias");
  EXPECT_EQ(keys[2], "bn1.weight");
}

TEST(PyTorch, ZipTensorsViewTheMappedFileAndShareStorages) {
  const ParamDict dict = load_checkpoint(fixture("cnn_state_dict.pt"));
  const Tensor& w = dict.at("conv1.weight").data();
  EXPECT_TRUE(w.storage()->is_mapped());  // torch aligns storages to 64 bytes: zero copy
  const Tensor& tied = dict.at("extra.tied").data();
  EXPECT_EQ(tied.raw_data(), w.raw_data());  // one storage, two names
  const Tensor& fc = dict.at("fc.weight").data();
  const Tensor& row = dict.at("extra.fc_row").data();
  EXPECT_TRUE(row.storage()->is_mapped());
  EXPECT_EQ(row.raw_data(), fc.raw_data() + 2 * 72 * sizeof(float));
  // The transposed view is gathered into its own C-order memory.
  const Tensor& t = dict.at("extra.fc_t").data();
  EXPECT_FALSE(t.storage()->is_mapped());
  EXPECT_EQ(t.shape(), Shape({72, 5}));
  for (int64_t i = 0; i < 72; ++i)
    for (int64_t j = 0; j < 5; ++j)
      ASSERT_EQ(t.data<float>()[i * 5 + j], fc.data<float>()[j * 72 + i]);
}

TEST(PyTorch, ReadIntoMemoryGivesTheSameTensors) {
  LoadOptions o;
  o.use_mmap = false;
  const ParamDict a = load_checkpoint(fixture("cnn_state_dict.pt"), o);
  const ParamDict b = load_checkpoint(fixture("cnn_state_dict.pt"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, p] : a) EXPECT_TRUE(p.data().equal(b.at(name).data())) << name;
}

TEST(PyTorch, CrcCheckVerifiesEveryRecord) {
  LoadOptions o;
  o.crc_check = true;
  EXPECT_EQ(load_checkpoint(fixture("cnn_state_dict.pt"), o).size(),
            expected().at("cnn_state_dict.pt").size());
}

TEST(PyTorch, LoadOptionsPrefixesApply) {
  const ParamDict dict = load_checkpoint(fixture("nested.pt"), {.specify_prefix = {"model."}});
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"model.layer.weight", "model.layer.bias"}));
}

TEST(PyTorch, DetectRecognisesBothLayouts) {
  for (const char* f : {"cnn_state_dict.pt", "cnn_legacy.pt", "cnn_protocol5.pt"}) {
    const auto bytes = read_bytes(fixture(f));
    EXPECT_EQ(detect(std::span(bytes).first(64)), FileKind::kPyTorch) << f;
  }
  EXPECT_EQ(kind_from_extension("m.pth"), FileKind::kPyTorch);
  EXPECT_STREQ(kind_name(FileKind::kPyTorch), "pytorch");
}

// ---- pickles that call code ----

const char* kMarker = "/tmp/cellar_pytorch_fixture_pwned";

TEST(PyTorch, PickleCallingOsSystemIsRefusedWithoutRunningIt) {
  std::filesystem::remove(kMarker);
  const Error e = expect_error([] { load_checkpoint(fixture("malicious_system.pt")); },
                               ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("posix.system"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("nothing was executed"), std::string::npos);
  EXPECT_TRUE(e.offset().has_value());
  EXPECT_FALSE(std::filesystem::exists(kMarker));
}

TEST(PyTorch, Protocol4PickleCallingExecIsRefused) {
  std::filesystem::remove(kMarker);
  const Error e = expect_error([] { load_checkpoint(fixture("malicious_exec_p4.pt")); },
                               ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("builtins.exec"), std::string::npos) << e.what();
  EXPECT_FALSE(std::filesystem::exists(kMarker));
}

// ---- hand-made archives and pickles ----

// Pickle opcodes, written by hand.
struct Pickle {
  std::string b;
  Pickle& op(uint8_t c) {
    b += static_cast<char>(c);
    return *this;
  }
  Pickle& proto(int v = 2) { return op(0x80).op(static_cast<uint8_t>(v)); }
  Pickle& global(const std::string& m, const std::string& n) {
    b += 'c' + m + '\n' + n + '\n';
    return *this;
  }
  Pickle& str(const std::string& s) {
    op('X');
    const uint32_t n = static_cast<uint32_t>(s.size());
    b.append(reinterpret_cast<const char*>(&n), 4);
    b += s;
    return *this;
  }
  Pickle& integer(int32_t v) {
    op('J');
    b.append(reinterpret_cast<const char*>(&v), 4);
    return *this;
  }
  Pickle& ints(const std::vector<int32_t>& v) {
    op('(');
    for (int32_t x : v) integer(x);
    return op('t');
  }
  Pickle& mark() { return op('('); }
  Pickle& tuple() { return op('t'); }
  Pickle& reduce() { return op('R'); }
  Pickle& stop() { return op('.'); }
};

// OrderedDict({"w": _rebuild_tensor_v2(storage "0" of `type` with `numel` elements, offset,
// sizes, strides)}).
std::string tensor_pickle(const std::string& type, int32_t numel, int32_t offset,
                          const std::vector<int32_t>& sizes, const std::vector<int32_t>& strides) {
  Pickle p;
  p.proto().global("collections", "OrderedDict").op(')').reduce().mark().str("w");
  p.global("torch._utils", "_rebuild_tensor_v2").mark();
  p.mark().str("storage").global("torch", type).str("0").str("cpu").integer(numel).tuple();
  p.op('Q').integer(offset).ints(sizes).ints(strides).op(0x89);
  p.global("collections", "OrderedDict").op(')').reduce().tuple().reduce();
  p.op('u').stop();
  return p.b;
}

struct ZipEntry {
  std::string name;
  std::string data;
  bool deflate = false;
};

void put16(std::string& s, uint16_t v) { s.append(reinterpret_cast<const char*>(&v), 2); }
void put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

std::string raw_deflate(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A zip archive of `entries`, each under "archive/", data 64-byte aligned as torch writes it.
std::string make_zip(const std::vector<ZipEntry>& entries) {
  std::string out, cd;
  for (const ZipEntry& e : entries) {
    const std::string name = "archive/" + e.name;
    const std::string data = e.deflate ? raw_deflate(e.data) : e.data;
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size())));
    const uint32_t at = static_cast<uint32_t>(out.size());
    size_t pad = (64 - (at + 30 + name.size() + 4) % 64) % 64;
    std::string local;
    put32(local, 0x04034b50);
    put16(local, 20);
    put16(local, 0);
    put16(local, e.deflate ? 8 : 0);
    put32(local, 0);
    put32(local, crc);
    put32(local, static_cast<uint32_t>(data.size()));
    put32(local, static_cast<uint32_t>(e.data.size()));
    put16(local, static_cast<uint16_t>(name.size()));
    put16(local, static_cast<uint16_t>(4 + pad));
    local += name;
    put16(local, 0x4246);  // a padding extra field, as torch's writer uses
    put16(local, static_cast<uint16_t>(pad));
    local += std::string(pad, 'Z');
    out += local + data;
    put32(cd, 0x02014b50);
    put16(cd, 20);
    put16(cd, 20);
    put16(cd, 0);
    put16(cd, e.deflate ? 8 : 0);
    put32(cd, 0);
    put32(cd, crc);
    put32(cd, static_cast<uint32_t>(data.size()));
    put32(cd, static_cast<uint32_t>(e.data.size()));
    put16(cd, static_cast<uint16_t>(name.size()));
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, 0);
    put32(cd, at);
    cd += name;
  }
  const uint32_t cd_at = static_cast<uint32_t>(out.size());
  out += cd;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint16_t>(entries.size()));
  put16(out, static_cast<uint16_t>(entries.size()));
  put32(out, static_cast<uint32_t>(cd.size()));
  put32(out, cd_at);
  put16(out, 0);
  return out;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

ParamDict load_bytes(const TempDir& dir, const std::string& bytes, const std::string& name = "x.pt",
                     LoadOptions o = {}) {
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return load_checkpoint(path, o);
}

TEST(PyTorch, HandMadeArchiveLoads) {
  TempDir dir;
  const std::string zip =
      make_zip({{"data.pkl", tensor_pickle("FloatStorage", 6, 0, {2, 3}, {3, 1})},
                {"data/0", floats({1, 2, 3, 4, 5, 6})},
                {"byteorder", "little"}});
  const ParamDict d = load_bytes(dir, zip);
  const Tensor& w = d.at("w").data();
  EXPECT_EQ(w.shape(), Shape({2, 3}));
  EXPECT_EQ(w.data<float>()[5], 6.0f);
  EXPECT_TRUE(w.storage()->is_mapped());
}

TEST(PyTorch, DeflatedRecordsAndBigEndianFilesAreMaterialised) {
  TempDir dir;
  std::string be = floats({1.5f, -2.0f});
  for (size_t i = 0; i < be.size(); i += 4) std::reverse(be.begin() + i, be.begin() + i + 4);
  const std::string zip =
      make_zip({{"data.pkl", tensor_pickle("FloatStorage", 2, 0, {2}, {1}), true},
                {"data/0", be, true},
                {"byteorder", "big"}});
  const Tensor w = load_bytes(dir, zip).at("w").data();
  EXPECT_FALSE(w.storage()->is_mapped());
  EXPECT_EQ(w.data<float>()[0], 1.5f);
  EXPECT_EQ(w.data<float>()[1], -2.0f);
}

TEST(PyTorch, StrideZeroViewsAreExpanded) {
  TempDir dir;
  const std::string zip =
      make_zip({{"data.pkl", tensor_pickle("FloatStorage", 3, 0, {2, 3}, {0, 1})},
                {"data/0", floats({7, 8, 9})}});
  const Tensor w = load_bytes(dir, zip).at("w").data();
  EXPECT_EQ(w.shape(), Shape({2, 3}));
  EXPECT_EQ(w.data<float>()[3], 7.0f);
  EXPECT_EQ(w.data<float>()[5], 9.0f);
}

struct Corrupt {
  const char* what;
  std::string bytes;
  ErrorCode code;
  const char* message;  // a substring of the error
};

std::string with_pickle(const std::string& pkl, const std::string& data = floats({1, 2, 3, 4})) {
  return make_zip({{"data.pkl", pkl}, {"data/0", data}});
}

std::string nested_lists(int depth) {
  Pickle p;
  p.proto();
  for (int i = 0; i < depth; ++i) p.op(']');
  for (int i = 0; i < depth - 1; ++i) p.op('a');
  return p.stop().b;
}

std::string self_containing_list() {
  Pickle p;
  p.proto().op(']').op('q').op(0).op('h').op(0).op('a');  // l = []; l.append(l)
  return p.stop().b;
}

std::string dag_bomb(int levels) {
  // x0 = []; x(i+1) = [x(i), x(i)]: 2^levels leaves from a few hundred bytes.
  Pickle p;
  p.proto().op(']');
  for (int i = 0; i < levels; ++i)
    p.op('q').op(0).op('0').op('(').op('h').op(0).op('h').op(0).op('l');
  return p.stop().b;
}

std::vector<Corrupt> corruptions() {
  const std::string good_pkl = tensor_pickle("FloatStorage", 4, 0, {4}, {1});
  std::vector<Corrupt> c;
  c.push_back({"not a zip nor legacy", "hello world, not torch", ErrorCode::kFormat, ""});
  c.push_back({"truncated zip", with_pickle(good_pkl).substr(0, 200), ErrorCode::kFormat, "zip"});
  c.push_back({"no data.pkl", make_zip({{"data/0", floats({1})}}), ErrorCode::kFormat,
               "no 'archive/data.pkl'"});
  c.push_back({"missing storage record", make_zip({{"data.pkl", good_pkl}}), ErrorCode::kFormat,
               "has no record"});
  c.push_back({"storage record too short", with_pickle(good_pkl, floats({1, 2, 3})),
               ErrorCode::kFormat, "holds 12 bytes"});
  c.push_back({"view past the storage", with_pickle(tensor_pickle("FloatStorage", 4, 2, {3}, {1})),
               ErrorCode::kFormat, "reaches element 4"});
  c.push_back({"stride past the storage",
               with_pickle(tensor_pickle("FloatStorage", 4, 0, {2, 2}, {3, 1})), ErrorCode::kFormat,
               "reaches element"});
  c.push_back({"negative stride", with_pickle(tensor_pickle("FloatStorage", 4, 0, {2}, {-1})),
               ErrorCode::kFormat, "negative size or stride"});
  c.push_back({"negative offset", with_pickle(tensor_pickle("FloatStorage", 4, -1, {2}, {1})),
               ErrorCode::kFormat, "negative storage offset"});
  c.push_back({"size and stride lengths differ",
               with_pickle(tensor_pickle("FloatStorage", 4, 0, {2, 2}, {1})), ErrorCode::kFormat,
               "differ in length"});
  c.push_back({"expansion past the budget",
               with_pickle(tensor_pickle("FloatStorage", 4, 0, {1 << 20, 1 << 20}, {0, 0})),
               ErrorCode::kFormat, "budget"});
  c.push_back({"complex storage",
               with_pickle(tensor_pickle("ComplexFloatStorage", 4, 0, {4}, {1}),
                           floats({1, 2, 3, 4, 5, 6, 7, 8})),
               ErrorCode::kUnsupported, "ComplexFloatStorage"});
  c.push_back(
      {"os.system",
       with_pickle(Pickle().proto().global("os", "system").str("id").op(0x85).reduce().stop().b),
       ErrorCode::kUnsupported, "os.system"});
  c.push_back({"a model class", with_pickle(Pickle().proto().global("mymodel", "Net").stop().b),
               ErrorCode::kUnsupported, "mymodel.Net"});
  c.push_back({"INST opcode", with_pickle(Pickle().proto().mark().op('i').stop().b),
               ErrorCode::kFormat, "INST"});
  c.push_back(
      {"calling a storage class",
       with_pickle(Pickle().proto().global("torch", "FloatStorage").op(')').reduce().stop().b),
       ErrorCode::kFormat, "cannot be called"});
  c.push_back({"protocol 1", with_pickle(Pickle().proto(1).op('N').stop().b), ErrorCode::kFormat,
               "protocol 1"});
  c.push_back({"unset memo", with_pickle(Pickle().proto().op('h').op(5).stop().b),
               ErrorCode::kFormat, "never stored"});
  c.push_back({"stack underflow", with_pickle(Pickle().proto().op('a').stop().b),
               ErrorCode::kFormat, "underflow"});
  c.push_back({"string past the end",
               with_pickle(Pickle().proto().op('X').op(0xff).op(0xff).op(0xff).op(0x7f).b),
               ErrorCode::kFormat, "runs past the end"});
  c.push_back({"no STOP", with_pickle(Pickle().proto().op('N').b), ErrorCode::kFormat,
               "runs past the end"});
  c.push_back(
      {"deep nesting", with_pickle(nested_lists(200)), ErrorCode::kFormat, "nested deeper"});
  c.push_back({"a list containing itself", with_pickle(self_containing_list()), ErrorCode::kFormat,
               "nested deeper"});
  // (The names' budget stops it before the 2^22 visits do.)
  c.push_back({"shared containers repeated", with_pickle(dag_bomb(40)), ErrorCode::kFormat,
               "flattening the pickled object would take more than"});
  c.push_back({"duplicate names",
               with_pickle(Pickle()
                               .proto()
                               .op('}')
                               .mark()
                               .str("a")
                               .integer(1)
                               .str("a")
                               .integer(2)
                               .op('u')
                               .stop()
                               .b),
               ErrorCode::kFormat, "two entries flatten"});
  c.push_back(
      {"bad byteorder",
       make_zip(
           {{"data.pkl", good_pkl}, {"data/0", floats({1, 2, 3, 4})}, {"byteorder", "middle"}}),
       ErrorCode::kFormat, "byteorder"});
  c.push_back({"torchscript", make_zip({{"data.pkl", good_pkl}, {"constants.pkl", "x"}}),
               ErrorCode::kUnsupported, "TorchScript"});
  c.push_back({"persistent module",
               with_pickle(Pickle().proto().mark().str("module").tuple().op('Q').stop().b),
               ErrorCode::kUnsupported, "nn.Module"});
  // Overlapping entries: the second local header offset pointing into the first one's data.
  {
    std::string z = with_pickle(good_pkl);
    const size_t cd = z.rfind(std::string("\x50\x4b\x01\x02", 4));
    uint32_t first_data = 0;
    std::memcpy(&first_data, z.data() + z.find(std::string("\x50\x4b\x01\x02", 4)) + 42, 4);
    const uint32_t bogus = first_data + 1;
    std::memcpy(z.data() + cd + 42, &bogus, 4);
    c.push_back({"entry outside its place", z, ErrorCode::kFormat, "zip"});
  }
  return c;
}

TEST(PyTorch, CorruptFilesFailCleanly) {
  TempDir dir;
  for (const Corrupt& k : corruptions()) {
    SCOPED_TRACE(k.what);
    const Error e = expect_error([&] { load_bytes(dir, k.bytes); }, k.code);
    EXPECT_NE(std::string(e.what()).find(k.message), std::string::npos) << e.what();
    EXPECT_FALSE(e.file().empty());
  }
}

TEST(PyTorch, LegacyCorruptionsFailCleanly) {
  TempDir dir;
  const auto good = read_bytes(fixture("cnn_legacy.pt"));
  auto as_string = [](const std::vector<std::byte>& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  };
  std::string trailing = as_string(good) + "junk";
  EXPECT_NE(std::string(expect_error([&] { load_bytes(dir, trailing); }, ErrorCode::kFormat).what())
                .find("after the last storage"),
            std::string::npos);
  std::string cut = as_string(good).substr(0, good.size() - 5);
  EXPECT_NE(std::string(expect_error([&] { load_bytes(dir, cut); }, ErrorCode::kFormat).what())
                .find("runs past the end"),
            std::string::npos);
  std::string bad_version = as_string(good);
  // The version pickle follows the 15-byte magic pickle: PROTO 2, BININT2 1001 (e9 03), STOP.
  ASSERT_EQ(static_cast<uint8_t>(bad_version[18]), 0xe9);
  bad_version[18] = static_cast<char>(0xea);
  EXPECT_NE(
      std::string(expect_error([&] { load_bytes(dir, bad_version); }, ErrorCode::kFormat).what())
          .find("1002"),
      std::string::npos);
}

// A pickle of one-byte opcodes makes an object (~100 bytes) or a memo entry per byte; deflated in
// the zip, 32 MiB of them take 32 KiB of file. The load must fail on the budget (64 MiB plus 16
// times the file's size), not after allocating gigabytes: before it, the first made 2^24 objects
// (1.6 GB) before it failed, the second 2^25 memo entries (over 2 GB) and loaded. The same for
// what the policy keeps per tensor (1 KiB from six bytes) and for the flattened names (shared
// containers with long keys: 64 GiB of names from 128 KiB).
TEST(PyTorch, HostilePicklesCannotMakeTheLoadAllocateGigabytes) {
  TempDir dir;
  std::string objects = "\x80\x02";
  for (int i = 0; i < (1 << 24); ++i) objects += "N0";
  objects += "N.";
  std::string memo = "\x80\x02N" + std::string(size_t{1} << 25, '\x94') + ".";
  struct Case {
    const char* what;
    std::string file;
  };
  std::vector<Case> cases;
  cases.push_back({"one-byte objects", make_zip({{"data.pkl", objects, /*deflate=*/true}})});
  cases.push_back({"one-byte memo entries", make_zip({{"data.pkl", memo, /*deflate=*/true}})});
  objects = memo = std::string();  // not resident in the children
  {
    // 2^20 tensors rebuilt from one memoised args tuple with 64-dimensional sizes and strides:
    // six bytes of pickle (BINGET, BINGET, REDUCE, POP) each, 1 KiB kept for each (1.2 GB).
    Pickle p;
    p.proto().global("torch._utils", "_rebuild_tensor_v2").op('q').op(0).op('0').mark();
    p.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(1);
    p.tuple()
        .op('Q')
        .integer(0)
        .ints(std::vector<int32_t>(64, 1))
        .ints(std::vector<int32_t>(64, 0));
    p.op(0x89).global("collections", "OrderedDict").op(')').reduce().tuple().op('q').op(1).op('0');
    for (int i = 0; i < (1 << 20); ++i) p.b.append("h\x00h\x01R0", 6);
    p.op('}').stop();
    cases.push_back({"tensors rebuilt from one args tuple",
                     make_zip({{"data.pkl", p.b, true}, {"data/0", floats({1})}})});
  }
  {
    // A binary tree of dicts 16 deep, each level the same two 64 KiB keys over the same child:
    // 65,536 entries whose names are 1 MiB each, from 128 KiB of keys.
    Pickle p;
    p.proto().str(std::string(64 << 10, 'a')).op('q').op(0).op('0');
    p.str(std::string(64 << 10, 'b')).op('q').op(1).op('0').integer(1);
    for (int level = 0; level < 16; ++level)
      p.op('q')
          .op(2)
          .op('0')
          .op('}')
          .mark()
          .op('h')
          .op(0)
          .op('h')
          .op(2)
          .op('h')
          .op(1)
          .op('h')
          .op(2)
          .op('u');
    cases.push_back(
        {"long keys repeated through shared dicts", make_zip({{"data.pkl", p.stop().b, true}})});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_LT(c.file.size(), size_t{1} << 20);
    const auto path = dir / "bomb.pt";
    std::ofstream(path, std::ios::binary) << c.file;
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 3;
      try {
        load_checkpoint(path);
        code = 1;
      } catch (const FormatError& e) {
        const std::string what = e.what();
        code = what.find("bytes of memory") != std::string::npos ||
                       what.find("flattening the pickled object") != std::string::npos
                   ? 0
                   : 2;
        if (code) std::fprintf(stderr, "%s\n", e.what());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
      }
      ::_exit(code);
    }
    int status = -1;
    struct rusage ru {};
    ASSERT_EQ(::wait4(pid, &status, 0, &ru), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: loaded, 2: another FormatError, 3: another error";
#if !CELLAR_TEST_SANITIZED
    // The 32 MiB pickle inflated, the 64 MiB budget, the test process itself.
    EXPECT_LT(static_cast<uint64_t>(ru.ru_maxrss) * 1024, uint64_t{256} << 20);
#endif
  }
  // The same error in this process, naming the file and the budget.
  std::ofstream(dir / "bomb.pt", std::ios::binary) << cases.back().file;
  const Error e = expect_error([&] { load_checkpoint(dir / "bomb.pt"); }, ErrorCode::kFormat);
  EXPECT_NE(std::string(e.what()).find("16 times the file's size"), std::string::npos) << e.what();
  EXPECT_FALSE(e.file().empty());
}

// Seeded mutations of torch's own files: each load either succeeds or throws a cellar::Error.
TEST(PyTorch, MutatedFilesNeverCrash) {
  TempDir dir;
  std::mt19937 rng(1234);
  for (const char* f : {"cnn_state_dict.pt", "cnn_legacy.pt", "nested.pt"}) {
    const auto good = read_bytes(fixture(f));
    for (int round = 0; round < 300; ++round) {
      auto bytes = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i)
        bytes[rng() % bytes.size()] = static_cast<std::byte>(rng() & 0xff);
      if (round % 10 == 0) bytes.resize(rng() % bytes.size());
      write_bytes(dir / "m.pt", bytes);
      try {
        const ParamDict d = load_checkpoint(dir / "m.pt");
        for (const auto& [name, p] : d) {
          uint64_t sum = 0;
          for (std::byte b : p.data().bytes()) sum += static_cast<uint8_t>(b);
          (void)sum;
        }
      } catch (const Error&) {
      }
    }
  }
}

TEST(PyTorch, WritingIsRefused) {
  TempDir dir;
  const Error e = expect_error(
      [&] {
        formats::AtomicFile out(dir / "x.pt");
        formats::pytorch_format().write({}, out, {});
      },
      ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find(".safetensors"), std::string::npos);
}

}  // namespace
