#include "booking-service/status_change.h"

#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "booking-service/idempotent_write.h"
#include "booking-service/status_wire.h"
#include "booking-service/stored_status.h"
#include "common/limits.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/time_util.h"
#include "outbox/outbox.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kDomain = kBookingErrorDomain;
constexpr absl::string_view kMethod = "ChangeStatus";
constexpr char kReadName[] = "status_change_read";
constexpr char kWriteName[] = "status_change_write";

// The transaction's time as "updatedAt" stores it (TIMESTAMP(3)), written by
// the write and read by the read, so the answer is known before the write.
constexpr char kChangeTime[] = "timezone('UTC', now())::timestamp(3)";

// What a change reads after the request-id lock, by name: the booking locked
// (kBookingColumns; NULL when absent), the write mode (kWriteModeColumns),
// the call's idempotency record (record_*; NULL when none), the change's
// time in microseconds (change_micros) and the metadata's stored size
// (metadata_bytes).
const std::string& ReadSql() {
  static const std::string sql =
      absl::StrCat("SELECT bk.*, ", kWriteModeColumns,
                   R"(, i.method AS record_method, i.fingerprint AS record_fingerprint,
       i.response AS record_response, (extract(epoch from )",
                   kChangeTime, R"() * 1000000)::bigint AS change_micros,
       COALESCE(octet_length(NULLIF($4, '')::jsonb::text), 0) AS metadata_bytes
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT )",
                   kBookingColumns, kBookingFrom,
                   R"( WHERE b.id = $1 FOR UPDATE OF b) AS bk ON true)", kWriteModeJoin, R"(
       LEFT JOIN "IdempotencyRecord" i ON i.caller = $2 AND i."requestId" = $3)");
  return sql;
}

// The status ($2, text: the label to store), its event ($3-$8 as
// ChangeEvent) and NOTIFY in one statement.
const std::string& WriteSql() {
  static const std::string sql = absl::StrCat(
      R"(WITH u AS (UPDATE "Booking" AS b
                 SET status = $2::text::"BookingStatus", version = version + 1,
                     "updatedAt" = )",
      kChangeTime, R"(
                 WHERE id = $1 RETURNING b.id, b.version),
           ev AS ()",
      outbox::InsertSql(ChangeEvent("u.id", "u.version"), "FROM u"),
      R"()
      SELECT )",
      outbox::NotifyCall(), " FROM u");
  return sql;
}

absl::Status VersionMismatch(const std::string& booking_id, int64_t expected, int64_t current) {
  return RpcError(absl::StatusCode::kAborted,
                  absl::StrCat("booking ", booking_id, " is at version ", current, ", not ",
                               expected, "; read it again and retry"))
      .Info("VERSION_MISMATCH", std::string(kDomain),
            {{"booking_id", booking_id},
             {"expected_version", absl::StrCat(expected)},
             {"current_version", absl::StrCat(current)}});
}

absl::Status IllegalTransition(const std::string& booking_id, Status from, Status target) {
  const std::string allowed = DescribeAllowedNext(from);
  RpcError error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("booking ", booking_id, " cannot go from ", Label(from), " to ",
                              Label(target), "; allowed next: ", allowed));
  error.Info("ILLEGAL_TRANSITION", std::string(kDomain),
             {{"booking_id", booking_id},
              {"from", std::string(Label(from))},
              {"to", std::string(Label(target))},
              {"allowed_next", allowed}});
  for (Status next : AllowedNext(from)) {
    error.Precondition("ALLOWED_NEXT_STATUS", std::string(Label(next)),
                       absl::StrCat(Label(from), " may go to ", Label(next)));
  }
  if (AllowedNext(from).empty()) {
    error.Precondition("FINAL_STATUS", std::string(Label(from)),
                       absl::StrCat(Label(from), " is final"));
  }
  return error;
}

