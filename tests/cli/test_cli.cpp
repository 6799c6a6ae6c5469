// The `cellar` command line, driven as a user drives it: the real binary (CELLAR_CLI) run as a
// child process, its stdout, stderr and exit status checked. Covers `inspect` on the conformance
// checkpoints, on checkpoints and MindIR files written here, on unreadable files (status 1, one
// stderr line naming the file), bad usage (status 2), --help and --version.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cellar/cellar.h"
#include "mind_ir.pb.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace {
using cellar::testing::max_abs_diff;
using cellar::testing::read_f32;

namespace fs = std::filesystem;
namespace nn = cellar::nn;
using cellar::testing::conformance;
using cellar::testing::TempDir;
using nlohmann::json;

using CliResult = cellar::testing::ProcessResult;
using cellar::testing::read_text;

// Runs the cellar binary with `args`.
CliResult cellar_cli(const std::vector<std::string>& args) {
  return cellar::testing::run_process(CELLAR_CLI, args);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// One row of `inspect` text output: name, dtype, shape, bytes (bytes absent for graph I/O).
struct Row {
  std::string name, dtype, shape;
  std::string bytes;
};

std::vector<Row> rows(const std::string& text) {
  static const std::regex re(R"(^\s*(\S+)\s+(\S+)\s+(\([0-9, ]*\))(?:\s+(\d+))?$)");
  std::vector<Row> v;
  for (const auto& l : lines(text)) {
    std::smatch m;
    if (std::regex_match(l, m, re)) v.push_back({m[1], m[2], m[3], m[4]});
  }
  return v;
}

// The single stderr line of a failed run, which must name `file`.
void expect_file_error(const CliResult& r, const std::string& file) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n') << r.err;
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  // The file is named once: the CLI does not prefix what the library's message already says.
  EXPECT_EQ(r.err.find(file), r.err.rfind(file)) << r.err;
}

struct Expected {
  std::string name, dtype, shape;
  uint64_t bytes;
};

const std::vector<Expected> kTutorial = {
    {"dense_relu_sequential.0.weight", "Float32", "(512, 784)", 512 * 784 * 4},
    {"dense_relu_sequential.0.bias", "Float32", "(512,)", 512 * 4},
    {"dense_relu_sequential.2.weight", "Float32", "(512, 512)", 512 * 512 * 4},
    {"dense_relu_sequential.2.bias", "Float32", "(512,)", 512 * 4},
    {"dense_relu_sequential.4.weight", "Float32", "(10, 512)", 10 * 512 * 4},
    {"dense_relu_sequential.4.bias", "Float32", "(10,)", 10 * 4},
};

std::shared_ptr<nn::SequentialCellImpl> tutorial_mlp() {
  cellar::Generator g(7);
  return nn::SequentialCell({nn::Flatten(), nn::Dense({.in = 784, .out = 512, .generator = &g}),
                             nn::ReLU(), nn::Dense({.in = 512, .out = 512, .generator = &g}),
                             nn::ReLU(), nn::Dense({.in = 512, .out = 10, .generator = &g})});
}

fs::path export_mlp(const TempDir& dir, const std::string& stem = "model") {
  auto net = tutorial_mlp();
  return cellar::export_model(net, {cellar::ones({1, 1, 28, 28})}, (dir / stem).string(),
                              cellar::FileFormat::MINDIR);
}

void copy_prefix(const fs::path& from, const fs::path& to, size_t n) {
  auto b = cellar::testing::read_bytes(from);
  b.resize(std::min(n, b.size()));
  cellar::testing::write_bytes(to, b);
}

// ---- checkpoints ---------------------------------------------------------------------------

TEST(CliInspect, TutorialCheckpointText) {
  const std::string f = conformance("mindspore-mlp-tutorial.ckpt").string();
  const CliResult r = cellar_cli({"inspect", f});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto rs = rows(r.out);
  EXPECT_NE(r.out.find("format: ckpt\ntensors: 6 ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ncrc: absent\n"), std::string::npos) << r.out;
  ASSERT_EQ(rs.size(), kTutorial.size()) << r.out;
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].name, kTutorial[i].name);
    EXPECT_EQ(rs[i].dtype, kTutorial[i].dtype);
    EXPECT_EQ(rs[i].shape, kTutorial[i].shape);
    EXPECT_EQ(rs[i].bytes, std::to_string(kTutorial[i].bytes));
  }
}

TEST(CliInspect, TutorialCheckpointJson) {
  const std::string f = conformance("mindspore-mlp-tutorial.ckpt").string();
  const CliResult r = cellar_cli({"inspect", f, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("file"), f);
  EXPECT_EQ(j.at("format"), "ckpt");
  const json& t = j.at("tensors");
  ASSERT_EQ(t.size(), kTutorial.size());
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].at("name"), kTutorial[i].name);
    EXPECT_EQ(t[i].at("dtype"), kTutorial[i].dtype);
    EXPECT_EQ(t[i].at("bytes").get<uint64_t>(), kTutorial[i].bytes);
  }
  EXPECT_EQ(t[0].at("shape"), json({512, 784}));
  EXPECT_EQ(t[1].at("shape"), json({512}));
}

// A name may hold control characters (a .ckpt tag is any UTF-8): inspect shows them as \xNN, so
// a file cannot drive the terminal, and --json gives the name itself.
TEST(CliInspect, ControlCharactersInNamesPrintEscaped) {
  TempDir dir;
  const std::string name = "evil\x1b[2J\tname";
  cellar::ParamDict params;
  params.set(name, cellar::Tensor(cellar::DType::Float32, cellar::Shape{2}));
  const std::string f = (dir / "odd.ckpt").string();
  cellar::save_checkpoint(params, f).get();
  const CliResult r = cellar_cli({"inspect", f});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("evil\\x1b[2J\\x09name"), std::string::npos) << r.out;
  const CliResult rj = cellar_cli({"inspect", "--json", f});
  ASSERT_EQ(rj.status, 0) << rj.err;
  EXPECT_EQ(rj.out.find('\x1b'), std::string::npos) << rj.out;
  EXPECT_EQ(json::parse(rj.out).at("tensors").at(0).at("name"), name);
}

TEST(CliInspect, LenetCheckpointScalarsAndInts) {
  const std::string f = conformance("mindspore-lenet-openmlsys.ckpt").string();
  const CliResult r = cellar_cli({"inspect", f});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rs = rows(r.out);
  ASSERT_EQ(rs.size(), 15u) << r.out;
  // Rank-0 entries are listed again with their values (MindSpore's append_dict writes those).
  EXPECT_NE(r.out.find("scalars: 2\n  learning_rate = 0.01\n  momentum = 0.9\n"), std::string::npos)
      << r.out;
  std::map<std::string, Row> by_name;
  for (const auto& x : rs) by_name[x.name] = x;
  EXPECT_EQ(by_name["dense1.weight"].shape, "(128, 1024)");
  EXPECT_EQ(by_name["dense1.weight"].bytes, std::to_string(128 * 1024 * 4));
  EXPECT_EQ(by_name["global_step"].dtype, "Int32");
  EXPECT_EQ(by_name["global_step"].shape, "(1,)");
  EXPECT_EQ(by_name["global_step"].bytes, "4");
  EXPECT_EQ(by_name["learning_rate"].dtype, "Float32");
  EXPECT_EQ(by_name["learning_rate"].shape, "()");  // written as dims [0]: a scalar
  EXPECT_EQ(by_name["learning_rate"].bytes, "4");
  EXPECT_EQ(by_name["moments.dense3.bias"].shape, "(10,)");

  const CliResult rj = cellar_cli({"inspect", "--json", f});
  ASSERT_EQ(rj.status, 0) << rj.err;
  const json j = json::parse(rj.out);
  ASSERT_EQ(j.at("tensors").size(), 15u);
  for (const json& t : j.at("tensors")) {
    if (t.at("name") == "momentum") {
      EXPECT_EQ(t.at("shape"), json::array());
      EXPECT_EQ(t.at("bytes"), 4);
    }
  }
}

