// MindSpore's block encryption over OpenSSL EVP. The byte layout and the contracts are in crypto.h.
#include "formats/crypto.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <utility>

#include "cellar/error.h"

namespace cellar::formats {
namespace {

// libcrypto, opened with dlopen when a cipher is first needed rather than linked: most processes
// never decrypt or encrypt, and loading and relocating libcrypto was about 1.5 ms of every
// start-up (a cold start of a small network is ~10 ms). The first library that loads among
// CELLAR_CRYPTO_LIBRARY (the one the build found) and libcrypto.so.3 is kept for the process.
void* crypto_symbol(const char* name) {
  static void* const handle = [] {
    const char* candidates[] = {
#ifdef CELLAR_CRYPTO_LIBRARY
        CELLAR_CRYPTO_LIBRARY,
#endif
        "libcrypto.so.3"};
    for (const char* c : candidates)
      if (void* h = dlopen(c, RTLD_NOW | RTLD_LOCAL)) return h;
    return static_cast<void*>(nullptr);
  }();
  if (handle == nullptr)
    throw Error(ErrorCode::kCrypto,
                "OpenSSL's libcrypto (libcrypto.so.3) could not be loaded: install libssl3");
  void* f = dlsym(handle, name);
  if (f == nullptr)
    throw Error(ErrorCode::kCrypto, std::string("OpenSSL's libcrypto has no ") + name);
  return f;
}

// Each OpenSSL function used below, as ssl::<its name>: looked up once, then called through the
// pointer. (Qualified at each call: unqualified, argument-dependent lookup would find the
// global declaration, which the linker then cannot resolve.)
namespace ssl {
#define CELLAR_LAZY_CRYPTO(fn)                                                   \
  template <class... Args>                                                       \
  auto fn(Args... args) {                                                        \
    static const auto f = reinterpret_cast<decltype(&::fn)>(crypto_symbol(#fn)); \
    return f(args...);                                                           \
  }
CELLAR_LAZY_CRYPTO(EVP_aes_128_gcm)
CELLAR_LAZY_CRYPTO(EVP_aes_192_gcm)
CELLAR_LAZY_CRYPTO(EVP_aes_256_gcm)
CELLAR_LAZY_CRYPTO(EVP_aes_128_cbc)
CELLAR_LAZY_CRYPTO(EVP_aes_192_cbc)
CELLAR_LAZY_CRYPTO(EVP_aes_256_cbc)
CELLAR_LAZY_CRYPTO(EVP_sm4_cbc)
CELLAR_LAZY_CRYPTO(EVP_CIPHER_CTX_new)
CELLAR_LAZY_CRYPTO(EVP_CIPHER_CTX_free)
CELLAR_LAZY_CRYPTO(EVP_CIPHER_CTX_ctrl)
CELLAR_LAZY_CRYPTO(EVP_CIPHER_CTX_set_padding)
CELLAR_LAZY_CRYPTO(EVP_CipherInit_ex)
CELLAR_LAZY_CRYPTO(EVP_DecryptUpdate)
CELLAR_LAZY_CRYPTO(EVP_DecryptFinal_ex)
CELLAR_LAZY_CRYPTO(EVP_EncryptUpdate)
CELLAR_LAZY_CRYPTO(EVP_EncryptFinal_ex)
CELLAR_LAZY_CRYPTO(OPENSSL_cleanse)
CELLAR_LAZY_CRYPTO(RAND_bytes)
#undef CELLAR_LAZY_CRYPTO
}  // namespace ssl

constexpr uint32_t kGcmMagic = 0x7F3A5ED8u;
constexpr uint32_t kCbcMagic = 0x7F3A5ED9u;
constexpr uint32_t kSm4Magic = 0x7F3A5EDAu;
constexpr size_t kIvLen = 16;
constexpr size_t kTagLen = 16;
// MindSpore sets a 16-byte GCM IV length and then calls EVP_EncryptInit_ex again with the cipher,
// which resets the IV length to GCM's default 12: only the first 12 IV bytes take part.
constexpr size_t kGcmIvUsed = 12;
constexpr size_t kCbcBlock = 16;  // AES and SM4 both have 16-byte blocks
// block_len counts iv_len, iv, cipher_len and the ciphertext.
constexpr size_t kBlockLenOverhead = 4 + kIvLen + 4;
// The largest ciphertext MindSpore writes (and reads: its decrypt buffer is 64 MiB + 50).
constexpr size_t kMaxCipherLen = kEncBlockSize + kCbcBlock;
constexpr char kCrcTag[] = "crc_num";
constexpr size_t kCrcTrailerLen = 7 + 10;

uint32_t magic_of(EncMode mode) {
  switch (mode) {
    case EncMode::kAesGcm:
      return kGcmMagic;
    case EncMode::kAesCbc:
      return kCbcMagic;
    case EncMode::kSm4Cbc:
      return kSm4Magic;
  }
  return 0;
}

uint32_t load_u32(const std::byte* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void store_u32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (8 * i)) & 0xFF);
}

std::string hex32(uint32_t v) {
  static const char* digits = "0123456789ABCDEF";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xF];
  return s;
}

const EVP_CIPHER* cipher_for(EncMode mode, size_t key_len) {
  switch (mode) {
    case EncMode::kAesGcm:
      return key_len == 16   ? ssl::EVP_aes_128_gcm()
             : key_len == 24 ? ssl::EVP_aes_192_gcm()
                             : ssl::EVP_aes_256_gcm();
    case EncMode::kAesCbc:
      return key_len == 16   ? ssl::EVP_aes_128_cbc()
             : key_len == 24 ? ssl::EVP_aes_192_cbc()
                             : ssl::EVP_aes_256_cbc();
    case EncMode::kSm4Cbc:
      return ssl::EVP_sm4_cbc();
  }
  return nullptr;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { ssl::EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// Sets up `ctx` for one block: cipher, key, IV, and PKCS#7 padding for CBC. Returns false on an
// OpenSSL failure. GCM uses the first 12 of the 16 IV bytes (kGcmIvUsed, see crypto.h).
bool init_block(EVP_CIPHER_CTX* ctx, EncMode mode, std::span<const unsigned char> key,
                const unsigned char* iv, bool encrypt) {
  const EVP_CIPHER* cipher = cipher_for(mode, key.size());
  if (cipher == nullptr) return false;
  int enc = encrypt ? 1 : 0;
  if (ssl::EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, enc) != 1) return false;
  if (mode == EncMode::kAesGcm &&
      ssl::EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, int(kGcmIvUsed), nullptr) != 1) {
    return false;
  }
  if (ssl::EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), iv, enc) != 1) return false;
  if (mode != EncMode::kAesGcm && ssl::EVP_CIPHER_CTX_set_padding(ctx, 1) != 1) return false;
  return true;
}

