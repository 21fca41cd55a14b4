#include "migrator/history_keys_schema.h"

namespace booking::migrator {

// "BookingStatusHistoryEvent": every stored event id once, with the time its
// row was recorded (the partition key: a lookup by event id reaches its one
// partition). "BookingStatusHistoryHead": each booking's last row (what
// ingest chains the next one to) and the earliest and latest "recordedAt"
// of its rows since this step (the least and greatest ever given, whatever
// the clock did), so that a read of one booking's rows names the partitions
// they are in. A statement trigger on the history table keeps both, whoever
// inserts (a history-service of before this step too, a role that may only
// insert rows: the trigger runs as the store's owner, its search_path pinned
// to the store's schema): an event id stored
// twice, or a head that would not move forward, fails the insert; like the
// history table, the event ids are append-only and a head is never deleted
// (the same triggers for every role). Rows
// stored before this step have neither: "legacyUntil" bounds when they were
// recorded (NULL: the store was empty), and readers look for them in the
// history table itself, by its own indexes, within that bound. Nothing is
// backfilled, no lock is held longer than creating the trigger takes.
//
// The feed's and the log's references to a row ("historyId") get the row's
// "recordedAt" beside them, so that a join by id names the row's partition
// too: ingest queues the times with the ids ("recordedAts"), the sequencer
// and the fold copy them; a writer that gives none (a history-service of
// before this step) has it filled from the row by a trigger. References
// made before this step have none: their rows were recorded by
// "legacyUntil" (readers: history-service/recorded_at.h).
const char kHistoryKeys[] = R"sql(
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryEvent" (
  "eventId" UUID PRIMARY KEY,
  "recordedAt" TIMESTAMP(3) NOT NULL
);
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryHead" (
  "bookingId" TEXT PRIMARY KEY,
  sequence BIGINT NOT NULL CHECK (sequence > 0),
  "toStatus" TEXT NOT NULL,
  "rowHash" BYTEA,
  "firstRecordedAt" TIMESTAMP(3) NOT NULL,
  "lastRecordedAt" TIMESTAMP(3) NOT NULL
);
CREATE OR REPLACE FUNCTION "BookingStatusHistoryKeys_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% keeps history''s keys: % is not allowed', quote_ident(TG_TABLE_NAME), TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'history entries and their keys are immutable; a head only moves forward';
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryEvent_no_update_delete"
  BEFORE UPDATE OR DELETE ON "BookingStatusHistoryEvent"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryEvent_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistoryEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryHead_no_delete"
  BEFORE DELETE ON "BookingStatusHistoryHead"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryHead_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistoryHead"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
REVOKE UPDATE, DELETE, TRUNCATE ON "BookingStatusHistoryEvent" FROM PUBLIC;
REVOKE DELETE, TRUNCATE ON "BookingStatusHistoryHead" FROM PUBLIC;
CREATE OR REPLACE FUNCTION "BookingStatusHistoryHead_forward"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sequence <= OLD.sequence THEN
    RAISE EXCEPTION 'booking % already holds sequence % in history (its head is %)',
      NEW."bookingId", NEW.sequence, OLD.sequence
      USING ERRCODE = 'unique_violation',
            HINT = 'a booking''s history is appended in sequence order, each sequence once';
  END IF;
  NEW."firstRecordedAt" := least(OLD."firstRecordedAt", NEW."firstRecordedAt");
  NEW."lastRecordedAt" := greatest(OLD."lastRecordedAt", NEW."lastRecordedAt");
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryHead_forward"
  BEFORE UPDATE ON "BookingStatusHistoryHead"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistoryHead_forward"();
CREATE OR REPLACE FUNCTION "BookingStatusHistory_keys"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  INSERT INTO "BookingStatusHistoryEvent" ("eventId", "recordedAt")
    SELECT "eventId", "recordedAt" FROM new_rows;
  INSERT INTO "BookingStatusHistoryHead" AS head
      ("bookingId", sequence, "toStatus", "rowHash", "firstRecordedAt", "lastRecordedAt")
    SELECT DISTINCT ON ("bookingId") "bookingId", sequence, "toStatus", "rowHash",
           min("recordedAt") OVER (PARTITION BY "bookingId"),
           max("recordedAt") OVER (PARTITION BY "bookingId")
    FROM new_rows ORDER BY "bookingId", sequence DESC
  ON CONFLICT ("bookingId") DO UPDATE
    SET sequence = EXCLUDED.sequence, "toStatus" = EXCLUDED."toStatus",
        "rowHash" = EXCLUDED."rowHash", "firstRecordedAt" = EXCLUDED."firstRecordedAt",
        "lastRecordedAt" = EXCLUDED."lastRecordedAt";
  RETURN NULL;
END
$$;
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION "BookingStatusHistory_keys"() SET search_path = %I, pg_temp',
                 current_schema());
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistory_keys" AFTER INSERT ON "BookingStatusHistory"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistory_keys"();
ALTER TABLE "BookingStatusHistoryFeedQueue" ADD COLUMN IF NOT EXISTS "recordedAts" TIMESTAMP(3)[];
ALTER TABLE "BookingStatusHistoryFeedQueue"
  DROP CONSTRAINT IF EXISTS "BookingStatusHistoryFeedQueue_recorded_ats",
  ADD CONSTRAINT "BookingStatusHistoryFeedQueue_recorded_ats" CHECK (
    "recordedAts" IS NULL OR (cardinality("recordedAts") = cardinality("historyIds")
                              AND array_position("recordedAts", NULL) IS NULL));
ALTER TABLE "BookingStatusHistoryFeed" ADD COLUMN IF NOT EXISTS "recordedAt" TIMESTAMP(3);
ALTER TABLE "BookingStatusHistoryLeaf" ADD COLUMN IF NOT EXISTS "recordedAt" TIMESTAMP(3);
CREATE OR REPLACE FUNCTION "BookingStatusHistory_fill_recorded_at"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW."recordedAt" := (SELECT "recordedAt" FROM "BookingStatusHistory" WHERE id = NEW."historyId");
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryFeed_recorded_at"
  BEFORE INSERT ON "BookingStatusHistoryFeed"
  FOR EACH ROW WHEN (NEW."recordedAt" IS NULL)
  EXECUTE FUNCTION "BookingStatusHistory_fill_recorded_at"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryLeaf_recorded_at"
  BEFORE INSERT ON "BookingStatusHistoryLeaf"
  FOR EACH ROW WHEN (NEW."recordedAt" IS NULL)
  EXECUTE FUNCTION "BookingStatusHistory_fill_recorded_at"();
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryKeysStart" (
  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
  "legacyUntil" TIMESTAMP(3)
);
INSERT INTO "BookingStatusHistoryKeysStart" ("legacyUntil")
  SELECT CASE WHEN EXISTS (SELECT FROM "BookingStatusHistory")
              THEN timezone('UTC', clock_timestamp()) END
  ON CONFLICT (one) DO NOTHING;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryKeysStart_no_change"
  BEFORE UPDATE OR DELETE ON "BookingStatusHistoryKeysStart"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryKeysStart_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistoryKeysStart"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistoryKeys_refuse_change"();
)sql";

}  // namespace booking::migrator
