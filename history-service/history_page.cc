#include "history-service/history_page.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/input_check.h"
#include "common/json_string.h"
#include "common/limits.h"
#include "common/pg.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/page_token.h"
#include "history-service/recorded_at.h"
#include "pqxx/pqxx"

namespace booking {

const char kHistoryEntryColumns[] =
    R"(h.id::text AS id, h."eventId"::text AS event_id, h.sequence AS sequence,
       COALESCE(h."fromStatus", '') AS from_status, h."toStatus" AS to_status,
       COALESCE(h."changedBy", '') AS changed_by, COALESCE(h.reason, '') AS reason,
       COALESCE(h.metadata::text, '') AS metadata,
       (extract(epoch from h."createdAt") * 1000000)::bigint AS created_micros,
       COALESCE(h."traceParent", '') AS trace_parent)";

const char kHistoryEntryNames[] =
    "id, event_id, sequence, from_status, to_status, changed_by, reason, metadata, "
    "created_micros, trace_parent";

HistoryEntryLayout::HistoryEntryLayout(const pqxx::result& r)
    : id(r.column_number("id")),
      event_id(r.column_number("event_id")),
      sequence(r.column_number("sequence")),
      from_status(r.column_number("from_status")),
      to_status(r.column_number("to_status")),
      changed_by(r.column_number("changed_by")),
      reason(r.column_number("reason")),
      metadata(r.column_number("metadata")),
      created_micros(r.column_number("created_micros")),
      trace_parent(r.column_number("trace_parent")) {}

// $1 booking, $2 after sequence, $3 rows to read (page_size + 1), $4 byte
// budget. A page ends at page_size entries or once about $4 bytes are read,
// whichever comes first: big metadata makes shorter pages, never a response
// (or a result held in memory) of many megabytes.
std::string HistoryPageQuery() {
  return absl::StrCat(R"(
  SELECT )",
                      kHistoryEntryNames, R"(, upto
  FROM (SELECT *, sum(size) OVER (ORDER BY sequence ROWS UNBOUNDED PRECEDING) AS upto
        FROM (SELECT *, 128 + octet_length(metadata) + octet_length(reason) AS size
              FROM (SELECT )",
                      kHistoryEntryColumns, R"(
                    FROM "BookingStatusHistory" h
                    WHERE h."bookingId" = $1 AND h.sequence > $2 AND )",
                      BookingRowsRecorded("h", "$1"), R"(
                    ORDER BY h.sequence LIMIT $3) AS rows) AS sized) AS page
  WHERE upto - size < $4
  ORDER BY sequence)");
}

namespace {

constexpr char kStatementName[] = "history_page";

// SQLSTATE 26000: the connection has no statement of that name (a new or
// replaced connection, or one a pooler reset).
bool IsMissingStatement(const pqxx::sql_error& e) { return e.sqlstate() == "26000"; }

// "SET LOCAL statement_timeout = N; EXECUTE history_page(...)": SET LOCAL
// holds for the implicit transaction of a multi-statement message, so the
// caller's deadline bounds the read without BEGIN and COMMIT, and the plan
// is the prepared one. Values are quoted by libpq.
absl::StatusOr<std::string> PageMessage(pqxx::connection& conn, const std::string& booking_id,
                                        int rows, int64_t after_sequence, absl::Time deadline) {
  absl::StatusOr<std::string> bound = DeadlineBoundStatement(deadline);
  if (!bound.ok()) return bound.status();
  if (!bound->empty()) *bound += "; ";
  return absl::StrCat(*bound, "EXECUTE ", kStatementName, "(", conn.quote(booking_id), ", ",
                      after_sequence, ", ", rows, ", ", limits::kMaxHistoryPageBytes, ")");
}

constexpr char kTokenPurpose[] = "history.v1.GetBookingHistory page_token";

std::string TokenPayload(const std::string& booking_id, absl::string_view sequence) {
  return absl::StrCat("g1|", Sha256Hex(booking_id).substr(0, 16), "|", sequence);
}

}  // namespace

std::string HistoryPageToken(const std::string& booking_id, int64_t sequence) {
  return SealToken(kTokenPurpose, TokenPayload(booking_id, absl::StrCat(sequence)));
}