TEST(CliInspect, CheckpointWeWroteWithSeveralDtypes) {
  TempDir dir;
  const fs::path p = dir / "mixed.ckpt";
  cellar::ParamDict d{{"w16", cellar::zeros({3, 2}, cellar::float16)},
                      {"ids", cellar::zeros({5}, cellar::int64)},
                      {"mask", cellar::zeros({2, 2, 2}, cellar::bool_)}};
  cellar::save_checkpoint(d, p);
  const CliResult r = cellar_cli({"inspect", p.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rs = rows(r.out);
  ASSERT_EQ(rs.size(), 3u) << r.out;
  EXPECT_EQ(rs[0].name, "w16");
  EXPECT_EQ(rs[0].dtype, "Float16");
  EXPECT_EQ(rs[0].shape, "(3, 2)");
  EXPECT_EQ(rs[0].bytes, "12");
  EXPECT_EQ(rs[1].dtype, "Int64");
  EXPECT_EQ(rs[1].bytes, "40");
  EXPECT_EQ(rs[2].dtype, "Bool");
  EXPECT_EQ(rs[2].shape, "(2, 2, 2)");
  EXPECT_EQ(rs[2].bytes, "8");
}

TEST(CliInspect, FormatComesFromBytesNotName) {
  TempDir dir;
  const fs::path ckpt_named_mindir = dir / "weights.mindir";
  fs::copy_file(conformance("mindspore-mlp-tutorial.ckpt"), ckpt_named_mindir);
  const CliResult r = cellar_cli({"inspect", "--json", ckpt_named_mindir.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("format"), "ckpt");

  const fs::path mindir_named_ckpt = dir / "graph.ckpt";
  fs::copy_file(export_mlp(dir), mindir_named_ckpt);
  const CliResult r2 = cellar_cli({"inspect", "--json", mindir_named_ckpt.string()});
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.out).at("format"), "mindir");
}

// ---- MindIR --------------------------------------------------------------------------------

constexpr uint64_t kMlpParamBytes = (784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10) * 4;

TEST(CliInspect, MindIRText) {
  TempDir dir;
  const fs::path p = export_mlp(dir);
  const cellar::ir::Graph g = cellar::load(p);
  const CliResult r = cellar_cli({"inspect", p.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.find(std::string("format: mindir\nproducer: cellar ") + cellar::kVersion + "\n"),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("\ninputs: 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("outputs: 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 6 (" + std::to_string(kMlpParamBytes) + " bytes, 2.6 MiB)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nodes: " + std::to_string(g.nodes.size()) + "\n"), std::string::npos)
      << r.out;

  const auto rs = rows(r.out);
  ASSERT_EQ(rs.size(), 1u + 1u + 6u) << r.out;  // input, output, parameters
  EXPECT_EQ(rs[0].name, g.value(g.inputs[0]).name);
  EXPECT_EQ(rs[0].dtype, "Float32");
  EXPECT_EQ(rs[0].shape, "(1, 1, 28, 28)");
  EXPECT_EQ(rs[0].bytes, "");
  EXPECT_EQ(rs[1].shape, "(1, 10)");
  std::multiset<std::string> shapes;
  uint64_t sum = 0;
  for (size_t i = 2; i < rs.size(); ++i) {
    shapes.insert(rs[i].shape);
    EXPECT_EQ(rs[i].dtype, "Float32");
    sum += std::stoull(rs[i].bytes);
  }
  EXPECT_EQ(sum, kMlpParamBytes);
  EXPECT_EQ(shapes, (std::multiset<std::string>{"(512, 784)", "(512,)", "(512, 512)", "(512,)",
                                                "(10, 512)", "(10,)"}));
}

TEST(CliInspect, MindIRJson) {
  TempDir dir;
  const fs::path p = export_mlp(dir);
  const cellar::ir::Graph g = cellar::load(p);
  const CliResult r = cellar_cli({"inspect", p.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("file"), p.string());
  EXPECT_EQ(j.at("format"), "mindir");
  ASSERT_EQ(j.at("inputs").size(), 1u);
  EXPECT_EQ(j.at("inputs")[0].at("name"), g.value(g.inputs[0]).name);
  EXPECT_EQ(j.at("inputs")[0].at("dtype"), "Float32");
  EXPECT_EQ(j.at("inputs")[0].at("shape"), json({1, 1, 28, 28}));
  ASSERT_EQ(j.at("outputs").size(), 1u);
  EXPECT_EQ(j.at("outputs")[0].at("shape"), json({1, 10}));
  EXPECT_EQ(j.at("parameter_count"), 6);
  EXPECT_EQ(j.at("parameter_bytes").get<uint64_t>(), kMlpParamBytes);
  EXPECT_EQ(j.at("node_count").get<size_t>(), g.nodes.size());
  EXPECT_GT(g.nodes.size(), 0u);
  ASSERT_EQ(j.at("parameters").size(), 6u);
  uint64_t sum = 0;
  for (const json& q : j.at("parameters")) {
    EXPECT_TRUE(q.contains("name") && q.contains("dtype") && q.contains("shape"));
    sum += q.at("bytes").get<uint64_t>();
  }
  EXPECT_EQ(sum, kMlpParamBytes);
}

// ---- files it cannot read: status 1, one stderr line naming the file ----------------------

TEST(CliErrors, MissingFile) {
  TempDir dir;
  const std::string f = (dir / "no-such-file.ckpt").string();
  expect_file_error(cellar_cli({"inspect", f}), f);
  expect_file_error(cellar_cli({"inspect", "--json", f}), f);
}

TEST(CliErrors, EmptyFile) {
  TempDir dir;
  const fs::path f = dir / "empty.ckpt";
  cellar::testing::write_bytes(f, {});
  expect_file_error(cellar_cli({"inspect", f.string()}), f.string());
}

TEST(CliErrors, Directory) {
  TempDir dir;
  expect_file_error(cellar_cli({"inspect", dir.path().string()}), dir.path().string());
}

TEST(CliErrors, GarbageFiles) {
  TempDir dir;
  const fs::path text = dir / "notes.ckpt";
  std::ofstream(text) << "these are not the bytes you are looking for\n";
  expect_file_error(cellar_cli({"inspect", text.string()}), text.string());

  const fs::path noise = dir / "noise.mindir";
  std::vector<std::byte> b(4096);
  uint32_t x = 12345;
  for (auto& c : b) c = std::byte((x = x * 1664525u + 1013904223u) >> 24);
  cellar::testing::write_bytes(noise, b);
  expect_file_error(cellar_cli({"inspect", noise.string()}), noise.string());
}

TEST(CliErrors, TruncatedCheckpoint) {
  TempDir dir;
  const fs::path src = conformance("mindspore-mlp-tutorial.ckpt");
  const size_t size = fs::file_size(src);
  for (size_t n : {size_t{40}, size_t{1000}, size / 2, size - 1}) {
    const fs::path f = dir / ("truncated-" + std::to_string(n) + ".ckpt");
    copy_prefix(src, f, n);
    SCOPED_TRACE(f.string());
    expect_file_error(cellar_cli({"inspect", f.string()}), f.string());
  }
}

TEST(CliErrors, TruncatedMindIR) {
  TempDir dir;
  const fs::path src = export_mlp(dir, "src");
  const size_t size = fs::file_size(src);
  for (size_t n : {size / 2, size - 3}) {
    const fs::path f = dir / ("truncated-" + std::to_string(n) + ".mindir");
    copy_prefix(src, f, n);
    SCOPED_TRACE(f.string());
    expect_file_error(cellar_cli({"inspect", f.string()}), f.string());
  }
}

// ---- usage ---------------------------------------------------------------------------------

TEST(CliUsage, BadUsageIsStatusTwo) {
  const std::string f = conformance("mindspore-mlp-tutorial.ckpt").string();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},                                // no command
           {"inspect"},                       // missing FILE
           {"inspect", "--bogus", f},         // unknown option
           {"inspect", f, "--json=maybe"},    // bad flag value
           {"inspect", f, "extra-argument"},  // too many positionals
           {"frobnicate", f},                 // unknown command
           {"--no-such-global-option"},
       }) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    const CliResult r = cellar_cli(args);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CliUsage, VersionAndHelp) {
  const CliResult v = cellar_cli({"--version"});
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find(std::string("cellar ") + cellar::kVersion), std::string::npos) << v.out;

  const CliResult h = cellar_cli({"--help"});
  EXPECT_EQ(h.status, 0) << h.err;
  EXPECT_NE(h.out.find("inspect"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("cellar inspect model.ckpt"), std::string::npos) << h.out;  // an example

  EXPECT_NE(h.out.find("3 `diff` found the files different"), std::string::npos) << h.out;
  for (const std::string cmd : {"inspect", "diff", "run", "convert", "bench"}) {
    SCOPED_TRACE(cmd);
    const CliResult hi = cellar_cli({cmd, "--help"});
    EXPECT_EQ(hi.status, 0) << hi.err;
    EXPECT_NE(hi.out.find("--json"), std::string::npos) << hi.out;
    EXPECT_NE(hi.out.find("Examples:\n  cellar " + cmd + " "), std::string::npos) << hi.out;
  }
}

// ---- helpers for the commands beyond inspect -----------------------------------------------

fs::path fixture(const std::string& rel) {
  return fs::path(CELLAR_SOURCE_DIR) / "tests/fixtures" / rel;
}

std::string S(const fs::path& p) { return p.string(); }

json run_json(const std::vector<std::string>& args, int want_status = 0) {
  const CliResult r = cellar_cli(args);
  EXPECT_EQ(r.status, want_status) << r.err;
  EXPECT_EQ(r.err, "");
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return json();
  }
}

void flip_byte(const fs::path& p, size_t offset) {
  auto b = cellar::testing::read_bytes(p);
  ASSERT_LT(offset, b.size());
  b[offset] ^= std::byte{0x01};
  cellar::testing::write_bytes(p, b);
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

// ---- inspect: safetensors, ONNX, MindSpore's MindIR, metadata, stats ----------------------

TEST(CliInspect, SafetensorsFromThePackage) {
  // Written by the `safetensors` package (tests/fixtures/safetensors/make_fixtures.py).
  const json j =
      run_json({"inspect", S(fixture("safetensors/package_dtypes.safetensors")), "--json"});
  EXPECT_EQ(j.at("format"), "safetensors");
  EXPECT_EQ(j.at("tensor_count"), 14);
  std::map<std::string, json> by;
  for (const json& t : j.at("tensors")) by[t.at("name")] = t;
  EXPECT_EQ(by.at("empty").at("shape"), json({0, 3}));
  EXPECT_EQ(by.at("empty").at("bytes"), 0);
  EXPECT_EQ(by.at("u64").at("dtype"), "UInt64");
  EXPECT_EQ(by.at("f32").at("shape"), json({2, 3}));
  EXPECT_EQ(by.at("scalar").at("shape"), json::array());
  EXPECT_TRUE(j.at("metadata").is_object());
  EXPECT_EQ(j.at("crc").at("present"), false);
}

TEST(CliInspect, SafetensorsMetadataAndCrcFromMindSpore) {
  const fs::path src = fixture("safetensors/ms_crc.safetensors");
  const CliResult r = cellar_cli({"inspect", S(src)});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("metadata: 2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  format = ms\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  epoch_num = 5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("crc: present, valid\n"), std::string::npos) << r.out;
  const json j = run_json({"inspect", "--json", S(src)});
  EXPECT_EQ(j.at("metadata").at("format"), "ms");
  EXPECT_EQ(j.at("crc"), json({{"present", true}, {"valid", true}}));

  // One flipped bit in the last tensor's data: still readable, the CRC no longer matches.
  TempDir dir;
  const fs::path bad = dir / "bad.safetensors";
  fs::copy_file(src, bad);
  flip_byte(bad, fs::file_size(bad) - 1);
  const json jb = run_json({"inspect", "--json", S(bad)});
  EXPECT_EQ(jb.at("crc"), json({{"present", true}, {"valid", false}}));
}

TEST(CliInspect, CheckpointCrcFromMindSpore) {
  const fs::path src = fixture("mindspore/2.10/ckpt/crc.ckpt");
  EXPECT_EQ(run_json({"inspect", "--json", S(src)}).at("crc"),
            json({{"present", true}, {"valid", true}}));
  TempDir dir;
  const fs::path bad = dir / "bad.ckpt";
  fs::copy_file(src, bad);
  flip_byte(bad, fs::file_size(bad) - 18);  // the last content byte, just before the trailer
  const CliResult r = cellar_cli({"inspect", S(bad)});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("crc: present, INVALID\n"), std::string::npos) << r.out;
  EXPECT_EQ(
      run_json({"inspect", "--json", S(fixture("mindspore/2.10/ckpt/dtypes.ckpt"))}).at("crc"),
      json({{"present", false}, {"valid", nullptr}}));
}

TEST(CliInspect, AppendDictValues) {
  const json j = run_json({"inspect", "--json", S(fixture("mindspore/2.10/ckpt/append.ckpt"))});
  EXPECT_EQ(
      j.at("scalars"),
      json({{"epoch_num", 5}, {"lr", 0.009999999776482582}, {"flag", true}, {"note", "héllo"}}));
}

TEST(CliInspect, Stats) {
  const json j =
      run_json({"inspect", "--json", "--stats", S(fixture("mindspore/2.10/ckpt/dtypes.ckpt"))});
  std::map<std::string, json> by;
  for (const json& t : j.at("tensors")) by[t.at("name")] = t.at("stats");
  EXPECT_EQ(by.at("w.f32"), json({{"min", 0.0}, {"max", 1.25}, {"mean", 0.625}, {"nan_count", 0}}));
  EXPECT_EQ(by.at("b.f16").at("min"), -2.0);
  EXPECT_EQ(by.at("b.f16").at("max"), 65504.0);
  EXPECT_EQ(by.at("i.i64").at("max"), double(int64_t{1} << 40));
  EXPECT_EQ(by.at("m.bool"),
            json({{"min", 0.0}, {"max", 1.0}, {"mean", 2.0 / 3}, {"nan_count", 0}}));
  EXPECT_EQ(by.at("bf.bf16").at("min"), -3.0);

  TempDir dir;
  const float nan = std::nanf("");
  cellar::ParamDict d{{"x", cellar::Tensor::from_vector<float>({1, nan, 3, nan, -2}, {5})},
                      {"all_nan", cellar::Tensor::from_vector<float>({nan}, {1})},
                      {"inf", cellar::Tensor::from_vector<double>({1, INFINITY}, {2})}};
  cellar::save_checkpoint(d, dir / "nan.ckpt");
  const json jn = run_json({"inspect", "--json", "--stats", S(dir / "nan.ckpt")});
  EXPECT_EQ(jn.at("tensors")[0].at("stats"),
            json({{"min", -2.0}, {"max", 3.0}, {"mean", 2.0 / 3}, {"nan_count", 2}}));
  EXPECT_EQ(jn.at("tensors")[1].at("stats"),
            json({{"min", nullptr}, {"max", nullptr}, {"mean", nullptr}, {"nan_count", 1}}));
  EXPECT_EQ(jn.at("tensors")[2].at("stats").at("max"), "inf");
  const CliResult r = cellar_cli({"inspect", "--stats", S(dir / "nan.ckpt")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("name     dtype    shape  bytes  min  max  mean      nan"),
            std::string::npos)
      << r.out;
}

TEST(CliInspect, OnnxFromPyTorch) {
  const fs::path f = fixture("torch/lenet5_opset17.onnx");
  const json j = run_json({"inspect", "--json", S(f)});
  EXPECT_EQ(j.at("format"), "onnx");
  EXPECT_EQ(j.at("producer").at("name"), "pytorch");
  EXPECT_EQ(j.at("opsets"), json::parse(R"([{"domain":"","version":17}])"));
  EXPECT_EQ(j.at("inputs")[0].at("shape"), json({1, 1, 32, 32}));
  EXPECT_EQ(j.at("outputs")[0].at("shape"), json({1, 10}));
  EXPECT_EQ(j.at("parameter_count"), 10);
  size_t ops = 0;
  for (const auto& [op, n] : j.at("ops").items()) ops += n.get<size_t>();
  EXPECT_EQ(ops, j.at("node_count").get<size_t>());
  EXPECT_EQ(j.at("ops").at("Conv2D"), 2);
  EXPECT_EQ(j.at("encrypted"), false);
  // External data (PyTorch's default export writes a .onnx.data beside the model).
  const json je = run_json({"inspect", "--json", S(fixture("torch/mlp_default.onnx"))});
  EXPECT_GT(je.at("parameter_bytes").get<uint64_t>(), 0u);
}

TEST(CliInspect, MindIRFromMindSpore) {
  const json j = run_json({"inspect", "--json", S(fixture("mindspore/2.10/mindir/mlp.mindir"))});
  EXPECT_EQ(j.at("format"), "mindir");
  EXPECT_EQ(j.at("producer").at("name"), "MindSpore");
  EXPECT_EQ(j.at("model_version"), "2.10.0");
  EXPECT_EQ(j.at("parameter_bytes").get<uint64_t>(), kMlpParamBytes);
  EXPECT_EQ(j.at("ops").at("MatMul"), 3);
  EXPECT_EQ(j.at("ops").at("ReLU"), 2);
}

// A model cellar cannot load still gets its header and op census, and status 0.
TEST(CliInspect, CensusOfAModelWithUnknownOps) {
  TempDir dir;
  mind_ir::ModelProto m;
  ASSERT_TRUE(
      m.ParseFromString(read_text(fixture("mindspore/2.10/mindir_layouts/args_2.10.mindir"))));
  for (auto& p : *m.mutable_primitives())
    if (p.op_type() == "Tile" || p.op_type() == "Softmax") p.set_op_type("Bar");
  const fs::path f = dir / "unknown.mindir";
  write_text(f, m.SerializeAsString());

  const json j = run_json({"inspect", "--json", S(f)});
  EXPECT_EQ(j.at("loads"), false);
  EXPECT_NE(j.at("load_error").get<std::string>().find("2 unsupported ops: Bar ×2"),
            std::string::npos)
      << j.at("load_error");
  EXPECT_EQ(j.at("unknown_ops"), json::parse(R"(["Bar"])"));
  bool saw_bar = false;
  for (const auto& c : j.at("census"))
    if (c.at("op") == "Bar") {
      saw_bar = true;
      EXPECT_EQ(c.at("nodes"), 2);
      EXPECT_EQ(c.at("supported"), false);
    }
  EXPECT_TRUE(saw_bar);
  EXPECT_FALSE(j.contains("inputs"));  // those need the load

  const CliResult r = cellar_cli({"inspect", S(f)});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Bar *"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loads: no: "), std::string::npos) << r.out;

  // A model that loads says so too.
  const json ok =
      run_json({"inspect", "--json", S(fixture("mindspore/2.10/mindir_layouts/args_2.10.mindir"))});
  EXPECT_EQ(ok.at("loads"), true);
  EXPECT_EQ(ok.at("unknown_ops"), json::array());
  EXPECT_TRUE(ok.at("load_error").is_null());
}

TEST(CliInspect, EncryptedWithoutKey) {
  for (const auto& [file, mode] : std::vector<std::pair<std::string, std::string>>{
           {"gcm16.ckpt", "AES-GCM"}, {"cbc24.ckpt", "AES-CBC"}, {"sm4.ckpt", "SM4-CBC"}}) {
    const fs::path f = fixture("mindspore/2.10/enc/" + file);
    const json j = run_json({"inspect", "--json", S(f)});
    EXPECT_EQ(j.at("format"), "encrypted");
    EXPECT_EQ(j.at("encrypted").at("mode"), mode);
    const CliResult r = cellar_cli({"inspect", S(f)});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("encrypted (" + mode + ")"), std::string::npos) << r.out;
  }
}

