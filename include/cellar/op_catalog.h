// What cellar's op table knows, as plain data: every op (MindSpore's primitive name), its arity,
// and how MindIR and ONNX spell it. The lists of supported ops in the docs are generated from this
// (`cellar ops --markdown` writes docs/ops.md; a test checks it is current), never kept by hand.
#pragma once

#include <string>
#include <vector>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

struct OpInfo {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;            // -1: any number
  int num_outputs = 1;           // -1: as many as the attributes and input shapes say (Split)
  bool is_random = false;        // eager only: refused inside an export trace
  bool runs_in_graph = false;    // has a kernel the Executor (GraphCell) can run
  std::string mindir_primitive;  // written (and read); empty: the op has no MindIR spelling
  std::vector<std::string> mindir_legacy;    // older primitive names, read only
  std::vector<std::string> mindir_variants;  // other primitives computing it, read and written
  bool onnx_export = false;                  // can be written to ONNX
  std::vector<std::string> onnx_import;      // ONNX op types read as this op
};

// Every op of the table, sorted by name.
std::vector<OpInfo> op_catalog();
// ONNX op types the ONNX reader understands with no op of their own (decompositions into ops,
// such as Gemm or LayerNormalization, and load-time constants, such as Shape), sorted.
std::vector<std::string> onnx_decomposed_op_types();

}  // namespace cellar

CELLAR_API_END
