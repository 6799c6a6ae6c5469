// What MaxPool3D and AvgPool3D share (private to src/ops/nn): the NCDHW window geometry, the
// kernel, and the ONNX spellings (MaxPool / AveragePool over a rank-5 input, handed over by the
// 1-D/2-D pooling import in pool.cpp). The ops' files give the MindIR spellings.
//
// Attributes, as MindSpore's primitives write them (mindspore/ops/operations/nn_ops.py):
// kernel_size and strides as (1, 1, d, h, w) (an int or (d, h, w) read too); pad_mode "VALID",
// "SAME" or "PAD" (MaxPool3D writes "CALCULATED" for PAD; any case and the PadMode enum read);
// pad_list, the six pads (head, tail, top, bottom, left, right) its kernel uses (AvgPool3D also
// writes its argument `pad`, read when pad_list is absent); ceil_mode; AvgPool3D's
// count_include_pad (default true) and divisor_override (0: none); format "NCDHW" (cellar's
// data_format).
//
// A max window ignores the padding (−∞); an average divides by divisor_override when set, else by
// the window's extent within the padded input when count_include_pad, else by the input elements
// it covers (0 where it covers none). ceil_mode's extra windows follow resolve_window3.
#pragma once

#include <string>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

// The row's name, shape rule and kernel; the caller adds the spellings.
OpDef pool3d_row(const std::string& name, bool is_max);

// Export as ONNX MaxPool / AveragePool with explicit pads, ceil_mode and (average)
// count_include_pad; a divisor_override has no ONNX spelling (ExportError).
OnnxExportFn onnx_pool3d_export(bool is_max);
// The importer's current MaxPool / AveragePool node over a rank-5 input as MaxPool3D /
// AvgPool3D with explicit pads (a dilated 3-D window is refused as unsupported: MindSpore's 3-D
// pooling primitives have no dilation).
void import_pool3d(OnnxImporter& m, bool is_max);

}  // namespace cellar::ops
