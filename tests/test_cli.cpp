// The `cellar` command line, driven as a user drives it: the real binary (CELLAR_CLI) run as a
// child process, its stdout, stderr and exit status checked. Covers `inspect` on the conformance
// checkpoints, on checkpoints and MindIR files written here, on unreadable files (status 1, one
// stderr line naming the file), bad usage (status 2), --help and --version.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
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
#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace nn = cellar::nn;
using cellar::testing::conformance;
using cellar::testing::TempDir;
using nlohmann::json;

struct CliResult {
  int status = -1;  // exit status, or -1 when the child did not exit normally
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs the cellar binary with `args`, stdout and stderr captured in files (no pipe to drain).
CliResult cellar_cli(const std::vector<std::string>& args) {
  TempDir dir;
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  std::vector<std::string> argv_s{CELLAR_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, CELLAR_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  CliResult r;
  if (rc != 0) {
    r.err = "posix_spawn failed: " + std::string(strerror(rc));
    return r;
  }
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
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

TEST(CliInspect, LenetCheckpointScalarsAndInts) {
  const std::string f = conformance("mindspore-lenet-openmlsys.ckpt").string();
  const CliResult r = cellar_cli({"inspect", f});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rs = rows(r.out);
  ASSERT_EQ(rs.size(), 15u) << r.out;
  // Rank-0 entries are listed again with their values (MindSpore's append_dict writes those).
  EXPECT_NE(r.out.find("scalars: 2\n  learning_rate = 0.01\n  momentum = 0.9\n"),
            std::string::npos)
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
  EXPECT_EQ(r.out.find("format: mindir\nproducer: cellar 0.1.0\n"), 0u) << r.out;
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
  EXPECT_NE(v.out.find("0.1.0"), std::string::npos) << v.out;

  const CliResult h = cellar_cli({"--help"});
  EXPECT_EQ(h.status, 0) << h.err;
  EXPECT_NE(h.out.find("inspect"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("cellar inspect model.ckpt"), std::string::npos) << h.out;  // an example

  const CliResult hi = cellar_cli({"inspect", "--help"});
  EXPECT_EQ(hi.status, 0) << hi.err;
  EXPECT_NE(hi.out.find("--json"), std::string::npos) << hi.out;
  EXPECT_NE(hi.out.find("Examples"), std::string::npos) << hi.out;
}

}  // namespace
