// MindSpore's checkpoint encryption (src/formats/crypto.h): files MindSpore 2.10 encrypted
// (tests/fixtures/mindspore/2.10/enc/make_fixtures.py) decrypt to the exact bytes of its plain
// checkpoint; round trips in every mode and key length, across block boundaries; MindSpore loads
// what cellar encrypts (when CELLAR_MINDSPORE_PYTHON names a python with mindspore); and hostile
// files — wrong key, wrong mode, every flipped byte, every truncation, a table of hand-made corrupt
// files — fail with ErrorCode::kCrypto naming the file and the offset, never a crash, never
// accepted garbage (GCM).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cellar/error.h"
#include "expect_error.h"
#include "formats/atomic_file.h"
#include "formats/crypto.h"
#include "test_util.h"

using namespace cellar;
using namespace cellar::formats;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;
using Bytes = std::vector<std::byte>;

namespace {
using cellar::testing::expect_error;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/enc" / name;
}

Bytes bytes_of(std::string_view s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

// The keys make_fixtures.py uses (KEYS there).
Bytes key(size_t n) {
  switch (n) {
    case 16:
      return bytes_of("cellar-aes-key16");
    case 24:
      return bytes_of("cellar-aes-key-24-bytes!");
    case 32:
      return bytes_of("cellar-aes-key-32-bytes-long-ok!");
  }
  return Bytes(n, std::byte{7});
}

Bytes pattern(size_t n, uint32_t seed = 1) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; i += 4) {
    const uint32_t r = rng();
    std::memcpy(b.data() + i, &r, std::min<size_t>(4, n - i));
  }
  return b;
}

void put_u32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = std::byte((v >> (8 * i)) & 0xFF);
}
uint32_t get_u32(const Bytes& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(b[at + i]) << (8 * i);
  return v;
}

struct ModeKey {
  EncMode mode;
  size_t key_len;
  const char* fixture;
};
const ModeKey kFixtures[] = {
    {EncMode::kAesGcm, 16, "gcm16.ckpt"}, {EncMode::kAesGcm, 24, "gcm24.ckpt"},
    {EncMode::kAesGcm, 32, "gcm32.ckpt"}, {EncMode::kAesCbc, 16, "cbc16.ckpt"},
    {EncMode::kAesCbc, 24, "cbc24.ckpt"}, {EncMode::kAesCbc, 32, "cbc32.ckpt"},
    {EncMode::kSm4Cbc, 16, "sm4.ckpt"},
};

// Block header sizes: magic [tag] block_len iv_len iv cipher_len.
size_t header_len(EncMode m) { return m == EncMode::kAesGcm ? 48 : 32; }
size_t cipher_len_for(EncMode m, size_t plain) {
  return m == EncMode::kAesGcm ? plain : (plain / 16 + 1) * 16;
}

}  // namespace

// ---------------------------------------------------------------- modes, keys, detection

TEST(Crypto, ParsesMindSporeModeStrings) {
  EXPECT_EQ(parse_enc_mode("AES-GCM"), EncMode::kAesGcm);
  EXPECT_EQ(parse_enc_mode("AES-CBC"), EncMode::kAesCbc);
  EXPECT_EQ(parse_enc_mode("SM4-CBC"), EncMode::kSm4Cbc);
  for (EncMode m : {EncMode::kAesGcm, EncMode::kAesCbc, EncMode::kSm4Cbc}) {
    EXPECT_EQ(parse_enc_mode(to_string(m)), m);
  }
  for (const char* bad : {"", "aes-gcm", "AES-ECB", "SM4-GCM", "AES_GCM", "AES-GCM "}) {
    expect_error([&] { parse_enc_mode(bad); }, ErrorCode::kInvalidArgument);
  }
}

TEST(Crypto, KeyLengthsAreChecked) {
  for (size_t n : {16, 24, 32}) {
    EXPECT_NO_THROW(check_key(Bytes(n), EncMode::kAesGcm));
    EXPECT_NO_THROW(check_key(Bytes(n), EncMode::kAesCbc));
  }
  EXPECT_NO_THROW(check_key(Bytes(16), EncMode::kSm4Cbc));
  for (size_t n : {0, 1, 15, 17, 23, 31, 33, 64}) {
    auto e =
        expect_error([&] { check_key(Bytes(n), EncMode::kAesGcm); }, ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("16, 24 or 32"), std::string::npos) << e.what();
  }
  for (size_t n : {24, 32, 8}) {
    expect_error([&] { check_key(Bytes(n), EncMode::kSm4Cbc); }, ErrorCode::kInvalidArgument);
  }
  // Every entry point checks, before touching the data.
  Bytes file = read_bytes(fixture("gcm16.ckpt"));
  expect_error([&] { decrypt(file, Bytes(20), EncMode::kAesGcm, "f"); },
               ErrorCode::kInvalidArgument);
  expect_error([&] { encrypt(file, Bytes(20), EncMode::kAesCbc); }, ErrorCode::kInvalidArgument);
  expect_error(
      [&] {
        Encryptor(
            Bytes(16), EncMode::kAesGcm, [](auto) {}, 0);
      },
      ErrorCode::kInvalidArgument);
  expect_error(
      [&] {
        Encryptor(
            Bytes(16), EncMode::kAesGcm, [](auto) {}, kEncBlockSize + 1);
      },
      ErrorCode::kInvalidArgument);
}

