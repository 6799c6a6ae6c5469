// What an op's file includes: the table, the attribute readers, the shape-rule helpers, and the
// macro that registers the file's rows.
//
//   // src/ops/nn/relu6.cpp
//   #include "ops/registry.h"
//   namespace cellar::ops {
//   CELLAR_REGISTER_OPS(relu6) { table.add({.name = "ReLU6", ...}); }
//   }  // namespace cellar::ops
//
// The build scans src/ops/ for CELLAR_REGISTER_OPS lines (cmake/ops_index.cmake writes
// ops_index.inc) and op_table() calls every one of them once, so a new op file needs no edit
// anywhere else. The id is the file's own (its stem); the linker refuses two files with one id.
#pragma once

#include "ops/attr.h"
#include "ops/op_table.h"

// Must start a line, inside namespace cellar::ops: the build finds it by that pattern.
#define CELLAR_REGISTER_OPS(id) void register_ops_##id(OpTable& table)

namespace cellar::ops {

// Shared helpers for shape rules.
[[noreturn]] void shape_error(const std::string& op, const std::string& why);
[[noreturn]] void dtype_error(const std::string& op, const std::string& why);
void require_same_dtype(const std::string& op, std::span<const TensorType> in);
void require_dtype_in(const std::string& op, DType t, std::initializer_list<DType> allowed);

}  // namespace cellar::ops
