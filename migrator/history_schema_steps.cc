// The history store's schema steps (StepsFor in schema_steps.cc), apart
// from the booking store's: each store's story in a file of its own.
#include "migrator/history_keys_schema.h"
#include "migrator/history_log_schema.h"
#include "migrator/schema_steps.h"

namespace booking::migrator {
namespace {

// The seed's fields, plus the event id (the dedupe key) and the booking's
// sequence number (the order). Statuses are TEXT: history outlives any enum.
// The metadata CHECK's 16384 is limits::kMaxStoredMetadataBytes, written out
// in an applied step's text (tests/outbox_test.cc holds the table to it).
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

// The traceparent of the call that made each change, as the outbox carried
// it (schema_steps.cc kOutboxTrace): nullable, no default, no rewrite.
constexpr char kHistoryTrace[] = R"sql(
ALTER TABLE "BookingStatusHistory" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
ALTER TABLE "BookingStatusHeldBack" ADD COLUMN IF NOT EXISTS "traceParent" TEXT;
)sql";

// ListHistory (history-service/list_history.h): each filter shape is one
// range of one of these, already in (create time, id) order, so a page is
// read from the index without a sort; built concurrently (see Step).
constexpr char kHistoryListIndexes[] = "SELECT 1; -- the indexes: concurrent_indexes\n";

// WatchHistory's feed (history-service/watch_feed.h): every row's position
// in COMMIT order (since step 0011 given by the feed's sequencer after
// commit, under the same lock; this step's way is described as it was), so that a watcher reading
// "position > its token" can never skip a row that commits later with a smaller position.
// history-service takes positions as the last statements of an ingest transaction, under one
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

// The held-back table bounded (history-service/ingest_held.h). One row per
// place and reason ("bookingId", sequence, "heldReason"), whatever the event
// ids: the first event seen there in full, the last one seen ("last*", its
// content as JSON), how often and whether any other content came
// ("sawOtherContent"). A row whose place history has since stored is retired
// ("retiredAt", outcome 'stored': its own event, or 'superseded': another
// one), never silently dropped; only a gap stored as itself, with no other
// content ever seen there, leaves the table (history holds it). Rows of one
// place are merged here first: the oldest stays, with the newest as its
// last, the counts summed. "BookingStatusHeldBackCount" keeps the counts of
// held and retired rows, by statement triggers, so that they are read without
// a scan. history-service from before this step cannot hold an event back
// any more (its ON CONFLICT names the dropped constraint): the batch fails
// and the relay sends it again once the new history-service runs.
constexpr char kHistoryHeldBackBounded[] = R"sql(
ALTER TABLE "BookingStatusHeldBack"
  ADD COLUMN IF NOT EXISTS "lastEventId" UUID,
  ADD COLUMN IF NOT EXISTS "lastDigest" BYTEA,
  ADD COLUMN IF NOT EXISTS "lastDetail" TEXT,
  ADD COLUMN IF NOT EXISTS "lastContent" JSONB,
  ADD COLUMN IF NOT EXISTS "sawOtherContent" BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS "retiredAt" TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS outcome TEXT CHECK (outcome IN ('stored', 'superseded'));
WITH place AS (
  SELECT "bookingId" AS b, sequence AS s, "heldReason" AS r, min(id) AS keep, max(id) AS newest,
         sum("timesSeen") AS seen, max("lastSeenAt") AS last_seen,
         count(DISTINCT "contentDigest") > 1 AS other
  FROM "BookingStatusHeldBack" GROUP BY 1, 2, 3 HAVING count(*) > 1),
merged AS (
  UPDATE "BookingStatusHeldBack" h
  SET "timesSeen" = place.seen, "lastSeenAt" = place.last_seen, "sawOtherContent" = place.other,
      "lastEventId" = n."eventId", "lastDigest" = n."contentDigest", "lastDetail" = n.detail,
      "lastContent" = jsonb_build_object('event_id', n."eventId", 'booking_id', n."bookingId",
        'sequence', n.sequence, 'from_status', n."fromStatus", 'to_status', n."toStatus",
        'changed_by', n."changedBy", 'reason', n.reason, 'metadata', n.metadata::text,
        'created_micros', (extract(epoch from n."createdAt") * 1000000)::bigint,
        'trace_parent', COALESCE(n."traceParent", ''))
  FROM place JOIN "BookingStatusHeldBack" n ON n.id = place.newest
  WHERE h.id = place.keep)
DELETE FROM "BookingStatusHeldBack" h USING place
WHERE h."bookingId" = place.b AND h.sequence = place.s AND h."heldReason" = place.r
  AND h.id <> place.keep;
UPDATE "BookingStatusHeldBack"
SET "lastEventId" = "eventId", "lastDigest" = "contentDigest", "lastDetail" = detail
WHERE "lastDigest" IS NULL;
UPDATE "BookingStatusHeldBack" h
SET "retiredAt" = now(), outcome = CASE WHEN x."eventId" = h."eventId" THEN 'stored'
                                        ELSE 'superseded' END
FROM "BookingStatusHistory" x
WHERE x."bookingId" = h."bookingId" AND x.sequence = h.sequence AND h."retiredAt" IS NULL;
ALTER TABLE "BookingStatusHeldBack"
  DROP CONSTRAINT IF EXISTS "BookingStatusHeldBack_event_content_key",
  ALTER COLUMN "lastEventId" SET NOT NULL, ALTER COLUMN "lastDigest" SET NOT NULL,
  ALTER COLUMN "lastDetail" SET NOT NULL,
  ADD CONSTRAINT "BookingStatusHeldBack_place_key" UNIQUE ("bookingId", sequence, "heldReason");
DROP INDEX IF EXISTS "BookingStatusHeldBack_bookingId_idx";
CREATE INDEX IF NOT EXISTS "BookingStatusHeldBack_eventId_idx"
  ON "BookingStatusHeldBack" ("eventId") WHERE "retiredAt" IS NULL;
CREATE TABLE IF NOT EXISTS "BookingStatusHeldBackCount" (
  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
  held BIGINT NOT NULL,
  retired BIGINT NOT NULL
);
INSERT INTO "BookingStatusHeldBackCount" (held, retired)
  SELECT count(*) FILTER (WHERE "retiredAt" IS NULL), count(*) FILTER (WHERE "retiredAt" IS NOT NULL)
  FROM "BookingStatusHeldBack";
CREATE OR REPLACE FUNCTION "BookingStatusHeldBack_count"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  held_delta BIGINT := 0;
  retired_delta BIGINT := 0;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE "BookingStatusHeldBackCount" SET held = 0, retired = 0;
    RETURN NULL;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*) FILTER (WHERE "retiredAt" IS NULL), count(*) FILTER (WHERE "retiredAt" IS NOT NULL)
      INTO held_delta, retired_delta FROM new_rows;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT held_delta - count(*) FILTER (WHERE "retiredAt" IS NULL),
           retired_delta - count(*) FILTER (WHERE "retiredAt" IS NOT NULL)
      INTO held_delta, retired_delta FROM old_rows;
  END IF;
  IF held_delta <> 0 OR retired_delta <> 0 THEN
    UPDATE "BookingStatusHeldBackCount"
    SET held = held + held_delta, retired = retired + retired_delta;
  END IF;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHeldBack_count_insert" AFTER INSERT ON "BookingStatusHeldBack"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHeldBack_count"();
