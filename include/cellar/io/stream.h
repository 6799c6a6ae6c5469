// Copying a checkpoint into another layout without loading it: .ckpt ↔ .safetensors, one file ↔
// shards, renamed, with a CRC or encrypted, in memory that does not grow with the checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "cellar/io/checkpoint.h"
#include "cellar/io/name_map.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

struct CopyCheckpointOptions {
  // The layout written, and how (SaveOptions has the details): the output's format, shards of
  // at most max_shard_size bytes with an index (0: one file), a CRC, encryption (.ckpt only).
  CheckpointFormat format = CheckpointFormat::kCkpt;
  uint64_t max_shard_size = 0;
  bool crc_check = false;
  std::string enc_key;
  std::string enc_mode = "AES-GCM";
  // Renames (or drops) entries on the way (cellar/io/name_map.h); a map that leaves nothing is
  // an Error kNotFound.
  NameMap name_map;
  // Called as tensor bytes are written: (bytes written so far, bytes in all).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct CopyCheckpointReport {
  size_t tensors = 0;
  uint64_t tensor_bytes = 0;
  // Of tensor_bytes, those the kernel copied from file to file (copy_file_range) without them
  // passing through this process's memory; the rest were read from the source file (a CRC or
  // encryption needs to see them; or they land at another offset within a page than they had,
  // where the kernel's copy is slow) or taken from memory (str entries, PyTorch or decrypted
  // sources). Always 0 where the output's file system takes O_DIRECT: the output is then
  // written around the page cache, from a few fixed buffers (see copy_checkpoint).
  uint64_t copied_in_kernel = 0;
};

// Reads `src` (a file, an index or a folder, as load_checkpoint does, with every check; `load`
// gives the key of an encrypted source, crc_check, filters) and writes `dst` as save_checkpoint
// does (atomically; shards before their index). Entries keep their order and names (after the
// name map); each tensor's bytes go from the source's pages to the output one tensor at a time,
// and pages of the source are dropped from the resident set once written, so the peak resident
// memory stays about the same (tens of MiB) however large the checkpoint is: a few fixed buffers,
// the headers, and the tensor being written. The output is written around the page cache
// (O_DIRECT, where its file system allows it): a copy larger than memory does not evict what
// the page cache holds, and a load right after reads the new file from the disk. Sources that are
// not a run of a file on disk (a decrypted .ckpt, a file read with use_mmap = false, a PyTorch
// file) are loaded as load_checkpoint loads them and copied from memory.
//
// The bytes written are the bytes save_checkpoint(load_checkpoint(src), dst) writes, without the
// checkpoint ever being resident at once. The source must not change while it is copied.
CopyCheckpointReport copy_checkpoint(const std::filesystem::path& src,
                                     const std::filesystem::path& dst,
                                     const CopyCheckpointOptions& options = {},
                                     const LoadOptions& load = {});

}  // namespace cellar

CELLAR_API_END
