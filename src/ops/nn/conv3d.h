// Conv3D's ONNX import (private to src/ops/nn): the ONNX Conv import (conv2d.cpp, which owns the
// "Conv" op type) hands a rank-5 node to it.
#pragma once

#include "ops/onnx_spelling.h"

namespace cellar::ops {

// The importer's current Conv node over a rank-5 input as a Conv3D (+ BiasAdd for the bias).
void import_conv3d(OnnxImporter& m);

}  // namespace cellar::ops
