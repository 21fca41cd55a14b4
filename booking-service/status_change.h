// A booking's status change in two round trips to the store (issue 21):
//
//   1. "BEGIN; SET LOCAL statement_timeout = N; EXECUTE booking_request_lock(...);
//       EXECUTE status_change_read(...)": the call's request id locked, then
//      the booking locked (FOR UPDATE) and read with the write mode, the
//      call's idempotency record, the transaction's time and the stored size
//      of the metadata;
//   2. "EXECUTE status_change_write(...); EXECUTE booking_request_remember(...);
//       COMMIT" (or "ROLLBACK" when nothing is written): the status, its
//      outbox event and NOTIFY in one statement, the call's record, COMMIT.
//
// The answer is known before the second message: the row is locked, so the
// write gives version + 1 and "updatedAt" = the transaction's time (in
// milliseconds, as read in the first message), and the record of the call is
// sent with the write and COMMIT. Every statement is prepared once per
// connection (its enum parameter passed as text, so contract's new type is
// found by name when the plan is revalidated; a statement the server no
// longer accepts after the swap is prepared again and the change retried).
//
// A connection lost before the second message was sent retries the change
// once on a fresh connection (nothing was committed); lost while the second
// message was in flight, the outcome is unknown: UNAVAILABLE with reason
// OUTCOME_UNKNOWN, as a lost COMMIT (common/pg.h StatusFromException).
//
// Thread safety: free functions; each call takes its own pooled connection.
#ifndef BOOKING_SERVICE_STATUS_CHANGE_H_
#define BOOKING_SERVICE_STATUS_CHANGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "booking-service/booking_store.h"
#include "booking/v1/booking.pb.h"
#include "common/pg.h"
#include "common/status_catalog.h"
#include "outbox/outbox.h"

namespace booking {

// NOT_FOUND for a booking id, with its ErrorInfo.
absl::Status BookingNotFound(const std::string& booking_id);

// History bounds metadata by its jsonb text (more spaces than the request's
// JSON): an event history would refuse is refused before commit.
absl::Status CheckStoredMetadata(int64_t bytes);

// A change's event as every booking-service write inserts it (outbox.h):
// $3 the from status ('' for none), $4 the to status, $5 the caller, $6 the
// reason, $7 the metadata JSON ('' for none), $8 the traceparent.
outbox::EventValues ChangeEvent(std::string booking_id, std::string sequence);

// One status change and what it did.
struct StatusChangeRequest {
  std::string booking_id;
  Status target;
  std::optional<int64_t> expected_version;
};
struct StatusChangeDone {
  v1::ChangeStatusResponse response;
  std::optional<std::pair<Status, Status>> changed;  // from, to: when a change committed
};

// The change, answered from the call's record when it has one (replay), or
// refused (REQUEST_ID_REUSED, NOT_FOUND, VERSION_MISMATCH, ILLEGAL_TRANSITION,
// metadata too large, STATUS_MIGRATION_EXPANDING) with nothing written.
absl::StatusOr<StatusChangeDone> RunStatusChange(PgPool& pool, const StatusChangeRequest& request,
                                                 const Mutation& m, absl::Time deadline);

}  // namespace booking

#endif  // BOOKING_SERVICE_STATUS_CHANGE_H_
