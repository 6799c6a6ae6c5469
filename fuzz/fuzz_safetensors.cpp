// libFuzzer target: arbitrary bytes as a .safetensors file, through the header parser on the bytes
// (formats::safetensors::parse_header) and then through the public loader on a file (sniffing,
// mapping, views, deferred copies of misaligned tensors, crc_num verification).
//
// A cellar::Error is the expected answer to bad bytes; any other exception escaping, a crash, a
// sanitizer report or a hang is a finding. The loader may recognise the bytes as a .ckpt instead;
// that path is exercised too (fuzz_ckpt covers it in depth).
#include <cstddef>
#include <cstdint>
#include <span>

#include "cellar/cellar.h"
#include "formats/safetensors.h"
#include "fuzz_file.h"

namespace {

uint64_t touch(const cellar::ParamDict& dict) {
  uint64_t sum = 0;
  for (const auto& [name, p] : dict) {
    const cellar::Tensor& t = p.data();
    for (std::byte b : t.bytes()) sum += static_cast<uint8_t>(b);
    sum += name.size() + t.shape().rank();
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile file("fuzz_safetensors");
  uint64_t sum = 0;
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto header = cellar::formats::safetensors::parse_header(bytes, "fuzz.safetensors");
    // The parser promises every tensor's bytes lie inside the file: read them all.
    for (const auto& t : header.tensors)
      for (uint64_t i = t.begin; i < t.end; ++i)
        sum += static_cast<uint8_t>(bytes[header.data_start + i]);
    for (const auto& [k, v] : header.metadata) sum += k.size() + v.size();
    (void)header.metadata_value("format");
  } catch (const cellar::Error&) {
  }
  const std::string& path = file.set(data, size);
  for (bool crc : {false, true}) {
    try {
      cellar::LoadOptions options;
      options.crc_check = crc;
      sum += touch(cellar::load_checkpoint(path, options));
    } catch (const cellar::Error&) {
    }
  }
  volatile uint64_t sink = sum;
  (void)sink;
  return 0;
}
