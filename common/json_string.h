// A JSON string literal (RFC 8259, section 7) of UTF-8 text: quotation mark,
// reverse solidus and control characters escaped, every other byte as is.
// One writer for the log lines (common/log.h) and the JSON history-service
// hands PostgreSQL (history-service/row_content.h). Thread safe.
#ifndef BOOKING_COMMON_JSON_STRING_H_
#define BOOKING_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace booking {

// `text` must be valid UTF-8 (common/input_check.h IsValidUtf8): other bytes
// are copied as they are and make the literal invalid JSON.
std::string JsonString(absl::string_view text);

}  // namespace booking

#endif  // BOOKING_COMMON_JSON_STRING_H_
