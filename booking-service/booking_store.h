// The booking store: every read and write of bookings. Each mutation commits
// the booking row, its outbox event and its idempotency record in one
// transaction, so an acknowledged change always has its event.
#ifndef BOOKING_SERVICE_BOOKING_STORE_H_
#define BOOKING_SERVICE_BOOKING_STORE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "booking-service/status_change_metrics.h"
#include "booking/v1/booking.pb.h"
#include "common/probe_connection.h"
#include "common/status_catalog.h"

namespace booking {

class PgPool;

// Who asks and why; recorded with the change.
struct Mutation {
  std::string caller;       // authenticated identity: changedBy
  std::string request_id;   // empty: not idempotent
  std::string fingerprint;  // hash of the request, to tell a retry from a reuse
  std::string reason;
  std::string metadata_json;  // empty: none
  std::string traceparent;    // W3C traceparent of this change (common/trace_context.h)
};

// Every call takes the caller's deadline: the store gives up (DEADLINE_EXCEEDED)
// when it passes instead of working for a caller that has gone.
//
// Thread safe (every call takes its own connection from the pool).
class BookingStore {
 public:
  // `changes` (may be null) counts each status change once committed.
  explicit BookingStore(PgPool& pool, StatusChangeMetrics* changes = nullptr)
      : pool_(pool), changes_(changes) {}

  absl::StatusOr<v1::Booking> Create(const std::string& booking_id, const std::string& customer_id,
                                     Status initial, const Mutation& mutation,
                                     absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Booking> Get(const std::string& booking_id,
                                  absl::Time deadline = absl::InfiniteFuture());
  // Keyset pagination in id order, after `after_id`.
  absl::StatusOr<v1::ListBookingsResponse> List(std::optional<Status> status, int page_size,
                                                const std::string& after_id,
                                                absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::ChangeStatusResponse> ChangeStatus(
      const std::string& booking_id, Status target, std::optional<int64_t> expected_version,
      const Mutation& mutation, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::CreateExtensionResponse> CreateExtension(
      const std::string& booking_id, const std::string& description, int64_t price_cents,
      const Mutation& mutation, absl::Time deadline = absl::InfiniteFuture());

  // OK when the store is reachable and has the schema this binary needs.
  // On the probe's own connection, never waiting for a pooled one.
  static absl::Status Probe(ProbeConnection& probe);

 private:
  PgPool& pool_;
  StatusChangeMetrics* const changes_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_BOOKING_STORE_H_
