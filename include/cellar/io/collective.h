// Saving one checkpoint from many processes (ranks) at once: each rank writes the tensors it holds
// as its own shard, and the shards join into one sharded checkpoint (an index beside them, the
// layout load_checkpoint reads; cellar/io/checkpoint.h).
//
// The transport is the caller's: a Communicator gives the rank, the group size and one collective
// (an all-gather of byte strings). cellar/io/mpi.h adapts an MPI communicator (header-only, so the
// library itself never links MPI); tests use threads.
//
// The protocol, for N ranks saving `dir/model.safetensors`:
//   1. every rank sends the names and byte counts of its tensors; all ranks check the names are
//      disjoint and number the ranks that hold tensors (k of n); rank 0 removes an index left by
//      an earlier save at the path, so that no index ever names a mix of old and new shards;
//   2. each rank writes `dir/model-0000k-of-0000n.safetensors` atomically (temporary file, fsync,
//      rename: a rank killed mid-write leaves the target as it was);
//   3. every rank reports whether its shard is committed; only when all are does rank 0 write the
//      index (atomically, last) and remove shards of an earlier save with another count;
//   4. rank 0 reports the index written, so that every rank returns only once it exists.
// A rank that fails in a step (an I/O error, say) still takes part in the collective of that step,
// and every rank then throws the same Error naming the failed ranks and their reasons; no index is
// written. A rank that dies leaves the others waiting in the collective (MPI aborts the job): no
// index is written either, and the shards on disk are whole files or absent, never torn.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cellar/io/checkpoint.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Collective: every rank passes its bytes and gets every rank's, in rank order. Throws on a
  // transport failure.
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
};

// Collective over `comm`: `mine` is this rank's tensors (names disjoint from every other rank's;
// a rank may hold none and then writes no shard). `path` names the checkpoint as for
// save_checkpoint ("dir/model.safetensors" or "dir/model.ckpt"; every rank passes the same path,
// on a filesystem they all see). `options` as save_checkpoint's, except max_shard_size (one shard
// per rank) and async_save (the call is collective), which must be unset (InvalidArgument).
// Returns the index path. Throws Error (kInvalidArgument for names in two ranks or different
// paths, kIo for a failed write) on every rank alike, naming the ranks at fault.
std::filesystem::path save_checkpoint_collective(const ParamDict& mine,
                                                 const std::filesystem::path& path,
                                                 Communicator& comm,
                                                 const SaveOptions& options = {});

}  // namespace cellar

CELLAR_API_END