TEST(Crypto, DetectsEncryptedFilesByMagic) {
  for (const auto& f : kFixtures) {
    Bytes b = read_bytes(fixture(f.fixture));
    EXPECT_TRUE(is_encrypted(b)) << f.fixture;
    EXPECT_EQ(encrypted_mode(b), f.mode) << f.fixture;
    EXPECT_TRUE(is_encrypted(std::span(b).first(4)));
  }
  Bytes plain = read_bytes(fixture("plain.ckpt"));
  EXPECT_FALSE(is_encrypted(plain));
  EXPECT_FALSE(is_encrypted({}));
  Bytes gcm = read_bytes(fixture("gcm16.ckpt"));
  EXPECT_FALSE(is_encrypted(std::span(gcm).first(3)));  // too short to tell
}

// ---------------------------------------------------------------- MindSpore's own files

TEST(Crypto, DecryptsMindSporeFilesToItsPlainCheckpoint) {
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  ASSERT_GT(plain.size(), 100u);
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.fixture);
    const Bytes file = read_bytes(fixture(f.fixture));
    // One block, laid out as crypto.h says.
    ASSERT_EQ(file.size(), header_len(f.mode) + cipher_len_for(f.mode, plain.size()));
    const size_t bl = f.mode == EncMode::kAesGcm ? 20 : 4;
    EXPECT_EQ(get_u32(file, bl), 24 + cipher_len_for(f.mode, plain.size()));
    EXPECT_EQ(get_u32(file, bl + 4), 16u);
    EXPECT_EQ(get_u32(file, bl + 24), cipher_len_for(f.mode, plain.size()));
    EXPECT_EQ(decrypt(file, key(f.key_len), f.mode, f.fixture), plain);
  }
}

TEST(Crypto, DropsTheCrcTrailerMindSporeAppendsAfterTheCiphertext) {
  // save_checkpoint(enc_key=..., crc_check=True): ciphertext + "crc_num" + 10 zero bytes (a CRC
  // MindSpore never computed); MindSpore's own loader refuses these files, cellar reads them.
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  for (auto [name, mode] : {std::pair{"gcm16_crc.ckpt", EncMode::kAesGcm},
                            std::pair{"cbc16_crc.ckpt", EncMode::kAesCbc}}) {
    const Bytes file = read_bytes(fixture(name));
    ASSERT_EQ(std::memcmp(file.data() + file.size() - 17, "crc_num", 7), 0);
    EXPECT_EQ(decrypt(file, key(16), mode, name), plain) << name;
    // Only exactly that trailer, only after a block.
    Bytes longer = file;
    longer.push_back(std::byte{0});
    expect_error([&, m = mode, n = name] { decrypt(longer, key(16), m, n); }, ErrorCode::kCrypto);
  }
}

// ---------------------------------------------------------------- round trips

TEST(Crypto, RoundTripsEveryModeAndKeyLength) {
  for (const auto& f : kFixtures) {
    for (size_t n : {1, 15, 16, 17, 31, 32, 33, 1000, 4096}) {
      SCOPED_TRACE(std::string(to_string(f.mode)) + " key " + std::to_string(f.key_len) + " size " +
                   std::to_string(n));
      const Bytes plain = pattern(n, uint32_t(n));
      const Bytes k = pattern(f.key_len, 99);
      const Bytes enc = encrypt(plain, k, f.mode);
      EXPECT_EQ(enc.size(), header_len(f.mode) + cipher_len_for(f.mode, n));
      EXPECT_EQ(encrypted_mode(enc), f.mode);
      EXPECT_EQ(decrypt(enc, k, f.mode, "rt"), plain);
      // A fresh random IV each time: same plaintext, different ciphertext.
      EXPECT_NE(encrypt(plain, k, f.mode), enc);
    }
  }
}

