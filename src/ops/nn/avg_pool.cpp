// AvgPool: the mean of each kernel_size window of an NCHW input, moved by strides, with pad_mode
// VALID or SAME; the padding is not counted (MindSpore's CPU kernel divides by the pixels inside
// the input). ops/nn/pool.h has the geometry, the kernel and the attribute forms read.
// MindSpore 2.x writes the PRIMITIVE_FUNCTION "AvgPool" (ops_def avg_pool_op.yaml) with its init
// arguments as constant inputs: kernel_size and strides as (h, w), pad_mode and data_format as
// its PadMode (VALID = 2) and Format (NCHW = 0) enums; 1.x as primitive attributes. ONNX: written
// as AveragePool(count_include_pad 0) with explicit pads; AveragePool is read back as this row
// (pads SAME's, or any pads counted by count_include_pad=1, padded with zero blocks in front).
#include "ops/nn/pool.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(avg_pool) {
  OpDef d = pool_row("AvgPool", false);
  d.mindir = {.primitive = "AvgPool",
              .attr_inputs = {"kernel_size", "strides", "pad_mode", "data_format"},
              .defaults = {{"kernel_size", std::vector<int64_t>{1, 1}},
                           {"strides", std::vector<int64_t>{1, 1}},
                           {"pad_mode", int64_t{2}},
                           {"data_format", int64_t{0}}}};
  d.onnx = onnx_pool_export(false);
  d.onnx_import = {{"AveragePool", onnx_pool_import(false)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
