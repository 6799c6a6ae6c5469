// libFuzzer target: arbitrary bytes as a .ckpt file, through the public reader.
//
// The reader takes a path and maps the file, so each input is written to an in-memory file
// (memfd) and opened as /proc/self/fd/N. A cellar::Error is the expected answer to bad bytes;
// any other exception escaping, a crash, a sanitizer report or a hang is a finding.
#include <cstddef>
#include <cstdint>

#include "cellar/cellar.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile file("fuzz_ckpt");
  const std::string& path = file.set(data, size);
  // Both ways of loading: mapped (views into the file) and read into private memory
  // (use_mmap=false), where the reader moves misaligned tensor bytes in place.
  for (const bool use_mmap : {true, false}) {
    try {
      const cellar::ParamDict dict = cellar::load_checkpoint(path, {.use_mmap = use_mmap});
      // Touch every tensor's bytes so that a view pointing outside the file is caught by ASan.
      uint64_t sum = 0;
      for (const auto& [name, p] : dict) {
        const cellar::Tensor& t = p.data();
        for (std::byte b : t.bytes()) sum += static_cast<uint8_t>(b);
        sum += name.size() + t.shape().rank();
      }
      volatile uint64_t sink = sum;
      (void)sink;
    } catch (const cellar::Error&) {
    }
  }
  return 0;
}