TEST(Crypto, EmptyPlaintextIsAnEmptyFileAsInMindSpore) {
  EXPECT_TRUE(encrypt({}, key(16), EncMode::kAesGcm).empty());
  auto e = expect_error([&] { decrypt({}, key(16), EncMode::kAesGcm, "empty.ckpt"); },
                        ErrorCode::kCrypto);
  EXPECT_EQ(e.file(), "empty.ckpt");
}

TEST(Crypto, SmallBlocksSplitAndJoinInOrder) {
  for (EncMode m : {EncMode::kAesGcm, EncMode::kAesCbc, EncMode::kSm4Cbc}) {
    for (size_t block : {1, 16, 100}) {
      const Bytes plain = pattern(1000, 5);
      const Bytes enc = encrypt(plain, key(16), m, block);
      const size_t blocks = (plain.size() + block - 1) / block;
      const size_t last = plain.size() - (blocks - 1) * block;
      EXPECT_EQ(enc.size(), blocks * header_len(m) + (blocks - 1) * cipher_len_for(m, block) +
                                cipher_len_for(m, last));
      EXPECT_EQ(decrypt(enc, key(16), m, "small"), plain);
    }
  }
}

TEST(Crypto, StreamingWritesOfAnySizeGiveTheSameBlocks) {
  const Bytes plain = pattern(5000, 11);
  for (EncMode m : {EncMode::kAesGcm, EncMode::kSm4Cbc}) {
    for (size_t chunk : {1, 7, 64, 999, 5000}) {
      Bytes out;
      size_t sink_calls = 0;
      Encryptor enc(
          key(16), m,
          [&](std::span<const std::byte> b) {
            ++sink_calls;
            out.insert(out.end(), b.begin(), b.end());
          },
          /*block_size=*/1024);
      for (size_t i = 0; i < plain.size(); i += chunk) {
        enc.write(std::span(plain).subspan(i, std::min(chunk, plain.size() - i)));
      }
      EXPECT_EQ(enc.plain_bytes(), plain.size());
      EXPECT_EQ(sink_calls, 8u);  // 4 full blocks emitted while writing, then the last
      enc.finish();
      EXPECT_EQ(sink_calls, 10u);
      EXPECT_EQ(out.size(),
                5 * header_len(m) + 4 * cipher_len_for(m, 1024) + cipher_len_for(m, 5000 - 4096));
      EXPECT_EQ(decrypt(out, key(16), m, "stream"), plain);
    }
  }
}

TEST(Crypto, EncryptsIntoAnAtomicFile) {
  TempDir dir;
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  {
    AtomicFile out(dir / "x.ckpt");
    encrypt_to(plain, key(32), EncMode::kAesGcm, out);
    out.commit();
  }
  EXPECT_EQ(decrypt(read_bytes(dir / "x.ckpt"), key(32), EncMode::kAesGcm, "x"), plain);
}

TEST(Crypto, CrossesThe64MiBBlockBoundary) {
  // MindSpore's block size: two blocks, the first holding exactly 64 MiB of plaintext.
  const Bytes plain = pattern(kEncBlockSize + 100, 3);
  const Bytes enc = encrypt(plain, key(24), EncMode::kAesGcm);
  ASSERT_EQ(enc.size(), plain.size() + 2 * 48);
  EXPECT_EQ(get_u32(enc, 44), kEncBlockSize);  // first cipher_len
  const size_t second = 48 + kEncBlockSize;
  EXPECT_EQ(get_u32(enc, second), 0x7F3A5ED8u);  // second magic
  EXPECT_EQ(get_u32(enc, second + 44), 100u);    // second cipher_len
  EXPECT_EQ(decrypt(enc, key(24), EncMode::kAesGcm, "big"), plain);
}

// ---------------------------------------------------------------- MindSpore loads ours

