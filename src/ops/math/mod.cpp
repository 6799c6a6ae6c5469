// The remainders, as MindSpore defines them (checked against MindSpore 2.10 on CPU):
//  - Mod (also TruncateMod): a − trunc(a / b)·b, the sign of the dividend (C's fmod, % on ints);
//  - FloorMod: a − floor(a / b)·b, the sign of the divisor (Python's %).
// Both broadcast as NumPy does, for Float32, Float64, Int32 and Int64. An integer remainder by
// zero has no defined value in MindSpore, ONNX or C; cellar gives 0 rather than trapping.
// ONNX's Mod is one op with `fmod`: fmod = 1 is Mod, fmod = 0 is FloorMod, which ONNX allows for
// integers only (so a float FloorMod has no ONNX spelling, and reading fmod = 0 on floats is
// refused as ONNX's checker refuses it).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ops/math/binary.h"
#include "ops/onnx_spelling.h"

namespace cellar::ops {

namespace {

template <class T>
struct TruncMod {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return 0;
      if (b == -1) return 0;  // INT_MIN % -1 overflows in C
      return a % b;
    }
  }
};

template <class T>
struct FloorMod {
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      const T r = std::fmod(a, b);
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    } else {
      if (b == 0 || b == -1) return 0;
      const T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
  }
};

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

void import_mod(OnnxImporter& m) {
  m.require_inputs(2, 2);
  const int a = m.input(0), b = m.input(1);
  if (m.attr_int("fmod", 0) == 1) {
    m.set_output(0, m.emit1("Mod", {a, b}));
    return;
  }
  if (is_float(m.info(a).dtype))
    m.fail("fmod = 0 on a floating-point input (ONNX requires fmod = 1)");
  m.set_output(0, m.emit1("FloorMod", {a, b}));
}

}  // namespace

CELLAR_REGISTER_OPS(mod) {
  OpDef mod = binary_row<TruncMod>("Mod");
  mod.mindir.legacy_primitives = {"TruncateMod"};
  mod.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    b.add("Mod", b.input_names(n), {b.name(n.outputs.at(0))}, {{"fmod", int64_t{1}}});
  };
  mod.onnx_import = {{"Mod", import_mod}};
  table.add(std::move(mod));

  OpDef floor_mod = binary_row<FloorMod>("FloorMod");
  floor_mod.onnx = [](OnnxBuilder& b, const ir::Node& n) {
    if (is_float(b.info(n.inputs.at(0)).dtype))
      b.fail(n,
             "ONNX's Mod has no floor remainder for floating-point inputs (fmod = 0 is "
             "integers only)");
    b.add("Mod", b.input_names(n), {b.name(n.outputs.at(0))}, {{"fmod", int64_t{0}}});
  };
  table.add(std::move(floor_mod));
}

}  // namespace cellar::ops
