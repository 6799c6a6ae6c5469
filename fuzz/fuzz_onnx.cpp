// libFuzzer target: arbitrary bytes as an ONNX model, through formats::read_onnx (protobuf parse,
// opset and name checks, topological sort, import of every node through the op table with shape
// inference), then Graph::validate and the topological order as the public loader does.
//
// No base folder is given, so external data is refused without touching the file system. A
// cellar::Error is the expected answer to bad bytes; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cellar/cellar.h"
#include "formats/onnx.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size);
  try {
    // Constants made at load time: 64 MiB, not the 2 GiB a user's load allows.
    const cellar::ir::Graph g =
        cellar::formats::read_onnx(bytes, "fuzz.onnx", {}, uint64_t{64} << 20);
    g.validate("fuzz.onnx");
    (void)g.topological_order("fuzz.onnx");
    cellar::fuzz::touch_initializers(g);
  } catch (const cellar::Error&) {
  }
  return 0;
}
