// Which symbols the shared library exports. libcellar is compiled with -fvisibility=hidden and
// -fvisibility-inlines-hidden, so nothing is exported unless it is declared between
// CELLAR_API_BEGIN and CELLAR_API_END. Every public header (include/cellar/) wraps its
// declarations in that pair; private headers (src/) do not, which keeps the library's internals
// (the op table's rows, the format readers, protobuf and ONNX's generated classes) out of
// libcellar.so's symbol table. A definition in src/ takes the visibility of its first declaration,
// so a function or class declared in a public header is exported wherever it is defined.
//
// For a program using cellar the pair changes nothing: it only says which declarations the
// library makes visible. The static library is built the same way (visibility does not matter to
// a static link; it keeps internals hidden when libcellar.a is linked into another shared object,
// such as a Python extension).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define CELLAR_API_BEGIN _Pragma("GCC visibility push(default)")
#define CELLAR_API_END _Pragma("GCC visibility pop")
#else
#define CELLAR_API_BEGIN
#define CELLAR_API_END
#endif
