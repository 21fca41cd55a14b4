#include "common/tlog/encoding.h"

#include <sodium.h>

#include "absl/strings/str_format.h"

namespace booking::tlog {
namespace {

constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;

// Decodes the code point at text[*i] and moves *i past it; false on invalid
// UTF-8 (truncated, overlong, surrogate, above U+10FFFF).
bool NextCodePoint(absl::string_view text, size_t* i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(*i);
  // The lead byte: how many continuation bytes follow, the smallest code
  // point that needs them (anything lower is an overlong form).
  int extra = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    *cp = b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    *cp = b0 & 0x1F;
    extra = 1;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    *cp = b0 & 0x0F;
    extra = 2;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    *cp = b0 & 0x07;
    extra = 3;
    min = 0x10000;
  } else {
    return false;
  }
  if (*i + extra >= text.size()) return false;
  for (int k = 1; k <= extra; ++k) {
    const uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  *i += 1 + extra;
  if (*cp < min) return false;
  return *cp <= 0x10FFFF && !(*cp >= 0xD800 && *cp <= 0xDFFF);
}

bool IsUnicodeSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace

std::string Base64Encode(absl::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> Base64DecodeStrict(absl::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, kVariant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  if (Base64Encode(out) != text) return std::nullopt;  // only the canonical form
  return out;
}

bool IsNoteText(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    if (!NextCodePoint(text, &i, &cp)) return false;
    if (cp < 0x20 && cp != '\n') return false;
  }
  return true;
}

bool IsKeyNameText(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    if (!NextCodePoint(text, &i, &cp)) return false;
    if (IsUnicodeSpace(cp) || cp == '+' || cp < 0x20) return false;
  }
  return true;
}

std::string Hex32(uint32_t value) { return absl::StrFormat("%08x", value); }

std::optional<uint32_t> ParseHex32(absl::string_view text) {
  if (text.size() != 8) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = (value << 4) | static_cast<uint32_t>(digit);
  }
  return value;
}

}  // namespace booking::tlog