[[noreturn]] void crypto_error(const std::string& file, uint64_t offset, const std::string& why) {
  throw Error(ErrorCode::kCrypto, why, ErrorContext{file, "", offset});
}

// One block of an encrypted file, located and validated but not yet decrypted.
struct BlockRef {
  uint64_t offset;       // of its magic
  const std::byte* tag;  // GCM only
  const std::byte* iv;
  const std::byte* cipher;
  size_t cipher_len;
};

// MindSpore 1.3's AES-GCM block: magic, block_len, iv_len = 16, iv, cipher_len, cipher, with no
// tag. Recognised when the fields after the magic agree with one another as 1.3 wrote them; in a
// tagged block those 8 bytes are the first half of a random tag, which matches by chance with
// probability below 2^-60 (and must then also meet the cipher length).
bool is_tagless_gcm_block(std::span<const std::byte> in) {
  if (in.size() < 4 + 4 + 4 + kIvLen + 4) return false;
  const uint32_t block_len = load_u32(in.data() + 4);
  const uint32_t iv_len = load_u32(in.data() + 8);
  const uint32_t cipher_len = load_u32(in.data() + 12 + kIvLen);
  return iv_len == kIvLen && cipher_len <= kMaxCipherLen &&
         size_t(block_len) == kBlockLenOverhead + cipher_len && block_len <= in.size() - 8;
}

