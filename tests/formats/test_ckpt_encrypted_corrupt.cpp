// Hostile *encrypted* .ckpt files through the public loader (load_checkpoint with dec_key /
// dec_mode): a table of hand-made corruptions of files MindSpore 2.10 encrypted
// (tests/fixtures/mindspore/2.10/enc: fixed bytes, so every case is deterministic) and of files
// cellar encrypted, in each mode. Each case names the Error code it must raise, checks that the
// message names the file, and where meaningful the byte offset and the tensor.
//
// Block layout (src/formats/crypto.h): GCM magic 0, tag 4, block_len 20, iv_len 24, iv 28,
// cipher_len 44, cipher 48; CBC and SM4-CBC magic 0, block_len 4, iv_len 8, iv 12, cipher_len
// 28, cipher 32.
//
// The limit this table documents: CBC has no authentication. A flipped ciphertext byte garbles
// one 16-byte plaintext block and flips one byte of the next; where those bytes are record
// headers the .ckpt parser refuses them, where they are tensor content the load returns changed
// values — unless crc_check is asked and the file carries a crc_num trailer (case "CBC flip in
// content, crc_check"). Only AES-GCM turns every flipped byte into an error by itself.
#include <cellar/cellar.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "corrupt_cases.h"
#include "formats/crypto.h"
#include "test_util.h"

namespace {

using Bytes = std::vector<std::byte>;
using cellar::ErrorCode;
using cellar::testing::read_bytes;
using cellar::testing::TempDir;
using cellar::testing::write_bytes;

// LoadOptions::dec_key/dec_mode and SaveOptions::enc_key/enc_mode are arriving in the public
// checkpoint API in a parallel change; until they are in this tree the tests skip (loudly), and
// they run as soon as the fields exist. Templates keep the field accesses dependent.
template <class O>
constexpr bool kHasDecKey = requires(O o) {
  o.dec_key;
};
template <class O>
void set_dec(O& o, const std::string& key, const std::string& mode) {
  if constexpr (requires { o.dec_key; }) {
    o.dec_key = key;
    o.dec_mode = mode;
  }
}
template <class O>
void set_enc(O& o, const std::string& key, const std::string& mode) {
  if constexpr (requires { o.enc_key; }) {
    o.enc_key = key;
    o.enc_mode = mode;
  }
}
#define SKIP_WITHOUT_DEC_KEY()                                                                 \
  if (!kHasDecKey<cellar::LoadOptions>)                                                        \
  GTEST_SKIP() << "SKIPPED LOUDLY: this tree's LoadOptions has no dec_key yet (the encrypted " \
                  "checkpoint API is not merged); encrypted-file corruptions are NOT checked"

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLAR_SOURCE_DIR) / "tests/fixtures/mindspore/2.10/enc" / name;
}

// The keys tests/fixtures/mindspore/2.10/enc/make_fixtures.py uses.
std::string key(size_t n) {
  switch (n) {
    case 24:
      return "cellar-aes-key-24-bytes!";
    case 32:
      return "cellar-aes-key-32-bytes-long-ok!";
    default:
      return "cellar-aes-key16";
  }
}

void put_u32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = std::byte((v >> (8 * i)) & 0xFF);
}
uint32_t get_u32(const Bytes& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(b[at + i]) << (8 * i);
  return v;
}
Bytes flip(Bytes b, size_t at, uint8_t bit = 0x01) {
  b[at] ^= std::byte{bit};
  return b;
}
Bytes cut(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + n); }
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Mode {
  const char* name;  // MindSpore's spelling
  const char* fixture;
  bool gcm;
  // Field offsets in the first block.
  size_t block_len() const { return gcm ? 20 : 4; }
  size_t iv_len() const { return gcm ? 24 : 8; }
  size_t iv() const { return gcm ? 28 : 12; }
  size_t cipher_len() const { return gcm ? 44 : 28; }
  size_t cipher() const { return gcm ? 48 : 32; }
};
const Mode kModes[] = {{"AES-GCM", "gcm16.ckpt", true},
                       {"AES-CBC", "cbc16.ckpt", false},
                       {"SM4-CBC", "sm4.ckpt", false}};

struct Case {
  std::string what;
  Bytes bytes;
  ErrorCode code;
  std::string dec_key;             // "" = none given
  std::string dec_mode;            // MindSpore's spelling
  std::optional<uint64_t> offset;  // the byte offset the error must name, when meaningful
  std::string tensor = {};         // the tensor the error must name ("" when none)
  std::string phrase = {};         // part of the reason
  bool crc_check = false;
};

