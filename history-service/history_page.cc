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
#include "common/limits.h"
#include "common/pg.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/page_token.h"
#include "pqxx/pqxx"

namespace booking {

// $1 booking, $2 after sequence, $3 rows to read (page_size + 1), $4 byte
// budget. A page ends at page_size entries or once about $4 bytes are read,
// whichever comes first: big metadata makes shorter pages, never a response
// (or a result held in memory) of many megabytes.
const char kHistoryPageQuery[] = R"(
  SELECT id, "eventId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata, micros,
         trace, upto
  FROM (SELECT *, sum(size) OVER (ORDER BY sequence ROWS UNBOUNDED PRECEDING) AS upto
        FROM (SELECT *, 128 + octet_length(metadata) + octet_length(reason) AS size
              FROM (SELECT id::text, "eventId"::text, sequence,
                           COALESCE("fromStatus", '') AS "fromStatus", "toStatus",
                           COALESCE("changedBy", '') AS "changedBy", COALESCE(reason, '') AS reason,
                           COALESCE(metadata::text, '') AS metadata,
                           (extract(epoch from "createdAt") * 1000000)::bigint AS micros,
                           COALESCE("traceParent", '') AS trace
                    FROM "BookingStatusHistory"
                    WHERE "bookingId" = $1 AND sequence > $2
                    ORDER BY sequence LIMIT $3) AS rows) AS sized) AS page
  WHERE upto - size < $4
  ORDER BY sequence)";

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

absl::Status HistoryRowToEntry(const pqxx::row& row, const std::string& booking_id,
                               history::v1::HistoryEntry* e) {
  e->set_id(row[0].as<std::string>());
  e->set_event_id(row[1].as<std::string>());
  e->set_booking_id(booking_id);
  e->set_sequence(row[2].as<int64_t>());
  e->set_from_status(row[3].as<std::string>());
  e->set_to_status(row[4].as<std::string>());
  e->set_changed_by(row[5].as<std::string>());
  e->set_reason(row[6].as<std::string>());
  e->set_traceparent(row[9].as<std::string>());
  const std::string metadata = row[7].as<std::string>();
  if (!metadata.empty() &&
      !google::protobuf::util::JsonStringToMessage(metadata, e->mutable_metadata()).ok()) {
    return absl::InternalError(
        absl::StrCat("stored metadata of entry ", e->id(), " is not a JSON object"));
  }
  // A stored time outside a Timestamp's range (written around ingest) is
  // an error of the store, not a CHECK failure in protobuf.
  const int64_t micros = row[8].as<int64_t>();
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
        "PREPARE ", kStatementName, " (text, bigint, int, bigint) AS ", kHistoryPageQuery));
    r = pqxx::nontransaction(conn).exec(*message);
  }
  history::v1::GetBookingHistoryResponse response;
  const int taken = std::min<int>(static_cast<int>(r.size()), page_size);
  for (int i = 0; i < taken; ++i) {
    if (absl::Status s = HistoryRowToEntry(r[i], booking_id, response.add_entries()); !s.ok())
      return s;
  }
  const bool more = static_cast<int>(r.size()) > page_size ||
                    (taken > 0 && r[taken - 1][10].as<int64_t>() >=
                                      static_cast<int64_t>(limits::kMaxHistoryPageBytes));
  if (more && taken > 0) {
    response.set_next_page_token(
        HistoryPageToken(booking_id, response.entries(taken - 1).sequence()));
  }
  return response;
}

}  // namespace booking
