// The booking store's transactional outbox, in one place: its tables and
// columns, the NOTIFY channel that wakes the relay, the one INSERT every
// writer of an event builds its statement from (booking-service's changes,
// the migrator's relabel batches, the capture trigger the migrator installs),
// how the outbox is split among relays, and the reader of pending events,
// which maps columns by name.
//
// The tables are created by the booking store's schema steps
// (migrator/schema_steps.cc: 0002, 0005, 0006), whose applied text never
// changes (the ledger keeps its checksum); tests/outbox_test.cc checks that
// a migrated store has exactly the columns named here.
//
// Thread safety: constants and pure functions; ReadPending uses the
// connection it is given, which the caller does not share meanwhile.
#ifndef OUTBOX_OUTBOX_H_
#define OUTBOX_OUTBOX_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pqxx/pqxx"

namespace booking::outbox {

inline constexpr char kTable[] = R"("BookingOutbox")";
// Events set aside (history refused them, or the relay cannot send them),
// kept for an operator with "rejectReason" and "rejectedAt".
inline constexpr char kRejectedTable[] = R"("BookingOutboxRejected")";
// NOTIFY'd in every transaction that writes an event (NotifyCall).
inline constexpr char kChannel[] = "booking_outbox";

// clang-format off
// Every column of kTable, in the table's order.
inline constexpr std::array<absl::string_view, 13> kColumns = {
    "id", "\"eventId\"", "\"bookingId\"", "sequence", "\"fromStatus\"", "\"toStatus\"",
    "\"changedBy\"", "reason", "metadata", "\"createdAt\"", "\"retryAfter\"", "\"heldCount\"",
    "\"traceParent\""};
// Every column of kRejectedTable, in the table's order.
inline constexpr std::array<absl::string_view, 13> kRejectedColumns = {
    "id", "\"eventId\"", "\"bookingId\"", "sequence", "\"fromStatus\"", "\"toStatus\"",
    "\"changedBy\"", "reason", "metadata", "\"createdAt\"", "\"rejectReason\"",
    "\"rejectedAt\"", "\"traceParent\""};
// The columns an event is: what a set-aside copy keeps (the relay's own
// "retryAfter" and "heldCount" left behind).
inline constexpr std::array<absl::string_view, 11> kEventColumns = {
    "id", "\"eventId\"", "\"bookingId\"", "sequence", "\"fromStatus\"", "\"toStatus\"",
    "\"changedBy\"", "reason", "metadata", "\"createdAt\"", "\"traceParent\""};
// clang-format on

// "pg_notify('booking_outbox', '')": wakes the relay when the transaction
// commits.
const std::string& NotifyCall();

// The bytes of an event's metadata as history will store it (its jsonb
// text), for a RETURNING list: history refuses more than
// limits::kMaxStoredMetadataBytes, so a writer refuses it before commit.
inline constexpr char kStoredMetadataBytes[] = "COALESCE(octet_length(metadata::text), 0)";

// One event's values for InsertSql, each an SQL expression: a parameter, a
// column of the statement's source, a literal. An empty one leaves its
// column out (the table's default: NULL).
struct EventValues {
  std::string booking_id;    // TEXT NOT NULL
  std::string sequence;      // BIGINT NOT NULL: the booking's version after the change
  std::string from_status;   // TEXT; NULL for a booking's first event
  std::string to_status;     // TEXT NOT NULL: a label of the new set
  std::string changed_by;    // TEXT NOT NULL
  std::string reason;        // TEXT
  std::string metadata;      // JSONB: an object
  std::string trace_parent;  // TEXT: W3C traceparent (common/trace_context.h)
};

// `INSERT INTO "BookingOutbox" (<columns>) VALUES (<values>)`, or with a
// `source` (e.g. "FROM changed"): `... SELECT <values> <source>`. The
// caller appends RETURNING when it wants one, and sends NotifyCall in the
// same transaction.
std::string InsertSql(const EventValues& values, absl::string_view source = "");

// The outbox is split into kPartitions by a hash of the booking id (the
// server's hashtext: the same for every relay), so a booking's events stay
// in one partition.
inline constexpr int kPartitions = 16;
// The partition of a row of kTable, as SQL.
inline constexpr char kPartitionOf[] = R"((hashtext("bookingId") & 15))";
static_assert(kPartitions == 16, "kPartitionOf masks with 15");

// One pending event as the relay sends it; absent text is "".
struct PendingEvent {
  int64_t outbox_id = 0;
  std::string event_id;  // as PostgreSQL prints a uuid
  std::string booking_id;
  int64_t sequence = 0;
  std::string from_status;
  std::string to_status;
  std::string changed_by;
  std::string reason;
  std::string metadata;        // jsonb text
  int64_t created_micros = 0;  // "createdAt" (UTC), microseconds since 1970
  std::string trace_parent;
};

struct PendingQuery {
  // To read; empty, or every one of kPartitions: all, without a filter (a
  // relay owning none reads nothing: it does not call).
  std::vector<int> partitions;
  std::vector<int64_t> exclude;  // outbox ids not to read (in flight)
  int limit = 500;
  // SQL run first in the same message and the same (implicit) transaction,
  // e.g. the relay's DELETE of acknowledged events: one round trip for both,
  // and the read sees its effect. Empty: none. The caller builds it from
  // values it quotes (txn-free: integers only, or pqxx quoting).
  std::string before = {};
};

// Pending events of `query.partitions` (none waiting for its "retryAfter"),
// oldest first, at most `query.limit`: one message to the server (`before`
// and the SELECT), one implicit transaction, no BEGIN or COMMIT of its own.
// A database error is returned as a status (common/pg.h StatusFromException);
// then `before` took no effect either.
absl::StatusOr<std::vector<PendingEvent>> ReadPending(pqxx::connection& conn,
                                                      const PendingQuery& query);

}  // namespace booking::outbox

#endif  // OUTBOX_OUTBOX_H_
