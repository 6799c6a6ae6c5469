// MaxPool: the maximum of each kernel_size window of an NCHW input, moved by strides, with
// pad_mode VALID or SAME (SAME pads with −∞); ops/nn/pool.h has the geometry, the kernel and the
// attribute forms read. MindSpore (2.x as 1.x) writes ops.MaxPool as a PRIMITIVE with attributes
// (kernel_size and strides as (1, 1, h, w), pad_mode "VALID"/"SAME", format "NCHW", cellar's
// data_format). ONNX: written as MaxPool with explicit pads; MaxPool is read back as this row,
// other explicit pads as a Concat of −∞ blocks in front.
#include "ops/nn/pool.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(max_pool) {
  OpDef d = pool_row("MaxPool", true);
  d.mindir = {.primitive = "MaxPool",
              .defaults = {{"data_format", std::string("NCHW")}},
              .primitive_function = false,
              .renamed = {{"data_format", "format"}}};
  d.onnx = onnx_pool_export(true);
  d.onnx_import = {{"MaxPool", onnx_pool_import(true)}};
  table.add(std::move(d));
}

}  // namespace cellar::ops
