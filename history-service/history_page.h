// One page of a booking's history, read in one round trip: the page query is
// prepared once per connection and executed together with the caller's
// deadline as its statement_timeout in a single simple-protocol message.
#ifndef BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_
#define BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "history/v1/history.pb.h"
#include "pqxx/pqxx"

namespace booking {

// The page query's text, as prepared on each connection (for benchmarks that
// measure the database's share of a read).
extern const char kHistoryPageQuery[];

// A history row as an entry, its columns as kHistoryPageQuery selects them:
// id, "eventId", sequence, "fromStatus", "toStatus", "changedBy", reason,
// metadata (text, "" for none), create time in micros, traceparent ("" for
// none). INTERNAL when the stored metadata does not parse.
absl::Status HistoryRowToEntry(const pqxx::row& row, const std::string& booking_id,
                               history::v1::HistoryEntry* e);

// Up to page_size entries of `booking_id` after `after_sequence`, ending
// early once about limits::kMaxHistoryPageBytes are read; next_page_token
// set when more follow. Runs outside any transaction on `conn`.
absl::StatusOr<history::v1::GetBookingHistoryResponse> ReadHistoryPage(
    pqxx::connection& conn, const std::string& booking_id, int page_size, int64_t after_sequence,
    absl::Time deadline);

}  // namespace booking

#endif  // BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_
