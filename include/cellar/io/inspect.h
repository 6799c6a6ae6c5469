// Recognising and looking into model files without loading them: which format a file is (one
// detect() for the library and the CLI), how it is encrypted, what an encrypted file holds, a
// file's plaintext, a checkpoint's CRC and a safetensors header's metadata. `cellar inspect` and
// `cellar convert` are built on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cellar/storage.h"
#include "cellar/tensor.h"
#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

// kPyTorch: torch.save files (zip or legacy layout), read only (src/formats/pytorch.h).
enum class FileKind { kCheckpoint, kSafetensors, kMindIR, kOnnx, kEncrypted, kPyTorch };
// "ckpt", "safetensors", "mindir", "onnx", "encrypted", "pytorch"
const char* kind_name(FileKind k);
bool is_graph(FileKind k);  // MindIR or ONNX

// Which format the bytes `head` (a file's first bytes; 64 are enough) are, the most specific test
// first: safetensors (a small length and '{'), MindSpore's encryption block magics, PyTorch (a
// zip whose first record is in a folder, or the legacy pickled magic number), ONNX, MindIR,
// .ckpt. When no format claims the bytes, the extension of `name` decides (".ckpt",
// ".safetensors", ".mindir", ".onnx", ".pt", ".pth"), so that the format's reader says what is
// wrong with the file; nullopt when neither tells (or `name` is empty).
std::optional<FileKind> detect(std::span<const std::byte> head,
                               const std::filesystem::path& name = {});
// The format a file *name* asks for, from its extension alone; nullopt for other names.
std::optional<FileKind> kind_from_extension(const std::filesystem::path& name);

// MindSpore's name of the mode ("AES-GCM", "AES-CBC", "SM4-CBC") whose block magic `head` starts
// with; nullopt when the bytes are not encrypted.
std::optional<std::string> encryption_mode(std::span<const std::byte> head);

// kInvalidArgument unless `mode` is one of MindSpore's ("AES-GCM", "AES-CBC", "SM4-CBC") and `key`
// fits it (AES: 16, 24 or 32 bytes; SM4: 16), so a command can refuse them before any work.
void check_key(const std::string& key, const std::string& mode);

// The bytes of the file at `path` as a reader sees them: mapped when plain, decrypted with
// `dec_key` and `dec_mode` (MindSpore's spellings; empty: the mode the file's magic names) when
// encrypted. Error kCrypto naming the file for an encrypted file without a key, a wrong key or
// mode; IoError when it cannot be read.
std::shared_ptr<MappedFile> read_plaintext(const std::filesystem::path& path,
                                           const std::string& dec_key = {},
                                           const std::string& dec_mode = {});

// What an encrypted file holds (kCheckpoint or kMindIR), from its first block alone decrypted
// with `dec_key` and `dec_mode` (empty: the file's). Error kCrypto naming the file when it is not
// encrypted, the mode differs from the file's, or the plaintext is neither (a wrong key).
FileKind encrypted_content(const std::filesystem::path& path, const std::string& dec_key,
                           const std::string& dec_mode = {});

// Whether a checkpoint carries MindSpore's CRC-32 and whether it matches.
struct CrcCheck {
  bool present = false;
  bool valid = false;
};
// The .ckpt trailer ("crc_num" + the CRC-32 of everything before it, 10 bytes big-endian) of a
// checkpoint's plaintext, checked. `progress`, when given, is told the bytes checked so far.
CrcCheck checkpoint_crc(std::span<const std::byte> plaintext,
                        const std::function<void(uint64_t done)>& progress = {});

// A safetensors file's header: its __metadata__ in file order, and MindSpore's crc_num (kept in
// the metadata) checked against `tensors` (the file's entries, as load_checkpoint returns them).
// FormatError naming `file` when the header is malformed.
struct SafetensorsInfo {
  std::vector<std::pair<std::string, std::string>> metadata;
  CrcCheck crc;
};
SafetensorsInfo inspect_safetensors(std::span<const std::byte> bytes, const std::string& file,
                                    const std::vector<std::pair<std::string, Tensor>>& tensors);

// One op type of a model: the file's own spelling (a MindIR primitive without "REF::", its uid
// or "S-Prim-"; an ONNX op type, "<domain>:<op>" outside the default domain), how many nodes use
// it, and whether cellar reads it.
struct OpCount {
  std::string op;
  int64_t nodes = 0;
  bool supported = false;
};
// Every op type in a MindIR or ONNX model (the main graph and, for MindIR, its sub-graphs; not
// MindIR's graph plumbing and Constant nodes), most used first, then by name. It only parses the
// protobuf, so it answers for models cellar cannot load: the unsupported ops are what stands
// between the model and a GraphCell. `plaintext` as read_plaintext gives it. FormatError naming
// `file` when the bytes do not parse; kInvalidArgument for a kind that is not a graph.
std::vector<OpCount> graph_op_census(std::span<const std::byte> plaintext, FileKind kind,
                                     const std::string& file);

}  // namespace cellar

CELLAR_API_END
