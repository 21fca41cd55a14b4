#include "migrator/schema_steps.h"

#include "common/digest.h"

namespace booking::migrator {
namespace {

// An empty store gets the seed's Prisma shape ("Booking" with quoted
// camelCase columns, enum "BookingStatus") holding the new status set from the
// start. An existing store is adopted as it is: nothing here replaces or
// rewrites what it has.
constexpr char kBookingBase[] = R"sql(
DO $$
BEGIN
  IF to_regtype('"BookingStatus"') IS NULL THEN
    CREATE TYPE "BookingStatus" AS ENUM (
      'PENDING_PAYMENT', 'CONFIRMED', 'PICKUP_ASSIGNED', 'PICKED_UP', 'AT_WORKSHOP',
      'IN_SERVICE', 'READY_FOR_RETURN', 'RETURN_ASSIGNED', 'RETURNED', 'DELIVERED',
      'CANCELLED');
  END IF;
  IF to_regclass('"Booking"') IS NULL THEN
    CREATE TABLE "Booking" (
      id TEXT NOT NULL,
      "customerId" TEXT,
      status "BookingStatus" NOT NULL DEFAULT 'PENDING_PAYMENT',
      "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "updatedAt" TIMESTAMP(3) NOT NULL,
      CONSTRAINT "Booking_pkey" PRIMARY KEY (id)
    );
    CREATE INDEX "Booking_status_idx" ON "Booking" (status);
  END IF;
END
$$;
)sql";

// What the services add, additively: a version for compare-and-set (and the
// history sequence), the transactional outbox, idempotency records and
// extensions. ADD COLUMN with a constant default does not rewrite the table.
// The outbox's columns (with 0005 and 0006) are outbox/outbox.h's, written
// out in applied steps' text; tests/outbox_test.cc holds the tables to them.
constexpr char kBookingServiceTables[] = R"sql(
ALTER TABLE "Booking" ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "Booking" ADD COLUMN IF NOT EXISTS "customerId" TEXT;

CREATE TABLE IF NOT EXISTS "BookingOutbox" (
  id BIGSERIAL PRIMARY KEY,
  "eventId" UUID NOT NULL DEFAULT gen_random_uuid(),
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  "fromStatus" TEXT,
  "toStatus" TEXT NOT NULL,
  "changedBy" TEXT NOT NULL,
  reason TEXT,
  metadata JSONB,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT timezone('UTC', now()),
  CONSTRAINT "BookingOutbox_eventId_key" UNIQUE ("eventId")
);

-- Events history-service refused as malformed, kept for an operator.
CREATE TABLE IF NOT EXISTS "BookingOutboxRejected" (
  id BIGINT PRIMARY KEY,
  "eventId" UUID NOT NULL,
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  "fromStatus" TEXT,
  "toStatus" TEXT NOT NULL,
  "changedBy" TEXT NOT NULL,
  reason TEXT,
  metadata JSONB,
  "createdAt" TIMESTAMP(3) NOT NULL,
  "rejectReason" TEXT NOT NULL,
  "rejectedAt" TIMESTAMP(3) NOT NULL DEFAULT timezone('UTC', now())
);

CREATE TABLE IF NOT EXISTS "IdempotencyRecord" (
  caller TEXT NOT NULL,
  "requestId" TEXT NOT NULL,
  method TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  response BYTEA NOT NULL,
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT "IdempotencyRecord_pkey" PRIMARY KEY (caller, "requestId")
);

CREATE TABLE IF NOT EXISTS "BookingExtension" (
  id TEXT PRIMARY KEY,
  "bookingId" TEXT NOT NULL REFERENCES "Booking" (id),
  description TEXT NOT NULL,
  "priceCents" BIGINT NOT NULL DEFAULT 0 CHECK ("priceCents" >= 0),
  "createdBy" TEXT NOT NULL,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT timezone('UTC', now())
);
CREATE INDEX IF NOT EXISTS "BookingExtension_bookingId_idx" ON "BookingExtension" ("bookingId");
)sql";

