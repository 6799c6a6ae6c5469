// MindSpore's distributed checkpoints: a parallel strategy file and one checkpoint per rank.
//
// A parallel run (set_auto_parallel_context(parallel_mode="semi_auto_parallel", ...,
// strategy_ckpt_save_file=...)) saves, per rank N, `rank_N/<name>.ckpt` holding that rank's slice
// of each parameter, and one strategy file: per parameter its device matrix and tensor map
// (MindSpore's node_strategy.proto, ParallelLayouts). The layout of a parameter of shape S:
//   - the ranks 0 … D−1 (D = ∏ dev_matrix) are the cells of the device matrix in row-major order
//     (the last axis varies fastest): rank r has coordinate c with r = Σ c[k]·∏_{j>k} dev[j];
//   - tensor_map[i] = m ≥ 0 splits dimension i into dev[len(dev) − 1 − m] equal blocks, and rank
//     r holds block c[len(dev) − 1 − m]; m = −1 leaves dimension i whole;
//   - ranks whose coordinates differ only on axes no dimension maps to hold the same slice
//     (replicas).
// This is MindSpore's own arithmetic (mindspore/parallel/_tensor.py, _get_tensor_slice_index).
// Optimizer parallelism (opt_weight_shard_step and opt_weight_shard_size both non-zero) cuts each
// slice further along dimension 0 over device axes the tensor map leaves unused (replicas), as
// MindSpore's _construct_tensor_layout_for_opt_shard lays it out: the ranks of such a layout hold
// slices opt_weight_shard_size times shorter in dimension 0 (what transform_checkpoints reads
// and writes for such a strategy).
//
// What cellar does with them, with MindSpore's semantics:
//   merge_checkpoints     transform_checkpoints(src, dst, prefix, strategy, None) /
//                         merge_sliced_parameter for every parameter: one unsliced ParamDict
//   slice_checkpoint      the slice a rank of a strategy holds (load_distributed_checkpoint's and
//                         transform_checkpoints' cut of a full parameter)
//   reshard_checkpoints   transform_checkpoints(src, dst, prefix, src_strategy, dst_strategy)
// Parameters the strategy does not list are unsliced: taken from rank 0 and written to every
// rank. Refused, with errors naming the file, the parameter and the rank: a strategy file that is
// not a ParallelStrategyMap or whose layouts are inconsistent (a tensor map entry outside the
// device matrix, an axis used twice); ranks missing or more ranks than devices; a rank without
// a listed parameter; slices whose shapes, dtypes or ranks disagree; replicas with different
// bytes; a dimension a destination strategy cannot split evenly; optimizer-parallel layouts
// MindSpore itself refuses (nothing replicated to shard over, a size the replicated axes do not
// divide); field slicing and negative optimizer sizes, which cellar does not implement
// (kUnsupported).
//
// Memory: the functions that write files (merge_checkpoints_to_file, reshard_checkpoints,
// unified_safetensors) never build a merged parameter: each output file's bytes are gathered run
// by run from the mapped rank files (copy_file_range for runs of 1 MiB or more), and the pages
// read leave the resident set once each parameter is written, so the peak stays within a fixed
// budget plus about one parameter however large the model (tests/io/
// test_checkpoint_stream_large.cpp: under 256 MiB for a 2 GiB model).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

struct ParamLayout {
  std::vector<int64_t> dev_matrix;  // outermost axis first
  std::vector<int64_t> tensor_map;  // per tensor dimension: device axis from the last, or -1
  int64_t opt_weight_shard_step = 0;
  int64_t opt_weight_shard_size = 0;
  int64_t field = 0;
  int64_t devices() const;  // ∏ dev_matrix
};

// By parameter name.
using ParallelStrategy = std::map<std::string, ParamLayout>;

// Reads a strategy file MindSpore wrote (protobuf; a `.json` strategy is not read yet).
ParallelStrategy load_strategy(const std::filesystem::path& path);

// Writes `strategy` as MindSpore writes a strategy file (ParallelStrategyMap, layouts in name
// order, no operator strategies), atomically: a destination for reshard_checkpoints, or a file
// MindSpore's transform_checkpoints and load_distributed_checkpoint read.
void save_strategy(const ParallelStrategy& strategy, const std::filesystem::path& path);

