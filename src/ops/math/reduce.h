// The one reduction plan of the math domain (private to src/ops/math/), shared by ReduceSum,
// ReduceMean, ReduceMax, ReduceMin and ReduceProd: their shape rule, kernel, and ONNX export and
// import.
//
// Attributes, as MindSpore gives them: `axis` an int or a tuple (negative counts from the end;
// empty: every axis), `keep_dims` (reduced axes stay as 1s), and for the rows that take it
// `skip_mode` (MindSpore 2.x's ReduceSum: an empty axis then means no reduction at all). An axis
// out of range or given twice is refused (MindSpore refuses both). Everything the kernel needs is
// sized when it is built; running it allocates nothing.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "ops/onnx_spelling.h"
#include "ops/registry.h"

namespace cellar::ops {

enum class ReduceKind {
  kSum,   // accumulated in double (floats) or int64 (ints); over nothing: 0
  kMean,  // the sum over the count; over nothing: NaN (floats), 0 (ints)
  kMax,   // NaN propagates (as torch and ONNX Runtime); over nothing: refused
  kMin,   // likewise
  kProd,  // multiplied in double (floats) or int64 (ints, wrapping); over nothing: 1
};

struct ReduceSpec {
  std::string op;
  ReduceKind kind;
  std::vector<DType> dtypes;
  bool axis_required = false;  // ReduceMax: the node must carry `axis`
  bool skip_mode = false;      // the row reads `skip_mode`
};

// The row of a reduction: shape rule, kernel, and the MindIR spelling's primitive (the caller
// adds attr inputs and defaults, which differ per op).
OpDef reduce_row(const ReduceSpec& spec);

// ONNX export: the node as ONNX's op of its name (ReduceSum, ReduceMean, ReduceMax), opset 17:
// `axes` an input (axes_as_input) or an attribute; Identity for a skip_mode node with no axis.
OnnxExportFn onnx_reduce_export(bool axes_as_input, bool skip_mode);
// Import of ONNX's Reduce<op>: axes from the attribute or input 1 (by opset), keepdims (default
// 1), noop_with_empty_axes (an identity).
OnnxImportFn onnx_reduce_import(const std::string& op, int64_t axes_moved_in);

// MindSpore 2.x's mint-style spelling of a reduction, `primitive`(x, dim, keepdim, dtype) (SumExt,
// ProdExt: dim None for every axis, dtype None or a MindSpore type id), read as the row's axis and
// keep_dims (plus skip_mode false when the row has it). A dtype other than the input's, and
// Int32 inputs (which these widen to Int64), are refused. Never written (the row's own is).
MindIRVariant ext_reduce_variant(const std::string& primitive, bool skip_mode);

}  // namespace cellar::ops
