// What MaxPool and AvgPool share (private to src/ops/nn): the NCHW window geometry, the kernel,
// and the ONNX spellings (MaxPool / AveragePool), which differ only in the reduction and the fill
// of explicit padding. The ops' files give the MindIR spellings, which differ (MaxPool is a
// Python primitive with attributes, AvgPool an ops_def PRIMITIVE_FUNCTION).
//
// Attributes, as ops.MaxPool / ops.AvgPool write them (mindspore/ops/operations/nn_ops.py, class
// _Pool; AvgPool in 2.x: ops_def avg_pool_op.yaml): kernel_size and strides as (1, 1, h, w) or
// (h, w), pad_mode "VALID" or "SAME" (any case and the PadMode enum are read), data_format NCHW
// (the string or the Format enum). MindSpore's primitives have no explicit-padding mode, so
// neither do these rows: an ONNX pooling node with other pads is read as a Concat of fill
// constants (−∞ for a max, 0 for an average that counts padding) in front of a VALID pool.
//
// SAME pads (total = (out − 1)·stride + kernel − in, the smaller half before) with −∞ for
// MaxPool; AvgPool divides by the number of input pixels inside the window (padding excluded),
// as MindSpore's CPU kernel (oneDNN's pooling_avg_exclude_padding) does.
#pragma once

#include <string>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

// The row's name, shape rule and kernel; the caller adds the spellings.
OpDef pool_row(const std::string& name, bool is_max);

// Export as ONNX MaxPool / AveragePool(count_include_pad 0) with explicit pads.
OnnxExportFn onnx_pool_export(bool is_max);
// Import ONNX MaxPool / AveragePool, 1-D or 2-D, as this row (SAME when the pads are SAME's,
// VALID after explicit padding otherwise, ceil_mode's partial last windows included; a dilated
// MaxPool as the Maximum of strided Gathers; a dilated AveragePool is refused as unsupported).
OnnxImportFn onnx_pool_import(bool is_max);

}  // namespace cellar::ops
