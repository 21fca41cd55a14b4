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
// nothing to migrate.
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

// The seed's fields, plus the event id (the dedupe key) and the booking's
// sequence number (the order). Statuses are TEXT: history outlives any enum.
constexpr char kHistoryBase[] = R"sql(
CREATE TABLE IF NOT EXISTS "BookingStatusHistory" (
  id UUID NOT NULL DEFAULT gen_random_uuid(),
  "eventId" UUID NOT NULL,
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL CHECK (sequence > 0),
  "fromStatus" TEXT,
  "toStatus" TEXT NOT NULL,
  "changedBy" TEXT,
  reason TEXT,
  metadata JSONB CHECK (metadata IS NULL OR
                        (jsonb_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 16384)),
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "recordedAt" TIMESTAMP(3) NOT NULL DEFAULT timezone('UTC', now()),
  CONSTRAINT "BookingStatusHistory_pkey" PRIMARY KEY (id),
  CONSTRAINT "BookingStatusHistory_eventId_key" UNIQUE ("eventId"),
  CONSTRAINT "BookingStatusHistory_bookingId_sequence_key" UNIQUE ("bookingId", sequence)
);
CREATE INDEX IF NOT EXISTS "BookingStatusHistory_toStatus_idx" ON "BookingStatusHistory" ("toStatus");
CREATE INDEX IF NOT EXISTS "BookingStatusHistory_createdAt_idx" ON "BookingStatusHistory" ("createdAt");
CREATE INDEX IF NOT EXISTS "BookingStatusHistory_changedBy_idx" ON "BookingStatusHistory" ("changedBy");
)sql";

// Immutability enforced by the database for every role, the table owner
// included: a trigger refuses UPDATE, DELETE and TRUNCATE; the grants take
// the privileges away too.
constexpr char kHistoryImmutable[] = R"sql(
CREATE OR REPLACE FUNCTION "BookingStatusHistory_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '"BookingStatusHistory" is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'history entries are immutable; a correction is a new status change';
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistory_no_update_delete"
  BEFORE UPDATE OR DELETE ON "BookingStatusHistory"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistory_refuse_change"();
CREATE OR REPLACE TRIGGER "BookingStatusHistory_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistory"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistory_refuse_change"();
REVOKE UPDATE, DELETE, TRUNCATE ON "BookingStatusHistory" FROM PUBLIC;
)sql";

}  // namespace

absl::string_view StoreName(StoreKind store) {
  return store == StoreKind::kBooking ? "booking" : "history";
}

namespace {
// "recordedAt" is when the row was written, not when its transaction began
// (a batch's transaction may begin well before): the history lag is exact.
constexpr char kHistoryRecordedAtClock[] = R"sql(
ALTER TABLE "BookingStatusHistory"
  ALTER COLUMN "recordedAt" SET DEFAULT timezone('UTC', clock_timestamp());
)sql";
// Events history holds back instead of storing (a gap before them, a fork
// of the booking's story, an event id seen with other content), with why;
// a gap is stored (and leaves this table) once the missing events arrive.
constexpr char kHistoryHeldBack[] = R"sql(
CREATE TABLE IF NOT EXISTS "BookingStatusHeldBack" (
  id BIGSERIAL PRIMARY KEY,
  "eventId" UUID NOT NULL,
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  "fromStatus" TEXT,
  "toStatus" TEXT NOT NULL,
  "changedBy" TEXT,
  reason TEXT,
  metadata JSONB,
  "createdAt" TIMESTAMP(3) NOT NULL,
  "heldReason" TEXT NOT NULL CHECK ("heldReason" IN ('gap', 'fork', 'conflict')),
  detail TEXT NOT NULL,
  "heldAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "lastSeenAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "timesSeen" BIGINT NOT NULL DEFAULT 1,
  -- SHA-256 of the event's canonical content: one row per distinct content
  -- of an event id (a conflicting duplicate is kept beside the original).
  "contentDigest" BYTEA NOT NULL,
  CONSTRAINT "BookingStatusHeldBack_event_content_key" UNIQUE ("eventId", "contentDigest")
);
CREATE INDEX IF NOT EXISTS "BookingStatusHeldBack_bookingId_idx"
  ON "BookingStatusHeldBack" ("bookingId", sequence);
)sql";

