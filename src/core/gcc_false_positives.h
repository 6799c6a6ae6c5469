// Silencing a known false positive of GCC's optimizer-driven warnings around the one statement
// that triggers it, never for a whole file or build:
//
//   CELLAR_GCC_IGNORE("-Wrestrict")  // gcc 12 PR105329: "x" + std::string
//   const std::string name = "x" + std::to_string(i);
//   CELLAR_GCC_IGNORE_END
//
// Each use names the gcc bug on its line. These are `#pragma GCC diagnostic` push/ignored/pop;
// under clang they expand to nothing, since clang has no such warning groups and would warn
// about an unknown one.
//
// gcc 12 PR105329: -Wrestrict "accessing 9223372036854775810 or more bytes … may overlap" inside
// std::string's _M_replace, reached by assigning a short literal to a std::string or by
// `"literal" + std::string&&`, when inlined at -O2 and above. Fixed in gcc 12.3/13.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#define CELLAR_GCC_PRAGMA_(text) _Pragma(#text)
#define CELLAR_GCC_IGNORE(warning) \
  _Pragma("GCC diagnostic push") CELLAR_GCC_PRAGMA_(GCC diagnostic ignored warning)
#define CELLAR_GCC_IGNORE_END _Pragma("GCC diagnostic pop")
#else
#define CELLAR_GCC_IGNORE(warning)
#define CELLAR_GCC_IGNORE_END
#endif
