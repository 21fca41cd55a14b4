// How booking-service reads and writes "Booking".status in every phase of
// the status-enum change (README, "The status-enum change").
//
// Reads: a row may hold an old label (written before backfill, by old code,
// or during a rollback of backfill). It reads as its new status, or as the
// exact new status kept beside it in "BookingStatusExact" (valid while the
// row's version is the one it was kept for).
//
// Writes: new labels; but once a rollback of backfill has switched writers
// to the old labels ("StatusMigration"."writeLabels" = 'old'), the old label
// a rollback writes, with the exact new status kept beside it, so nothing a
// caller was told is lost and a later backfill restores it. While expand is
// running no status can be written (its labels are not usable yet).
#ifndef BOOKING_SERVICE_STORED_STATUS_H_
#define BOOKING_SERVICE_STORED_STATUS_H_

#include <string>

#include "absl/status/statusor.h"
#include "booking/v1/booking.pb.h"
#include "common/status_catalog.h"
#include "pqxx/pqxx"

namespace booking {

// "SELECT <kBookingColumns> <kBookingFrom>": b is "Booking", e its exact
// status (NULL when none is kept for the row's version). The columns are
// named id, customer_id, status, version, created_micros, updated_micros,
// exact_status, in that order.
inline constexpr char kBookingColumns[] =
    R"(b.id AS id, b."customerId" AS customer_id, b.status::text AS status, b.version AS version,
       (extract(epoch from b."createdAt") * 1000000)::bigint AS created_micros,
       (extract(epoch from b."updatedAt") * 1000000)::bigint AS updated_micros,
       e.status AS exact_status)";
inline constexpr char kBookingFrom[] =
    R"( FROM "Booking" b LEFT JOIN "BookingStatusExact" e ON e.id = b.id AND e.version = b.version)";
// The same for RETURNING of an INSERT or UPDATE of "Booking" b (whose
// status the writer knows).
inline constexpr char kReturnedColumns[] =
    R"(b.id AS id, b."customerId" AS customer_id, b.status::text AS status, b.version AS version,
       (extract(epoch from b."createdAt") * 1000000)::bigint AS created_micros,
       (extract(epoch from b."updatedAt") * 1000000)::bigint AS updated_micros,
       NULL::text AS exact_status)";

// A row holding the columns above, read by their names; an unknown label is
// INTERNAL (a data error).
absl::StatusOr<v1::Booking> BookingFromRow(const pqxx::row& row);
absl::StatusOr<Status> StatusOfRow(const pqxx::row& row);

// Which labels writers write now, read in the writer's transaction.
struct WriteMode {
  bool old_labels = false;
};
// UNAVAILABLE while `migrator expand` runs (retry shortly).
absl::StatusOr<WriteMode> ReadWriteMode(pqxx::transaction_base& txn);
// The same from "StatusMigration".phase and "writeLabels" read by a caller's
// own statement (both NULL when the table has no row).
absl::StatusOr<WriteMode> WriteModeOf(const pqxx::field& phase, const pqxx::field& write_labels);
// The same from a row holding kWriteModeColumns.
absl::StatusOr<WriteMode> WriteModeOfRow(const pqxx::row& row);
// The select list and source of a statement reading what a writer needs
// beside the booking: "SELECT <kBookingColumns>, " kWriteModeColumns (named
// mode_phase, mode_write_labels; WriteModeOfRow reads them)
// " FROM ... " kWriteModeJoin.
inline constexpr char kWriteModeColumns[] =
    R"(m.phase AS mode_phase, m."writeLabels" AS mode_write_labels)";
inline constexpr char kWriteModeJoin[] = R"( LEFT JOIN "StatusMigration" m ON true)";

// The label to store for `status` in `mode`.
std::string StoredLabel(Status status, const WriteMode& mode);

// After a write of `status` that committed `version`: keeps the exact status
// beside an old label (old-label mode); nothing in new-label mode.
void KeepExactStatus(pqxx::transaction_base& txn, const WriteMode& mode, const std::string& id,
                     Status status, int64_t version);

// The SQL condition selecting bookings that read as `status` (b and e as
// above; `$n` holds the status label).
std::string ReadsAsCondition(const std::string& param);

}  // namespace booking

#endif  // BOOKING_SERVICE_STORED_STATUS_H_