TEST(CliInspect, EncryptedMindIRWithKey) {
  TempDir dir;
  write_text(dir / "key", "0123456789abcdef0123456789abcdef\n");  // 32 bytes + newline
  const fs::path enc = dir / "enc.mindir";
  const CliResult c = cellar_cli({"convert", S(fixture("mindspore/2.10/mindir/mlp.mindir")), S(enc),
                                  "--enc-key-file", S(dir / "key"), "--enc-mode", "AES-CBC"});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(run_json({"inspect", "--json", S(enc)}).at("encrypted").at("mode"), "AES-CBC");
  const json j = run_json({"inspect", "--json", S(enc), "--dec-key-file", S(dir / "key")});
  EXPECT_EQ(j.at("format"), "mindir");
  EXPECT_EQ(j.at("encrypted").at("mode"), "AES-CBC");
  EXPECT_EQ(j.at("parameter_bytes").get<uint64_t>(), kMlpParamBytes);
  EXPECT_EQ(j.at("producer").at("name"), "cellar");

  write_text(dir / "wrong", "fedcba9876543210fedcba9876543210");
  expect_file_error(cellar_cli({"inspect", S(enc), "--dec-key-file", S(dir / "wrong")}), S(enc));
  const CliResult m =
      cellar_cli({"inspect", S(enc), "--dec-key-file", S(dir / "key"), "--dec-mode", "AES-GCM"});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find("AES-CBC"), std::string::npos) << m.err;
}