// The first message (see the header).
absl::StatusOr<std::string> ReadMessage(pqxx::connection& conn, const StatusChangeRequest& request,
                                        const Mutation& m, absl::Time deadline) {
  absl::StatusOr<std::string> bound = DeadlineBoundStatement(deadline);
  if (!bound.ok()) return bound.status();
  const std::string lock = LockRequestIdStatement(conn, m);
  return absl::StrCat("BEGIN; ", *bound, bound->empty() ? "" : "; ", lock, lock.empty() ? "" : "; ",
                      "EXECUTE ", PreparedNow(conn, kReadName, ReadSql()), "(",
                      conn.quote(request.booking_id), ", ", conn.quote(m.caller), ", ",
                      conn.quote(m.request_id), ", ", conn.quote(m.metadata_json), ")");
}

// The write's statement for the second message.
std::string WriteStatement(pqxx::connection& conn, const std::string& booking_id, Status from,
                           Status target, const WriteMode& mode, const Mutation& m) {
  return absl::StrCat("EXECUTE ", PreparedNow(conn, kWriteName, WriteSql()), "(",
                      conn.quote(booking_id), ", ", conn.quote(StoredLabel(target, mode)), ", ",
                      conn.quote(std::string(Label(from))), ", ",
                      conn.quote(std::string(Label(target))), ", ", conn.quote(m.caller), ", ",
                      conn.quote(m.reason), ", ", conn.quote(m.metadata_json), ", ",
                      conn.quote(m.traceparent), ")");
}

// What the first message's row decides: the answer and the second message
// ("ROLLBACK" when nothing is to be written), or a refusal.
struct Decision {
  StatusChangeDone done;
  std::string end = "ROLLBACK";
};

absl::StatusOr<Decision> Decide(pqxx::connection& conn, const pqxx::row& row,
                                const StatusChangeRequest& request, const Mutation& m) {
  Decision d;
  v1::ChangeStatusResponse& response = d.done.response;
  absl::StatusOr<bool> replayed = ReplayRecord(row["record_method"], row["record_fingerprint"],
                                               row["record_response"], m, kMethod, &response);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) return d;
  if (row["id"].is_null()) return BookingNotFound(request.booking_id);
  absl::StatusOr<v1::Booking> current = BookingFromRow(row);
  if (!current.ok()) return current.status();
  const Status from = *StatusOfRow(row);
  if (request.expected_version && *request.expected_version != current->version()) {
    return VersionMismatch(request.booking_id, *request.expected_version, current->version());
  }
  std::string write;
  if (from != request.target) {
    if (!IsTransitionAllowed(from, request.target)) {
      return IllegalTransition(request.booking_id, from, request.target);
    }
    absl::StatusOr<WriteMode> mode = WriteModeOfRow(row);
    if (!mode.ok()) return mode.status();
    if (absl::Status s = CheckStoredMetadata(row["metadata_bytes"].as<int64_t>()); !s.ok())
      return s;
    // The row is locked: the write gives exactly this.
    current->set_status(ToWire(request.target));
    current->set_version(current->version() + 1);
    *current->mutable_update_time() =
        TimeUtil::MicrosecondsToTimestamp(row["change_micros"].as<int64_t>());
    if (mode->old_labels) {  // one more round trip, in a rollback's old-label mode only
      pqxx::nontransaction txn(conn);
      KeepExactStatus(txn, *mode, request.booking_id, request.target, current->version());
    }
    write = WriteStatement(conn, request.booking_id, from, request.target, *mode, m);
    d.done.changed.emplace(from, request.target);
  }
  // Setting the status it has changes nothing and records nothing but the call.
  *response.mutable_booking() = *std::move(current);
  response.set_changed(d.done.changed.has_value());
  const std::string record = RememberStatement(conn, m, kMethod, response);
  if (write.empty() && record.empty()) return d;
  d.end =
      absl::StrCat(write, write.empty() ? "" : "; ", record, record.empty() ? "" : "; ", "COMMIT");
  return d;
}