// An event history holds back as a gap stays in the outbox and is sent
// again after "retryAfter" ("heldCount" times so far).
constexpr char kOutboxRetry[] = R"sql(
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "retryAfter" TIMESTAMPTZ;
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "heldCount" INTEGER NOT NULL DEFAULT 0;
)sql";

// Tamper evidence: each row's "rowHash" is SHA-256 over the booking's
// previous row's hash (32 zero bytes for its first) and the row's canonical
// content (history-service/row_content.h, Canonical: the same bytes as
// "BookingStatusHistory_canonical" here). history-service computes it at
// insert; rows written before this step are chained here, once, with the
// immutability trigger set aside for the length of this transaction only.
constexpr char kHistoryChain[] = R"sql(
ALTER TABLE "BookingStatusHistory" ADD COLUMN IF NOT EXISTS "rowHash" BYTEA;
CREATE OR REPLACE FUNCTION "BookingStatusHistory_field"(v TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN 'n' ELSE 'v' || octet_length(v) || ':' || v END
$$;
CREATE OR REPLACE FUNCTION "BookingStatusHistory_canonical"(h "BookingStatusHistory")
RETURNS BYTEA LANGUAGE sql STABLE AS $$
  SELECT convert_to('bsh1' || "BookingStatusHistory_field"(h."eventId"::text)
    || "BookingStatusHistory_field"(h."bookingId")
    || "BookingStatusHistory_field"(h.sequence::text)
    || "BookingStatusHistory_field"(h."fromStatus")
    || "BookingStatusHistory_field"(h."toStatus")
    || "BookingStatusHistory_field"(h."changedBy")
    || "BookingStatusHistory_field"(h.reason)
    || "BookingStatusHistory_field"(h.metadata::text)
    || "BookingStatusHistory_field"(
         ((extract(epoch from h."createdAt") * 1000000)::bigint)::text), 'UTF8')
$$;
DO $$
DECLARE
  r "BookingStatusHistory";
  prev BYTEA;
  booking TEXT;
BEGIN
  IF EXISTS (SELECT 1 FROM "BookingStatusHistory" WHERE "rowHash" IS NULL) THEN
    ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
    FOR r IN SELECT * FROM "BookingStatusHistory" ORDER BY "bookingId", sequence LOOP
      IF booking IS DISTINCT FROM r."bookingId" THEN
        prev := decode(repeat('00', 32), 'hex');
        booking := r."bookingId";
      END IF;
      prev := sha256(prev || "BookingStatusHistory_canonical"(r));
      UPDATE "BookingStatusHistory" SET "rowHash" = prev WHERE id = r.id;
    END LOOP;
    ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";
  END IF;
END
$$;
)sql";

// Signed checkpoints (history-service/checkpoint.h): each with the heads
// that changed since the one before, so any checkpoint's head list can be
// rebuilt and checked against its signed root.
constexpr char kHistoryCheckpoints[] = R"sql(
CREATE TABLE IF NOT EXISTS "HistoryCheckpoint" (
  id BIGSERIAL PRIMARY KEY,
  "rowCount" BIGINT NOT NULL,
  "bookingCount" BIGINT NOT NULL,
  root BYTEA NOT NULL,
  "signedAtMicros" BIGINT NOT NULL,
  "publicKey" BYTEA NOT NULL,
  signature BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS "HistoryCheckpointHead" (
  "checkpointId" BIGINT NOT NULL REFERENCES "HistoryCheckpoint" (id),
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  "rowHash" BYTEA NOT NULL,
  PRIMARY KEY ("bookingId", "checkpointId")
);
)sql";