CREATE OR REPLACE TRIGGER "BookingStatusHeldBack_count_update" AFTER UPDATE ON "BookingStatusHeldBack"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHeldBack_count"();
CREATE OR REPLACE TRIGGER "BookingStatusHeldBack_count_delete" AFTER DELETE ON "BookingStatusHeldBack"
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHeldBack_count"();
CREATE OR REPLACE TRIGGER "BookingStatusHeldBack_count_truncate"
  AFTER TRUNCATE ON "BookingStatusHeldBack"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHeldBack_count"();
)sql";

// The feed's queue (history-service/feed_sequencer.h): an ingest
// transaction no longer takes positions itself (step 0008's lock was held
// through every ingest COMMIT, so concurrent Ingest streams committed one
// after the other); it queues its rows here, in insertion order, and one
// sequencer at a time (the same lock, held by the sequencer alone) moves
// committed rows from the queue to the feed in queue order. A booking's
// later row is queued by a transaction that began after the earlier one's
// COMMIT (the booking's lock), so it has the larger "queueId" (the identity
// does not cache): positions keep each booking's order. A history-service
// of before this step still takes positions itself under the same lock.
constexpr char kHistoryFeedQueue[] = R"sql(
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryFeedQueue" (
  "queueId" BIGINT GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
  "historyId" UUID NOT NULL
);
)sql";

// The feed's queue takes a batch's rows in one row: "historyIds", in
// insertion order (history-service/ingest_store.h InsertRows), so an ingest
// transaction writes one queue row (and the sequencer deletes one) where it
// wrote one per event; "historyId" stays for rows queued one by one (by a
// history-service of before this step, and by hand). Each row holds one
// form or the other (the queue is short: the CHECK reads it at once). A
// history-service of before this step reads only "historyId": while one
// still runs beside a newer one on a store with rows from before the feed
// (step 0008), its WatchHistory may show a queued row of a batch among the
// rows from before the feed: upgrade every replica before such a store
// takes writes, as for step 0011.
constexpr char kHistoryFeedQueueBatches[] = R"sql(
ALTER TABLE "BookingStatusHistoryFeedQueue"
  ADD COLUMN IF NOT EXISTS "historyIds" UUID[],
  ALTER COLUMN "historyId" DROP NOT NULL;
ALTER TABLE "BookingStatusHistoryFeedQueue"
  DROP CONSTRAINT IF EXISTS "BookingStatusHistoryFeedQueue_one_form",
  ADD CONSTRAINT "BookingStatusHistoryFeedQueue_one_form" CHECK (
    ("historyId" IS NULL) <> ("historyIds" IS NULL)
    AND ("historyIds" IS NULL OR (cardinality("historyIds") > 0
                                  AND array_position("historyIds", NULL) IS NULL)));
)sql";

}  // namespace

const std::vector<Step>& HistorySteps() {
  static const std::vector<Step> kSteps = {
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
      {"0010_history_held_back_bounded",
       "one held-back row per place and reason, retired once history holds the place, counted",
       kHistoryHeldBackBounded},
      {"0011_history_feed_queue",
       "rows wait in a queue for the feed's sequencer instead of taking positions in ingest",
       kHistoryFeedQueue},
      {"0012_history_log_tree",
       "the transparency log: one Merkle tree over every row, as tiles, with each row's leaf",
       kHistoryLogTree},
      {"0013_history_feed_queue_batches",
       "an ingest transaction queues its rows for the feed in one queue row",
       kHistoryFeedQueueBatches},
      {"0014_history_keys",
       "each event id and each booking's head in tables of their own, kept by a trigger; the "
       "feed's and the log's references to a row with its recorded time",
       kHistoryKeys},
  };
  return kSteps;
}

}  // namespace booking::migrator