namespace {
// A Python with MindSpore, named by CELLAR_MINDSPORE_PYTHON. MindSpore is a heavy peer: the
// default suite checks against the fixtures it wrote; these live checks run only when asked.
std::string ms_python() {
  const char* p = std::getenv("CELLAR_MINDSPORE_PYTHON");
  return p ? p : "";
}

// A .ckpt with one Float32 tensor of `n` elements, written by hand on the protobuf wire format
// (see src/formats/ckpt.h): record 0x0A len { 0x0A len tag, 0x12 len { 0x08 dim, 0x12 len type,
// 0x1A len content } }.
Bytes one_tensor_ckpt(const std::string& name, uint64_t n) {
  auto varint = [](Bytes& b, uint64_t v) {
    while (v >= 0x80) {
      b.push_back(std::byte((v & 0x7F) | 0x80));
      v >>= 7;
    }
    b.push_back(std::byte(v));
  };
  auto field = [&](Bytes& b, uint8_t key, const Bytes& body) {
    b.push_back(std::byte(key));
    varint(b, body.size());
    b.insert(b.end(), body.begin(), body.end());
  };
  Bytes content(n * 4);
  for (uint64_t i = 0; i < n; ++i) {
    float f = float(i % 1000) * 0.5f;
    std::memcpy(content.data() + 4 * i, &f, 4);
  }
  Bytes tensor;
  tensor.push_back(std::byte{0x08});
  varint(tensor, n);
  field(tensor, 0x12, bytes_of("Float32"));
  field(tensor, 0x1A, content);
  Bytes value;
  field(value, 0x0A, bytes_of(name));
  field(value, 0x12, tensor);
  Bytes file;
  field(file, 0x0A, value);
  return file;
}

// make_fixtures.py --verify PLAIN FILE MODE KEYLEN ...: MindSpore's load_checkpoint must read
// every FILE to the parameters of PLAIN.
int mindspore_verify(const std::filesystem::path& plain,
                     const std::vector<std::tuple<std::filesystem::path, EncMode, size_t>>& files,
                     const std::filesystem::path& log) {
  std::string cmd =
      ms_python() + " " + fixture("make_fixtures.py").string() + " --verify " + plain.string();
  for (const auto& [p, m, k] : files) {
    cmd += " " + p.string() + " " + to_string(m) + " " + std::to_string(k);
  }
  cmd += " >" + log.string() + " 2>&1";
  return std::system(cmd.c_str());
}

}  // namespace

TEST(Crypto, MindSporeLoadsWhatCellarEncrypts) {
  if (ms_python().empty() || !std::filesystem::exists(ms_python()))
    GTEST_SKIP()
        << "LIVE MINDSPORE CHECK NOT RUN: set CELLAR_MINDSPORE_PYTHON to a python with "
           "mindspore (the fixtures in tests/fixtures/mindspore/2.10/enc are checked regardless)";
  TempDir dir;
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  std::vector<std::tuple<std::filesystem::path, EncMode, size_t>> files;
  for (const auto& f : kFixtures) {
    auto p = dir / (std::string("cellar_") + f.fixture);
    write_bytes(p, encrypt(plain, key(f.key_len), f.mode));
    files.emplace_back(p, f.mode, f.key_len);
  }
  // Blocks smaller than 64 MiB are read too (MindSpore loops over blocks of any size).
  auto small = dir / "cellar_small_blocks.ckpt";
  write_bytes(small, encrypt(plain, key(16), EncMode::kAesCbc, 50));
  files.emplace_back(small, EncMode::kAesCbc, 16);
  const auto log = dir / "log.txt";
  EXPECT_EQ(mindspore_verify(fixture("plain.ckpt"), files, log), 0)
      << cellar::testing::read_text(log);

  // crc_check with encryption the way MindSpore can load it: the CRC trailer inside the
  // plaintext. MindSpore decrypts, finds "crc_num", verifies (crc_check=True) and strips it.
  const auto crc_plain =
      std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/ckpt/crc.ckpt";
  auto crc_enc = dir / "cellar_crc_inside.ckpt";
  write_bytes(crc_enc, encrypt(read_bytes(crc_plain), key(32), EncMode::kAesGcm));
  EXPECT_EQ(mindspore_verify(crc_plain, {{crc_enc, EncMode::kAesGcm, 32}}, log), 0)
      << cellar::testing::read_text(log);
  // And a flipped byte inside the encrypted CRC trailer is caught by the tag already.
  Bytes tampered = read_bytes(crc_enc);
  tampered.back() ^= std::byte{1};
  expect_error([&] { decrypt(tampered, key(32), EncMode::kAesGcm, "t"); }, ErrorCode::kCrypto);
}