// ---- diff ----------------------------------------------------------------------------------

TEST(CliDiff, EqualAndDifferent) {
  const std::string tut = conformance("mindspore-mlp-tutorial.ckpt").string();
  const CliResult same = cellar_cli({"diff", tut, tut});
  EXPECT_EQ(same.status, 0) << same.err;
  EXPECT_NE(same.out.find("\nequal (atol 0, rtol 0)\n"), std::string::npos) << same.out;

  // MindSpore's .ckpt and MindSpore's .safetensors of (almost) the same entries.
  const json j = run_json({"diff", "--json", S(fixture("mindspore/2.10/ckpt/dtypes.ckpt")),
                           S(fixture("safetensors/ms_dtypes.safetensors"))},
                          3);
  EXPECT_EQ(j.at("equal"), false);
  EXPECT_EQ(j.at("only_in_a"), json({"bf.bf16"}));
  EXPECT_EQ(j.at("only_in_b"), json({"i.i16"}));
  for (const json& t : j.at("tensors")) EXPECT_EQ(t.at("max_abs_diff"), 0.0) << t;

  // One weight changed by 0.5: max abs diff 0.5; --atol decides.
  TempDir dir;
  cellar::ParamDict d = cellar::load_checkpoint(tut);
  cellar::Tensor w = d["dense_relu_sequential.2.bias"].data().clone();
  w.data<float>()[7] += 0.5f;
  d.set("dense_relu_sequential.2.bias", w);
  cellar::save_checkpoint(d, dir / "changed.ckpt");
  const json jd = run_json({"diff", tut, S(dir / "changed.ckpt"), "--json"}, 3);
  for (const json& t : jd.at("tensors")) {
    if (t.at("name") == "dense_relu_sequential.2.bias") {
      EXPECT_NEAR(t.at("max_abs_diff").get<double>(), 0.5, 1e-6);
      EXPECT_EQ(t.at("mismatches"), 1);
    } else {
      EXPECT_EQ(t.at("max_abs_diff"), 0.0);
    }
  }
  EXPECT_EQ(cellar_cli({"diff", tut, S(dir / "changed.ckpt"), "--atol", "0.6"}).status, 0);
  EXPECT_EQ(cellar_cli({"diff", tut, S(dir / "changed.ckpt"), "--atol", "0.4"}).status, 3);
  EXPECT_EQ(cellar_cli({"diff", tut, S(dir / "changed.ckpt"), "--rtol", "1000"}).status, 0);
}

