// The text encodings the signed-note and checkpoint formats share: standard
// base64 (RFC 4648 section 4, padded) read strictly, and the character rules
// of a note (valid UTF-8, no ASCII control character but newline).
// Thread safety: pure functions, callable from any thread.
#ifndef BOOKING_COMMON_TLOG_ENCODING_H_
#define BOOKING_COMMON_TLOG_ENCODING_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace booking::tlog {

// Standard padded base64 of `bytes`.
std::string Base64Encode(absl::string_view bytes);
// The bytes of `text` only when `text` is exactly what Base64Encode writes
// for them (padding, no whitespace, zero trailing bits); nullopt otherwise.
std::optional<std::string> Base64DecodeStrict(absl::string_view text);

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates) with no
// ASCII control character (below U+0020) other than newline.
bool IsNoteText(absl::string_view text);
// Whether `text` is valid UTF-8 holding no Unicode space (White_Space
// characters: ASCII spaces, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000) and no '+': the key-name rule.
bool IsKeyNameText(absl::string_view text);

// The 8 lowercase hex digits of `value`, and back (exactly 8 lowercase).
std::string Hex32(uint32_t value);
std::optional<uint32_t> ParseHex32(absl::string_view text);

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_ENCODING_H_
