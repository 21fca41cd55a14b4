#include "booking-service/booking_store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "booking-service/idempotent_write.h"
#include "booking-service/status_change.h"
#include "booking-service/status_wire.h"
#include "booking-service/stored_status.h"
#include "common/limits.h"
#include "common/pg.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/time_util.h"
#include "outbox/outbox.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kDomain = kBookingErrorDomain;

// The event, committed with the change; NOTIFY wakes the relay on commit.
absl::Status AppendEvent(pqxx::work& txn, const std::string& booking_id, int64_t sequence,
                         absl::string_view from_status, Status to_status, const Mutation& m) {
  static const std::string sql =
      absl::StrCat(outbox::InsertSql(ChangeEvent("$1", "$2")), " RETURNING ",
                   outbox::kStoredMetadataBytes, " AS metadata_bytes");
  pqxx::result r = txn.exec_params(sql, booking_id, sequence, std::string(from_status),
                                   std::string(Label(to_status)), m.caller, m.reason,
                                   m.metadata_json, m.traceparent);
  if (absl::Status s = CheckStoredMetadata(r[0]["metadata_bytes"].as<int64_t>()); !s.ok()) return s;
  txn.exec(absl::StrCat("SELECT ", outbox::NotifyCall()));
  return absl::OkStatus();
}

// Locks the booking row; NOT_FOUND when absent.
absl::StatusOr<pqxx::row> LockBooking(pqxx::work& txn, const std::string& booking_id,
                                      absl::string_view lock_mode) {
  pqxx::result r = txn.exec_params(absl::StrCat("SELECT ", kBookingColumns, kBookingFrom,
                                                " WHERE b.id = $1 FOR ", lock_mode, " OF b"),
                                   booking_id);
  if (r.empty()) return BookingNotFound(booking_id);
  return r[0];
}

}  // namespace

absl::StatusOr<v1::Booking> BookingStore::Create(const std::string& booking_id,
                                                 const std::string& customer_id, Status initial,
                                                 const Mutation& mutation, absl::Time deadline) {
  return IdempotentWrite<v1::Booking>(
      pool_, mutation, "CreateBooking", RecordRead::kFirst, deadline,
      [&](pqxx::work& txn, v1::Booking& booking) -> absl::StatusOr<Written> {
        absl::StatusOr<WriteMode> mode = ReadWriteMode(txn);
        if (!mode.ok()) return mode.status();
        pqxx::result r = txn.exec_params(
            absl::StrCat(
                R"(INSERT INTO "Booking" AS b (id, "customerId", status, version, "createdAt", "updatedAt")
               VALUES (COALESCE(NULLIF($1, ''), gen_random_uuid()::text), $2,
                       $3::"BookingStatus", 1, timezone('UTC', now()), timezone('UTC', now()))
               ON CONFLICT (id) DO NOTHING
               RETURNING )",
                kReturnedColumns),
            booking_id, customer_id, StoredLabel(initial, *mode));
        if (r.empty()) {
          return RpcError(absl::StatusCode::kAlreadyExists,
                          absl::StrCat("booking ", booking_id, " already exists"))
              .Info("BOOKING_EXISTS", std::string(kDomain), {{"booking_id", booking_id}});
        }
        absl::StatusOr<v1::Booking> created = BookingFromRow(r[0]);
        if (!created.ok()) return created.status();
        booking = *std::move(created);
        booking.set_status(ToWire(initial));
        KeepExactStatus(txn, *mode, booking.id(), initial, booking.version());
        if (absl::Status s =
                AppendEvent(txn, booking.id(), booking.version(), "", initial, mutation);
            !s.ok()) {
          return s;
        }
        return Written::kNow;
      });
}

absl::StatusOr<v1::Booking> BookingStore::Get(const std::string& booking_id, absl::Time deadline) {
  // A read, in a transaction all the same: bounded by the deadline and
  // retried once on a fresh connection after a store restart.
  return pool_.RunInTransaction<v1::Booking>(
      [&](pqxx::work& txn) -> absl::StatusOr<v1::Booking> {
        pqxx::result r = txn.exec_params(
            absl::StrCat("SELECT ", kBookingColumns, kBookingFrom, " WHERE b.id = $1"), booking_id);
        if (r.empty()) return BookingNotFound(booking_id);
        return BookingFromRow(r[0]);
      },
      deadline);
}