// Walks the framing of every block, calling `on_block` for each; every length is checked against
// the bytes that are left before it is used. decrypt() walks twice (validate and size, then
// decrypt), so a bad file fails before any allocation that depends on its lengths and the walk
// itself keeps no per-block state.
void scan_blocks(std::span<const std::byte> in, EncMode mode, const std::string& file,
                 const std::function<void(const BlockRef&)>& on_block) {
  if (in.empty()) {
    crypto_error(file, 0,
                 "empty file: no encrypted block (MindSpore writes an empty file for an empty "
                 "plaintext; there is nothing to load)");
  }
  const std::string mode_name = to_string(mode);
  // MindSpore 1.3's AES-GCM blocks have no tag (crypto.h); the first block decides for the file.
  const bool gcm_without_tag = mode == EncMode::kAesGcm && is_tagless_gcm_block(in);
  size_t blocks = 0;
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t start = pos;
    const size_t left = in.size() - pos;
    // MindSpore's enc_key + crc_check writes this after the last block (see crypto.h).
    if (blocks > 0 && left == kCrcTrailerLen && std::memcmp(in.data() + pos, kCrcTag, 7) == 0) {
      break;
    }
    auto need = [&](size_t n, const char* what) {
      if (in.size() - pos < n) {
        crypto_error(file, pos,
                     std::string("truncated block (starting at ") + std::to_string(start) +
                         "): " + what + " needs " + std::to_string(n) + " bytes, " +
                         std::to_string(in.size() - pos) + " left");
      }
    };
    need(4, "the magic");
    const uint32_t magic = load_u32(in.data() + pos);
    if (magic != magic_of(mode)) {
      auto other = encrypted_mode(in.subspan(pos, 4));
      if (other) {
        crypto_error(file, pos,
                     std::string("block is encrypted with ") + to_string(*other) + ", but " +
                         mode_name + " was asked (wrong dec_mode)");
      }
      crypto_error(file, pos,
                   (blocks == 0 ? std::string("not an encrypted file") : "bad block magic") + ": " +
                       hex32(magic) + " where the " + mode_name + " magic " +
                       hex32(magic_of(mode)) + " belongs");
    }
    pos += 4;
    BlockRef b{start, nullptr, nullptr, nullptr, 0};
    if (mode == EncMode::kAesGcm && !gcm_without_tag) {
      need(kTagLen, "the GCM tag");
      b.tag = in.data() + pos;
      pos += kTagLen;
    }
    need(4, "the block length");
    const int32_t block_len = int32_t(load_u32(in.data() + pos));
    const size_t block_len_at = pos;
    pos += 4;
    if (block_len < int32_t(kBlockLenOverhead + 1) ||
        size_t(block_len) > kBlockLenOverhead + kMaxCipherLen) {
      crypto_error(file, block_len_at,
                   "block length " + std::to_string(block_len) + " outside [" +
                       std::to_string(kBlockLenOverhead + 1) + ", " +
                       std::to_string(kBlockLenOverhead + kMaxCipherLen) + "]");
    }
    if (size_t(block_len) > in.size() - pos) {
      crypto_error(file, block_len_at,
                   "truncated block (starting at " + std::to_string(start) + "): block length " +
                       std::to_string(block_len) + " but " + std::to_string(in.size() - pos) +
                       " bytes left");
    }
    const uint32_t iv_len = load_u32(in.data() + pos);
    if (iv_len != kIvLen) {
      crypto_error(file, pos, "IV length " + std::to_string(int32_t(iv_len)) + ", expected 16");
    }
    pos += 4;
    b.iv = in.data() + pos;
    pos += kIvLen;
    const int32_t cipher_len = int32_t(load_u32(in.data() + pos));
    if (cipher_len < 0 || size_t(cipher_len) + kBlockLenOverhead != size_t(block_len)) {
      crypto_error(file, pos,
                   "ciphertext length " + std::to_string(cipher_len) +
                       " disagrees with block length " + std::to_string(block_len) +
                       " (expected block length - 24)");
    }
    if (mode != EncMode::kAesGcm && cipher_len % kCbcBlock != 0) {
      crypto_error(
          file, pos,
          "CBC ciphertext length " + std::to_string(cipher_len) + " is not a multiple of 16");
    }
    pos += 4;
    b.cipher = in.data() + pos;
    b.cipher_len = size_t(cipher_len);
    pos += b.cipher_len;
    ++blocks;
    on_block(b);
  }
}

}  // namespace

