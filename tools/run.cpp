// `cellar run MODEL`: run a MindIR or ONNX model once on .npy inputs (or ones / random values of
// the recorded input shapes) and print or save its outputs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>

#include "cellar/io/npy.h"
#include "cli.h"
#include "graph_shapes.h"
#include "model_inputs.h"

namespace cellar::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  bool ones = false;
  bool random = false;
  std::optional<uint64_t> seed;
  std::string output;
  std::string output_dir;
  size_t head = 8;
  bool json = false;
  std::string dec_key_file, dec_mode;
  uint64_t max_constant_mib = 0;
  int threads = 0;
};

// An output's name as a file name: path separators and ':' become '_'.
std::string file_stem(std::string name) {
  for (char& c : name)
    if (c == '/' || c == '\\' || c == ':' || c == '\0') c = '_';
  if (name.empty() || name == "." || name == "..") name = "output";
  return name;
}

// The end of a `cellar run`: its outputs are printed and written, so the process leaves without
// tearing the executor and the graph down. Freeing the weights, arenas and protobuf strings piece
// by piece only to exit was ~5% of a small net's cold start (docs/benchmarks.md, Session 7); the
// system takes the memory back at once. The streams are flushed first: nothing else is pending
// (every file write is atomic and done).
[[noreturn]] void leave(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

int run_model(const RunArgs& a) {
  const int sources = (!a.inputs.empty()) + a.ones + a.random;
  if (sources != 1)
    throw UsageError("give the inputs: --input NAME=FILE.npy ..., --ones or --random");
  if (a.seed && !a.random) throw UsageError("--seed goes with --random");
  if (!a.output.empty() && !a.output_dir.empty())
    throw UsageError("--output and --output-dir exclude each other");

  KeyOptions key{a.dec_key_file.empty() ? "" : read_key_file(a.dec_key_file), a.dec_mode};
  ir::Graph g = load_graph(a.model, key, mib_to_bytes(a.max_constant_mib));
  const size_t n_out = g.outputs.size();
  if (!a.output.empty() && n_out != 1)
    throw UsageError("the model has " + std::to_string(n_out) +
                     " outputs: use --output-dir DIR to write one .npy per output");

  ModelInputs in = a.ones     ? constant_inputs(g, 1.0)
                   : a.random ? random_inputs(g, a.seed.value_or(0))
                              : npy_inputs(g, a.inputs);
  if (in.batch) g = with_batch(g, *in.batch, a.model);

  if (a.threads < 0) throw UsageError("--threads must be at least 1 (0: one per CPU)");
  // The executor keeps only what it runs; its graph keeps the inputs' and outputs' names.
  runtime::Executor exec(std::move(g), {.threads = a.threads, .keep_graph = false});
  const ir::Graph& eg = exec.graph();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Tensor> outs = exec.run(in.tensors);
  const auto us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();

  std::vector<std::string> files(n_out);
  if (!a.output.empty()) files[0] = a.output;
  if (!a.output_dir.empty()) {
    std::filesystem::create_directories(a.output_dir);
    std::set<std::string> used;
    for (size_t k = 0; k < n_out; ++k) {
      std::string stem = file_stem(eg.value(eg.outputs[k]).name);
      if (!used.insert(stem).second) stem += "_" + std::to_string(k);
      used.insert(stem);
      files[k] = (std::filesystem::path(a.output_dir) / (stem + ".npy")).string();
    }
  }
  for (size_t k = 0; k < n_out; ++k)
    if (!files[k].empty()) write_npy(outs[k], files[k]);

  if (a.json) {
    json ji = json::array(), jo = json::array();
    for (size_t k = 0; k < in.tensors.size(); ++k)
      ji.push_back({{"name", eg.value(eg.inputs[k]).name},
                    {"dtype", dtype_str(in.tensors[k].dtype())},
                    {"shape", in.tensors[k].shape().dims()},
                    {"source", in.sources[k]}});
    for (size_t k = 0; k < n_out; ++k) {
      json vals = json::array();
      for (double v : first_values(outs[k], a.head)) vals.push_back(json_num(v));
      json o{{"name", eg.value(eg.outputs[k]).name},
             {"dtype", dtype_str(outs[k].dtype())},
             {"shape", outs[k].shape().dims()},
             {"values", vals}};
      if (!files[k].empty()) o["file"] = files[k];
      jo.push_back(std::move(o));
    }
    print_json(json{{"model", a.model}, {"inputs", ji}, {"outputs", jo}, {"elapsed_us", us}});
    leave(kExitOk);
  }
  std::vector<std::vector<std::string>> cells;
  for (size_t k = 0; k < n_out; ++k) {
    std::vector<std::string> row{
        eg.value(eg.outputs[k]).name, dtype_str(outs[k].dtype()), outs[k].shape().str(),
        values_str(first_values(outs[k], a.head), static_cast<size_t>(outs[k].numel()))};
    if (!files[k].empty()) row.push_back("-> " + files[k]);
    cells.push_back(std::move(row));
  }
  print_table(std::cout, cells);
  leave(kExitOk);
}

}  // namespace

Command add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand("run", "Run a MindIR or ONNX model once");
  sub->add_option("MODEL", args->model, "a .mindir or .onnx file")->required();
  sub->add_option("--input,-i", args->inputs,
                  "NAME=FILE.npy, once per model input (FILE.npy alone for a one-input model)");
  sub->add_flag("--ones", args->ones, "every input all ones, in the model's recorded shape");
  sub->add_flag("--random", args->random,
                "every input random in the recorded shape: floats uniform in [0, 1), integers "
                "in [0, 10), bools 0/1");
  sub->add_option("--seed", args->seed, "seed for --random (default 0)");
  sub->add_option("--output,-o", args->output, "write the (single) output to this .npy file");
  sub->add_option("--output-dir", args->output_dir, "write every output to DIR/<name>.npy");
  sub->add_option("--threads", args->threads,
                  "worker threads the kernels run on (default 0: one per CPU)");
  sub->add_option("--head", args->head, "how many leading values of each output to print (8)");
  sub->add_option("--dec-key-file", args->dec_key_file, "key of an encrypted MindIR file");
  sub->add_option("--dec-mode", args->dec_mode,
                  "AES-GCM, AES-CBC or SM4-CBC (default: the file's)");
  sub->add_flag("--json", args->json, "print one JSON object instead of text");
  add_max_constant_option(sub, &args->max_constant_mib);
  sub->footer(
      "Inputs must have the model's recorded dtype and shape; float64 .npy data goes into a\n"
      "float32 input (and other casts within floats or within integers) by conversion. A\n"
      "symbolic dimension (ONNX dim_param, MindIR -1; `cellar inspect` shows it by name) takes\n"
      "any size; --ones and --random give it size 1. When every input differs from the recorded\n"
      "shape only in its leading dimension, the model is re-batched (an error says so when the\n"
      "graph fixes its batch).\n"
      ".npy files: C order, little-endian b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8.\n\n"
      "Examples:\n"
      "  cellar run model.onnx --input x=x.npy\n"
      "  cellar run model.mindir --random --seed 1 --output y.npy\n"
      "  cellar run model.mindir --ones --output-dir out/ --json");
  return {sub, [args] { return run_model(*args); }};
}

}  // namespace cellar::cli
