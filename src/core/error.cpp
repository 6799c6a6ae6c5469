#include "cellar/error.h"

namespace cellar {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kFormat:
      return "format error";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kShapeMismatch:
      return "shape mismatch";
    case ErrorCode::kDTypeMismatch:
      return "dtype mismatch";
    case ErrorCode::kExport:
      return "export error";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kCrypto:
      return "crypto error";
  }
  return "error";
}

namespace {
// "<file>: tensor '<name>' at offset N: <reason>" with the parts that are known.
std::string compose(const std::string& reason, const ErrorContext& ctx) {
  std::string msg;
  if (!ctx.file.empty()) msg += ctx.file + ": ";
  if (!ctx.tensor.empty()) msg += "'" + ctx.tensor + "'" + (ctx.offset ? " " : ": ");
  if (ctx.offset) msg += "at offset " + std::to_string(*ctx.offset) + ": ";
  return msg + reason;
}
}  // namespace

Error::Error(ErrorCode code, const std::string& reason, ErrorContext ctx)
    : std::runtime_error(compose(reason, ctx)),
      code_(code),
      reason_(reason),
      ctx_(std::move(ctx)) {}

}  // namespace cellar