TEST(CliDiff, ShapeAndDtypeDifferences) {
  TempDir dir;
  cellar::save_checkpoint(cellar::ParamDict{{"a", cellar::zeros({2, 3})}, {"b", cellar::ones({4})}},
                          dir / "x.ckpt");
  cellar::save_checkpoint(
      cellar::ParamDict{{"a", cellar::zeros({3, 2})}, {"b", cellar::ones({4}, cellar::float16)}},
      dir / "y.ckpt");
  const CliResult r = cellar_cli({"diff", S(dir / "x.ckpt"), S(dir / "y.ckpt")});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.out.find("dtype differs (A, B): 1\n  b  Float32  Float16\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("shape differs (A, B): 1\n  a  (2, 3)  (3, 2)\n"), std::string::npos)
      << r.out;
  // --ignore-dtype compares the values of b across dtypes: only the shape of a differs now.
  const json j =
      run_json({"diff", "--json", "--ignore-dtype", S(dir / "x.ckpt"), S(dir / "y.ckpt")}, 3);
  EXPECT_EQ(j.at("dtype_differs"), json::array());
  EXPECT_EQ(j.at("tensors")[0].at("name"), "b");
  EXPECT_EQ(j.at("tensors")[0].at("max_abs_diff"), 0.0);
}

TEST(CliDiff, ErrorsAndUsage) {
  TempDir dir;
  const std::string tut = conformance("mindspore-mlp-tutorial.ckpt").string();
  expect_file_error(cellar_cli({"diff", tut, S(dir / "missing.ckpt")}), S(dir / "missing.ckpt"));
  expect_file_error(cellar_cli({"diff", S(dir / "missing.ckpt"), tut}), S(dir / "missing.ckpt"));
  EXPECT_EQ(cellar_cli({"diff", tut}).status, 2);
  EXPECT_EQ(cellar_cli({"diff", tut, tut, "--atol", "-1"}).status, 2);
  EXPECT_EQ(cellar_cli({"diff", tut, tut, "--atol", "abc"}).status, 2);
}

TEST(CliDiff, EncryptedFiles) {
  TempDir dir;
  write_text(dir / "k16",
             "cellar-aes-key16");  // tests/fixtures/mindspore/2.10/enc/make_fixtures.py
  write_text(dir / "wrong", "cellar-aes-keyXX");
  const std::string plain = S(fixture("mindspore/2.10/enc/plain.ckpt"));
  for (const std::string f : {"gcm16.ckpt", "cbc16.ckpt", "sm4.ckpt"}) {
    SCOPED_TRACE(f);
    const std::string enc = S(fixture("mindspore/2.10/enc/" + f));
    const CliResult r = cellar_cli({"diff", plain, enc, "--dec-key-file", S(dir / "k16")});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\nequal (atol 0, rtol 0)\n"), std::string::npos) << r.out;
    // Either side; without the key, or with a wrong one, it is an error naming the file.
    EXPECT_EQ(cellar_cli({"diff", enc, plain, "--dec-key-file", S(dir / "k16")}).status, 0);
    const CliResult no_key = cellar_cli({"diff", plain, enc});
    EXPECT_EQ(no_key.status, 1);
    EXPECT_NE(no_key.err.find("--dec-key-file"), std::string::npos) << no_key.err;
    expect_file_error(cellar_cli({"diff", plain, enc, "--dec-key-file", S(dir / "wrong")}), enc);
  }
  // Two encrypted files with different keys: B's own key.
  write_text(dir / "k32", "0123456789abcdef0123456789abcdef");
  const fs::path mine = dir / "mine.ckpt";
  cellar::SaveOptions o;
  o.enc_key = "0123456789abcdef0123456789abcdef";
  o.enc_mode = "AES-CBC";
  cellar::save_checkpoint(cellar::load_checkpoint(plain), mine, o);
  const std::string gcm = S(fixture("mindspore/2.10/enc/gcm16.ckpt"));
  EXPECT_EQ(cellar_cli({"diff", gcm, S(mine), "--dec-key-file", S(dir / "k16"), "--dec-key-file-b",
                        S(dir / "k32")})
                .status,
            0);
  expect_file_error(cellar_cli({"diff", gcm, S(mine), "--dec-key-file", S(dir / "k16")}), S(mine));
}

// ---- run -----------------------------------------------------------------------------------

TEST(CliRun, PyTorchOnnxOnItsOwnInput) {
  TempDir dir;
  for (const std::string net : {"lenet5", "resnetish", "mlp"}) {
    SCOPED_TRACE(net);
    const fs::path model = fixture("torch/" + net + "_opset17.onnx");
    const fs::path out = dir / (net + ".npy");
    const CliResult r =
        cellar_cli({"run", S(model), "--input", "x=" + S(fixture("torch/" + net + "_input.npy")),
                    "--output", S(out)});
    ASSERT_EQ(r.status, 0) << r.err;
    const cellar::Tensor want = cellar::read_npy(fixture("torch/" + net + "_output.npy"));
    const cellar::Tensor got = cellar::read_npy(out);
    EXPECT_LT(max_abs_diff(got, want), 1e-5f);
    EXPECT_NE(r.out.find(" -> " + S(out)), std::string::npos) << r.out;
  }
}

TEST(CliRun, MindSporeMindIROnItsOwnInput) {
  TempDir dir;
  const fs::path x = dir / "x.npy";
  cellar::write_npy(read_f32(fixture("mindspore/2.10/mindir/mlp.input.f32"), {1, 1, 28, 28}), x);
  const json j = run_json({"run", S(fixture("mindspore/2.10/mindir/mlp.mindir")), "-i", S(x),
                           "--json", "--head", "10"});
  const cellar::Tensor want = read_f32(fixture("mindspore/2.10/mindir/mlp.output.f32"), {1, 10});
  ASSERT_EQ(j.at("outputs").size(), 1u);
  EXPECT_EQ(j.at("outputs")[0].at("shape"), json({1, 10}));
  ASSERT_EQ(j.at("outputs")[0].at("values").size(), 10u);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_NEAR(j.at("outputs")[0].at("values")[i].get<double>(), want.data<float>()[i], 1e-5);
  EXPECT_EQ(j.at("inputs")[0].at("source"), S(x));

  // Two outputs (MindSpore's tuple model) into a folder.
  const fs::path a = dir / "a.npy", b = dir / "b.npy";
  cellar::write_npy(read_f32(fixture("mindspore/2.10/mindir/tuple.input0.f32"), {6}), a);
  cellar::write_npy(read_f32(fixture("mindspore/2.10/mindir/tuple.input1.f32"), {2, 3}), b);
  const cellar::ir::Graph g = cellar::load(fixture("mindspore/2.10/mindir/tuple.mindir"));
  const std::string in0 = g.value(g.inputs[0]).name, in1 = g.value(g.inputs[1]).name;
  const json jt = run_json({"run", S(fixture("mindspore/2.10/mindir/tuple.mindir")), "--input",
                            in0 + "=" + S(a), "--input", in1 + "=" + S(b), "--output-dir",
                            S(dir / "out"), "--json"});
  ASSERT_EQ(jt.at("outputs").size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const cellar::Tensor got = cellar::read_npy(jt.at("outputs")[k].at("file").get<std::string>());
    const cellar::Tensor want_k = read_f32(
        fixture("mindspore/2.10/mindir/tuple.output" + std::to_string(k) + ".f32"), {2, 3});
    EXPECT_LT(max_abs_diff(got, want_k), 1e-6f);
  }
  // --output with two outputs is a usage error.
  EXPECT_EQ(cellar_cli({"run", S(fixture("mindspore/2.10/mindir/tuple.mindir")), "--ones",
                        "--output", S(dir / "o.npy")})
                .status,
            2);
}

TEST(CliRun, OnesRandomAndSeeds) {
  const std::string m = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  const json ones = run_json({"run", m, "--ones", "--json"});
  EXPECT_EQ(ones.at("inputs")[0].at("shape"), json({1, 1, 28, 28}));
  EXPECT_EQ(ones.at("inputs")[0].at("source"), "ones");
  // The tutorial network on ones, through the library directly.
  cellar::nn::GraphCell cell(cellar::load(m));
  const cellar::Tensor y = cell(cellar::ones({1, 1, 28, 28}));
  for (size_t i = 0; i < 8; ++i)
    EXPECT_NEAR(ones.at("outputs")[0].at("values")[i].get<double>(), y.data<float>()[i], 1e-6);
  const json r1 = run_json({"run", m, "--random", "--seed", "1", "--json"});
  const json r1b = run_json({"run", m, "--random", "--seed", "1", "--json"});
  const json r2 = run_json({"run", m, "--random", "--seed", "2", "--json"});
  EXPECT_EQ(r1.at("outputs"), r1b.at("outputs"));
  EXPECT_NE(r1.at("outputs"), r2.at("outputs"));
  const CliResult t = cellar_cli({"run", m, "--ones"});
  ASSERT_EQ(t.status, 0);
  EXPECT_NE(t.out.find("Float32  (1, 10)  ["), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(", ...]"), std::string::npos) << t.out;  // 8 of 10 values shown
}

TEST(CliRun, BatchFromTheInputs) {
  TempDir dir;
  const std::string m = S(fixture("torch/mlp_opset17.onnx"));
  const cellar::Tensor one = cellar::read_npy(fixture("torch/mlp_input.npy"));
  ASSERT_EQ(one.shape()[0], 1);
  std::vector<int64_t> dims = one.shape().dims();
  dims[0] = 3;
  cellar::Tensor three(cellar::float32, cellar::Shape(dims));
  for (int k = 0; k < 3; ++k)
    for (int64_t i = 0; i < one.numel(); ++i)
      three.data<float>()[k * one.numel() + i] = one.data<float>()[i] * float(k + 1);
  cellar::write_npy(three, dir / "x3.npy");
  const CliResult r = cellar_cli({"run", m, "-i", S(dir / "x3.npy"), "-o", S(dir / "y3.npy")});
  ASSERT_EQ(r.status, 0) << r.err;
  const cellar::Tensor y3 = cellar::read_npy(dir / "y3.npy");
  const cellar::Tensor want = cellar::read_npy(fixture("torch/mlp_output.npy"));
  ASSERT_EQ(y3.shape()[0], 3);
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(y3.data<float>()[i], want.data<float>()[i], 1e-5);
}

TEST(CliRun, HostileNpyFiles) {
  TempDir dir;
  const std::string m = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  auto npy = [&](const std::string& name, const std::string& dict, size_t data_bytes,
                 int major = 1) {
    std::string h = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::string b = std::string("\x93NUMPY", 6) + char(major) + '\0';
    for (size_t k = 0; k < (major == 1 ? 2u : 4u); ++k) b += char((h.size() >> (8 * k)) & 0xff);
    b += h + std::string(data_bytes, '\0');
    write_text(dir / name, b);
    return S(dir / name);
  };
  const size_t n = 784 * 4;
  const std::string shape = "'shape': (1, 1, 28, 28)";
  struct Case {
    std::string file, reason;
  };
  const std::vector<Case> cases = {
      {npy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, " + shape + ", }", n),
       "fortran_order"},
      {npy("bigendian.npy", "{'descr': '>f4', 'fortran_order': False, " + shape + ", }", n),
       "big-endian"},
      {npy("short.npy", "{'descr': '<f4', 'fortran_order': False, " + shape + ", }", n - 1),
       "needs 3136 bytes"},
      {npy("huge.npy",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387903, 4), }", 8),
       "needs more bytes"},
      {npy("object.npy", "{'descr': '|O', 'fortran_order': False, " + shape + ", }", n),
       "unsupported dtype"},
      {npy("dup.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, " + shape + ", }",
           n),
       "duplicate"},
      {npy("nokey.npy", "{'descr': '<f4', " + shape + ", }", n), "needs 'descr'"},
      {npy("garbage.npy", "{'descr': '<f4', 'fortran_order': Maybe, " + shape + ", }", n),
       "True or False"},
      {npy("v3.npy", "{'descr': '<f4', 'fortran_order': False, " + shape + ", }", n, 9),
       "version 9"},
      {npy("ints.npy", "{'descr': '<i4', 'fortran_order': False, " + shape + ", }", n),
       "takes Float32"},
      {npy("shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (784,), }", n),
       "does not fit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const CliResult r = cellar_cli({"run", m, "--input", c.file});
    expect_file_error(r, c.file);
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
  }
  // A header length past the end of the file, and a file of 3 bytes.
  std::string cut = std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{'descr'";
  write_text(dir / "cut.npy", cut);
  expect_file_error(cellar_cli({"run", m, "--input", S(dir / "cut.npy")}), S(dir / "cut.npy"));
  write_text(dir / "tiny.npy", "\x93NU");
  expect_file_error(cellar_cli({"run", m, "--input", S(dir / "tiny.npy")}), S(dir / "tiny.npy"));
  // Version 2.0 headers are read too.
  const std::string v2 =
      npy("v2.npy", "{'descr': '<f4', 'fortran_order': False, " + shape + ", }", n, 2);
  EXPECT_EQ(cellar_cli({"run", m, "--input", v2}).status, 0);
}

TEST(CliRun, Usage) {
  TempDir dir;
  const std::string m = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  cellar::write_npy(cellar::ones({1, 1, 28, 28}), dir / "x.npy");
  const std::string x = S(dir / "x.npy");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", m},                                            // no inputs at all
           {"run", m, "--ones", "--random"},                      // two sources
           {"run", m, "--ones", "--seed", "3"},                   // --seed without --random
           {"run", m, "--input", "nope=" + x},                    // no such input
           {"run", m, "--input", "x=" + x, "--input", "x=" + x},  // twice
           {"run", m, "--ones", "-o", "a.npy", "--output-dir", "d"},
       }) {
    const CliResult r = cellar_cli(args);
    EXPECT_EQ(r.status, 2) << args.back() << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  }
  const CliResult nope = cellar_cli({"run", m, "--input", "nope=" + x});
  EXPECT_NE(nope.err.find("its inputs are: x"), std::string::npos) << nope.err;
  // Float64 data goes into the float32 input by conversion.
  cellar::write_npy(cellar::ones({1, 1, 28, 28}, cellar::float64), dir / "x64.npy");
  EXPECT_EQ(cellar_cli({"run", m, "--input", "x=" + S(dir / "x64.npy")}).status, 0);
}

