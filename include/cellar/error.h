// Error types. Two tiers (STYLE.md §6): hostile input (files, user shapes, unsupported export
// requests) throws a cellar::Error subclass carrying a code and, where known, the file, the
// tensor or node, and the byte offset; a broken internal invariant is an assert.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "cellar/visibility.h"

CELLAR_API_BEGIN

namespace cellar {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something unusable (bad shape, unknown option)
  kIo,               // open/read/write/rename/fsync failed
  kFormat,           // a file's bytes do not follow its format (truncated, bad field, overflow)
  kUnsupported,      // valid, but not something cellar implements (dtype, op, feature)
  kShapeMismatch,    // shapes that must agree do not
  kDTypeMismatch,    // dtypes that must agree do not
  kExport,           // a network cannot be exported (see export refusals in io/export.h)
  kNotFound,         // a name that was asked for is absent
  kCrypto,           // wrong key, wrong mode, failed authentication
};

const char* to_string(ErrorCode code);

// Where an error happened. Every field is optional; the message lists those that are set.
struct ErrorContext {
  std::string file;
  std::string tensor;  // tensor, parameter, node or input name
  std::optional<uint64_t> offset;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& reason, ErrorContext ctx = {});
  ErrorCode code() const noexcept { return code_; }
  const std::string& reason() const noexcept { return reason_; }
  const std::string& file() const noexcept { return ctx_.file; }
  const std::string& tensor() const noexcept { return ctx_.tensor; }
  std::optional<uint64_t> offset() const noexcept { return ctx_.offset; }

 private:
  ErrorCode code_;
  std::string reason_;
  ErrorContext ctx_;
};

// One subclass per tier of caller reaction; `code()` refines further.
class FormatError : public Error {  // the bytes of a file are wrong
 public:
  FormatError(const std::string& reason, ErrorContext ctx)
      : Error(ErrorCode::kFormat, reason, std::move(ctx)) {}
};
class IoError : public Error {
 public:
  IoError(const std::string& reason, ErrorContext ctx)
      : Error(ErrorCode::kIo, reason, std::move(ctx)) {}
};
class ExportError : public Error {  // what export refuses
 public:
  explicit ExportError(const std::string& reason, ErrorContext ctx = {})
      : Error(ErrorCode::kExport, reason, std::move(ctx)) {}
};
class ValueError : public Error {  // shapes, dtypes, arguments
 public:
  ValueError(ErrorCode code, const std::string& reason, ErrorContext ctx = {})
      : Error(code, reason, std::move(ctx)) {}
};

}  // namespace cellar

CELLAR_API_END