// The W3C traceparent of the call that made each change, carried from the
// outbox to the history row (common/trace_context.h). Nullable columns
// without a default: adding them rewrites nothing and locks only briefly.
constexpr char kOutboxTrace[] = R"sql(
ALTER TABLE "BookingOutbox" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
ALTER TABLE "BookingOutboxRejected" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
)sql";
constexpr char kHistoryTrace[] = R"sql(
ALTER TABLE "BookingStatusHistory" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
ALTER TABLE "BookingStatusHeldBack" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
)sql";
// ListHistory (history-service/list_history.h): each filter shape is one
// range of one of these, already in (create time, id) order, so a page is
// read from the index without a sort; built concurrently (see Step).
constexpr char kHistoryListIndexes[] = "SELECT 1; -- the indexes: concurrent_indexes\n";
// WatchHistory's feed (history-service/watch_feed.h): every row's position
// in COMMIT order, so that a watcher reading "position > its token" can never
// skip a row that commits later with a smaller position. history-service
// takes positions as the last statements of an ingest transaction, under one
// transaction-level advisory lock held until the commit is visible
// (AssignFeedPositions in history-service/ingest_store.cc): a transaction
// taking positions after another one waits for that one's commit, so
// positions become visible in ascending order. The lock is held from those
// statements to the end of the commit only, never while a batch plans or
// waits on a booking's lock. The sequence must not cache (CACHE 1): cached
// values would break the order. (Not a deferred trigger: its pending events
// would refuse an ALTER TABLE later in the same transaction.) Rows stored
// before this step have no position; a watch from the start reads them first,
// by booking and sequence, when "legacyRows" says there are any: nothing is
// backfilled and no lock is held long.
constexpr char kHistoryFeed[] = R"sql(
CREATE SEQUENCE IF NOT EXISTS "BookingStatusHistoryFeed_position_seq" CACHE 1;
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryFeed" (
  position BIGINT PRIMARY KEY,
  "historyId" UUID NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryFeedStart" ("legacyRows" BOOLEAN NOT NULL);
INSERT INTO "BookingStatusHistoryFeedStart"
  SELECT EXISTS (SELECT 1 FROM "BookingStatusHistory")
  WHERE NOT EXISTS (SELECT 1 FROM "BookingStatusHistoryFeedStart");
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
  static const std::vector<Step> kHistory = {
      {"0001_history_base", "BookingStatusHistory table and its indexes", kHistoryBase},
      {"0002_history_immutable", "refuse UPDATE, DELETE and TRUNCATE on BookingStatusHistory",
       kHistoryImmutable},
      {"0003_history_recorded_at_clock", "\"recordedAt\" is the time the row was written",
       kHistoryRecordedAtClock},
      {"0004_history_held_back", "events held back: gaps, forks, conflicting duplicates",
       kHistoryHeldBack},
      {"0005_history_chain", "each row hash-chained to its booking's previous row", kHistoryChain},
      {"0006_history_checkpoints", "signed checkpoints and the heads each one covers",
       kHistoryCheckpoints},
      {"0007_history_list_indexes",
       "(create time, id) indexes for ListHistory, alone and after changedBy, toStatus and "
       "fromStatus",
       kHistoryListIndexes,
       {{"BookingStatusHistory_createdAt_id_idx", R"(ON "BookingStatusHistory" ("createdAt", id))"},
        {"BookingStatusHistory_changedBy_createdAt_idx",
         R"(ON "BookingStatusHistory" ("changedBy", "createdAt", id))"},
        {"BookingStatusHistory_toStatus_createdAt_idx",
         R"(ON "BookingStatusHistory" ("toStatus", "createdAt", id))"},
        {"BookingStatusHistory_fromStatus_createdAt_idx",
         R"(ON "BookingStatusHistory" ("fromStatus", "createdAt", id))"}}},
      {"0008_history_feed", "the watch feed: each row's position, in commit order", kHistoryFeed},
      {"0009_history_trace", "the traceparent of the call that made each change", kHistoryTrace},
  };
  return store == StoreKind::kBooking ? kBooking : kHistory;
}

std::string Checksum(const Step& step) {
  std::string text = step.sql;
  for (const auto& [name, definition] : step.concurrent_indexes) {
    text += "CREATE INDEX CONCURRENTLY " + name + " " + definition + ";\n";
  }
  return Sha256Hex(text);
}

}  // namespace booking::migrator
