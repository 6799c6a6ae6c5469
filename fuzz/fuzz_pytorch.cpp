// libFuzzer target: arbitrary bytes as a PyTorch file (src/formats/pytorch.h), through the public
// loader on a file: the zip directory, the restricted unpickler, storage location, views and
// their bounds, the legacy layout. Seeds (fuzz/corpus/pytorch/) are the files torch wrote for
// tests/fixtures/pytorch, including the malicious ones.
//
// A cellar::Error is the expected answer to bad bytes; any other exception escaping, a crash, a
// sanitizer report or a hang is a finding. Bytes another format claims go to that reader.
#include <cstddef>
#include <cstdint>

#include "cellar/cellar.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile file("fuzz_pytorch");
  uint64_t sum = 0;
  const std::string& path = file.set(data, size);
  for (bool crc : {false, true}) {
    try {
      cellar::LoadOptions options;
      options.crc_check = crc;
      for (const auto& [name, p] : cellar::load_checkpoint(path, options)) {
        for (std::byte b : p.data().bytes()) sum += static_cast<uint8_t>(b);
        sum += name.size() + p.data().shape().rank();
      }
    } catch (const cellar::Error&) {
    }
  }
  volatile uint64_t sink = sum;
  (void)sink;
  return 0;
}