TEST(Crypto, MindSporeLoadsCellarFilesOfTwo64MiBBlocks) {
  if (ms_python().empty() || !std::filesystem::exists(ms_python()))
    GTEST_SKIP()
        << "LIVE MINDSPORE CHECK NOT RUN: set CELLAR_MINDSPORE_PYTHON to a python with "
           "mindspore (the fixtures in tests/fixtures/mindspore/2.10/enc are checked regardless)";
  TempDir dir;
  // 16 Mi + 25 floats: 64 MiB + 100 bytes of content, so the plaintext spans two blocks.
  const Bytes plain = one_tensor_ckpt("big.weight", (kEncBlockSize + 100) / 4);
  ASSERT_GT(plain.size(), kEncBlockSize);
  write_bytes(dir / "plain.ckpt", plain);
  std::vector<std::tuple<std::filesystem::path, EncMode, size_t>> files;
  for (auto [m, k] :
       {std::pair{EncMode::kAesGcm, size_t{32}}, std::pair{EncMode::kAesCbc, size_t{24}},
        std::pair{EncMode::kSm4Cbc, size_t{16}}}) {
    auto path = dir / (std::string("enc_") + to_string(m) + ".ckpt");
    AtomicFile out(path);
    Encryptor enc(key(k), m, out);
    for (size_t i = 0; i < plain.size(); i += 10'000'000) {  // streamed in 10 MB pieces
      enc.write(std::span(plain).subspan(i, std::min<size_t>(10'000'000, plain.size() - i)));
    }
    enc.finish();
    out.commit();
    const Bytes file = read_bytes(path);
    EXPECT_EQ(
        encrypted_mode(std::span(file).subspan(header_len(m) + cipher_len_for(m, kEncBlockSize))),
        m);  // a second block right after the first full one
    files.emplace_back(path, m, k);
  }
  const auto log = dir / "log.txt";
  EXPECT_EQ(mindspore_verify(dir / "plain.ckpt", files, log), 0) << cellar::testing::read_text(log);
}

// ---------------------------------------------------------------- hostile input

TEST(Crypto, WrongKeyFailsGcmAlwaysAndCbcAlmostAlways) {
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.fixture);
    const Bytes file = read_bytes(fixture(f.fixture));
    int refused = 0;
    const int kTries = 64;
    for (int i = 0; i < kTries; ++i) {
      Bytes wrong = key(f.key_len);
      wrong[size_t(i) % wrong.size()] ^= std::byte(1 + i);
      try {
        Bytes got = decrypt(file, wrong, f.mode, f.fixture);
        // CBC without authentication: valid padding by chance (about 1 in 256). The bytes are
        // garbage, and the checkpoint parser above this layer must refuse them.
        EXPECT_NE(f.mode, EncMode::kAesGcm) << "GCM accepted a wrong key";
        EXPECT_NE(got, plain);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kCrypto);
        EXPECT_EQ(e.file(), f.fixture);
        EXPECT_EQ(e.offset(), 0u);
        ++refused;
      }
    }
    if (f.mode == EncMode::kAesGcm)
      EXPECT_EQ(refused, kTries);
    else
      EXPECT_GE(refused, kTries - 4);
  }
}

TEST(Crypto, WrongModeIsNamed) {
  for (const auto& f : kFixtures) {
    const Bytes file = read_bytes(fixture(f.fixture));
    for (EncMode m : {EncMode::kAesGcm, EncMode::kAesCbc, EncMode::kSm4Cbc}) {
      if (m == f.mode) continue;
      auto e = expect_error([&] { decrypt(file, key(16), m, f.fixture); }, ErrorCode::kCrypto);
      EXPECT_EQ(e.offset(), 0u);
      EXPECT_NE(std::string(e.what()).find("wrong dec_mode"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(to_string(f.mode)), std::string::npos) << e.what();
    }
  }
}

TEST(Crypto, EveryFlippedByteOfAGcmFileIsRefused) {
  // Magic, tag, lengths, IV, ciphertext: GCM authenticates all that matters and the framing
  // checks catch the rest. One block from MindSpore, and a three-block file of ours.
  const Bytes ours = encrypt(pattern(300, 8), key(32), EncMode::kAesGcm, 128);
  for (const auto& [file, k] :
       {std::pair{read_bytes(fixture("gcm16.ckpt")), key(16)}, std::pair{ours, key(32)}}) {
    const Bytes plain = decrypt(file, k, EncMode::kAesGcm, "flip.ckpt");
    size_t unused_iv_bytes = 0;
    for (size_t i = 0; i < file.size(); ++i) {
      for (uint8_t bit : {0x01, 0x80}) {
        Bytes bad = file;
        bad[i] ^= std::byte(bit);
        try {
          Bytes got = decrypt(bad, k, EncMode::kAesGcm, "flip.ckpt");
          // Only IV bytes 12..15 of a block, which GCM never uses (crypto.h): same plaintext.
          ASSERT_EQ(got, plain) << "flip at " << i << " accepted with different bytes";
          ++unused_iv_bytes;
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), ErrorCode::kCrypto) << e.what();
          ASSERT_EQ(e.file(), "flip.ckpt");
          ASSERT_TRUE(e.offset().has_value());
          ASSERT_LT(*e.offset(), file.size()) << e.what();
        }
      }
    }
    const size_t blocks = (plain.size() + 127) / 128;  // ours: 128-byte blocks; MindSpore's: 1
    EXPECT_EQ(unused_iv_bytes, 2 * 4 * (file.size() == ours.size() ? blocks : 1));
  }
}