EncMode parse_enc_mode(std::string_view s) {
  if (s == "AES-GCM") return EncMode::kAesGcm;
  if (s == "AES-CBC") return EncMode::kAesCbc;
  if (s == "SM4-CBC") return EncMode::kSm4Cbc;
  throw ValueError(ErrorCode::kInvalidArgument,
                   "unknown encryption mode '" + std::string(s) +
                       "' (MindSpore's modes are \"AES-GCM\", \"AES-CBC\" and \"SM4-CBC\")");
}

const char* to_string(EncMode mode) {
  switch (mode) {
    case EncMode::kAesGcm:
      return "AES-GCM";
    case EncMode::kAesCbc:
      return "AES-CBC";
    case EncMode::kSm4Cbc:
      return "SM4-CBC";
  }
  return "?";
}

void check_key(std::span<const std::byte> key, EncMode mode) {
  const size_t n = key.size();
  if (mode == EncMode::kSm4Cbc) {
    if (n != 16) {
      throw ValueError(ErrorCode::kInvalidArgument,
                       "SM4-CBC keys are 16 bytes, got " + std::to_string(n));
    }
    return;
  }
  if (n != 16 && n != 24 && n != 32) {
    throw ValueError(
        ErrorCode::kInvalidArgument,
        std::string(to_string(mode)) + " keys are 16, 24 or 32 bytes, got " + std::to_string(n));
  }
}

std::optional<EncMode> encrypted_mode(std::span<const std::byte> head) {
  if (head.size() < 4) return std::nullopt;
  switch (load_u32(head.data())) {
    case kGcmMagic:
      return EncMode::kAesGcm;
    case kCbcMagic:
      return EncMode::kAesCbc;
    case kSm4Magic:
      return EncMode::kSm4Cbc;
  }
  return std::nullopt;
}

bool is_encrypted(std::span<const std::byte> head) { return encrypted_mode(head).has_value(); }

std::optional<Cipher> make_cipher(std::string_view key, std::string_view mode) {
  if (key.empty()) return std::nullopt;
  Cipher c;
  c.mode = parse_enc_mode(mode);
  c.key.resize(key.size());
  std::memcpy(c.key.data(), key.data(), key.size());
  check_key(c.key, c.mode);
  return c;
}

std::shared_ptr<MappedFile> plaintext(std::shared_ptr<MappedFile> file,
                                      const std::optional<Cipher>& dec, const std::string& what,
                                      const std::string& tensor) {
  const std::span<const std::byte> bytes(file->data(), file->size());
  if (!is_encrypted(bytes)) return file;
  const std::string name = file->path().string();
  if (!dec)
    throw Error(ErrorCode::kCrypto, what + " is encrypted; pass dec_key and dec_mode",
                {.file = name, .tensor = tensor});
  return MappedFile::adopt(file->path(), decrypt(bytes, dec->key, dec->mode, name));
}

