// The booking store's idempotent writes: a call made with a request id
// changes the store once; a retry of it (same caller, request id and
// request) is answered from the record the first call committed with its
// change, and a reuse of the request id for another request is refused
// (ALREADY_EXISTS, REQUEST_ID_REUSED). Records are in "IdempotencyRecord".
//
// Thread safety: functions of a transaction, which the caller does not share.
#ifndef BOOKING_SERVICE_IDEMPOTENT_WRITE_H_
#define BOOKING_SERVICE_IDEMPOTENT_WRITE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "booking-service/booking_store.h"
#include "common/pg.h"
#include "google/protobuf/message.h"
#include "pqxx/pqxx"

namespace booking {

// The google.rpc.ErrorInfo domain of the booking store's errors.
inline constexpr absl::string_view kBookingErrorDomain = "booking.v1";

// Prepared once per connection (on first use; redefining the same is a
// no-op); returns `name`.
const std::string& Prepared(pqxx::transaction_base& txn, const std::string& name,
                            const std::string& sql);
// Prepared on the server now unless it is already (no round trip then), for
// a message that runs it with EXECUTE; returns `name`.
const std::string& PreparedNow(pqxx::connection& conn, const std::string& name,
                               const std::string& sql);

// Serialises calls that share a request id (until commit): the record of the
// first is then visible to every statement the next one starts afterwards.
void LockRequestId(pqxx::work& txn, const Mutation& m);
// The same as a statement for a message of the caller's own: "EXECUTE
// booking_request_lock(...)" (prepared on `conn` now, if not yet), or ""
// without a request id.
std::string LockRequestIdStatement(pqxx::connection& conn, const Mutation& m);

// Answers a retry from its record (`method`, `fingerprint`, `response`
// fields; NULL when none). Returns true when `response` was filled.
absl::StatusOr<bool> ReplayRecord(const pqxx::field& method, const pqxx::field& fingerprint,
                                  const pqxx::field& stored, const Mutation& m,
                                  absl::string_view expected_method,
                                  google::protobuf::Message* response);

// The call's record read, then ReplayRecord (after LockRequestId).
absl::StatusOr<bool> ReadRecord(pqxx::work& txn, const Mutation& m, absl::string_view method,
                                google::protobuf::Message* response);

// Records `response` as the answer to the call (nothing without a request id).
void Remember(pqxx::work& txn, const Mutation& m, absl::string_view method,
              const google::protobuf::Message& response);
// The same as a statement for a message of the caller's own: "EXECUTE
// booking_request_remember(...)" (prepared on `conn` now, if not yet), or ""
// without a request id.
std::string RememberStatement(pqxx::connection& conn, const Mutation& m, absl::string_view method,
                              const google::protobuf::Message& response);

// How an IdempotentWrite's write ended: it made the change (its response is
// recorded with it), or it answered from the call's earlier record.
enum class Written { kNow, kBefore };
// Who reads the call's earlier record: the wrapper, in a statement of its
// own before the write; or the write, in its first statement (it calls
// ReplayRecord and returns kBefore when that answered).
enum class RecordRead { kFirst, kByWrite };

// Every idempotent write: in a transaction (retried as PgPool's), the call's
// request id locked, then `write`, whose response is recorded with the
// change. A call whose request id has a record is answered from it (or
// refused: ReplayRecord) without writing anything.
template <typename Response>
absl::StatusOr<Response> IdempotentWrite(
    PgPool& pool, const Mutation& m, absl::string_view method, RecordRead read, absl::Time deadline,
    const std::function<absl::StatusOr<Written>(pqxx::work&, Response&)>& write) {
  return pool.RunInTransaction<Response>(
      [&](pqxx::work& txn) -> absl::StatusOr<Response> {
        Response response;
        LockRequestId(txn, m);
        if (read == RecordRead::kFirst) {
          absl::StatusOr<bool> replayed = ReadRecord(txn, m, method, &response);
          if (!replayed.ok()) return replayed.status();
          if (*replayed) return response;
        }
        absl::StatusOr<Written> written = write(txn, response);
        if (!written.ok()) return written.status();
        if (*written == Written::kNow) Remember(txn, m, method, response);
        return response;
      },
      deadline);
}

}  // namespace booking

#endif  // BOOKING_SERVICE_IDEMPOTENT_WRITE_H_