// MindSpore 1.3's AES-GCM layout: every block without its 16-byte tag (crypto.h). Made here from
// a tagged file by cutting the tags out, which is exactly 1.3's layout of the same ciphertext.
Bytes without_tags(const Bytes& tagged) {
  Bytes out;
  size_t pos = 0;
  while (pos < tagged.size()) {
    const uint32_t block_len = get_u32(tagged, pos + 4 + 16);
    out.insert(out.end(), tagged.begin() + pos, tagged.begin() + pos + 4);  // magic
    out.insert(out.end(), tagged.begin() + pos + 20, tagged.begin() + pos + 24 + block_len);
    pos += 24 + block_len;
  }
  return out;
}

TEST(Crypto, MindSpore13GcmBlocksWithoutTagDecrypt) {
  const Bytes plain = pattern(1000, 9);
  for (size_t block : {100, 1000}) {
    const Bytes tagged = encrypt(plain, key(24), EncMode::kAesGcm, block);
    const Bytes tagless = without_tags(tagged);
    ASSERT_EQ(tagless.size() + 16 * ((plain.size() + block - 1) / block), tagged.size());
    EXPECT_EQ(decrypt(tagless, key(24), EncMode::kAesGcm, "v13.ckpt"), plain) << block;
    // Every truncation still fails in the framing checks, naming the file.
    for (size_t cut = 0; cut < tagless.size(); cut += 37) {
      const Error e = expect_error(
          [&] {
            (void)decrypt(std::span(tagless).first(cut), key(24), EncMode::kAesGcm, "v13.ckpt");
          },
          ErrorCode::kCrypto);
      EXPECT_EQ(e.file(), "v13.ckpt");
    }
  }
  // MindSpore's own file, its tag cut out: the same plaintext as the tagged one.
  const Bytes ms = read_bytes(fixture("gcm16.ckpt"));
  EXPECT_EQ(decrypt(without_tags(ms), key(16), EncMode::kAesGcm, "v13.ckpt"),
            decrypt(ms, key(16), EncMode::kAesGcm, "gcm16.ckpt"));
  // Unauthenticated, as CBC is: a wrong key decrypts to garbage rather than failing here; the
  // checkpoint parser refuses it (test_ckpt_encrypted_corrupt).
  const Bytes right = key(16);
  const Bytes wrong(right.rbegin(), right.rend());
  EXPECT_NE(decrypt(without_tags(ms), wrong, EncMode::kAesGcm, "v13.ckpt"),
            decrypt(ms, key(16), EncMode::kAesGcm, "gcm16.ckpt"));
}

TEST(Crypto, CbcCatchesFramingAndPaddingFlipsButNotAllCiphertextFlips) {
  for (const auto& [name, mode] :
       {std::pair{"cbc16.ckpt", EncMode::kAesCbc}, std::pair{"sm4.ckpt", EncMode::kSm4Cbc}}) {
    SCOPED_TRACE(name);
    const Bytes file = read_bytes(fixture(name));
    const Bytes plain = read_bytes(fixture("plain.ckpt"));
    // Every byte of magic and lengths.
    for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 28, 29, 30, 31}) {
      Bytes bad = file;
      bad[i] ^= std::byte{0x01};
      expect_error([&, m = mode, n = name] { decrypt(bad, key(16), m, n); }, ErrorCode::kCrypto);
    }
    // The last padding byte, through the previous ciphertext block: PKCS#7 fails.
    Bytes bad = file;
    bad[file.size() - 17] ^= std::byte{0x01};
    expect_error([&, m = mode, n = name] { decrypt(bad, key(16), m, n); }, ErrorCode::kCrypto);
    // What CBC cannot see (crypto.h): a flipped IV byte changes the first plaintext block only.
    bad = file;
    bad[12] ^= std::byte{0x01};
    Bytes got = decrypt(bad, key(16), mode, name);
    ASSERT_EQ(got.size(), plain.size());
    EXPECT_NE(got, plain);
    EXPECT_EQ(got[0], plain[0] ^ std::byte{0x01});
  }
}

