// cellar: the command-line tool.
//
//   cellar inspect FILE [--json]    what a checkpoint or MindIR file holds
//   cellar --version | --help
//
// Layout: each subcommand is a `Command` (a CLI11 sub-app, its options, and a `run` function)
// registered in main(); `convert`, `run`, `diff` and `bench` (issue 5) slot in the same way.
// The helpers shared by commands sit at the top: recognising a file's format from its bytes,
// and printing tensors and shapes as text or JSON.
//
// Exit status: 0 success; 1 a file could not be read (exactly one line on stderr, naming the file
// and the reason); 2 bad usage (CLI11's parse errors, whatever CLI11's own code for them).
#include "cellar/cellar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/format.h"

namespace {

// Keys keep the order they are written in (file, format, then the contents), for human readers.
using json = nlohmann::ordered_json;

constexpr const char* kVersion = "0.1.0";  // keep in step with project(VERSION) in CMakeLists.txt

// Exit statuses (see the file comment).
constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;

// ---- recognising a file from its bytes -----------------------------------------------------

enum class FileKind { kCheckpoint, kMindIR };

const char* kind_name(FileKind k) { return k == FileKind::kCheckpoint ? "ckpt" : "mindir"; }

// The first bytes of `path` (up to 4 KiB: enough for every sniffer, small enough for any file).
// IoError naming the file when it cannot be opened or is not a regular file.
std::vector<std::byte> read_head(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw cellar::IoError(std::string("cannot open: ") + std::strerror(errno), {path});
  std::unique_ptr<int, void (*)(int*)> closer(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw cellar::IoError(std::string("cannot stat: ") + std::strerror(errno), {path});
  if (S_ISDIR(st.st_mode)) throw cellar::IoError("is a directory", {path});
  std::vector<std::byte> head(4096);
  size_t n = 0;
  while (n < head.size()) {
    const ssize_t r = ::read(fd, head.data() + n, head.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw cellar::IoError(std::string("cannot read: ") + std::strerror(errno), {path});
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  head.resize(n);
  return head;
}

// Which reader understands `path`. Both formats are protobuf, so the sniffers look past the
// first tag; MindIR is asked first because its sniffer checks the ModelProto header fields.
FileKind detect(const std::string& path) {
  const std::vector<std::byte> head = read_head(path);
  if (head.empty()) throw cellar::FormatError("empty file", {path});
  if (cellar::formats::mindir_format().sniff(head)) return FileKind::kMindIR;
  if (cellar::formats::ckpt_format().sniff(head)) return FileKind::kCheckpoint;
  throw cellar::FormatError("unrecognised format: neither a MindSpore checkpoint nor a MindIR file",
                            {path});
}

// ---- printing ------------------------------------------------------------------------------

std::string dtype_str(cellar::DType t) { return std::string(cellar::mindspore_name(t)); }

// One row per item, columns padded to the widest cell, separated by two spaces.
void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& rows,
                 const std::string& indent = "") {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    os << line << '\n';
  }
}

struct TensorRow {
  std::string name;
  cellar::DType dtype;
  cellar::Shape shape;
  uint64_t bytes = 0;
};

std::vector<std::string> text_row(const TensorRow& t, bool with_bytes) {
  std::vector<std::string> row{t.name, dtype_str(t.dtype), t.shape.str()};
  if (with_bytes) row.push_back(std::to_string(t.bytes));
  return row;
}

json json_row(const TensorRow& t, bool with_bytes) {
  json j = {{"name", t.name}, {"dtype", dtype_str(t.dtype)}, {"shape", t.shape.dims()}};
  if (with_bytes) j["bytes"] = t.bytes;
  return j;
}

void print_rows(std::ostream& os, const std::vector<TensorRow>& rows, bool with_bytes,
                const std::string& indent = "") {
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) cells.push_back(text_row(r, with_bytes));
  print_table(os, cells, indent);
}

// One line; bytes that are not UTF-8 (names are the file's) print as U+FFFD, never an error.
void print_json(const json& j) {
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

json json_rows(const std::vector<TensorRow>& rows, bool with_bytes) {
  json a = json::array();
  for (const auto& r : rows) a.push_back(json_row(r, with_bytes));
  return a;
}

// ---- commands ------------------------------------------------------------------------------

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// `cellar inspect FILE [--json]`
struct InspectArgs {
  std::string file;
  bool json = false;
};

int inspect_checkpoint(const InspectArgs& a) {
  const cellar::ParamDict dict = cellar::load_checkpoint(a.file);
  std::vector<TensorRow> rows;
  for (const auto& [name, p] : dict) {
    const cellar::Tensor& t = p.data();
    rows.push_back({name, t.dtype(), t.shape(), t.nbytes()});
  }
  if (a.json) {
    print_json(json{{"file", a.file},
                    {"format", kind_name(FileKind::kCheckpoint)},
                    {"tensors", json_rows(rows, true)}});
  } else {
    print_rows(std::cout, rows, true);
  }
  return kExitOk;
}

int inspect_mindir(const InspectArgs& a) {
  const cellar::ir::Graph g = cellar::load(a.file);
  auto value_row = [&](int id) {
    const cellar::ir::ValueInfo& v = g.value(id);
    return TensorRow{v.name, v.dtype, v.shape, 0};
  };
  std::vector<TensorRow> inputs, outputs, params;
  for (int id : g.inputs) inputs.push_back(value_row(id));
  for (int id : g.outputs) outputs.push_back(value_row(id));
  uint64_t param_bytes = 0;
  for (const cellar::ir::Initializer& init : g.initializers) {
    if (!init.is_parameter) continue;
    TensorRow r = value_row(init.value);
    if (init.data.defined()) {
      r.dtype = init.data.dtype();
      r.shape = init.data.shape();
      r.bytes = init.data.nbytes();
    }
    param_bytes += r.bytes;
    params.push_back(r);
  }
  if (a.json) {
    print_json(json{{"file", a.file},
                    {"format", kind_name(FileKind::kMindIR)},
                    {"inputs", json_rows(inputs, false)},
                    {"outputs", json_rows(outputs, false)},
                    {"parameters", json_rows(params, true)},
                    {"parameter_count", params.size()},
                    {"parameter_bytes", param_bytes},
                    {"node_count", g.nodes.size()}});
    return kExitOk;
  }
  std::cout << "inputs: " << inputs.size() << '\n';
  print_rows(std::cout, inputs, false, "  ");
  std::cout << "outputs: " << outputs.size() << '\n';
  print_rows(std::cout, outputs, false, "  ");
  std::cout << "parameters: " << params.size() << " (" << param_bytes << " bytes)\n";
  print_rows(std::cout, params, true, "  ");
  std::cout << "nodes: " << g.nodes.size() << '\n';
  return kExitOk;
}

Command add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub = app.add_subcommand("inspect", "Show what a checkpoint or MindIR file holds");
  sub->add_option("FILE", args->file, "a .ckpt or .mindir file (recognised from its bytes)")
      ->required();
  sub->add_flag("--json", args->json, "print one JSON object instead of text");
  sub->footer(
      "For a checkpoint: one line per tensor (name, dtype, shape, bytes).\n"
      "For a MindIR file: graph inputs, outputs, parameters (count, bytes, one line each) and "
      "node count.\n\n"
      "Examples:\n"
      "  cellar inspect model.ckpt\n"
      "  cellar inspect model.mindir --json");
  return {sub, [args] {
            return detect(args->file) == FileKind::kCheckpoint ? inspect_checkpoint(*args)
                                                               : inspect_mindir(*args);
          }};
}

// One line, whatever the message holds.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cellar: MindSpore checkpoints and MindIR files, natively", "cellar"};
  app.set_version_flag("--version", std::string("cellar ") + kVersion);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  cellar inspect model.ckpt          one line per tensor: name, dtype, shape, bytes\n"
      "  cellar inspect model.mindir --json\n\n"
      "Exit status: 0 success, 1 unreadable input, 2 bad usage.\n"
      "Run `cellar COMMAND --help` for a command's options.");

  std::vector<Command> commands{add_inspect(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here as "errors" with status 0; everything else is bad usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    // The file a command failed on, for errors whose message does not already name it.
    const std::string file = c.app->get_option_no_throw("FILE")
                                 ? c.app->get_option("FILE")->as<std::string>()
                                 : std::string();
    try {
      return c.run();
    } catch (const cellar::Error& e) {
      // A cellar::Error's message already starts with its file when it knows one.
      std::string msg = e.what();
      if (e.file().empty() && !file.empty()) msg = file + ": " + msg;
      std::cerr << "cellar: " << one_line(msg) << '\n';
      return kExitBadInput;
    } catch (const std::exception& e) {
      std::cerr << "cellar: " << one_line((file.empty() ? "" : file + ": ") + e.what()) << '\n';
      return kExitBadInput;
    }
  }
  return kExitUsage;  // require_subcommand(1) makes this unreachable
}
