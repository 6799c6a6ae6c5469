// cellar: the command-line tool. Each command is in its own file (tools/<command>.cpp) and
// registers itself through an add_<command>() that returns its CLI11 sub-app and its run
// function; what commands share (formats from bytes, loaders, printing, JSON) is in cli.h, the
// progress bar in progress.h.
//
// Exit status, for every command: 0 success; 1 bad input (a file cannot be read or used: one
// line on stderr naming the file and the reason); 2 bad usage (the command line is wrong);
// 3 `cellar diff` found a difference.
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

using namespace cellar::cli;

int main(int argc, char** argv) {
  CLI::App app{"cellar: MindSpore checkpoints, safetensors, MindIR and ONNX files, natively",
               "cellar"};
  app.set_version_flag("--version", std::string("cellar ") + cellar::kVersion);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  cellar inspect model.ckpt          one line per tensor: name, dtype, shape, bytes\n"
      "  cellar inspect model.mindir --json\n"
      "  cellar diff a.ckpt b.safetensors --atol 1e-6\n"
      "  cellar run model.onnx --input x=x.npy --output y.npy\n"
      "  cellar convert model.ckpt model.safetensors --dtype float16\n"
      "  cellar bench model.mindir --batch 8 --json\n"
      "  cellar ops --json                  the ops cellar runs and their MindIR/ONNX names\n\n"
      "Exit status: 0 success, 1 bad input (a file that cannot be read or used), 2 bad usage,\n"
      "3 `diff` found the files different.\n"
      "Run `cellar COMMAND --help` for a command's options.");

  std::vector<Command> commands{add_inspect(app), add_diff(app), add_run(app),   add_convert(app),
                                add_bench(app),   add_ops(app),  add_merge(app), add_reshard(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here as "errors" with status 0; everything else is bad usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    // The file a command failed on, for errors whose message does not already name one.
    std::string file;
    for (const char* name : {"FILE", "MODEL", "A", "IN"})
      if (auto* o = c.app->get_option_no_throw(name); o && o->count()) {
        file = o->as<std::string>();
        break;
      }
    try {
      return c.run();
    } catch (const UsageError& e) {
      std::cerr << "cellar " << c.app->get_name() << ": " << one_line(e.what()) << '\n';
      return kExitUsage;
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
