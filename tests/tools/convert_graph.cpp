// convert_graph IN OUT: load(IN) and export_graph(OUT) in the format OUT's suffix names (.onnx or
// .mindir); prints the written path. What `cellar convert` does, for the Python interop tests
// (tests/python/test_convert_interop.py) to run without depending on the CLI.
#include <filesystem>
#include <iostream>

#include "cellar/cellar.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: convert_graph IN OUT(.onnx|.mindir)\n";
    return 2;
  }
  const std::filesystem::path out = argv[2];
  try {
    const auto format =
        out.extension() == ".onnx" ? cellar::FileFormat::ONNX : cellar::FileFormat::MINDIR;
    std::cout << cellar::export_graph(cellar::load(argv[1]), out.string(), format).string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "convert_graph: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
