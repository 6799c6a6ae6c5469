// AvgPool3D: the mean of each kernel_size window of an NCDHW input, moved by strides, with
// pad_mode VALID, SAME or PAD (explicit pads), ceil_mode, count_include_pad and
// divisor_override; ops/nn/pool3d.h has the geometry, the kernel and the attribute forms read.
// MindSpore (2.x as 1.x) writes ops.AvgPool3D as a PRIMITIVE with attributes (kernel_size and
// strides as (1, 1, d, h, w), pad_mode upper case, pad as given and pad_list as six values,
// ceil_mode, count_include_pad, divisor_override, format "NCDHW", cellar's data_format). ONNX:
// written as AveragePool with explicit pads and count_include_pad; AveragePool over a rank-5
// input is read as this row.
#include "ops/nn/pool3d.h"

namespace cellar::ops {

CELLAR_REGISTER_OPS(avg_pool3d) {
  OpDef d = pool3d_row("AvgPool3D", false);
  d.mindir = {.primitive = "AvgPool3D",
              .defaults = {{"data_format", std::string("NCDHW")}},
              .primitive_function = false,
              .renamed = {{"data_format", "format"}}};
  d.onnx = onnx_pool3d_export(false);
  table.add(std::move(d));
}

}  // namespace cellar::ops