// A statement the server refuses to run as prepared once contract swapped
// the enum type: a cached plan whose result type changed (0A000), a type
// gone (42704, or XX000 "cache lookup failed for type" when the prepared
// parameter's type was dropped), a parameter of the old type (42804), a
// statement the server no longer knows (26000).
bool IsStalePrepared(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  if (state == "XX000") return absl::StrContains(e.what(), "cache lookup failed for type");
  return state == "0A000" || state == "42704" || state == "42804" || state == "26000";
}

// Ends the failed transaction (nothing was committed); and forgets the
// statements the server refused, so the next attempt prepares them again.
void Abandon(pqxx::connection& conn, bool reprepare) {
  try {
    pqxx::nontransaction(conn).exec("ROLLBACK");
    if (reprepare) {
      for (const char* name : {kReadName, kWriteName}) conn.unprepare(name);
    }
  } catch (const std::exception&) {
    // The connection is dropped by the pool if it is broken.
  }
}

// One attempt on `conn` (PgPool::RunRetried's contract).
absl::StatusOr<StatusChangeDone> Attempt(pqxx::connection& conn, const StatusChangeRequest& request,
                                         const Mutation& m, absl::Time deadline, bool* reprepare) {
  bool committing = false;
  try {
    absl::StatusOr<std::string> first = ReadMessage(conn, request, m, deadline);
    if (!first.ok()) return first.status();
    const pqxx::result read = pqxx::nontransaction(conn).exec(*first);  // round trip 1
    absl::StatusOr<Decision> d = Decide(conn, read[0], request, m);
    committing = d.ok() && absl::EndsWith(d->end, "COMMIT");
    pqxx::nontransaction(conn).exec(d.ok() ? d->end : "ROLLBACK");  // round trip 2
    if (!d.ok()) return d.status();
    return std::move(d->done);
  } catch (const std::exception& e) {
    if (IsConnectionLost(e) || !conn.is_open()) {
      // The second message held the COMMIT: it may have committed.
      if (committing) throw pqxx::in_doubt_error(e.what());
      throw;  // lost before: the pool tries once more on a fresh connection
    }
    const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
    *reprepare = sql != nullptr && IsStalePrepared(*sql);
    Abandon(conn, *reprepare);
    throw;
  }
}

}  // namespace

absl::Status BookingNotFound(const std::string& booking_id) {
  return RpcError(absl::StatusCode::kNotFound, absl::StrCat("booking ", booking_id, " not found"))
      .Info("BOOKING_NOT_FOUND", std::string(kDomain), {{"booking_id", booking_id}});
}

outbox::EventValues ChangeEvent(std::string booking_id, std::string sequence) {
  return {.booking_id = std::move(booking_id),
          .sequence = std::move(sequence),
          .from_status = "NULLIF($3, '')",
          .to_status = "$4",
          .changed_by = "$5",
          .reason = "NULLIF($6, '')",
          .metadata = "NULLIF($7, '')::jsonb",
          .trace_parent = "$8"};
}

absl::Status CheckStoredMetadata(int64_t bytes) {
  if (bytes <= static_cast<int64_t>(limits::kMaxStoredMetadataBytes)) return absl::OkStatus();
  return InvalidField("metadata", "larger than 16 KiB as stored JSON (jsonb text)");
}

absl::StatusOr<StatusChangeDone> RunStatusChange(PgPool& pool, const StatusChangeRequest& request,
                                                 const Mutation& m, absl::Time deadline) {
  std::optional<StatusChangeDone> done;
  absl::Status status = pool.RunRetried(
      [&](pqxx::connection& conn, bool* reprepare) -> absl::Status {
        done.reset();  // nothing of an earlier attempt survives
        absl::StatusOr<StatusChangeDone> d = Attempt(conn, request, m, deadline, reprepare);
        if (!d.ok()) return d.status();
        done = *std::move(d);
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  return *std::move(done);
}

}  // namespace booking
