// One page of a booking's history, read in one round trip: the page query is
// prepared once per connection and executed together with the caller's
// deadline as its statement_timeout in a single simple-protocol message.
#ifndef BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_
#define BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pqxx_fwd.h"
#include "history/v1/history.pb.h"

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

// GetBookingHistory's page token after `sequence` of `booking_id`: sealed
// (page_token.h), bound to the booking.
std::string HistoryPageToken(const std::string& booking_id, int64_t sequence);

// The sequence a page token of `booking_id` continues after (0 for "");
// INVALID_ARGUMENT on page_token for anything HistoryPageToken did not make
// for that booking with this process's token keys.
absl::StatusOr<int64_t> HistoryPageAfter(const std::string& token, const std::string& booking_id);

// Up to page_size entries of `booking_id` after `after_sequence`, ending
// early once about limits::kMaxHistoryPageBytes are read; next_page_token
// set when more follow. Runs outside any transaction on `conn`.
absl::StatusOr<history::v1::GetBookingHistoryResponse> ReadHistoryPage(
    pqxx::connection& conn, const std::string& booking_id, int page_size, int64_t after_sequence,
    absl::Time deadline);

}  // namespace booking

#endif  // BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_