TEST(Crypto, EveryTruncationIsRefused) {
  for (const char* name : {"gcm16.ckpt", "cbc16.ckpt", "sm4.ckpt", "gcm16_crc.ckpt"}) {
    const Bytes file = read_bytes(fixture(name));
    const EncMode mode = *encrypted_mode(file);
    const size_t one_block = header_len(mode) + cipher_len_for(mode, 252);
    for (size_t n = 0; n < file.size(); ++n) {
      if (n == one_block) continue;  // gcm16_crc.ckpt without its trailer: a whole valid file
      const Bytes cut(file.begin(), file.begin() + n);
      auto e = expect_error([&] { decrypt(cut, key(16), mode, name); }, ErrorCode::kCrypto);
      EXPECT_EQ(e.file(), name);
      ASSERT_TRUE(e.offset().has_value());
      EXPECT_LE(*e.offset(), n);
    }
  }
  // Truncating a three-block file anywhere.
  const Bytes three = encrypt(pattern(300, 9), key(16), EncMode::kAesCbc, 128);
  for (size_t n = 1; n < three.size(); ++n) {
    const Bytes cut(three.begin(), three.begin() + n);
    bool whole_blocks = n == 32 + 144 || n == 2 * (32 + 144);
    if (whole_blocks) {
      EXPECT_EQ(decrypt(cut, key(16), EncMode::kAesCbc, "t").size(), n / (32 + 144) * 128);
    } else {
      expect_error([&] { decrypt(cut, key(16), EncMode::kAesCbc, "t"); }, ErrorCode::kCrypto);
    }
  }
}

// A table of hand-made corrupt encrypted files, each with the offset the error must name and a
// phrase of its reason. Built from a valid one-block file (GCM: magic 0, tag 4, block_len 20,
// iv_len 24, iv 28, cipher_len 44, cipher 48; CBC: magic 0, block_len 4, iv_len 8, iv 12,
// cipher_len 28, cipher 32).
TEST(Crypto, CorruptFileTable) {
  const Bytes plain = pattern(40, 21);
  const Bytes gcm = encrypt(plain, key(16), EncMode::kAesGcm);  // 48 + 40 = 88 bytes
  const Bytes cbc = encrypt(plain, key(16), EncMode::kAesCbc);  // 32 + 48 = 80 bytes
  ASSERT_EQ(gcm.size(), 88u);
  ASSERT_EQ(cbc.size(), 80u);
  auto with = [](Bytes b, const std::function<void(Bytes&)>& edit) {
    edit(b);
    return b;
  };
  auto cat = [](Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  Bytes crc = bytes_of("crc_num");
  crc.resize(17);

  struct Case {
    const char* name;
    Bytes file;
    EncMode mode;
    uint64_t offset;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"empty file", {}, EncMode::kAesGcm, 0, "empty file"},
      {"three bytes", Bytes(gcm.begin(), gcm.begin() + 3), EncMode::kAesGcm, 0, "the magic"},
      {"plain checkpoint", read_bytes(fixture("plain.ckpt")), EncMode::kAesGcm, 0,
       "not an encrypted file"},
      {"GCM file, CBC asked", gcm, EncMode::kAesCbc, 0, "wrong dec_mode"},
      {"SM4 magic, GCM asked", with(gcm, [](Bytes& b) { put_u32(b, 0, 0x7F3A5EDA); }),
       EncMode::kAesGcm, 0, "wrong dec_mode"},
      {"tag cut short", Bytes(gcm.begin(), gcm.begin() + 14), EncMode::kAesGcm, 4, "GCM tag"},
      {"block length cut short", Bytes(gcm.begin(), gcm.begin() + 22), EncMode::kAesGcm, 20,
       "block length"},
      {"block length -1", with(gcm, [](Bytes& b) { put_u32(b, 20, 0xFFFFFFFF); }), EncMode::kAesGcm,
       20, "outside"},
      {"block length 0", with(gcm, [](Bytes& b) { put_u32(b, 20, 0); }), EncMode::kAesGcm, 20,
       "outside"},
      {"block length INT32_MAX", with(gcm, [](Bytes& b) { put_u32(b, 20, 0x7FFFFFFF); }),
       EncMode::kAesGcm, 20, "outside"},
      {"block length one over the 64 MiB cap (no allocation)",
       with(cbc, [](Bytes& b) { put_u32(b, 4, 24 + (64u << 20) + 16 + 1); }), EncMode::kAesCbc, 4,
       "outside"},
      {"block length past the end", with(gcm, [](Bytes& b) { put_u32(b, 20, 24 + 41); }),
       EncMode::kAesGcm, 20, "bytes left"},
      {"ciphertext cut short", Bytes(cbc.begin(), cbc.end() - 1), EncMode::kAesCbc, 4,
       "bytes left"},
      {"IV length 12", with(gcm, [](Bytes& b) { put_u32(b, 24, 12); }), EncMode::kAesGcm, 24,
       "IV length"},
      {"IV length -16", with(cbc, [](Bytes& b) { put_u32(b, 8, uint32_t(-16)); }), EncMode::kAesCbc,
       8, "IV length"},
      {"cipher length disagrees", with(gcm, [](Bytes& b) { put_u32(b, 44, 39); }), EncMode::kAesGcm,
       44, "disagrees"},
      {"cipher length negative", with(gcm, [](Bytes& b) { put_u32(b, 44, 0x80000000); }),
       EncMode::kAesGcm, 44, "disagrees"},
      {"CBC cipher length not a multiple of 16",
       with(Bytes(cbc.begin(), cbc.end() - 1),
            [](Bytes& b) {
              put_u32(b, 4, 24 + 47);
              put_u32(b, 28, 47);
            }),
       EncMode::kAesCbc, 28, "multiple of 16"},
      {"zeroed GCM tag",
       with(gcm, [](Bytes& b) { std::fill(b.begin() + 4, b.begin() + 20, std::byte{0}); }),
       EncMode::kAesGcm, 0, "authentication failed"},
      {"swapped IV halves (CBC, last block)",
       with(cbc,
            [](Bytes& b) { std::swap_ranges(b.begin() + 32, b.begin() + 48, b.begin() + 64); }),
       EncMode::kAesCbc, 0, "padding"},
      {"garbage second block", cat(gcm, Bytes(60, std::byte{0x5A})), EncMode::kAesGcm, 88,
       "bad block magic"},
      {"second block of another mode", cat(gcm, cbc), EncMode::kAesGcm, 88, "wrong dec_mode"},
      {"three stray bytes after a block", cat(gcm, Bytes(3, std::byte{0})), EncMode::kAesGcm, 88,
       "the magic"},
      {"crc trailer alone", crc, EncMode::kAesGcm, 0, "not an encrypted file"},
      {"crc trailer one byte short", cat(gcm, Bytes(crc.begin(), crc.end() - 1)), EncMode::kAesGcm,
       88, "bad block magic"},
      {"two crc trailers", cat(cat(gcm, crc), crc), EncMode::kAesGcm, 88, "bad block magic"},
      {"blocks reordered",
       with(encrypt(pattern(40, 22), key(16), EncMode::kAesGcm, 20),
            [](Bytes& b) { std::rotate(b.begin(), b.begin() + 68, b.end()); }),
       EncMode::kAesGcm, 0, ""},  // each block authenticates alone: order is the parser's business
  };
  ASSERT_GE(cases.size(), 12u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    if (std::string(c.name) == "blocks reordered") {
      // GCM blocks are independent: reordered blocks decrypt (to reordered plaintext). The
      // checkpoint parser sees a broken record sequence; this documents the limit.
      Bytes got = decrypt(c.file, key(16), c.mode, "corrupt.ckpt");
      EXPECT_NE(got, pattern(40, 22));
      continue;
    }
    auto e =
        expect_error([&] { decrypt(c.file, key(16), c.mode, "corrupt.ckpt"); }, ErrorCode::kCrypto);
    EXPECT_EQ(e.file(), "corrupt.ckpt");
    EXPECT_EQ(e.offset(), c.offset) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.reason), std::string::npos) << e.what();
  }
}