// ---- convert -------------------------------------------------------------------------------

TEST(CliConvert, CheckpointToSafetensorsAndBack) {
  TempDir dir;
  const std::string tut = conformance("mindspore-lenet-openmlsys.ckpt").string();
  const json j = run_json({"convert", tut, S(dir / "l.safetensors"), "--json"});
  EXPECT_EQ(j.at("from"), "ckpt");
  EXPECT_EQ(j.at("to"), "safetensors");
  EXPECT_EQ(j.at("tensors"), 15);
  EXPECT_EQ(run_json({"inspect", "--json", S(dir / "l.safetensors")}).at("format"), "safetensors");
  EXPECT_EQ(cellar_cli({"diff", tut, S(dir / "l.safetensors")}).status, 0);
  // Back, with a CRC, named without a suffix (--to).
  const CliResult r =
      cellar_cli({"convert", S(dir / "l.safetensors"), S(dir / "back"), "--to", "ckpt", "--crc"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + S(dir / "back") + " (ckpt, 15 tensors"), std::string::npos)
      << r.out;
  const json jb = run_json({"inspect", "--json", S(dir / "back")});
  EXPECT_EQ(jb.at("format"), "ckpt");
  EXPECT_EQ(jb.at("crc"), json({{"present", true}, {"valid", true}}));
  EXPECT_EQ(cellar_cli({"diff", tut, S(dir / "back")}).status, 0);
  // Safetensors with MindSpore's crc_num.
  ASSERT_EQ(cellar_cli({"convert", tut, S(dir / "c.safetensors"), "--crc"}).status, 0);
  EXPECT_EQ(run_json({"inspect", "--json", S(dir / "c.safetensors")}).at("crc").at("valid"), true);
}

