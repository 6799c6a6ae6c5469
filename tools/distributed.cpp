// `cellar merge STRATEGY RANKS OUT` and `cellar reshard RANKS OUT_DIR`: MindSpore's distributed
// checkpoints (cellar/io/distributed.h) merged into one checkpoint, or resharded from one
// parallel strategy to another.
#include "cellar/io/distributed.h"

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

namespace cellar::cli {

namespace {

CheckpointFormat format_of(const std::string& out, const std::string& to) {
  const std::string t = !to.empty()                                                ? to
                        : std::filesystem::path(out).extension() == ".safetensors" ? "safetensors"
                                                                                   : "ckpt";
  if (t == "ckpt") return CheckpointFormat::kCkpt;
  if (t == "safetensors") return CheckpointFormat::kSafetensors;
  throw UsageError("--to " + t + ": expected ckpt or safetensors");
}

// What merge and reshard share: the folder of rank checkpoints they read (a positional, added
// where the command's order puts it) and --json.
void add_ranks_option(CLI::App* sub, std::string& ranks) {
  sub->add_option("RANKS", ranks, "the folder of rank_0/, rank_1/, … subfolders")->required();
}
void add_json_flag(CLI::App* sub, bool& as_json) {
  sub->add_flag("--json", as_json, "print one JSON object instead of text");
}

// The files a command wrote, as a JSON list or one "wrote" line each.
void print_written(const std::vector<std::filesystem::path>& files, bool as_json) {
  if (as_json) {
    json list = json::array();
    for (const auto& f : files) list.push_back(f.string());
    print_json(json{{"files", list}});
  } else {
    for (const auto& f : files) std::cout << "wrote " << f.string() << "\n";
  }
}

}  // namespace

Command add_merge(CLI::App& app) {
  struct Args {
    std::string strategy, ranks, out;
    bool json = false, unified = false;
    uint64_t part_mib = kUnifiedPartBytes >> 20;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(
      "merge",
      "Merge MindSpore's per-rank checkpoints (RANKS/rank_N/*.ckpt) into one, by the parallel "
      "strategy file the run saved (merge_sliced_parameter for every parameter)");
  sub->add_option("STRATEGY", a->strategy, "the strategy file (strategy_ckpt_save_file)")
      ->required();
  add_ranks_option(sub, a->ranks);
  sub->add_option("OUT", a->out, "the merged checkpoint (.ckpt or .safetensors), atomically")
      ->required();
  sub->add_flag("--unified", a->unified,
                "MindSpore's unified_safetensors: OUT is a folder of part<K>.safetensors files of "
                "whole parameters, param_name_map.json and hyper_param.safetensors");
  sub->add_option("--part-mib", a->part_mib,
                  "with --unified: about this many MiB per part file (MindSpore's 3072)")
      ->check(CLI::PositiveNumber);
  add_json_flag(sub, a->json);
  sub->footer(
      "Examples:\n  cellar merge strategy.ckpt ckpts/ merged.ckpt\n"
      "  cellar merge strategy.ckpt ckpts/ unified/ --unified   (unified_safetensors)");
  return {sub, [a] {
            if (a->unified) {
              if (a->part_mib > (uint64_t{1} << 43))
                throw UsageError("--part-mib " + std::to_string(a->part_mib) + " is too large");
              print_written(unified_safetensors(a->strategy, a->ranks, a->out, a->part_mib << 20),
                            a->json);
              return kExitOk;
            }
            merge_checkpoints_to_file(a->strategy, a->ranks, a->out,
                                      SaveOptions{.format = format_of(a->out, "")});
            // What was written, read back lazily (nothing is touched).
            const ParamDict merged = load_checkpoint(a->out);
            uint64_t bytes = 0;
            for (const auto& [_, p] : merged) bytes += p.data().nbytes();
            const size_t ranks = rank_checkpoints(a->ranks).size();
            if (a->json)
              print_json(json{{"out", a->out},
                              {"ranks", ranks},
                              {"tensors", merged.size()},
                              {"tensor_bytes", bytes}});
            else
              std::cout << "wrote " << a->out << " (" << merged.size() << " tensors, "
                        << human_bytes(bytes) << ", merged from " << ranks << " ranks)\n";
            return kExitOk;
          }};
}

Command add_reshard(CLI::App& app) {
  struct Args {
    std::string ranks, out, src, dst, prefix = "checkpoint_", to;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(
      "reshard",
      "Reslice MindSpore's per-rank checkpoints from one parallel strategy to another "
      "(transform_checkpoints): OUT_DIR/rank_K/<prefix>K.ckpt for every rank K of the new one");
  add_ranks_option(sub, a->ranks);
  sub->add_option("OUT_DIR", a->out, "where the new rank_K/ subfolders go")->required();
  sub->add_option("--src-strategy", a->src,
                  "the strategy RANKS were saved with (none: RANKS/rank_0 holds the whole "
                  "checkpoint)");
  sub->add_option("--dst-strategy", a->dst,
                  "the strategy to slice for (none: one whole checkpoint in OUT_DIR/rank_0)");
  sub->add_option("--prefix", a->prefix, "file name prefix (default checkpoint_)");
  sub->add_option("--to", a->to, "ckpt (default) or safetensors");
  add_json_flag(sub, a->json);
  sub->footer(
      "Examples:\n"
      "  cellar reshard ckpts/ out/ --src-strategy a.ckpt --dst-strategy b.ckpt --prefix b\n"
      "  cellar reshard whole/ out/ --dst-strategy b.ckpt     (slice one checkpoint for a run)");
  return {sub, [a] {
            print_written(reshard_checkpoints(a->ranks, a->src, a->out, a->dst, a->prefix,
                                              format_of("", a->to.empty() ? "ckpt" : a->to)),
                          a->json);
            return kExitOk;
          }};
}

}  // namespace cellar::cli
