// CELLAR_TEST_SANITIZED: defined when the test is built under AddressSanitizer or
// ThreadSanitizer (gcc's __SANITIZE_* macros, clang's __has_feature), whose shadow memory and
// allocators make peak-RSS bounds meaningless: tests that measure memory skip those checks then.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CELLAR_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CELLAR_TEST_SANITIZED 1
#endif
#endif
