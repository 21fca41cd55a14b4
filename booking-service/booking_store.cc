#include "booking-service/booking_store.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "booking-service/status_wire.h"
#include "booking-service/stored_status.h"
#include "common/rpc_error.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kDomain = "booking.v1";
// The history table's CHECK on octet_length(metadata::text).
constexpr int64_t kMaxStoredMetadataBytes = 16384;

absl::Status NotFound(const std::string& booking_id) {
  return RpcError(absl::StatusCode::kNotFound, absl::StrCat("booking ", booking_id, " not found"))
      .Info("BOOKING_NOT_FOUND", std::string(kDomain), {{"booking_id", booking_id}});
}

// Serialises calls that share a request id, then answers a retry from its
// record. Returns true when `response` was filled from an earlier call.
absl::StatusOr<bool> Replay(pqxx::work& txn, const Mutation& m, absl::string_view method,
                            google::protobuf::Message* response) {
  if (m.request_id.empty()) return false;
  txn.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))", m.caller,
                  m.request_id);
  pqxx::result r = txn.exec_params(
      R"(SELECT method, fingerprint, response FROM "IdempotencyRecord"
         WHERE caller = $1 AND "requestId" = $2)",
      m.caller, m.request_id);
  if (r.empty()) return false;
  if (r[0][0].as<std::string>() != method || r[0][1].as<std::string>() != m.fingerprint) {
    return RpcError(absl::StatusCode::kAlreadyExists,
                    absl::StrCat("request id ", m.request_id,
                                 " was already used for a different request; use a new one"))
        .Info("REQUEST_ID_REUSED", std::string(kDomain),
              {{"request_id", m.request_id}, {"first_method", r[0][0].as<std::string>()}});
  }
  pqxx::binarystring bytes(r[0][2]);
  if (!response->ParseFromString(bytes.str())) {
    return absl::InternalError("stored idempotency record does not parse");
  }
  return true;
}

void Remember(pqxx::work& txn, const Mutation& m, absl::string_view method,
              const google::protobuf::Message& response) {
  if (m.request_id.empty()) return;
  const std::string bytes = response.SerializeAsString();
  txn.exec_params(
      R"(INSERT INTO "IdempotencyRecord" (caller, "requestId", method, fingerprint, response)
         VALUES ($1, $2, $3, $4, $5))",
      m.caller, m.request_id, std::string(method), m.fingerprint,
      pqxx::binarystring(bytes.data(), bytes.size()));
}

// The change's event, committed with it; NOTIFY wakes the relay on commit.
// history-service's table bounds metadata by its jsonb text (which has more
// spaces than the request's JSON): a change whose event history would refuse
// is refused here, before anything is committed.
absl::Status AppendEvent(pqxx::work& txn, const std::string& booking_id, int64_t sequence,
                         absl::string_view from_status, Status to_status, const Mutation& m) {
  pqxx::result r = txn.exec_params(
      R"(INSERT INTO "BookingOutbox"
           ("bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata)
         VALUES ($1, $2, NULLIF($3, ''), $4, $5, NULLIF($6, ''), NULLIF($7, '')::jsonb)
         RETURNING COALESCE(octet_length(metadata::text), 0))",
      booking_id, sequence, std::string(from_status), std::string(Label(to_status)), m.caller,
      m.reason, m.metadata_json);
  if (r[0][0].as<int64_t>() > kMaxStoredMetadataBytes) {
    return InvalidField("metadata", "larger than 16 KiB as stored JSON (jsonb text)");
  }
  txn.exec("SELECT pg_notify('booking_outbox', '')");
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

// Writes `target` to the locked booking in the label set writers write now
// (keeping the exact status beside an old label); the booking as written.
absl::StatusOr<v1::Booking> WriteStatus(pqxx::work& txn, const std::string& booking_id,
                                        Status target) {
  absl::StatusOr<WriteMode> mode = ReadWriteMode(txn);
  if (!mode.ok()) return mode.status();
  pqxx::result updated = txn.exec_params(absl::StrCat(R"(UPDATE "Booking" AS b
       SET status = $2::"BookingStatus", version = version + 1,
           "updatedAt" = timezone('UTC', now())
       WHERE id = $1 RETURNING )",
                                                      kReturnedColumns),
                                         booking_id, StoredLabel(target, *mode));
  absl::StatusOr<v1::Booking> after = BookingFromRow(updated[0]);
  if (!after.ok()) return after.status();
  after->set_status(ToWire(target));
  KeepExactStatus(txn, *mode, booking_id, target, after->version());
  return after;
}

}  // namespace

