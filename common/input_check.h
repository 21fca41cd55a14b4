// Checks of caller input against common/limits.h. Each returns OK or
// INVALID_ARGUMENT naming the field (a google.rpc.BadRequest violation), so a
// caller learns what to fix; nothing malformed reaches the stores.
#ifndef BOOKING_COMMON_INPUT_CHECK_H_
#define BOOKING_COMMON_INPUT_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/limits.h"
#include "google/protobuf/struct.pb.h"

namespace booking {

// An identifier: 1..kMaxIdBytes of visible ASCII (0x21-0x7E). Empty is
// "required" unless `optional`.
absl::Status CheckId(absl::string_view field, absl::string_view value, bool optional = false);

// Text: valid UTF-8, no NUL, at most `max_bytes`.
absl::Status CheckText(absl::string_view field, absl::string_view value,
                       size_t max_bytes = limits::kMaxTextBytes);

// A lowercase or uppercase 8-4-4-4-12 hex UUID.
absl::Status CheckUuid(absl::string_view field, absl::string_view value);

// Metadata as compact JSON ("" for an empty Struct): nesting at most
// kMaxMetadataDepth, no NUL in keys or strings, finite numbers, at most
// kMaxMetadataJsonBytes. The JSON is what the stores keep.
absl::StatusOr<std::string> MetadataToJson(absl::string_view field,
                                           const google::protobuf::Struct& metadata);

// A list call's page size (AIP-158): 0 means `default_size`, more than
// limits::kMaxPageSize means the maximum; negative is INVALID_ARGUMENT.
absl::StatusOr<int> PageSizeOf(int requested, int default_size);

// The times a caller may give (filter literals, anything in a token), as
// microseconds since 1970 UTC: those of google.protobuf.Timestamp and of
// RFC 3339 without year 0, 0001-01-01T00:00:00Z ..
// 9999-12-31T23:59:59.999999Z. Every such time is a PostgreSQL timestamp
// (4713 BC .. 294276 AD) and every stored create_time is one of them (ingest
// takes only Timestamps), so nothing outside selects anything.
inline constexpr int64_t kMinTimeMicros = -62135596800LL * 1000000;
inline constexpr int64_t kMaxTimeMicros = 253402300799LL * 1000000 + 999999;
extern const char kTimeRangeText[];  // "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z"

// OK within [kMinTimeMicros, kMaxTimeMicros]; INVALID_ARGUMENT naming
// `field` and the range otherwise.
absl::Status CheckTimeMicros(absl::string_view field, int64_t micros);

// A time within that range as PostgreSQL timestamp input, UTC:
// "YYYY-MM-DD HH:MM:SS.ffffff" (the year always four digits).
std::string PgTimestampText(int64_t micros);

// True for valid UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(absl::string_view text);

}  // namespace booking

#endif  // BOOKING_COMMON_INPUT_CHECK_H_
