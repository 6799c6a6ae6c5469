// libFuzzer target: arbitrary bytes as a MindIR file, through the public loader (which reads
// the protobuf, builds the Graph and runs Graph::validate), then the topological sort.
//
// Input goes to an in-memory file (memfd) opened as /proc/self/fd/N. A cellar::Error is the
// expected answer to bad bytes; any other exception escaping, a crash, a sanitizer report or a
// hang is a finding.
#include <cstddef>
#include <cstdint>

#include "cellar/cellar.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cellar::fuzz::MemFile file("fuzz_mindir");
  const std::string& path = file.set(data, size);
  try {
    const cellar::ir::Graph g = cellar::load(path);
    (void)g.topological_order(path);
    cellar::fuzz::touch_initializers(g);
  } catch (const cellar::Error&) {
  }
  return 0;
}