std::vector<std::byte> decrypt(std::span<const std::byte> file_bytes,
                               std::span<const std::byte> key, EncMode mode,
                               const std::string& file_for_errors) {
  check_key(key, mode);
  size_t total_cipher = 0;  // ≤ file size: cannot overflow
  scan_blocks(file_bytes, mode, file_for_errors,
              [&](const BlockRef& b) { total_cipher += b.cipher_len; });

  // EVP_DecryptUpdate in CBC mode may write up to one cipher block beyond what it reports (it
  // holds back the last block for the padding check), hence the 16 bytes of slack; the plaintext
  // is never longer than the ciphertext, so the buffer stays below the input's size.
  std::vector<std::byte> plain(total_cipher + kCbcBlock);
  size_t out = 0;
  CtxPtr ctx(ssl::EVP_CIPHER_CTX_new());
  if (!ctx) crypto_error(file_for_errors, 0, "OpenSSL: cannot allocate a cipher context");
  std::span<const unsigned char> key_u(reinterpret_cast<const unsigned char*>(key.data()),
                                       key.size());
  auto fail = [&](uint64_t offset, const std::string& why) {
    ssl::OPENSSL_cleanse(plain.data(), plain.size());  // no unauthenticated plaintext left behind
    crypto_error(file_for_errors, offset, why);
  };
  scan_blocks(file_bytes, mode, file_for_errors, [&](const BlockRef& b) {
    if (!init_block(ctx.get(), mode, key_u, reinterpret_cast<const unsigned char*>(b.iv), false)) {
      fail(b.offset, "OpenSSL: cannot initialise the cipher");
    }
    auto* dst = reinterpret_cast<unsigned char*>(plain.data() + out);
    int n = 0;
    if (ssl::EVP_DecryptUpdate(ctx.get(), dst, &n, reinterpret_cast<const unsigned char*>(b.cipher),
                               int(b.cipher_len)) != 1) {
      fail(b.offset, "OpenSSL: decryption failed");
    }
    if (mode == EncMode::kAesGcm && b.tag == nullptr) {
      // MindSpore 1.3's tagless block: nothing to authenticate, so no Final (it would check a
      // tag). Like CBC, a wrong key gives garbage for the caller's parser to refuse.
      out += size_t(n);
      return;
    }
    if (mode == EncMode::kAesGcm &&
        ssl::EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kTagLen),
                                 const_cast<std::byte*>(b.tag)) != 1) {
      fail(b.offset, "OpenSSL: cannot set the GCM tag");
    }
    int fin = 0;
    if (ssl::EVP_DecryptFinal_ex(ctx.get(), dst + n, &fin) != 1) {
      fail(b.offset, mode == EncMode::kAesGcm
                         ? "AES-GCM authentication failed: wrong key, wrong mode or modified bytes"
                         : std::string(to_string(mode)) +
                               " padding check failed: wrong key, wrong mode or modified bytes");
    }
    out += size_t(n) + size_t(fin);
  });
  plain.resize(out);
  return plain;
}

Encryptor::Encryptor(std::span<const std::byte> key, EncMode mode, Sink sink, size_t block_size)
    : mode_(mode), sink_(std::move(sink)), block_size_(block_size) {
  check_key(key, mode);
  if (block_size == 0 || block_size > kEncBlockSize) {
    throw ValueError(ErrorCode::kInvalidArgument, "encryption block size " +
                                                      std::to_string(block_size) + " outside [1, " +
                                                      std::to_string(kEncBlockSize) + "]");
  }
  key_.assign(reinterpret_cast<const unsigned char*>(key.data()),
              reinterpret_cast<const unsigned char*>(key.data()) + key.size());
  EVP_CIPHER_CTX* ctx = ssl::EVP_CIPHER_CTX_new();
  if (ctx == nullptr) {
    throw Error(ErrorCode::kCrypto, "OpenSSL: cannot allocate a cipher context");
  }
  ctx_ = ctx;
}

Encryptor::Encryptor(std::span<const std::byte> key, EncMode mode, ByteSink& out, size_t block_size)
    : Encryptor(key, mode, Sink([&out](std::span<const std::byte> b) { out.write(b); }),
                block_size) {}

Encryptor::~Encryptor() {
  ssl::EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_));
  if (!key_.empty()) ssl::OPENSSL_cleanse(key_.data(), key_.size());
}

