// UTF-8 decoding, validation and encoding, shared by the format readers and writers (.ckpt tags
// and str content, safetensors headers and names, JSON strings). Private to the library.
//
// Well-formed means RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing over
// U+10FFFF, every continuation byte 10xxxxxx.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cellar::utf8 {

// Decodes the sequence at s[i]: returns its code point and advances `i` past it, or returns
// nullopt (leaving `i` at the bad sequence) when the bytes there are not well-formed.
inline std::optional<char32_t> next(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  size_t len;
  char32_t cp;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return std::nullopt;
  }
  if (s.size() - i < len) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  i += len;
  return cp;
}

// Index of the first byte of `s` that does not start a well-formed sequence; nullopt when all of
// `s` is well-formed.
inline std::optional<size_t> first_invalid(std::string_view s) {
  for (size_t i = 0; i < s.size();)
    if (!next(s, i)) return i;
  return std::nullopt;
}

inline bool valid(std::string_view s) { return !first_invalid(s); }

// Appends the encoding of `cp` (a Unicode scalar value: callers check the range).
inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Appends `s` as a JSON string, quotes included, escaped as a peer escapes it so that the bytes
// written equal the peer's: `ascii_only` false, as serde_json (the safetensors crate) does: '"',
// '\\' and the C0 controls (\b \f \n \r \t, the others \u00XX), every other byte as it is;
// `ascii_only` true, as Python's json.dumps does by default (ensure_ascii): the same, and DEL and
// every non-ASCII code point as \uXXXX, a surrogate pair past the BMP. `s` is valid UTF-8 (the
// callers' names are checked); a byte that does not start a well-formed sequence becomes
// U+FFFD in ASCII mode.
inline void append_json_string(std::string& out, std::string_view s, bool ascii_only) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto u = [&](char32_t c) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(c >> shift) & 15];
  };
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 && ascii_only) {
      char32_t cp = 0xfffd;
      if (const auto v = next(s, i))
        cp = *v;
      else
        ++i;
      if (cp >= 0x10000) {
        u(0xd800 + ((cp - 0x10000) >> 10));
        u(0xdc00 + ((cp - 0x10000) & 0x3ff));
      } else {
        u(cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || (c == 0x7f && ascii_only))
          u(c);
        else
          out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace cellar::utf8
