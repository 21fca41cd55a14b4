#include "common/json_string.h"

namespace booking {

std::string JsonString(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    const auto ch = static_cast<unsigned char>(c);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += c;
    } else if (ch < 0x20) {
      out += "\\u00";
      out += kHex[ch >> 4];
      out += kHex[ch & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace booking
