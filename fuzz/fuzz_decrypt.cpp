// libFuzzer target: MindSpore's checkpoint encryption layer (formats::decrypt) and the .ckpt
// parser on whatever plaintext comes out.
//
// Input: byte 0 picks the mode and key (mod 5: AES-GCM/AES-CBC/SM4-CBC with a 16-byte key,
// AES-GCM with 24, AES-CBC with 32), the rest is the encrypted file. The keys are fixed, so seeds
// written with them (fuzz/make_seeds) decrypt and reach the parser; mutations reach the framing
// checks, the authentication and padding checks, and, for CBC (unauthenticated), the parser on
// garbage plaintext. A cellar::Error is the expected answer; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cellar/cellar.h"
#include "formats/crypto.h"
#include "formats/format.h"
#include "fuzz_file.h"

namespace {

using cellar::formats::EncMode;

struct Choice {
  EncMode mode;
  size_t key_len;
};
constexpr Choice kChoices[] = {{EncMode::kAesGcm, 16},
                               {EncMode::kAesCbc, 16},
                               {EncMode::kSm4Cbc, 16},
                               {EncMode::kAesGcm, 24},
                               {EncMode::kAesCbc, 32}};

}  // namespace

// The key fuzz/make_seeds encrypts the seeds with: bytes 0, 1, 2, … (the first key_len of them).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile plain_file("fuzz_decrypt_plain");
  if (size == 0) return 0;
  const Choice& c = kChoices[data[0] % std::size(kChoices)];
  std::vector<std::byte> key(c.key_len);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::byte>(i);
  const auto file =
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  uint64_t sum = 0;
  try {
    (void)cellar::formats::is_encrypted(file);
    (void)cellar::formats::encrypted_mode(file);
    const std::vector<std::byte> plain =
        cellar::formats::decrypt(file, key, c.mode, "fuzz.ckpt.enc");
    const std::string& path =
        plain_file.set(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
    const auto mapped = cellar::MappedFile::open(path);
    const auto entries = cellar::formats::ckpt_format().read(mapped, {});
    for (const auto& [name, t] : entries) {
      for (std::byte b : t.bytes()) sum += static_cast<uint8_t>(b);
      sum += name.size();
    }
  } catch (const cellar::Error&) {
  }
  volatile uint64_t sink = sum;
  (void)sink;
  return 0;
}
