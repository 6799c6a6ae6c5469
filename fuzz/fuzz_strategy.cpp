// libFuzzer target: arbitrary bytes as a MindSpore parallel strategy file (load_strategy), and
// every layout it accepts used to slice a small tensor of a matching rank for its first ranks
// (slice_checkpoint) and to merge those slices back (merge_checkpoints).
//
// A cellar::Error is the expected answer to bad bytes or layouts; any other exception escaping, a
// crash, a sanitizer report or a hang is a finding.
#include <cstddef>
#include <cstdint>

#include "cellar/cellar.h"
#include "cellar/io/distributed.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile file("fuzz_strategy");
  const std::string& path = file.set(data, size);
  uint64_t sum = 0;
  try {
    const cellar::ParallelStrategy s = cellar::load_strategy(path);
    int tried = 0;
    for (const auto& [name, layout] : s) {
      // Keep each run short: a few small layouts.
      if (layout.tensor_map.size() > 4 || layout.devices() > 16 || ++tried > 8) continue;
      cellar::Shape shape(std::vector<int64_t>(layout.tensor_map.size(), 16));
      cellar::ParamDict full;
      full.set(name, cellar::Tensor(cellar::DType::Float32, shape));
      const cellar::ParallelStrategy one{{name, layout}};
      try {
        std::vector<cellar::ParamDict> ranks;
        for (int64_t r = 0; r < layout.devices(); ++r)
          ranks.push_back(cellar::slice_checkpoint(full, one, r));
        const cellar::ParamDict back = cellar::merge_checkpoints(one, ranks);
        sum += back.at(name).data().nbytes();
      } catch (const cellar::Error&) {
      }
    }
  } catch (const cellar::Error&) {
  }
  volatile uint64_t sink = sum;
  (void)sink;
  return 0;
}