absl::StatusOr<int64_t> HistoryPageAfter(const std::string& token, const std::string& booking_id) {
  if (token.empty()) return 0;
  const absl::Status bad = InvalidField(
      "page_token",
      "not a token returned by GetBookingHistory for this booking_id (or one made under another "
      "--page-token-key): send no page_token to start over");
  if (token.size() > limits::kMaxPageTokenBytes) return bad;
  const std::optional<std::string> payload = OpenToken(kTokenPurpose, token);
  const std::vector<std::string> parts = absl::StrSplit(payload.value_or(""), '|');
  int64_t after = 0;
  // Authentic once opened; still checked, as if it were not.
  if (!payload || parts.size() != 3 || TokenPayload(booking_id, parts[2]) != *payload ||
      !absl::SimpleAtoi(parts[2], &after) || after < 0) {
    return bad;
  }
  return after;
}

absl::Status HistoryRowToEntry(const pqxx::row& row, const HistoryEntryLayout& at,
                               const std::string& booking_id, history::v1::HistoryEntry* e) {
  e->set_id(row[at.id].as<std::string>());
  e->set_event_id(row[at.event_id].as<std::string>());
  e->set_booking_id(booking_id);
  e->set_sequence(row[at.sequence].as<int64_t>());
  e->set_from_status(row[at.from_status].as<std::string>());
  e->set_to_status(row[at.to_status].as<std::string>());
  e->set_changed_by(row[at.changed_by].as<std::string>());
  e->set_reason(row[at.reason].as<std::string>());
  e->set_traceparent(row[at.trace_parent].as<std::string>());
  const std::string metadata = row[at.metadata].as<std::string>();
  if (!metadata.empty() &&
      !google::protobuf::util::JsonStringToMessage(metadata, e->mutable_metadata()).ok()) {
    return absl::InternalError(
        absl::StrCat("stored metadata of entry ", e->id(), " is not a JSON object"));
  }
  // A stored time outside a Timestamp's range (written around ingest) is
  // an error of the store, not a CHECK failure in protobuf.
  const int64_t micros = row[at.created_micros].as<int64_t>();
  if (!CheckTimeMicros("create_time", micros).ok()) {
    return absl::InternalError(absl::StrCat("stored create_time of entry ", e->id(), " (", micros,
                                            " us since 1970) is outside ", kTimeRangeText));
  }
  *e->mutable_create_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
  return absl::OkStatus();
}

absl::StatusOr<history::v1::GetBookingHistoryResponse> ReadHistoryPage(
    pqxx::connection& conn, const std::string& booking_id, int page_size, int64_t after_sequence,
    absl::Time deadline) {
  absl::StatusOr<std::string> message =
      PageMessage(conn, booking_id, page_size + 1, after_sequence, deadline);
  if (!message.ok()) return message.status();
  pqxx::result r;
  try {
    r = pqxx::nontransaction(conn).exec(*message);
  } catch (const pqxx::sql_error& e) {
    if (!IsMissingStatement(e)) throw;
    pqxx::nontransaction(conn).exec(absl::StrCat(
        "PREPARE ", kStatementName, " (text, bigint, int, bigint) AS ", HistoryPageQuery()));
    r = pqxx::nontransaction(conn).exec(*message);
  }
  const HistoryEntryLayout at(r);
  const pqxx::row_size_type upto = r.column_number("upto");
  history::v1::GetBookingHistoryResponse response;
  const int taken = std::min<int>(static_cast<int>(r.size()), page_size);
  for (int i = 0; i < taken; ++i) {
    if (absl::Status s = HistoryRowToEntry(r[i], at, booking_id, response.add_entries()); !s.ok())
      return s;
  }
  const bool more = static_cast<int>(r.size()) > page_size ||
                    (taken > 0 && r[taken - 1][upto].as<int64_t>() >=
                                      static_cast<int64_t>(limits::kMaxHistoryPageBytes));
  if (more && taken > 0) {
    response.set_next_page_token(
        HistoryPageToken(booking_id, response.entries(taken - 1).sequence()));
  }
  return response;
}

}  // namespace booking