TEST(Crypto, RandomGarbageNeverCrashes) {
  // A seeded stream of mutations over a valid two-block file: any outcome but a crash or a
  // non-kCrypto error is a failure; GCM may never return bytes for a changed file.
  std::mt19937 rng(1234);
  for (EncMode m : {EncMode::kAesGcm, EncMode::kAesCbc}) {
    const Bytes plain = pattern(200, 4);
    const Bytes good = encrypt(plain, key(16), m, 120);
    for (int iter = 0; iter < 3000; ++iter) {
      Bytes bad = good;
      const int edits = 1 + int(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        switch (rng() % 4) {
          case 0:
            bad[rng() % bad.size()] = std::byte(rng());
            break;
          case 1:
            bad.resize(rng() % bad.size());
            break;
          case 2:
            put_u32(bad, (rng() % (bad.size() / 4)) * 4, uint32_t(rng()));
            break;
          case 3:
            bad.insert(bad.begin() + long(rng() % bad.size()), std::byte(rng()));
            break;
        }
        if (bad.size() < 8) break;
      }
      if (bad == good) continue;
      try {
        Bytes got = decrypt(bad, key(16), m, "fuzz");
        EXPECT_LE(got.size(), bad.size());
        if (m == EncMode::kAesGcm) {
          // GCM returns bytes for a changed file only when the change touched unused IV bytes
          // (the same plaintext) or cut the file after a whole block (a prefix of it: the
          // framing has no block count; crypto.h).
          const bool prefix = got.size() % 120 == 0 && got.size() < plain.size() &&
                              std::equal(got.begin(), got.end(), plain.begin());
          EXPECT_TRUE(got == plain || prefix) << "GCM accepted garbage at iteration " << iter;
        }
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), ErrorCode::kCrypto) << e.what();
      }
    }
  }
}
