#include "booking-service/booking_store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "booking-service/idempotent_write.h"
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

absl::Status NotFound(const std::string& booking_id) {
  return RpcError(absl::StatusCode::kNotFound, absl::StrCat("booking ", booking_id, " not found"))
      .Info("BOOKING_NOT_FOUND", std::string(kDomain), {{"booking_id", booking_id}});
}

// A change's event as both writes insert it (outbox.h): $3 the from status
// ('' for none), $4 the to status, $5 the caller, $6 the reason, $7 the
// metadata JSON ('' for none), $8 the traceparent.
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

// History bounds metadata by its jsonb text (more spaces than the request's
// JSON): an event history would refuse is refused before commit.
absl::Status CheckStoredMetadata(int64_t bytes) {
  if (bytes <= static_cast<int64_t>(limits::kMaxStoredMetadataBytes)) return absl::OkStatus();
  return InvalidField("metadata", "larger than 16 KiB as stored JSON (jsonb text)");
}

// The event, committed with the change; NOTIFY wakes the relay on commit.
absl::Status AppendEvent(pqxx::work& txn, const std::string& booking_id, int64_t sequence,
                         absl::string_view from_status, Status to_status, const Mutation& m) {
  static const std::string sql = absl::StrCat(outbox::InsertSql(ChangeEvent("$1", "$2")),
                                              " RETURNING ", outbox::kStoredMetadataBytes);
  pqxx::result r = txn.exec_params(sql, booking_id, sequence, std::string(from_status),
                                   std::string(Label(to_status)), m.caller, m.reason,
                                   m.metadata_json, m.traceparent);
  if (absl::Status s = CheckStoredMetadata(r[0][0].as<int64_t>()); !s.ok()) return s;
  txn.exec(absl::StrCat("SELECT ", outbox::NotifyCall()));
  return absl::OkStatus();
}

// Locks the booking row; NOT_FOUND when absent.
absl::StatusOr<pqxx::row> LockBooking(pqxx::work& txn, const std::string& booking_id,
                                      absl::string_view lock_mode) {
  pqxx::result r = txn.exec_params(absl::StrCat("SELECT ", kBookingColumns, kBookingFrom,
                                                " WHERE b.id = $1 FOR ", lock_mode, " OF b"),
                                   booking_id);
  if (r.empty()) return NotFound(booking_id);
  return r[0];
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

// What a change reads, in one statement run after LockRequestId: the booking
// locked (0-6 as kBookingColumns; NULL when absent), the write mode (7-8) and
// the call's idempotency record (9-11; NULL when none).
pqxx::row LockForChange(pqxx::work& txn, const std::string& booking_id, const Mutation& m) {
  static const std::string sql =
      absl::StrCat("SELECT bk.*, ", kWriteModeColumns, R"(, i.method, i.fingerprint, i.response
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT )",
                   kBookingColumns, kBookingFrom,
                   R"( WHERE b.id = $1 FOR UPDATE OF b) AS bk ON true)", kWriteModeJoin, R"(
       LEFT JOIN "IdempotencyRecord" i ON i.caller = $2 AND i."requestId" = $3)");
  return txn.exec_prepared(Prepared(txn, "booking_change_read", sql), booking_id, m.caller,
                           m.request_id)[0];
}

// Writes `target` to the locked booking in the label set writers write now
// (the exact status kept beside an old label) and its event (metadata bounded
// as in AppendEvent) in one statement; the booking as written.
absl::StatusOr<v1::Booking> WriteChange(pqxx::work& txn, const std::string& booking_id, Status from,
                                        Status target, const WriteMode& mode, const Mutation& m) {
  static const std::string sql = absl::StrCat(
      R"(
      WITH u AS (UPDATE "Booking" AS b
                 SET status = $2::"BookingStatus", version = version + 1,
                     "updatedAt" = timezone('UTC', now())
                 WHERE id = $1 RETURNING )",
      kReturnedColumns, R"(),
           ev AS ()",
      outbox::InsertSql(ChangeEvent("u.id", "u.version"), "FROM u"), " RETURNING ",
      outbox::kStoredMetadataBytes, R"( AS metadata_bytes)
      SELECT u.*, (SELECT metadata_bytes FROM ev), )",
      outbox::NotifyCall(), " FROM u");
  // Unprepared: a prepared $2 would keep the enum's oid after contract's swap.
  pqxx::row r = txn.exec_params1(sql, booking_id, StoredLabel(target, mode),
                                 std::string(Label(from)), std::string(Label(target)), m.caller,
                                 m.reason, m.metadata_json, m.traceparent);
  if (absl::Status s = CheckStoredMetadata(r[7].as<int64_t>()); !s.ok()) return s;
  absl::StatusOr<v1::Booking> after = BookingFromRow(r);
  if (!after.ok()) return after.status();
  after->set_status(ToWire(target));
  KeepExactStatus(txn, mode, booking_id, target, after->version());
  return after;
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
        if (r.empty()) return NotFound(booking_id);
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
  constexpr absl::string_view kMethod = "ChangeStatus";
  std::optional<std::pair<Status, Status>> changed;  // of the attempt that committed
  absl::StatusOr<v1::ChangeStatusResponse> result = IdempotentWrite<v1::ChangeStatusResponse>(
      pool_, mutation, kMethod, RecordRead::kByWrite, deadline,
      [&](pqxx::work& txn, v1::ChangeStatusResponse& response) -> absl::StatusOr<Written> {
        changed.reset();
        const pqxx::row row = LockForChange(txn, booking_id, mutation);
        absl::StatusOr<bool> replayed =
            ReplayRecord(row[9], row[10], row[11], mutation, kMethod, &response);
        if (!replayed.ok()) return replayed.status();
        if (*replayed) return Written::kBefore;
        if (row[0].is_null()) return NotFound(booking_id);
        absl::StatusOr<v1::Booking> current = BookingFromRow(row);
        if (!current.ok()) return current.status();
        const Status from = *StatusOfRow(row);
        if (expected_version && *expected_version != current->version()) {
          return VersionMismatch(booking_id, *expected_version, current->version());
        }
        if (from == target) {  // nothing changes, nothing is recorded
          *response.mutable_booking() = *std::move(current);
          response.set_changed(false);
          return Written::kNow;
        }
        if (!IsTransitionAllowed(from, target)) return IllegalTransition(booking_id, from, target);
        absl::StatusOr<WriteMode> mode = WriteModeOf(row[7], row[8]);
        if (!mode.ok()) return mode.status();
        absl::StatusOr<v1::Booking> after =
            WriteChange(txn, booking_id, from, target, *mode, mutation);
        if (!after.ok()) return after.status();
        changed.emplace(from, target);
        *response.mutable_booking() = *std::move(after);
        response.set_changed(true);
        return Written::kNow;
      });
  if (result.ok() && changed && changes_ != nullptr) {
    changes_->Count(changed->first, changed->second);
  }
  return result;
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
           RETURNING id, (extract(epoch from "createdAt") * 1000000)::bigint)",
            booking_id, description, price_cents, mutation.caller);
        v1::Extension* ext = response.mutable_extension();
        ext->set_id(r[0][0].as<std::string>());
        ext->set_booking_id(booking_id);
        ext->set_description(description);
        ext->set_price_cents(price_cents);
        *ext->mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(r[0][1].as<int64_t>());
        *response.mutable_booking() = *std::move(booking);
        return Written::kNow;
      });
}

}  // namespace booking
