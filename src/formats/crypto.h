// MindSpore's checkpoint and MindIR encryption (save_checkpoint's enc_key/enc_mode,
// load_checkpoint's dec_key/dec_mode, export's enc_key), as a byte layer below the formats: the
// serialized file bytes are the plaintext; this layer neither knows nor parses them.
//
// Byte layout (checked against MindSpore's mindspore/core/utils/crypto.cc `Encrypt`, `Decrypt`,
// `BlockEncrypt`, `BlockDecrypt`, `ParseEncryptData`, its installed include/.../utils/crypto.h
// constants, and files MindSpore 2.10 wrote: tests/fixtures/mindspore/2.10/enc/). The plaintext is
// cut into blocks of 64 MiB (the last one shorter); the file is the blocks back to back:
//
//   block  := magic:u32                       0x7F3A5ED8 AES-GCM, 0x7F3A5ED9 AES-CBC,
//                                             0x7F3A5EDA SM4-CBC
//             [tag:16]                        AES-GCM only: the GCM tag (16 bytes, no AAD)
//             block_len:i32                   bytes after this field: 4 + 16 + 4 + cipher_len
//             iv_len:i32                      always 16
//             iv:16                           random per block (RAND_bytes); AES-GCM uses only
//                                             the first 12 bytes (see below)
//             cipher_len:i32
//             cipher:cipher_len               GCM: cipher_len == plaintext length;
//                                             CBC: PKCS#7 padded, a multiple of 16, at least 16
//
// All integers are little-endian. The key selects AES-128/192/256 by its length (16/24/32 bytes);
// SM4 keys are 16 bytes. An empty plaintext is zero blocks: an empty file (as MindSpore writes it).
//
// Oddities of MindSpore we handle on purpose:
// - With both enc_key and crc_check, MindSpore 2.10 appends the 17-byte `crc_num` trailer (with a
//   CRC it never computed: 0) *after* the ciphertext, then refuses that file itself. decrypt()
//   accepts and drops exactly such a trailer after the last block. A writer that wants both should
//   put the trailer inside the plaintext instead: MindSpore then decrypts, strips and verifies it.
// - AES-GCM's nonce is the first 12 IV bytes. MindSpore's BlockEncrypt/BlockDecrypt set the IV
//   length to 16 (EVP_CTRL_GCM_SET_IVLEN) and then call EVP_{En,De}cryptInit_ex again *with the
//   cipher*, which resets the context to GCM's default 12-byte IV; the 4 bytes after are written
//   (random) and never used. Verified: MindSpore 2.10's files authenticate only that way. So a
//   change to IV bytes 12..15 of a GCM block goes unnoticed, harmlessly: the plaintext is the same.
// - MindSpore's IsCipherFile knows only the GCM and CBC magics (not SM4-CBC's); is_encrypted()
//   knows all three.
// - Integrity: AES-GCM authenticates every block (a wrong key or any flipped bit fails the tag).
//   CBC has no authentication: a wrong key or a modified ciphertext fails the PKCS#7 padding check
//   most of the time, but about 1 in 256 times decrypts to garbage with valid padding, and a
//   modified byte in a non-final ciphertext block or the IV is not detected at all. Then decrypt()
//   returns garbage and the caller's parser must fail (the .ckpt and MindIR readers do: every
//   length and tag is checked). Only AES-GCM guarantees "an error, never garbage".
// - MindSpore 1.3 (mid-2021) wrote AES-GCM blocks with no tag at all: magic, block_len, iv_len,
//   iv, cipher_len, cipher (the same GCM ciphertext of the first 12 IV bytes; verified on a file
//   MindSpore 1.3's tests encrypted, whose plaintext is byte-identical to the 1.1 file it was made
//   from). MindSpore 2.x cannot read them; decrypt() does, recognising the layout from its first
//   block (the fields after the magic agree as 1.3 wrote them, which a random tag does by chance
//   with probability below 2^-60). Such a file has no authentication, as CBC has none.
// - The framing has no block count and no end marker, and each block is authenticated alone: a
//   file cut right after a whole block, or with whole blocks reordered, decrypts to a cut or
//   reordered plaintext without error, in every mode (as in MindSpore). Blocks are 64 MiB, so the
//   cut lands inside a checkpoint record almost always and the parser refuses it.
//
// Errors: every failure of decrypt() is an Error with ErrorCode::kCrypto naming the file and the
// byte offset of the block (or of the field) that failed; key and mode arguments that are
// unusable are ErrorCode::kInvalidArgument. Nothing here asserts on file content.
//
// Thread safety: the free functions are reentrant; an Encryptor is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cellar/storage.h"
#include "formats/atomic_file.h"