std::vector<Case> corruptions() {
  std::vector<Case> cases;
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  for (const Mode& m : kModes) {
    const Bytes f = read_bytes(fixture(m.fixture));
    const std::string k = key(16), md = m.name, p = std::string(m.name) + ": ";
    const size_t n = f.size();
    auto add = [&](std::string what, Bytes b, ErrorCode code, std::optional<uint64_t> off,
                   std::string phrase = {}) {
      cases.push_back({p + what, std::move(b), code, k, md, off, {}, std::move(phrase)});
    };
    const auto crypto = ErrorCode::kCrypto;
    // Each region of the block, one flipped bit.
    // D8 <-> D9 turns the GCM magic into CBC's and back; DA (SM4) ^ 1 is no magic at all.
    add("flipped magic, low bit", flip(f, 0), crypto, 0,
        m.name == std::string("SM4-CBC") ? "" : "wrong dec_mode");
    add("flipped magic, high byte", flip(f, 3, 0x80), crypto, 0);
    if (m.gcm) add("flipped tag", flip(f, 4 + 7), crypto, 0, "authentication");
    add("flipped block_len", flip(f, m.block_len()), crypto, m.block_len());
    add("flipped block_len sign bit", flip(f, m.block_len() + 3, 0x80), crypto, m.block_len());
    add("flipped iv_len", flip(f, m.iv_len()), crypto, m.iv_len(), "IV length");
    add("flipped cipher_len", flip(f, m.cipher_len()), crypto, m.cipher_len());
    if (m.gcm) {
      add("flipped IV byte 0", flip(f, m.iv()), crypto, 0, "authentication");
      add("flipped first ciphertext byte", flip(f, m.cipher()), crypto, 0, "authentication");
      add("flipped middle ciphertext byte", flip(f, m.cipher() + (n - m.cipher()) / 2), crypto, 0,
          "authentication");
      add("flipped last ciphertext byte", flip(f, n - 1), crypto, 0, "authentication");
    } else {
      // IV byte 0 flips plaintext byte 0: the first record's field key 0x0A becomes 0x0B (field
      // 1, wire type 3), which the .ckpt parser refuses at offset 0.
      add("flipped IV byte 0", flip(f, m.iv()), ErrorCode::kFormat, 0);
      // The last ciphertext block carries the PKCS#7 padding; the one before it XORs into it.
      add("flipped last ciphertext byte", flip(f, n - 1), crypto, 0, "padding");
      add("flipped last padding byte (through the previous block)", flip(f, n - 17), crypto, 0,
          "padding");
    }
    // Truncations.
    add("truncated by one byte", cut(f, n - 1), crypto, std::nullopt);
    add("truncated to half", cut(f, n / 2), crypto, std::nullopt);
    add("truncated inside the header", cut(f, m.cipher() - 6), crypto, std::nullopt);
    add("truncated to the magic", cut(f, 4), crypto, std::nullopt);
    // Length fields lying.
    {
      Bytes b = f;
      put_u32(b, m.block_len(), get_u32(f, m.block_len()) + 16);
      add("block_len 16 past the end", b, crypto, m.block_len());
    }
    {
      Bytes b = f;
      put_u32(b, m.block_len(), 0x7FFFFFFF);
      add("block_len INT32_MAX (no allocation)", b, crypto, m.block_len());
    }
    {
      Bytes b = f;
      put_u32(b, m.cipher_len(), get_u32(f, m.cipher_len()) - 16);
      add("cipher_len 16 short of block_len", b, crypto, m.cipher_len());
    }
    {
      Bytes b = f;
      put_u32(b, m.iv_len(), 0xFFFFFFF0u);
      add("iv_len negative", b, crypto, m.iv_len(), "IV length");
    }
    // Trailing garbage.
    add("five garbage bytes after the last block", cat(f, Bytes(5, std::byte{0x41})), crypto, n);
    add("a plain checkpoint appended after the last block", cat(f, plain), crypto, n);
    // Keys and modes.
    {
      std::string wrong = k;
      wrong[5] ^= 1;
      // GCM: the tag fails. CBC: the padding fails (checked for this fixture and key; other
      // wrong keys may pass the padding and fail in the parser, see WrongCbcKeysNeverLoadGarbage).
      cases.push_back({p + "wrong key", f, crypto, wrong, md, 0});
    }
    for (const Mode& other : kModes)
      if (&other != &m)
        cases.push_back(
            {p + "wrong mode " + other.name, f, crypto, k, other.name, 0, {}, "wrong dec_mode"});
    cases.push_back({p + "missing key", f, crypto, "", md, std::nullopt, {}, m.name});
    cases.push_back(
        {p + "key of 15 bytes", f, ErrorCode::kInvalidArgument, k.substr(0, 15), md, std::nullopt});
  }
  // Whole-file cases that are not per mode.
  cases.push_back({"dec_key on a plain checkpoint",
                   plain,
                   ErrorCode::kCrypto,
                   key(16),
                   "AES-GCM",
                   0,
                   {},
                   "not an encrypted file"});
  cases.push_back({"AES-GCM 24-byte key file, 16-byte key", read_bytes(fixture("gcm24.ckpt")),
                   ErrorCode::kCrypto, key(16), "AES-GCM", 0});
  cases.push_back({"AES-CBC 32-byte key file, 24-byte key", read_bytes(fixture("cbc32.ckpt")),
                   ErrorCode::kCrypto, key(24), "AES-CBC", 0});
  cases.push_back({"unknown dec_mode", read_bytes(fixture("gcm16.ckpt")),
                   ErrorCode::kInvalidArgument, key(16), "AES-CTR", std::nullopt});
  cases.push_back({"empty file with dec_key", {}, ErrorCode::kCrypto, key(16), "AES-GCM", 0});
  return cases;
}

}  // namespace

