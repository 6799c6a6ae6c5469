// Stack(x0, x1, …; axis): the inputs (any number ≥ 1, one dtype, one shape) joined along a new
// dimension `axis` (in [−rank−1, rank], default 0). MindSpore 2.x writes ops.stack as the Python
// PRIMITIVE "Stack" whose one input is a tuple or list of the tensors (MakeTuple or make_list)
// and whose attributes `axis`, `N` and `num` sit on the primitive; 1.x called it "Pack", read
// here too. ONNX has no Stack: written as Unsqueeze of each input, then Concat.
#include "ops/onnx_spelling.h"
#include "ops/tensor/data_movement.h"

namespace cellar::ops {

namespace {

const char* const kOp = "Stack";

size_t stack_axis(std::span<const TensorType> in, const ir::Attrs& attrs) {
  return static_cast<size_t>(normalize_axis(kOp, attr_int(attrs, kOp, "axis", 0),
                                            static_cast<int64_t>(in[0].shape.rank()) + 1));
}

std::vector<TensorType> stack_infer(std::span<const TensorType> in, const ir::Attrs& attrs) {
  require_same_dtype(kOp, in);
  tensor::require_numeric(kOp, in[0].dtype);
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i].shape != in[0].shape)
      shape_error(kOp, "input " + std::to_string(i) + " " + in[i].shape.str() +
                           " differs from input 0 " + in[0].shape.str());
  if (in[0].shape.rank() + 1 > tensor::kMaxRank) shape_error(kOp, "rank above 16");
  std::vector<int64_t> out = in[0].shape.dims();
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(stack_axis(in, attrs)),
             static_cast<int64_t>(in.size()));
  return {{in[0].dtype, Shape(out)}};
}

// Per index of the dimensions before `axis`, each input contributes one block of the rest.
Kernel stack_kernel(std::span<const TensorType> in, const ir::Attrs& attrs) {
  const size_t axis = stack_axis(in, attrs);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < in[0].shape.rank(); ++d) (d < axis ? outer : inner) *= in[0].shape[d];
  const size_t block = static_cast<size_t>(inner) * itemsize(in[0].dtype);
  return [outer, block](std::span<const Tensor> x, std::span<Tensor> y) {
    std::byte* dst = y[0].raw_data();
    if (block == 0) return;
    for (int64_t o = 0; o < outer; ++o)
      for (const Tensor& t : x) {
        std::memcpy(dst, t.raw_data() + static_cast<size_t>(o) * block, block);
        dst += block;
      }
  };
}

void export_stack(OnnxBuilder& b, const ir::Node& n) {
  const std::string y = b.name(n.outputs.at(0));
  const auto axis =
      static_cast<int64_t>(onnx_checked(b, n, [&] { return attr_int(n.attrs, kOp, "axis", 0); }));
  const int64_t r = static_cast<int64_t>(b.shape(n.outputs[0]).rank());
  const std::string axes = b.ints(y + "/axes", {axis < 0 ? axis + r : axis});
  std::vector<std::string> parts;
  for (int v : n.inputs) {
    parts.push_back(b.fresh(y + "/unsqueezed"));
    b.add("Unsqueeze", {b.name(v), axes}, {parts.back()});
  }
  b.add("Concat", parts, {y}, {{"axis", axis < 0 ? axis + r : axis}});
}

}  // namespace

CELLAR_REGISTER_OPS(stack) {
  OpDef d{.name = kOp,
          .min_inputs = 1,
          .max_inputs = -1,
          .infer = stack_infer,
          .make_kernel = stack_kernel,
          .mindir = {.primitive = kOp,
                     .legacy_primitives = {"Pack"},
                     .primitive_function = false,
                     .tuple_input = true}};
  d.onnx = export_stack;
  table.add(std::move(d));
}

}  // namespace cellar::ops