namespace cellar::formats {

enum class EncMode { kAesGcm, kAesCbc, kSm4Cbc };

// MindSpore's spellings, exactly: "AES-GCM", "AES-CBC", "SM4-CBC" (kInvalidArgument otherwise).
EncMode parse_enc_mode(std::string_view s);
const char* to_string(EncMode mode);

// kInvalidArgument unless the key fits the mode: AES 16, 24 or 32 bytes; SM4 16 bytes.
void check_key(std::span<const std::byte> key, EncMode mode);

// Plaintext bytes per block, as MindSpore cuts them (MAX_BLOCK_SIZE in its crypto.h). MindSpore's
// decrypter reads a block into a buffer of this size + 50, so no block may be larger.
inline constexpr size_t kEncBlockSize = size_t{64} << 20;

// True when `head` (the first bytes of a file; 4 are enough) starts with one of the three block
// magics. A plain .ckpt or .mindir starts with 0x0A and a safetensors file with a small header
// length, so neither can be mistaken for an encrypted file.
bool is_encrypted(std::span<const std::byte> head);
// The mode whose magic `head` starts with, if any (for an error message such as "the file is
// encrypted with SM4-CBC; pass dec_key").
std::optional<EncMode> encrypted_mode(std::span<const std::byte> head);

// A key and the mode it is for (MindSpore's enc_key/enc_mode and dec_key/dec_mode), as the format
// options carry it.
struct Cipher {
  std::vector<std::byte> key;
  EncMode mode = EncMode::kAesGcm;
};
// nullopt for an empty key (no encryption, whatever the mode says, as in MindSpore); otherwise the
// mode parsed and the key checked against it (kInvalidArgument).
std::optional<Cipher> make_cipher(std::string_view key, std::string_view mode);

// Decrypts a whole encrypted file (every block, then an optional outer `crc_num` trailer, see
// above) and returns the plaintext. The framing of every block is validated before anything is
// decrypted or allocated; the plaintext buffer is never larger than the input. `file_for_errors`
// only names the file in error messages. Throws kCrypto (see above) and kInvalidArgument (key).
std::vector<std::byte> decrypt(std::span<const std::byte> file_bytes,
                               std::span<const std::byte> key, EncMode mode,
                               const std::string& file_for_errors);

// ---- Decryption as a byte source in front of any reader ----
//
// A format reader receives plaintext bytes and never knows about ciphers: whoever opens a file
// (io/, the external-data files of a graph) passes it through plaintext() first.

// `file` itself when it does not start with a block magic; else its decrypted plaintext, owned by
// the returned MappedFile (named like `file`). Encrypted without `dec`: kCrypto "<what> is
// encrypted; pass dec_key and dec_mode" with `tensor` in its context. With `dec`, decrypt()'s
// errors.
std::shared_ptr<MappedFile> plaintext(std::shared_ptr<MappedFile> file,
                                      const std::optional<Cipher>& dec, const std::string& what,
                                      const std::string& tensor = {});

// Encrypts a plaintext handed over in pieces of any size, emitting each block as soon as its
// plaintext is complete: memory is one block of ciphertext (at most block_size + 16 bytes, reused
// for every block) whatever the file size, and the plaintext is never buffered. The emitted bytes
// go to `sink` (header then ciphertext; several calls per block). Call finish() once after the last
// write(): it emits the last, shorter block. Destroying an unfinished Encryptor emits nothing more
// (with an AtomicFile sink, do not commit then). The key is copied and wiped on destruction.
//
//   AtomicFile out(path);
//   Encryptor enc(key, EncMode::kAesGcm, out);
//   for (auto& record : records) enc.write(record);
//   enc.finish();
//   out.commit();
class Encryptor final : public ByteSink {
 public:
  using Sink = std::function<void(std::span<const std::byte>)>;

  // kInvalidArgument for a bad key or a block_size outside [1, kEncBlockSize]. A block_size other
  // than kEncBlockSize is for tests (MindSpore reads any size up to kEncBlockSize).
  Encryptor(std::span<const std::byte> key, EncMode mode, Sink sink,
            size_t block_size = kEncBlockSize);
  Encryptor(std::span<const std::byte> key, EncMode mode, ByteSink& out,
            size_t block_size = kEncBlockSize);
  ~Encryptor();
  Encryptor(const Encryptor&) = delete;
  Encryptor& operator=(const Encryptor&) = delete;

  void write(std::span<const std::byte> plain);
  void write(const void* data, size_t n) override {
    write(std::span<const std::byte>(static_cast<const std::byte*>(data), n));
  }
  void finish();
  uint64_t plain_bytes() const { return plain_total_; }

 private:
  void begin_block();
  void end_block();

  std::vector<unsigned char> key_;
  EncMode mode_;
  Sink sink_;
  size_t block_size_;
  void* ctx_ = nullptr;  // EVP_CIPHER_CTX*, reused for every block
  unsigned char iv_[16] = {};
  std::vector<std::byte> cipher_;  // the current block's ciphertext (≤ block_size + 16 bytes)
  size_t cipher_len_ = 0;
  size_t block_plain_ = 0;  // plaintext bytes in the current block
  bool block_open_ = false;
  bool finished_ = false;
  uint64_t plain_total_ = 0;
};

// One-shot forms of Encryptor.
void encrypt_to(std::span<const std::byte> plain, std::span<const std::byte> key, EncMode mode,
                ByteSink& out);
std::vector<std::byte> encrypt(std::span<const std::byte> plain, std::span<const std::byte> key,
                               EncMode mode, size_t block_size = kEncBlockSize);

}  // namespace cellar::formats