absl::StatusOr<v1::ListBookingsResponse> BookingStore::List(std::optional<Status> status_filter,
                                                            int page_size,
                                                            const std::string& after_id,
                                                            absl::Time deadline) {
  // A filter selects rows still holding an old label that reads as the status.
  const std::string labels =
      status_filter ? absl::StrJoin(LabelsReadingAs(*status_filter), ",") : std::string();
  // A read, in a transaction all the same: bounded by the deadline and
  // retried once on a fresh connection after a store restart (each attempt
  // builds its own page).
  return pool_.RunInTransaction<v1::ListBookingsResponse>(
      [&](pqxx::work& txn) -> absl::StatusOr<v1::ListBookingsResponse> {
        v1::ListBookingsResponse response;
        pqxx::result r = txn.exec_params(
            absl::StrCat("SELECT ", kBookingColumns, kBookingFrom,
                         R"( WHERE ($1 = '' OR (b.status::text = ANY (string_to_array($1, ','))
                                     AND )",
                         ReadsAsCondition("$4"), R"())
             AND b.id > $2
           ORDER BY b.id LIMIT $3)"),
            labels, after_id, page_size + 1,
            status_filter ? std::string(Label(*status_filter)) : std::string());
        for (int i = 0; i < static_cast<int>(r.size()) && i < page_size; ++i) {
          absl::StatusOr<v1::Booking> b = BookingFromRow(r[i]);
          if (!b.ok()) return b.status();
          *response.add_bookings() = *std::move(b);
        }
        if (static_cast<int>(r.size()) > page_size) {
          response.set_next_page_token(response.bookings(page_size - 1).id());
        }
        return response;
      },
      deadline);
}

absl::StatusOr<v1::ChangeStatusResponse> BookingStore::ChangeStatus(
    const std::string& booking_id, Status target, std::optional<int64_t> expected_version,
    const Mutation& mutation, absl::Time deadline) {
  absl::StatusOr<StatusChangeDone> done =
      RunStatusChange(pool_, {booking_id, target, expected_version}, mutation, deadline);
  if (!done.ok()) return done.status();
  if (done->changed && changes_ != nullptr) {
    changes_->Count(done->changed->first, done->changed->second);
  }
  return std::move(done->response);
}

absl::StatusOr<v1::CreateExtensionResponse> BookingStore::CreateExtension(
    const std::string& booking_id, const std::string& description, int64_t price_cents,
    const Mutation& mutation, absl::Time deadline) {
  return IdempotentWrite<v1::CreateExtensionResponse>(
      pool_, mutation, "CreateExtension", RecordRead::kFirst, deadline,
      [&](pqxx::work& txn, v1::CreateExtensionResponse& response) -> absl::StatusOr<Written> {
        // FOR SHARE: a concurrent status change waits until the extension commits.
        absl::StatusOr<pqxx::row> row = LockBooking(txn, booking_id, "SHARE");
        if (!row.ok()) return row.status();
        absl::StatusOr<v1::Booking> booking = BookingFromRow(*row);
        if (!booking.ok()) return booking.status();
        const Status current = *StatusOfRow(*row);
        if (current != Status::kInService) {
          return RpcError(absl::StatusCode::kFailedPrecondition,
                          absl::StrCat("an extension can be created only while the booking is "
                                       "IN_SERVICE; booking ",
                                       booking_id, " is ", Label(current)))
              .Info("BOOKING_NOT_IN_SERVICE", std::string(kDomain),
                    {{"booking_id", booking_id}, {"status", std::string(Label(current))}})
              .Precondition("STATUS", std::string(Label(current)), "required status: IN_SERVICE");
        }
        pqxx::result r = txn.exec_params(
            R"(INSERT INTO "BookingExtension" (id, "bookingId", description, "priceCents", "createdBy")
           VALUES (gen_random_uuid()::text, $1, $2, $3, $4)
           RETURNING id AS id, (extract(epoch from "createdAt") * 1000000)::bigint AS created_micros)",
            booking_id, description, price_cents, mutation.caller);
        v1::Extension* ext = response.mutable_extension();
        ext->set_id(r[0]["id"].as<std::string>());
        ext->set_booking_id(booking_id);
        ext->set_description(description);
        ext->set_price_cents(price_cents);
        *ext->mutable_create_time() =
            TimeUtil::MicrosecondsToTimestamp(r[0]["created_micros"].as<int64_t>());
        *response.mutable_booking() = *std::move(booking);
        return Written::kNow;
      });
}

}  // namespace booking
