// What every format shares: the one detect() (cellar/io/inspect.h) that the library's loaders
// and the CLI use, reading a graph file through the GraphFormat interface, and the inspection
// helpers the CLI needs (a file's plaintext, its CRC, a safetensors header).
#include "formats/format.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "cellar/error.h"
#include "cellar/io/inspect.h"
#include "formats/ckpt.h"
#include "formats/crypto.h"
#include "formats/mindir.h"
#include "formats/onnx.h"
#include "formats/pytorch.h"
#include "formats/safetensors.h"

namespace cellar {

const char* kind_name(FileKind k) {
  switch (k) {
    case FileKind::kCheckpoint:
      return "ckpt";
    case FileKind::kSafetensors:
      return "safetensors";
    case FileKind::kMindIR:
      return "mindir";
    case FileKind::kOnnx:
      return "onnx";
    case FileKind::kEncrypted:
      return "encrypted";
    case FileKind::kPyTorch:
      return "pytorch";
  }
  return "?";
}

bool is_graph(FileKind k) { return k == FileKind::kMindIR || k == FileKind::kOnnx; }

std::optional<FileKind> kind_from_extension(const std::filesystem::path& name) {
  const std::filesystem::path ext = name.extension();
  if (ext == ".ckpt") return FileKind::kCheckpoint;
  if (ext == ".safetensors") return FileKind::kSafetensors;
  if (ext == ".mindir") return FileKind::kMindIR;
  if (ext == ".onnx") return FileKind::kOnnx;
  if (ext == ".pt" || ext == ".pth") return FileKind::kPyTorch;
  return std::nullopt;
}

std::optional<FileKind> detect(std::span<const std::byte> head, const std::filesystem::path& name) {
  // Safetensors first: its sniffer wants a small little-endian length and a '{' at byte 8, which
  // no protobuf file has. Then the encryption magics (0xD8..0xDA: no protobuf tag byte), then
  // the protobuf formats from the most to the least specific first field.
  if (!head.empty()) {
    if (formats::safetensors_format().sniff(head)) return FileKind::kSafetensors;
    if (formats::is_encrypted(head)) return FileKind::kEncrypted;
    if (formats::pytorch_format().sniff(head)) return FileKind::kPyTorch;  // 'PK' or 0x80
    if (formats::onnx_format().sniff(head)) return FileKind::kOnnx;
    if (formats::mindir_format().sniff(head)) return FileKind::kMindIR;
    if (formats::ckpt_format().sniff(head)) return FileKind::kCheckpoint;
  }
  if (name.empty()) return std::nullopt;
  return kind_from_extension(name);
}

std::optional<std::string> encryption_mode(std::span<const std::byte> head) {
  if (const auto m = formats::encrypted_mode(head)) return formats::to_string(*m);
  return std::nullopt;
}

std::vector<OpCount> graph_op_census(std::span<const std::byte> plaintext, FileKind kind,
                                     const std::string& file) {
  if (kind == FileKind::kMindIR) return formats::mindir_op_census(plaintext, file);
  if (kind == FileKind::kOnnx) return formats::onnx_op_census(plaintext, file);
  throw ValueError(
      ErrorCode::kInvalidArgument,
      "an op census needs a MindIR or ONNX model, not a " + std::string(kind_name(kind)));
}

void check_key(const std::string& key, const std::string& mode) {
  formats::check_key({reinterpret_cast<const std::byte*>(key.data()), key.size()},
                     formats::parse_enc_mode(mode));
}

namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The cipher for `file_bytes`: `dec_mode`, or else the one its magic names.
formats::Cipher cipher_for(std::span<const std::byte> file_bytes, const std::string& dec_key,
                           const std::string& dec_mode) {
  std::string mode = dec_mode;
  if (mode.empty()) mode = encryption_mode(file_bytes).value_or("AES-GCM");
  formats::Cipher c;
  c.mode = formats::parse_enc_mode(mode);
  c.key.assign(as_bytes(dec_key).begin(), as_bytes(dec_key).end());
  return c;
}

}  // namespace

std::shared_ptr<MappedFile> read_plaintext(const std::filesystem::path& path,
                                           const std::string& dec_key,
                                           const std::string& dec_mode) {
  auto file = MappedFile::open(path);
  std::optional<formats::Cipher> dec;
  if (!dec_key.empty()) dec = cipher_for({file->data(), file->size()}, dec_key, dec_mode);
  return formats::plaintext(std::move(file), dec, "the file");
}