TEST(CkptEncryptedCorrupt, EveryHandMadeCorruptionIsATypedErrorNamingTheFile) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  const auto cases = corruptions();
  ASSERT_GE(cases.size(), 60u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.what);
    const std::string file = "enc-case-" + std::to_string(i) + ".ckpt";
    write_bytes(dir / file, c.bytes);
    cellar::testing::export_corrupt_case(dir / file, "ckpt-encrypted", c.what, c.code,
                                         {{"crc_check", c.crc_check},
                                          {"dec_key", cellar::testing::hex_of(c.dec_key)},
                                          {"dec_mode", c.dec_mode}});
    cellar::LoadOptions opt;
    set_dec(opt, c.dec_key, c.dec_mode);
    opt.crc_check = c.crc_check;
    try {
      const auto d = cellar::load_checkpoint(dir / file, opt);
      ADD_FAILURE() << "loaded " << d.size() << " entries";
    } catch (const cellar::Error& e) {
      const std::string msg = e.what();
      if (std::getenv("CELLAR_TEST_VERBOSE")) std::cerr << c.what << "\n    " << msg << "\n";
      EXPECT_EQ(e.code(), c.code) << msg;
      if (c.code != ErrorCode::kInvalidArgument) {
        EXPECT_NE(msg.find(file), std::string::npos) << msg;
        EXPECT_TRUE(e.offset().has_value()) << msg;
        if (e.offset()) {
          EXPECT_LE(*e.offset(), c.bytes.size()) << msg;
        }
      }
      if (c.offset) {
        EXPECT_EQ(e.offset(), c.offset) << msg;
      }
      if (!c.tensor.empty()) {
        EXPECT_EQ(e.tensor(), c.tensor) << msg;
      }
      if (!c.phrase.empty()) {
        EXPECT_NE(msg.find(c.phrase), std::string::npos) << msg;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a cellar::Error: " << e.what();
    }
  }
}

// A wrong key in CBC fails the PKCS#7 padding check about 255 times in 256; the rest decrypt to
// garbage that the .ckpt parser must refuse. Over many keys, every outcome is an Error (kCrypto
// or kFormat) naming the file — never a load of garbage.
TEST(CkptEncryptedCorrupt, WrongCbcKeysNeverLoadGarbage) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  for (const char* name : {"cbc16.ckpt", "sm4.ckpt"}) {
    const auto path = dir / name;
    write_bytes(path, read_bytes(fixture(name)));
    const std::string mode = std::string(name) == "sm4.ckpt" ? "SM4-CBC" : "AES-CBC";
    int format = 0, crypto = 0;
    for (int i = 0; i < 1024; ++i) {
      std::string wrong = key(16);
      wrong[size_t(i) % 16] = static_cast<char>(wrong[size_t(i) % 16] ^ (1 + i / 16));
      cellar::LoadOptions opt;
      set_dec(opt, wrong, mode);
      try {
        cellar::load_checkpoint(path, opt);
        ADD_FAILURE() << name << ": wrong key " << i << " loaded";
      } catch (const cellar::Error& e) {
        ASSERT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        (e.code() == ErrorCode::kFormat ? format : crypto) += 1;
        ASSERT_TRUE(e.code() == ErrorCode::kFormat || e.code() == ErrorCode::kCrypto) << e.what();
      }
    }
    EXPECT_GT(crypto, 900) << name;
    RecordProperty(std::string(name) + "_format", format);
  }
}