void Encryptor::begin_block() {
  if (ssl::RAND_bytes(iv_, int(kIvLen)) != 1) {
    throw Error(ErrorCode::kCrypto, "OpenSSL: RAND_bytes failed to draw an IV");
  }
  if (!init_block(static_cast<EVP_CIPHER_CTX*>(ctx_), mode_, key_, iv_, true)) {
    throw Error(ErrorCode::kCrypto, "OpenSSL: cannot initialise the cipher");
  }
  cipher_len_ = 0;
  block_plain_ = 0;
  block_open_ = true;
}

void Encryptor::end_block() {
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  int fin = 0;
  if (ssl::EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(cipher_.data() + cipher_len_),
                               &fin) != 1) {
    throw Error(ErrorCode::kCrypto, "OpenSSL: encryption failed");
  }
  cipher_len_ += size_t(fin);
  assert(cipher_len_ <= cipher_.size());

  std::byte head[4 + kTagLen + 4 + 4 + kIvLen + 4];
  size_t h = 0;
  store_u32(head + h, magic_of(mode_));
  h += 4;
  if (mode_ == EncMode::kAesGcm) {
    if (ssl::EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kTagLen), head + h) != 1) {
      throw Error(ErrorCode::kCrypto, "OpenSSL: cannot read the GCM tag");
    }
    h += kTagLen;
  }
  store_u32(head + h, uint32_t(kBlockLenOverhead + cipher_len_));
  h += 4;
  store_u32(head + h, uint32_t(kIvLen));
  h += 4;
  std::memcpy(head + h, iv_, kIvLen);
  h += kIvLen;
  store_u32(head + h, uint32_t(cipher_len_));
  h += 4;
  block_open_ = false;
  sink_(std::span<const std::byte>(head, h));
  sink_(std::span<const std::byte>(cipher_.data(), cipher_len_));
}

void Encryptor::write(std::span<const std::byte> plain) {
  assert(!finished_ && "Encryptor::write after finish");
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  while (!plain.empty()) {
    if (!block_open_) begin_block();
    const size_t n = std::min(plain.size(), block_size_ - block_plain_);  // ≤ 64 MiB: fits int
    if (cipher_.size() < cipher_len_ + n + kCbcBlock) {
      // Grows to at most block_size + 16 once, so small files stay small.
      cipher_.resize(std::min(block_size_ + kCbcBlock,
                              std::max(cipher_.size() * 2, cipher_len_ + n + kCbcBlock)));
    }
    int outl = 0;
    if (ssl::EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(cipher_.data() + cipher_len_),
                               &outl, reinterpret_cast<const unsigned char*>(plain.data()),
                               int(n)) != 1) {
      throw Error(ErrorCode::kCrypto, "OpenSSL: encryption failed");
    }
    cipher_len_ += size_t(outl);
    block_plain_ += n;
    plain_total_ += n;
    plain = plain.subspan(n);
    if (block_plain_ == block_size_) end_block();
  }
}

void Encryptor::finish() {
  assert(!finished_ && "Encryptor::finish called twice");
  if (block_open_) end_block();
  finished_ = true;
}

void encrypt_to(std::span<const std::byte> plain, std::span<const std::byte> key, EncMode mode,
                ByteSink& out) {
  Encryptor enc(key, mode, out);
  enc.write(plain);
  enc.finish();
}

std::vector<std::byte> encrypt(std::span<const std::byte> plain, std::span<const std::byte> key,
                               EncMode mode, size_t block_size) {
  std::vector<std::byte> out;
  Encryptor enc(
      key, mode,
      [&out](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); },
      block_size);  // validates key and block_size first
  const size_t blocks = plain.size() / block_size + 1;
  out.reserve(plain.size() + blocks * (4 + kTagLen + 4 + 4 + kIvLen + 4 + kCbcBlock));
  enc.write(plain);
  enc.finish();
  return out;
}

}  // namespace cellar::formats