// Where the phased status-enum change stands (one row), and what each run of
// a phase did. A store created by `up` holds the new set from the start:
// nothing to migrate. The old-only labels below are common/status_catalog.h's
// LegacyStatus, written out in an applied step's text.
constexpr char kStatusMigrationState[] = R"sql(
CREATE TABLE IF NOT EXISTS "StatusMigration" (
  id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
  phase TEXT NOT NULL CHECK (phase IN ('none', 'expanded', 'backfilled', 'verified', 'contracted')),
  "originalLabels" TEXT[],
  "backfilledAt" TIMESTAMPTZ,
  "verifiedAt" TIMESTAMPTZ,
  "contractedAt" TIMESTAMPTZ,
  "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "StatusMigrationLog" (
  id BIGSERIAL PRIMARY KEY,
  action TEXT NOT NULL,
  "fromPhase" TEXT,
  "toPhase" TEXT,
  detail TEXT,
  "at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "by" TEXT NOT NULL DEFAULT current_user
);
INSERT INTO "StatusMigration" (phase, "originalLabels")
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = '"BookingStatus"'::regtype
                           AND enumlabel IN ('JOCKEY_ASSIGNED', 'IN_TRANSIT_TO_WORKSHOP',
                                             'IN_WORKSHOP', 'COMPLETED', 'IN_TRANSIT_TO_CUSTOMER'))
            THEN 'none' ELSE 'contracted' END,
       (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum
        WHERE enumtypid = '"BookingStatus"'::regtype)
ON CONFLICT (id) DO NOTHING;
)sql";

// The status-enum change as the migrator now runs it: intermediate phases
// (an interrupted expand or contract, in either direction), which label set
// writers write (a rollback of backfill switches them to the old one), the
// plan expand recorded; the exact new status of bookings written with an old
// label during a rollback (so nothing is lost when backfill runs again); and
// the sessions that wrote labels of the wrong set (backfill names them).
constexpr char kStatusMigrationModes[] = R"sql(
ALTER TABLE "StatusMigration" ADD COLUMN IF NOT EXISTS "writeLabels" TEXT NOT NULL DEFAULT 'new';
ALTER TABLE "StatusMigration" ADD COLUMN IF NOT EXISTS "writeLabelsSince" TIMESTAMPTZ NOT NULL
  DEFAULT now();
ALTER TABLE "StatusMigration" ADD COLUMN IF NOT EXISTS plan TEXT;
ALTER TABLE "StatusMigration" DROP CONSTRAINT IF EXISTS "StatusMigration_phase_check";
ALTER TABLE "StatusMigration" ADD CONSTRAINT "StatusMigration_phase_check" CHECK (
  phase IN ('none', 'expanding', 'expanded', 'backfilling', 'backfilled', 'verified',
            'contracting', 'contracted'));
ALTER TABLE "StatusMigration" ADD CONSTRAINT "StatusMigration_writeLabels_check" CHECK (
  "writeLabels" IN ('new', 'old'));
CREATE TABLE IF NOT EXISTS "BookingStatusExact" (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS "StatusMigrationWriter" (
  pid INTEGER NOT NULL,
  role TEXT NOT NULL,
  application TEXT NOT NULL,
  client TEXT NOT NULL,
  "lastLabel" TEXT NOT NULL,
  writes BIGINT NOT NULL DEFAULT 1,
  "firstAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "lastAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (pid, role, application, client)
);
)sql";

}  // namespace

absl::string_view StoreName(StoreKind store) {
  return store == StoreKind::kBooking ? "booking" : "history";
}

namespace {

// An event history holds back as a gap stays in the outbox and is sent
// again after "retryAfter" ("heldCount" times so far).
constexpr char kOutboxRetry[] = R"sql(
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "retryAfter" TIMESTAMPTZ;
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "heldCount" INTEGER NOT NULL DEFAULT 0;
)sql";

// The W3C traceparent of the call that made each change, carried from the
// outbox to the history row (common/trace_context.h). Nullable columns
// without a default: adding them rewrites nothing and locks only briefly.
constexpr char kOutboxTrace[] = R"sql(
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
ALTER TABLE "BookingOutboxRejected" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
)sql";

}  // namespace

const std::vector<Step>& StepsFor(StoreKind store) {
  static const std::vector<Step> kBooking = {
      {"0001_booking_base", "Booking table and BookingStatus enum (adopted when present)",
       kBookingBase},
      {"0002_booking_service_tables",
       "version column, outbox, rejected events, idempotency records, extensions",
       kBookingServiceTables},
      {"0003_status_migration_state", "where the status-enum change stands, and its log",
       kStatusMigrationState},
      {"0004_status_migration_modes",
       "intermediate phases, writers' label set, recorded plan, exact labels, label writers",
       kStatusMigrationModes},
      {"0005_outbox_retry", "outbox events history held back as gaps wait before a resend",
       kOutboxRetry},
      {"0006_outbox_trace", "the traceparent of the call that made each change", kOutboxTrace},
  };
  return store == StoreKind::kBooking ? kBooking : HistorySteps();
}

std::string Checksum(const Step& step) {
  std::string text = step.sql;
  for (const auto& [name, definition] : step.concurrent_indexes) {
    text += "CREATE INDEX CONCURRENTLY " + name + " " + definition + ";\n";
  }
  return Sha256Hex(text);
}

}  // namespace booking::migrator
