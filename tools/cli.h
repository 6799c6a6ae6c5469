// What the `cellar` commands share: exit statuses, the usage error, recognising a file from its
// bytes, reading key files, loading tensors or graphs from any of the four formats, and printing
// (aligned text tables, one-line JSON). Each command lives in its own tools/<command>.cpp and is
// registered in tools/cellar.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cellar/cellar.h"

namespace cellar::cli {

// Keys keep the order they are written in (file, format, then the contents), for human readers.
using json = nlohmann::ordered_json;

// Exit statuses, the same for every command (printed by `cellar --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;  // a file could not be read, or holds what we cannot use
inline constexpr int kExitUsage = 2;     // the command line itself is wrong
inline constexpr int kExitDiffer = 3;    // `cellar diff`: the files differ (beyond --atol/--rtol)

// A mistake in the command line found after parsing (a malformed --input, a conversion between
// kinds of file that cannot be converted): exit status 2, one line.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One registered subcommand: its CLI11 sub-app and what runs when it was chosen. `file` names the
// file an error without a file of its own is about (the first positional), for the error line.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_inspect(CLI::App& app);
Command add_diff(CLI::App& app);
Command add_run(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_ops(CLI::App& app);
Command add_merge(CLI::App& app);
Command add_reshard(CLI::App& app);

// ---- files ---------------------------------------------------------------------------------

// cellar::FileKind, kind_name() and is_graph() (cellar/io/inspect.h) name the formats.

// The first bytes of `path` (up to 4 KiB). IoError naming the file when it cannot be opened, is
// a directory, or cannot be read.
std::vector<std::byte> read_head(const std::string& path);
// Which reader understands the bytes of `path` (cellar::detect: the bytes, then the file name's
// extension); FormatError naming the file when it is empty or neither tells. For a sharded
// checkpoint (an index or a folder), the kind of its first shard.
FileKind detect(const std::string& path);
// True for a sharded checkpoint: a folder, or an index ("*.index.json").
bool is_sharded(const std::string& path);
// The format a file *name* asks for is cellar::kind_from_extension.
// The same from a --to value ("ckpt", "safetensors", "mindir", "onnx"); UsageError otherwise.
FileKind kind_from_name(const std::string& name);

// A key for MindSpore's encryption, read from a file: its bytes are the key (16, 24 or 32 bytes;
// a single trailing newline is dropped when the rest has one of those lengths).
// IoError naming the file when it cannot be read.
std::string read_key_file(const std::string& path);

// Decryption for every loader below: the key's bytes (empty: none) and MindSpore's mode name.
struct KeyOptions {
  std::string key;
  std::string mode;  // "AES-GCM", "AES-CBC", "SM4-CBC"; empty: the mode the file's magic names
};

// The named tensors of a checkpoint (.ckpt, .safetensors) or the parameters of a graph
// (.mindir, .onnx), in file order, with the kind they were read as. Files over the progress
// threshold are read ahead with a progress bar (see progress.h).
struct NamedTensorList {
  FileKind kind;
  std::vector<std::pair<std::string, Tensor>> tensors;
};
NamedTensorList load_tensors(const std::string& path, const KeyOptions& key = {});
// What an encrypted file holds (kCheckpoint or kMindIR), from its first block decrypted with
// `key` (cellar::encrypted_content). Error kCrypto naming the file for a wrong key or mode.
FileKind encrypted_content(const std::string& path, const KeyOptions& key);
// The mode to decrypt `path` with: key.mode, or else the one the file's magic names.
std::string dec_mode_for(const std::string& path, const KeyOptions& key);
// A graph file, validated. Encrypted MindIR needs the key. `max_constant_bytes`:
// GraphLoadOptions::max_load_constant_bytes.
ir::Graph load_graph(const std::string& path, const KeyOptions& key = {},
                     uint64_t max_constant_bytes = kDefaultMaxLoadConstantBytes);
// --max-constant-mib on a command that loads graphs: the limit in MiB (default 2048) on constant
// data the loader makes beyond the file's own, written to `*mib`.
void add_max_constant_option(CLI::App* sub, uint64_t* mib);
inline uint64_t mib_to_bytes(uint64_t mib) { return mib << 20; }

// ---- printing ------------------------------------------------------------------------------

std::string dtype_str(DType t);  // MindSpore's spelling: "Float32"
// Text from a file (a tensor name, a metadata value) made safe for a terminal: the C0 control
// characters and DEL as \xNN (a name may hold them, and an ESC would drive the terminal).
std::string printable(std::string_view s);
// One row per item, columns padded to the widest cell, separated by two spaces; every cell
// printable().
void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& rows,
                 const std::string& indent = "");
// One line on stdout; bytes that are not UTF-8 (names are the file's) print as U+FFFD.
void print_json(const json& j);
// A number for text output: integers as integers, others with 6 significant digits.
std::string fmt_num(double v);
// A number for JSON: finite values as numbers, NaN and ±inf as the strings "nan", "inf", "-inf"
// (JSON has no spelling for them).
json json_num(double v);
// The first `n` elements of a numeric tensor, as doubles.
std::vector<double> first_values(const Tensor& t, size_t n);
// "[0.1, 0.2, …]" for text output.
std::string values_str(const std::vector<double>& v, size_t total);
// One line, whatever the message holds: line breaks as spaces, other control characters as in
// printable().
std::string one_line(std::string s);
// "1.5 MiB" for byte counts in text output.
std::string human_bytes(uint64_t n);

}  // namespace cellar::cli