TEST(CliConvert, CastFloatingTensors) {
  TempDir dir;
  const std::string src = S(fixture("mindspore/2.10/ckpt/dtypes.ckpt"));
  for (const std::string dt : {"float16", "bfloat16", "float32"}) {
    SCOPED_TRACE(dt);
    const fs::path out = dir / (dt + ".safetensors");
    ASSERT_EQ(cellar_cli({"convert", src, S(out), "--dtype", dt}).status, 0);
    const json j = run_json({"inspect", "--json", S(out)});
    const std::string want = dt == "float16"    ? "Float16"
                             : dt == "bfloat16" ? "BFloat16"
                                                : "Float32";
    for (const json& t : j.at("tensors")) {
      const std::string name = t.at("name");
      if (name[0] == 'w' || name[0] == 'b' || name[0] == 'c' || name[0] == 's') {
        EXPECT_EQ(t.at("dtype"), want) << name;
      }
      if (name == "i.i64") {
        EXPECT_EQ(t.at("dtype"), "Int64");
      }
      if (name == "m.bool") {
        EXPECT_EQ(t.at("dtype"), "Bool");
      }
    }
    // Values survive within the target's precision (65504 overflows nothing in float16).
    const CliResult d = cellar_cli({"diff", src, S(out), "--ignore-dtype", "--rtol", "1e-2"});
    EXPECT_EQ(d.status, 0) << d.out;
  }
  EXPECT_EQ(cellar_cli({"convert", src, S(dir / "x.ckpt"), "--dtype", "int8"}).status, 2);
}

TEST(CliConvert, GraphsBothWays) {
  TempDir dir;
  const std::string ms = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  ASSERT_EQ(cellar_cli({"convert", ms, S(dir / "m.onnx")}).status, 0);
  EXPECT_EQ(run_json({"inspect", "--json", S(dir / "m.onnx")}).at("format"), "onnx");
  ASSERT_EQ(cellar_cli({"convert", S(dir / "m.onnx"), S(dir / "m2.mindir")}).status, 0);
  const json a = run_json({"run", ms, "--ones", "--json"});
  const json b = run_json({"run", S(dir / "m.onnx"), "--ones", "--json"});
  const json c = run_json({"run", S(dir / "m2.mindir"), "--ones", "--json"});
  EXPECT_EQ(a.at("outputs")[0].at("values"), b.at("outputs")[0].at("values"));
  EXPECT_EQ(a.at("outputs")[0].at("values"), c.at("outputs")[0].at("values"));
  // PyTorch's ONNX (external data) to MindIR.
  ASSERT_EQ(
      cellar_cli({"convert", S(fixture("torch/lenet5_default.onnx")), S(dir / "l.mindir")}).status,
      0);
  EXPECT_EQ(
      cellar_cli({"diff", S(fixture("torch/lenet5_default.onnx")), S(dir / "l.mindir")}).status, 0);
  // Encrypted MindIR runs with its key.
  write_text(dir / "k", "0123456789abcdef");
  ASSERT_EQ(cellar_cli({"convert", ms, S(dir / "e.mindir"), "--enc-key-file", S(dir / "k")}).status,
            0);
  const json e =
      run_json({"run", S(dir / "e.mindir"), "--ones", "--json", "--dec-key-file", S(dir / "k")});
  EXPECT_EQ(a.at("outputs")[0].at("values"), e.at("outputs")[0].at("values"));
  expect_file_error(cellar_cli({"run", S(dir / "e.mindir"), "--ones"}), S(dir / "e.mindir"));
}