absl::StatusOr<v1::Booking> BookingStore::Create(const std::string& booking_id,
                                                 const std::string& customer_id, Status initial,
                                                 const Mutation& mutation, absl::Time deadline) {
  v1::Booking booking;
  absl::Status status = pool_.RunInTransaction(
      [&](pqxx::work& txn) -> absl::Status {
        absl::StatusOr<bool> replayed = Replay(txn, mutation, "CreateBooking", &booking);
        if (!replayed.ok() || *replayed) return replayed.status();
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
        Remember(txn, mutation, "CreateBooking", booking);
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  return booking;
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
  v1::ChangeStatusResponse response;
  absl::Status status = pool_.RunInTransaction(
      [&](pqxx::work& txn) -> absl::Status {
        absl::StatusOr<bool> replayed = Replay(txn, mutation, "ChangeStatus", &response);
        if (!replayed.ok() || *replayed) return replayed.status();
        absl::StatusOr<pqxx::row> row = LockBooking(txn, booking_id, "UPDATE");
        if (!row.ok()) return row.status();
        absl::StatusOr<v1::Booking> current = BookingFromRow(*row);
        if (!current.ok()) return current.status();
        const Status from = *StatusOfRow(*row);

        if (expected_version && *expected_version != current->version()) {
          return VersionMismatch(booking_id, *expected_version, current->version());
        }
        if (from == target) {  // nothing changes, nothing is recorded
          *response.mutable_booking() = *std::move(current);
          response.set_changed(false);
          Remember(txn, mutation, "ChangeStatus", response);
          return absl::OkStatus();
        }
        if (!IsTransitionAllowed(from, target)) return IllegalTransition(booking_id, from, target);
        absl::StatusOr<v1::Booking> after = WriteStatus(txn, booking_id, target);
        if (!after.ok()) return after.status();
        if (absl::Status s =
                AppendEvent(txn, booking_id, after->version(), Label(from), target, mutation);
            !s.ok()) {
          return s;
        }
        *response.mutable_booking() = *std::move(after);
        response.set_changed(true);
        Remember(txn, mutation, "ChangeStatus", response);
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::CreateExtensionResponse> BookingStore::CreateExtension(
    const std::string& booking_id, const std::string& description, int64_t price_cents,
    const Mutation& mutation, absl::Time deadline) {
  v1::CreateExtensionResponse response;
  absl::Status status = pool_.RunInTransaction(
      [&](pqxx::work& txn) -> absl::Status {
        absl::StatusOr<bool> replayed = Replay(txn, mutation, "CreateExtension", &response);
        if (!replayed.ok() || *replayed) return replayed.status();
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
        Remember(txn, mutation, "CreateExtension", response);
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  return response;
}

absl::Status BookingStore::Probe(ProbeConnection& probe) {
  return probe.Run([](pqxx::transaction_base& txn) -> absl::Status {
    pqxx::result r = txn.exec(
        R"(SELECT to_regclass('"BookingOutbox"') IS NOT NULL
                  AND to_regclass('"IdempotencyRecord"') IS NOT NULL
                  AND to_regclass('"BookingExtension"') IS NOT NULL
                  AND to_regclass('"BookingStatusExact"') IS NOT NULL)");
    if (!r[0][0].as<bool>()) {
      return absl::FailedPreconditionError(
          "booking store schema is missing or old; run `migrator up` against it first");
    }
    // Until `migrator expand` has finished (the new labels added, every
    // object naming labels widened), a change to a new label cannot be
    // written: not ready.
    pqxx::result phase = txn.exec(R"(SELECT phase FROM "StatusMigration")");
    const std::string p = phase.empty() ? "none" : phase[0][0].as<std::string>();
    if (p == "none" || p == "expanding") {
      return absl::FailedPreconditionError(
          absl::StrCat("the booking store's status change is at phase ", p,
                       ": the new status labels are not usable yet; run `migrator expand` first"));
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
