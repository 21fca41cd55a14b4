// A history row found by a reference to it ("historyId" in the feed, the
// log's leaves) with the row's "recordedAt" kept beside the id (schema step
// 0014): the condition that the row's time is the reference's, so that once
// "BookingStatusHistory" is partitioned by "recordedAt" the probe by id
// reaches the row's one partition. A reference made before that step keeps
// no time; its row was recorded by the step's "legacyUntil", so the
// condition is then that range (the partitions of before the step). Both
// bounds are free of the row's columns: PostgreSQL prunes by them at run
// time.
#ifndef HISTORY_SERVICE_RECORDED_AT_H_
#define HISTORY_SERVICE_RECORDED_AT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace booking {

// When rows without keys or timed references may have been recorded (NULL:
// the store was empty at step 0014), as a scalar subquery.
inline constexpr char kLegacyUntil[] =
    R"((SELECT "legacyUntil" FROM "BookingStatusHistoryKeysStart"))";

// `row`."recordedAt" matches `ref`."recordedAt" (aliases, already quoted
// where needed).
inline std::string RecordedAtMatches(absl::string_view row, absl::string_view ref) {
  return absl::StrCat(row, R"(."recordedAt" BETWEEN COALESCE()", ref,
                      R"(."recordedAt", '-infinity') AND COALESCE()", ref, R"(."recordedAt", )",
                      kLegacyUntil, ")");
}

// One booking's rows (`booking`: an SQL expression, a parameter or a quoted
// literal) are where this holds of `row`."recordedAt": between the earliest
// and the latest time its head keeps (schema step 0014), or among the rows
// of before that step. Both bounds are free of the row's columns: a read of one booking
// reaches only the partitions its rows are in.
inline std::string BookingRowsRecorded(absl::string_view row, absl::string_view booking) {
  const std::string head =
      absl::StrCat(R"(FROM "BookingStatusHistoryHead" WHERE "bookingId" = )", booking, ")");
  return absl::StrCat("(", row, R"(."recordedAt" BETWEEN (SELECT "firstRecordedAt" )", head,
                      R"( AND (SELECT "lastRecordedAt" )", head, " OR ", row,
                      R"(."recordedAt" <= )", kLegacyUntil, ")");
}

// `row`."recordedAt" as recorded_at, in ISO text that reads back as the same
// timestamp whatever the session's DateStyle ('...'::timestamp).
inline std::string RecordedAtText(absl::string_view row) {
  return absl::StrCat("to_char(", row,
                      R"(."recordedAt", 'YYYY-MM-DD HH24:MI:SS.US') AS recorded_at)");
}

}  // namespace booking

#endif  // HISTORY_SERVICE_RECORDED_AT_H_