// The checkpoint of each rank in a folder of `rank_N/` subfolders, index N: in each, the last
// .ckpt or .safetensors file in name order, as transform_checkpoints picks it. Ranks must run
// 0 … N−1 without a gap.
std::vector<std::filesystem::path> rank_checkpoints(const std::filesystem::path& dir);

// The unsliced parameters from every rank's slices (ranks[r] is rank r's checkpoint).
ParamDict merge_checkpoints(const ParallelStrategy& strategy, const std::vector<ParamDict>& ranks);
// Files: rank_checkpoints(dir) mapped and merged, each slice copied straight from its file's
// pages into the whole parameter.
ParamDict merge_checkpoints(const std::filesystem::path& strategy,
                            const std::filesystem::path& dir);
ParamDict merge_checkpoints(const ParallelStrategy& strategy, const std::filesystem::path& dir);

// merge_checkpoints(strategy, dir) saved to `out` (save_checkpoint's options: format, shards,
// CRC, encryption) without building the merged parameters: the writer takes each one's bytes
// run by run (a run of the slices' last dimension) from the mapped rank files, and their pages
// leave the resident set once the parameter is written, so memory does not grow with the model.
// The same bytes as save_checkpoint(merge_checkpoints(strategy, dir), out, options).
void merge_checkpoints_to_file(const std::filesystem::path& strategy,
                               const std::filesystem::path& dir, const std::filesystem::path& out,
                               const SaveOptions& options = {});
void merge_checkpoints_to_file(const ParallelStrategy& strategy, const std::filesystem::path& dir,
                               const std::filesystem::path& out, const SaveOptions& options = {});

// The slice of every parameter that `rank` holds under `strategy` (unlisted ones whole).
ParamDict slice_checkpoint(const ParamDict& full, const ParallelStrategy& strategy, int64_t rank);

// Reads the ranks under `src_dir` (sliced by `src_strategy`; an empty path: one unsliced
// checkpoint in rank_0/), writes `dst_dir/rank_K/<prefix><K>.ckpt` (or .safetensors) for every
// rank K of `dst_strategy` (empty: one unsliced file in rank_0/), each atomically and streamed
// (see Memory above): the bytes of save_checkpoint(slice_checkpoint(merge_checkpoints(…), dst,
// K)). Returns the files written.
std::vector<std::filesystem::path> reshard_checkpoints(
    const std::filesystem::path& src_dir, const std::filesystem::path& src_strategy,
    const std::filesystem::path& dst_dir, const std::filesystem::path& dst_strategy,
    const std::string& prefix, CheckpointFormat format = CheckpointFormat::kCkpt);

// MindSpore's unified_safetensors(dir, strategy, dst_dir) (merge_with_redundancy=True, no
// choice_func): the ranks' parameters that `strategy` lists, merged whole, in
// `dst_dir/part<K>.safetensors` files of about `part_bytes` each (MindSpore: ceil(total / 3 GiB)
// parts, at most one per parameter, filled largest parameter first into the emptiest part),
// `dst_dir/param_name_map.json` ({"metadata": {"total_size"}, "weight_map": {name: part file}},
// what MindSpore's load_parallel_checkpoint reads) and `dst_dir/hyper_param.safetensors` for rank
// 0's entries the strategy does not list (and `accu_grads*`, which MindSpore leaves out of the
// parts). Streamed as merge_checkpoints_to_file is. The ranks may be .ckpt or .safetensors
// (MindSpore takes .safetensors only); their safetensors metadata other than {"format": "ms"} is
// not carried over. Returns the files written, the parts in order, then the map, then the hyper
// parameters.
inline constexpr uint64_t kUnifiedPartBytes = uint64_t{3} << 30;
std::vector<std::filesystem::path> unified_safetensors(const ParallelStrategy& strategy,
                                                       const std::filesystem::path& dir,
                                                       const std::filesystem::path& dst_dir,
                                                       uint64_t part_bytes = kUnifiedPartBytes);
std::vector<std::filesystem::path> unified_safetensors(const std::filesystem::path& strategy,
                                                       const std::filesystem::path& dir,
                                                       const std::filesystem::path& dst_dir,
                                                       uint64_t part_bytes = kUnifiedPartBytes);

}  // namespace cellar

CELLAR_API_END
