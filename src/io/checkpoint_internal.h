// What the checkpoint module lends the streaming copy (src/io/stream.cpp), private to the library.
#pragma once

#include <filesystem>
#include <memory>
#include <unordered_map>

#include "cellar/io/checkpoint.h"
#include "formats/format.h"

namespace cellar::io {

// Where a loaded tensor's bytes lie: its file (mapped from disk, never a private copy) and the
// pieces of it, by the Storage the tensor views (or would copy from on first use).
struct Location {
  std::shared_ptr<MappedFile> file;
  formats::FilePieces pieces;
};
using Locations = std::unordered_map<const Storage*, Location>;

// load_checkpoint(path, options), every check included; with `located`, also where each entry's
// bytes lie (entries without: str entries, PyTorch files, decrypted or read() files). The
// parsed pages of .ckpt files are dropped from the resident set as the reader goes.
ParamDict load_checkpoint_located(const std::filesystem::path& path, const LoadOptions& options,
                                  Locations* located);

// save_checkpoint's writing (one file, or shards and their index; encryption and every check),
// outside the save chain, each tensor's bytes taken through `bytes`; around the page cache
// (formats::AtomicFile::Cache::kBypass: a streamed copy's output is not kept there).
void write_checkpoint_entries(const formats::NamedTensors& entries,
                              const std::filesystem::path& path, const SaveOptions& options,
                              const formats::EntryBytes& bytes);

// The file `mapped` was mapped from, opened again (read-only, POSIX_FADV_SEQUENTIAL) for
// copy_file_range and pread; -1 when it cannot be, or when the file at its path is no longer the
// mapping's size (then the mapped bytes are to be used). The caller closes it.
int reopen_mapped(const MappedFile& mapped);

}  // namespace cellar::io
