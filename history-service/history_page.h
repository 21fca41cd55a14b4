// One page of a booking's history, read in one round trip: the page query is
// prepared once per connection and executed together with the caller's
// deadline as its statement_timeout in a single simple-protocol message.
// Also the one select list of a history entry and its reader, which
// ListHistory and WatchHistory share.
#ifndef BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_
#define BOOKING_HISTORY_SERVICE_HISTORY_PAGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pqxx_fwd.h"
#include "history/v1/history.pb.h"
#include "pqxx/types.hxx"

namespace booking {

// A history entry's select list over "BookingStatusHistory" h, each column
// named: id, event_id, sequence, from_status, to_status, changed_by, reason,
// metadata (as text), created_micros (create time), trace_parent; "" for
// each absent text. GetBookingHistory, ListHistory and WatchHistory select it.
extern const char kHistoryEntryColumns[];
// Its names alone: a query selecting them again from a subquery.
extern const char kHistoryEntryNames[];

// Where a result holds kHistoryEntryColumns: found by name once per result,
// then used for each of its rows. Throws pqxx::argument_error naming a
// column the result lacks.
struct HistoryEntryLayout {
  explicit HistoryEntryLayout(const pqxx::result& r);

  pqxx::row_size_type id, event_id, sequence, from_status, to_status, changed_by, reason, metadata,
      created_micros, trace_parent;
};

// A row holding kHistoryEntryColumns where `at` says, as an entry of
// `booking_id`. INTERNAL when the stored metadata does not parse.
absl::Status HistoryRowToEntry(const pqxx::row& row, const HistoryEntryLayout& at,
                               const std::string& booking_id, history::v1::HistoryEntry* e);

// The page query's text, as prepared on each connection (also for benchmarks
// that measure the database's share of a read): kHistoryEntryColumns, then
// upto (the bytes read up to the row).
std::string HistoryPageQuery();

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
