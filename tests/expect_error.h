// expect_error: runs a callable that must throw a cellar::Error with a given code, and returns
// the error for further checks (its file, tensor, offset, message).
#pragma once

#include <gtest/gtest.h>

#include "cellar/error.h"

namespace cellar::testing {

template <class F>
Error expect_error(F&& f, ErrorCode code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e;
  }
  ADD_FAILURE() << "no cellar::Error thrown";
  return Error(ErrorCode::kInvalidArgument, "none");
}

}  // namespace cellar::testing
