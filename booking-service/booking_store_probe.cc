// BookingStore::Probe: what the booking store must hold before this binary
// can serve (the readiness probe's check), apart from the store's statements.
#include "absl/strings/str_cat.h"
#include "booking-service/booking_store.h"
#include "common/store_schema.h"
#include "pqxx/pqxx"

namespace booking {

absl::Status BookingStore::Probe(ProbeConnection& probe) {
  return probe.Run([](pqxx::transaction_base& txn) -> absl::Status {
    pqxx::result r = txn.exec(
        R"(SELECT to_regclass('"BookingOutbox"') IS NOT NULL
                  AND EXISTS (SELECT FROM pg_attribute WHERE attname = 'traceParent'
                              AND attrelid = to_regclass('"BookingOutbox"'))
                  AND to_regclass('"IdempotencyRecord"') IS NOT NULL
                  AND to_regclass('"BookingExtension"') IS NOT NULL
                  AND to_regclass('"BookingStatusExact"') IS NOT NULL AS ready)");
    if (!r.front()["ready"].as<bool>()) {
      if (std::string other = OtherStoreIn(ReadSchemaContents(txn), "booking", {});
          !other.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("--database-url (BOOKING_DATABASE_URL) points at ", other,
                         ", not at the booking store: give it the booking database's URL"));
      }
      return absl::FailedPreconditionError(
          "booking store schema is missing or old; run `migrator up` against it first");
    }
    // Until `migrator expand` has finished (the new labels added, every
    // object naming labels widened), a change to a new label cannot be
    // written: not ready.
    pqxx::result phase = txn.exec(R"(SELECT phase AS phase FROM "StatusMigration")");
    const std::string p = phase.empty() ? "none" : phase.front()["phase"].as<std::string>();
    if (p == "none" || p == "expanding") {
      return absl::FailedPreconditionError(
          absl::StrCat("the booking store's status change is at phase ", p,
                       ": the new status labels are not usable yet; run `migrator expand` first"));
    }
    return absl::OkStatus();
  });
}

}  // namespace booking