// MindSpore 1.3's AES-GCM layout has no tag (src/formats/crypto.h): MindSpore's own gcm16.ckpt
// with its tag cut out loads with the right key, and with 1024 wrong keys never loads: the
// garbage they decrypt to fails the .ckpt parser.
TEST(CkptEncryptedCorrupt, TaglessGcmOfMindSpore13LoadsAndWrongKeysNeverLoadGarbage) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  const Bytes tagged = read_bytes(fixture("gcm16.ckpt"));
  const size_t block_len = get_u32(tagged, 20);
  ASSERT_EQ(tagged.size(), 24 + block_len) << "one block";
  const auto path = dir / "v13.ckpt";
  write_bytes(path, cat(cut(tagged, 4), Bytes(tagged.begin() + 20, tagged.end())));
  cellar::LoadOptions right;
  set_dec(right, key(16), "AES-GCM");
  const auto want = cellar::load_checkpoint(fixture("gcm16.ckpt"), right);
  const auto got = cellar::load_checkpoint(path, right);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, p] : want) EXPECT_TRUE(p.data().equal(got.at(name).data())) << name;
  for (int i = 0; i < 1024; ++i) {
    std::string wrong = key(16);
    wrong[size_t(i) % 16] = static_cast<char>(wrong[size_t(i) % 16] ^ (1 + i / 16));
    cellar::LoadOptions opt;
    set_dec(opt, wrong, "AES-GCM");
    try {
      cellar::load_checkpoint(path, opt);
      ADD_FAILURE() << "wrong key " << i << " loaded";
    } catch (const cellar::Error& e) {
      ASSERT_NE(std::string(e.what()).find("v13.ckpt"), std::string::npos) << e.what();
    }
  }
}

// What CBC cannot see by itself, and what catches it: a flipped ciphertext byte over tensor
// content changes values silently, unless the file carries a crc_num trailer and crc_check is on.
TEST(CkptEncryptedCorrupt, CbcContentFlipIsCaughtByCrcCheck) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  cellar::ParamDict params{
      {"w", cellar::Tensor::from_vector<float>(std::vector<float>(64, 1.5f), {8, 8})}};
  for (const char* mode : {"AES-CBC", "SM4-CBC"}) {
    SCOPED_TRACE(mode);
    cellar::SaveOptions so;
    set_enc(so, key(16), mode);
    so.crc_check = true;
    const auto path = dir / "crc.ckpt";
    cellar::save_checkpoint(params, path, so);
    Bytes b = read_bytes(path);
    // Ciphertext block 4 (plaintext bytes 64..79) lies inside w's 256 content bytes.
    b[32 + 4 * 16 + 3] ^= std::byte{0x10};
    write_bytes(path, b);
    cellar::LoadOptions lo;
    set_dec(lo, key(16), mode);
    const auto d = cellar::load_checkpoint(path, lo);  // no crc_check: garbage loads
    const float* got = d.at("w").data().data<float>();
    EXPECT_NE(std::vector<float>(got, got + 64), std::vector<float>(64, 1.5f));
    lo.crc_check = true;
    try {
      cellar::load_checkpoint(path, lo);
      ADD_FAILURE() << "crc_check missed the flip";
    } catch (const cellar::Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
      EXPECT_NE(std::string(e.what()).find("crc.ckpt"), std::string::npos) << e.what();
    }
  }
}

