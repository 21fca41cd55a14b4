#include "migrator/history_log_schema.h"

namespace booking::migrator {

// The audit trail's transparency log (history-service/log_tree.h): one
// append-only Merkle tree over every history row, kept as C2SP tlog-tiles
// tiles, each row's leaf index (with its booking and sequence: a booking's
// leaves are found without the tree, so a deleted row is named by the leaf
// it left), and the tree's size and root (one row). The
// feed's sequencer integrates rows in batches, each one transaction: rows
// from before the feed first (the fold, with its cursor here: "legacyDone",
// "legacyBookingId", "legacySequence"), then the feed in position order
// ("feedPosition": the last one in the tree). Nothing is folded in this
// step (no long transaction, no lock on the history table). The log's signed
// checkpoints (history-service/log_checkpoint.h) are kept beside. Tiles only
// grow until full (256 hashes); leaves and checkpoints never change; none is
// deleted or truncated (triggers; a superuser who disables them is caught by the
// root check of the next batch and by any client holding a checkpoint).
const char kHistoryLogTree[] = R"sql(
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryLeaf" (
  "leafIndex" BIGINT PRIMARY KEY CHECK ("leafIndex" >= 0),
  "historyId" UUID NOT NULL UNIQUE,
  "bookingId" TEXT NOT NULL,
  sequence BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS "BookingStatusHistoryLeaf_bookingId_sequence_idx"
  ON "BookingStatusHistoryLeaf" ("bookingId", sequence);
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryTile" (
  level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 7),
  "index" BIGINT NOT NULL CHECK ("index" >= 0),
  hashes BYTEA NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
  PRIMARY KEY (level, "index")
);
CREATE TABLE IF NOT EXISTS "BookingStatusHistoryTree" (
  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
  size BIGINT NOT NULL CHECK (size >= 0),
  root BYTEA NOT NULL CHECK (length(root) = 32),
  "feedPosition" BIGINT NOT NULL,
  "legacyDone" BOOLEAN NOT NULL,
  "legacyBookingId" TEXT,
  "legacySequence" BIGINT
);
INSERT INTO "BookingStatusHistoryTree" (size, root, "feedPosition", "legacyDone")
  SELECT 0, sha256(''), 0,
         NOT COALESCE((SELECT bool_or("legacyRows") FROM "BookingStatusHistoryFeedStart"), false)
  WHERE NOT EXISTS (SELECT 1 FROM "BookingStatusHistoryTree");
CREATE OR REPLACE FUNCTION "BookingStatusHistoryTile_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.level = OLD.level AND NEW."index" = OLD."index"
     AND length(OLD.hashes) < 8192 AND length(NEW.hashes) > length(OLD.hashes)
     AND substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) = OLD.hashes THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% on "BookingStatusHistoryTile" refused: a tile only grows until full', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryTile_append_only"
  BEFORE UPDATE OR DELETE ON "BookingStatusHistoryTile"
  FOR EACH ROW EXECUTE FUNCTION "BookingStatusHistoryTile_append_only"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryTile_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistoryTile"
  FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistoryTile_append_only"();
CREATE TABLE IF NOT EXISTS "HistoryLogCheckpoint" (
  size BIGINT PRIMARY KEY CHECK (size > 0),
  root BYTEA NOT NULL CHECK (length(root) = 32),
  note TEXT NOT NULL,
  "signedAt" TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION "HistoryLog_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % refused: the log is append only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER "BookingStatusHistoryLeaf_append_only"
  BEFORE UPDATE OR DELETE ON "BookingStatusHistoryLeaf"
  FOR EACH ROW EXECUTE FUNCTION "HistoryLog_append_only"();
CREATE OR REPLACE TRIGGER "BookingStatusHistoryLeaf_no_truncate"
  BEFORE TRUNCATE ON "BookingStatusHistoryLeaf"
  FOR EACH STATEMENT EXECUTE FUNCTION "HistoryLog_append_only"();
CREATE OR REPLACE TRIGGER "HistoryLogCheckpoint_append_only"
  BEFORE UPDATE OR DELETE ON "HistoryLogCheckpoint"
  FOR EACH ROW EXECUTE FUNCTION "HistoryLog_append_only"();
CREATE OR REPLACE TRIGGER "HistoryLogCheckpoint_no_truncate"
  BEFORE TRUNCATE ON "HistoryLogCheckpoint"
  FOR EACH STATEMENT EXECUTE FUNCTION "HistoryLog_append_only"();
)sql";

}  // namespace booking::migrator