FileKind encrypted_content(const std::filesystem::path& path, const std::string& dec_key,
                           const std::string& dec_mode) {
  const std::string name = path.string();
  const auto file = MappedFile::open(path);
  const std::span<const std::byte> b{file->data(), file->size()};
  const auto file_mode = formats::encrypted_mode(b);
  if (!file_mode) throw Error(ErrorCode::kCrypto, "the file is not encrypted", {name});
  const formats::Cipher c = cipher_for(b, dec_key, dec_mode);
  if (c.mode != *file_mode)
    throw Error(ErrorCode::kCrypto,
                std::string("the file is encrypted with ") + formats::to_string(*file_mode) +
                    ", not " + formats::to_string(c.mode),
                {name});
  // The first block alone: magic, [GCM tag], block length, then that many bytes.
  const size_t len_at = c.mode == formats::EncMode::kAesGcm ? 4 + 16 : 4;
  uint32_t block_len = 0;
  if (len_at + 4 > b.size())
    throw Error(ErrorCode::kCrypto, "truncated encrypted block", {name, {}, 0});
  std::memcpy(&block_len, b.data() + len_at, 4);
  if (block_len > b.size() - len_at - 4)
    throw Error(ErrorCode::kCrypto, "truncated encrypted block", {name, {}, len_at});
  const auto plain = formats::decrypt(b.subspan(0, len_at + 4 + block_len), c.key, c.mode, name);
  if (formats::mindir_format().sniff(plain)) return FileKind::kMindIR;
  if (formats::ckpt_format().sniff(plain)) return FileKind::kCheckpoint;
  throw Error(ErrorCode::kCrypto,
              "the decrypted bytes are neither a checkpoint nor a MindIR file (wrong key?)",
              {name});
}

CrcCheck checkpoint_crc(std::span<const std::byte> f,
                        const std::function<void(uint64_t done)>& progress) {
  CrcCheck c;
  const size_t n = f.size();
  const auto* d = reinterpret_cast<const uint8_t*>(f.data());
  constexpr size_t kTrailer = formats::ckpt::kTrailerBytes;
  if (n < kTrailer || std::memcmp(d + n - kTrailer, "crc_num", 7) != 0) return c;
  c.present = true;
  uint64_t stored = 0;
  for (size_t i = n - 10; i < n; ++i) stored = stored << 8 | d[i];
  const bool high_zero = std::all_of(d + n - 10, d + n - 4, [](uint8_t b) { return b == 0; });
  uint32_t crc = 0;
  constexpr size_t kChunk = size_t{64} << 20;
  for (size_t off = 0; off < n - kTrailer; off += kChunk) {
    const size_t len = std::min(kChunk, n - kTrailer - off);
    crc = formats::ckpt::crc32({f.data() + off, len}, crc);
    if (progress) progress(off + len);
  }
  c.valid = high_zero && stored == crc;
  return c;
}

SafetensorsInfo inspect_safetensors(std::span<const std::byte> bytes, const std::string& file,
                                    const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const auto h = formats::safetensors::parse_header(bytes, file);
  SafetensorsInfo info;
  info.metadata = h.metadata;
  if (const auto stored = h.metadata_value("crc_num")) {
    info.crc.present = true;
    const formats::NamedTensors named(tensors.begin(), tensors.end());
    info.crc.valid = *stored == std::to_string(formats::safetensors::mindspore_crc(named));
  }
  return info;
}

namespace formats {

void EntryBytes::write(const Tensor& t, uint64_t begin, uint64_t n, ByteSink& out,
                       const Visitor* seen) const {
  const auto bytes = t.bytes().subspan(begin, n);
  out.write(bytes);
  if (seen) (*seen)(bytes);
}

void EntryBytes::visit(const Tensor& t, const Visitor& seen) const { seen(t.bytes()); }

const EntryBytes& own_bytes() {
  static const EntryBytes bytes;
  return bytes;
}

NamedTensors CheckpointFormat::read_located(const std::shared_ptr<MappedFile>& file,
                                            const LoadOptions& options,
                                            std::vector<FilePieces>& pieces,
                                            bool /*drop_behind*/) const {
  NamedTensors out = read(file, options);
  pieces.assign(out.size(), {});
  return out;
}

const CheckpointFormat& format_for(cellar::CheckpointFormat format) {
  return format == cellar::CheckpointFormat::kSafetensors ? safetensors_format() : ckpt_format();
}

const GraphFormat& format_for(FileKind kind) {
  assert(is_graph(kind));
  return kind == FileKind::kOnnx ? onnx_format() : mindir_format();
}

ir::Graph GraphFormat::read(const std::filesystem::path& path) const {
  const auto file = MappedFile::open(path);
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  return read({file->data(), file->size()}, path.string(), GraphReadOptions{.base_dir = dir});
}

}  // namespace formats

}  // namespace cellar