// A parse error after decryption names the file, the plaintext byte offset and, where the
// damaged record's tag is intact, the tensor. In CBC a flipped ciphertext byte flips the same
// byte of the next plaintext block (and garbles its own block): here the byte before block 8 is
// inside conv.weight's content (plaintext 37..132), and block 8 holds the head of the conv.bias
// record (record key at 133, record length 0x22 at 134, tag key 135, tag length 136, tag 137..).
TEST(CkptEncryptedCorrupt, ParseErrorsAfterDecryptionNameTheTensorAndOffset) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  const Bytes plain = read_bytes(fixture("plain.ckpt"));
  ASSERT_EQ(plain[133], std::byte{0x0A});
  ASSERT_EQ(plain[134], std::byte{0x22});
  ASSERT_EQ(plain[136], std::byte{0x09});
  struct Flip {
    size_t at;
    uint8_t bit;
    const char* what;
  };
  for (const Flip& f :
       {Flip{134, 0x01, "record length 0x22 -> 0x23"}, Flip{136, 0x02, "tag length 9 -> 11"}}) {
    for (const char* name : {"cbc16.ckpt", "sm4.ckpt"}) {
      SCOPED_TRACE(std::string(name) + ": " + f.what);
      const auto path = dir / name;
      // Ciphertext starts at 32; plaintext byte p is flipped through ciphertext byte p - 16.
      write_bytes(path, flip(read_bytes(fixture(name)), 32 + f.at - 16, f.bit));
      cellar::LoadOptions opt;
      set_dec(opt, key(16), std::string(name) == "sm4.ckpt" ? "SM4-CBC" : "AES-CBC");
      try {
        cellar::load_checkpoint(path, opt);
        ADD_FAILURE() << "loaded";
      } catch (const cellar::Error& e) {
        if (std::getenv("CELLAR_TEST_VERBOSE")) std::cerr << e.what() << "\n";
        EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
        ASSERT_TRUE(e.offset().has_value()) << e.what();
        EXPECT_GE(*e.offset(), 133u) << e.what();
        // The tag as read: "conv.bias", or with the tag length grown to 11, "conv.bias" and the
        // two bytes after it (names may hold any UTF-8, control characters included).
        EXPECT_EQ(e.tensor().substr(0, 9), "conv.bias") << e.what();
        EXPECT_LE(e.tensor().size(), 11u) << e.what();
        EXPECT_LT(*e.offset(), plain.size()) << e.what();
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      }
    }
  }
}

// Files cellar encrypts, each mode and key length, corrupted in the framing: the same errors as
// MindSpore's files (random IVs, so only the framing and GCM cases are deterministic).
TEST(CkptEncryptedCorrupt, CellarsOwnEncryptedFilesRefuseFramingDamage) {
  SKIP_WITHOUT_DEC_KEY();
  TempDir dir;
  cellar::ParamDict params{{"a", cellar::ones({3, 5}, cellar::float32)},
                           {"b", cellar::Tensor::scalar<int64_t>(9)}};
  struct MK {
    const char* mode;
    size_t key_len;
  };
  for (const MK& mk : {MK{"AES-GCM", 16}, MK{"AES-GCM", 24}, MK{"AES-GCM", 32}, MK{"AES-CBC", 16},
                       MK{"AES-CBC", 24}, MK{"AES-CBC", 32}, MK{"SM4-CBC", 16}}) {
    SCOPED_TRACE(std::string(mk.mode) + " " + std::to_string(mk.key_len));
    const bool gcm = std::string(mk.mode) == "AES-GCM";
    cellar::SaveOptions so;
    set_enc(so, key(mk.key_len), mk.mode);
    const auto path = dir / "ours.ckpt";
    cellar::save_checkpoint(params, path, so);
    const Bytes good = read_bytes(path);
    cellar::LoadOptions lo;
    set_dec(lo, key(mk.key_len), mk.mode);
    EXPECT_EQ(cellar::load_checkpoint(path, lo).size(), 2u);
    const size_t blen = gcm ? 20 : 4, cl = gcm ? 44 : 28;
    std::vector<std::pair<std::string, Bytes>> bad = {
        {"magic", flip(good, 1)},          {"block_len", flip(good, blen + 1)},
        {"cipher_len", flip(good, cl)},    {"truncated", cut(good, good.size() - 3)},
        {"trailing", cat(good, Bytes(1))},
    };
    if (gcm) bad.push_back({"ciphertext", flip(good, good.size() - 5)});
    for (const auto& [what, bytes] : bad) {
      write_bytes(path, bytes);
      try {
        cellar::load_checkpoint(path, lo);
        ADD_FAILURE() << what << ": loaded";
      } catch (const cellar::Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kCrypto) << what << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("ours.ckpt"), std::string::npos) << e.what();
        EXPECT_TRUE(e.offset().has_value()) << e.what();
      }
    }
  }
}