TEST(CliConvert, UsageAndErrors) {
  TempDir dir;
  const std::string ck = S(fixture("mindspore/2.10/ckpt/dtypes.ckpt"));
  const std::string ms = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  EXPECT_EQ(cellar_cli({"convert", ck, S(dir / "x.onnx")}).status, 2);  // ckpt → graph
  EXPECT_EQ(cellar_cli({"convert", ms, S(dir / "x.ckpt")}).status, 2);  // graph → ckpt
  EXPECT_EQ(cellar_cli({"convert", ck, S(dir / "x.bin")}).status, 2);   // no format
  EXPECT_EQ(cellar_cli({"convert", ck, S(dir / "x"), "--to", "pt"}).status, 2);
  EXPECT_EQ(cellar_cli({"convert", ms, S(dir / "x.onnx"), "--dtype", "float16"}).status, 2);
  EXPECT_FALSE(fs::exists(dir / "x.onnx"));
  expect_file_error(cellar_cli({"convert", S(dir / "none.ckpt"), S(dir / "y.ckpt")}),
                    S(dir / "none.ckpt"));
  EXPECT_FALSE(fs::exists(dir / "y.ckpt"));
  write_text(dir / "short", "0123");
  const CliResult k =
      cellar_cli({"convert", ms, S(dir / "e.mindir"), "--enc-key-file", S(dir / "short")});
  EXPECT_EQ(k.status, 1) << k.err;
  EXPECT_EQ(lines(k.err).size(), 1u);
  EXPECT_FALSE(fs::exists(dir / "e.mindir"));
}

// ---- bench ---------------------------------------------------------------------------------

TEST(CliBench, JsonAndBatch) {
  const std::string m = S(fixture("mindspore/2.10/mindir/mlp.mindir"));
  const json j = run_json({"bench", m, "--iterations", "5", "--warmup", "1", "--json"});
  EXPECT_GT(j.at("median_us").get<double>(), 0);
  EXPECT_LE(j.at("median_us").get<double>(), j.at("p90_us").get<double>());
  EXPECT_LE(j.at("p90_us").get<double>(), j.at("p99_us").get<double>());
  EXPECT_EQ(j.at("batch"), 1);
  EXPECT_EQ(j.at("iterations"), 5);
  EXPECT_GT(j.at("throughput_per_s").get<double>(), 0);
  // One caller: each run's CPU time too (a run does work, so some CPU time passes).
  EXPECT_GT(j.at("cpu_median_us").get<double>(), 0);
  const json jc = run_json({"bench", m, "-n", "3", "--callers", "2", "--json"});
  EXPECT_TRUE(jc.at("cpu_median_us").is_null());  // the process's clock mixes the callers
  const json jb = run_json({"bench", m, "--batch", "4", "--threads", "1", "-n", "3", "--json"});
  EXPECT_EQ(jb.at("batch"), 4);
  EXPECT_EQ(jb.at("threads"), 1);
  const CliResult t = cellar_cli({"bench", m, "-n", "3"});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("p50"), std::string::npos);
  EXPECT_NE(t.out.find("samples/s"), std::string::npos);
}

TEST(CliBench, BatchTheGraphFixes) {
  // PyTorch's resnet-like export reshapes through constants recorded for batch 1.
  const std::string m = S(fixture("torch/resnetish_opset17.onnx"));
  const CliResult r = cellar_cli({"bench", m, "--batch", "4", "-n", "1"});
  expect_file_error(r, m);
  EXPECT_NE(r.err.find("does not allow batch 4"), std::string::npos) << r.err;
  EXPECT_EQ(cellar_cli({"bench", m, "--batch", "0"}).status, 2);
  EXPECT_EQ(cellar_cli({"bench", m, "--iterations", "0"}).status, 2);
}

// ---- progress: nothing when stderr is not a terminal ---------------------------------------

// A safetensors file of one 300 MiB float32 tensor, written sparse (zeros cost no disk).
fs::path big_safetensors(const TempDir& dir) {
  const uint64_t n = uint64_t{300} << 20;
  std::string h = R"({"big":{"dtype":"F32","shape":[)" + std::to_string(n / 4) +
                  R"(],"data_offsets":[0,)" + std::to_string(n) + "]}}";
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string b(8, '\0');
  for (int k = 0; k < 8; ++k) b[k] = char((h.size() >> (8 * k)) & 0xff);
  const fs::path p = dir / "big.safetensors";
  write_text(p, b + h);
  fs::resize_file(p, 8 + h.size() + n);
  return p;
}

TEST(CliProgress, NothingOnStderrWhenItIsNotATerminal) {
  TempDir dir;
  const fs::path big = big_safetensors(dir);
  // (inspect without --stats touches no data: faulting in 300 MiB of fresh holes through a
  // mapping costs seconds on some file systems.)
  const CliResult r = cellar_cli({"inspect", S(big)});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("  big  Float32  (78643200,)  314572800\n"), std::string::npos) << r.out;
}

// The list of ops in the docs is the table's own: docs/ops.md is `cellar ops --markdown`.
TEST(CliOps, DocsPageIsTheTable) {
  const auto r = cellar_cli({"ops", "--markdown"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, read_text(fs::path(CELLAR_SOURCE_DIR) / "docs" / "ops.md"))
      << "docs/ops.md is stale: run `cellar ops --markdown > docs/ops.md`";
}

TEST(CliOps, JsonListsEveryRowWithItsSpellings) {
  const auto r = cellar_cli({"ops", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  std::map<std::string, json> by_name;
  for (const auto& op : j.at("ops")) by_name[op.at("name").get<std::string>()] = op;
  ASSERT_EQ(by_name.size(), cellar::op_catalog().size());
  EXPECT_EQ(by_name.at("Add").at("mindir_legacy"), json::array({"TensorAdd"}));
  EXPECT_EQ(by_name.at("HSwish").at("onnx_import"), json::array({"HardSwish"}));
  EXPECT_EQ(by_name.at("Pad").at("mindir_variants"), json::array({"MirrorPad", "PadV3"}));
  EXPECT_TRUE(by_name.at("StandardNormal").at("random").get<bool>());
  EXPECT_FALSE(by_name.at("StandardNormal").at("runs_in_graph").get<bool>());
  const auto decomposed = j.at("onnx_decomposed");
  EXPECT_NE(std::find(decomposed.begin(), decomposed.end(), "Gemm"), decomposed.end());
}

}  // namespace
