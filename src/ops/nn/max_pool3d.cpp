// MaxPool3D: the maximum of each kernel_size window of an NCDHW input, moved by strides, with
// pad_mode VALID, SAME or PAD (explicit pad_list) and ceil_mode; ops/nn/pool3d.h has the
// geometry, the kernel and the attribute forms read. MindSpore (2.x as 1.x) writes ops.MaxPool3D
// as a PRIMITIVE with attributes (kernel_size and strides as (1, 1, d, h, w), pad_mode "VALID",
// "SAME" or "CALCULATED" (its PAD), pad_list, ceil_mode as 0/1, format "NCDHW", cellar's
// data_format). ONNX: written as MaxPool with explicit pads; MaxPool over a rank-5 input is read
// as this row.
#include "ops/nn/pool3d.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(max_pool3d) {
  OpDef d = pool3d_row("MaxPool3D", true);
  d.mindir = {.primitive = "MaxPool3D",
              .defaults = {{"data_format", std::string("NCDHW")}},
              .primitive_function = false,
              .renamed = {{"data_format", "format"}}};
  d.onnx = onnx_pool3d_export(true);
  table.add(std::move(d));
}

}  // namespace cellar::ops
