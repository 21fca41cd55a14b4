#include "migrator/status_enum/relabel_sql.h"

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/labels.h"
#include "outbox/outbox.h"

namespace booking::migrator {
namespace {

// What a direction puts into the one batch statement (BatchSql).
struct DirectionSql {
  std::string locked_columns;  // more columns of `locked`, each after ", "
  std::string change;          // the CTEs after `locked`, `changed` among them
  std::string backup;          // the backup table's CTE, when there is one
  std::string from, to;        // columns of `changed`: the event's statuses
  // Which rows of `changed` changed their status (in history's names): only
  // those get an event.
  std::string recorded = "true";
};

// Forward's backup: each relabelled booking's label before the relabel and
// the row as the relabel left it. Expand's snapshot gave nearly every
// booking its backup row: a plain UPDATE of those (a HOT update on the
// table's half-full pages) costs a quarter less than an upsert of all of
// them, which locks each conflicting row before updating it. Bookings
// created since get theirs inserted.
std::string ForwardBackupSql(Tx& tx) {
  const std::string backup = tx.Name(kBackupTable);
  return absl::StrCat(R"(
         backed_up AS (
           UPDATE )",
                      backup, R"( AS bk SET status = c.old_label, "updatedAt" = c."updatedAt",
             "refStatus" = c.new_label, "refVersion" = c.version, "refUpdatedAt" = c."updatedAt"
           FROM changed c WHERE bk.id = c.id
           RETURNING bk.id),
         backup AS (
           INSERT INTO )",
                      backup, R"( AS bk
             (id, status, "updatedAt", "refStatus", "refVersion", "refUpdatedAt")
           SELECT id, old_label, "updatedAt", new_label, version, "updatedAt" FROM changed c
           WHERE NOT EXISTS (SELECT 1 FROM backed_up u WHERE u.id = c.id)
           ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
             "updatedAt" = EXCLUDED."updatedAt", "refStatus" = EXCLUDED."refStatus",
             "refVersion" = EXCLUDED."refVersion", "refUpdatedAt" = EXCLUDED."refUpdatedAt"),)");
}

// Forward: an old label becomes its new one, or the exact new label kept
// beside it (a rollback wrote the old one), or IN_SERVICE where the rule
// says so. History names the old label's new name as the from status.
// Only a relabel whose new label differs from that from status (IN_WORKSHOP
// to IN_SERVICE by the rule) changes the status: it alone bumps the version
// and gets its event. Every other relabel changes the representation, not
// the state: the version stays, so a caller's expected_version stays valid,
// and history gets nothing (the capture trigger, capture.h, agrees).
DirectionSql ForwardSql(Tx& tx, const StoreInfo& store, const std::string& rule) {
  const QuoteFn q = [&](const std::string& v) { return tx.Quote(v); };
  const std::string exact_valid =
      absl::StrCat("(l.exact IS NOT NULL AND ", ReverseCaseSql("l.exact", q), " = l.old_label)");
  const std::string in_service =
      rule.empty() ? "false"
                   : absl::StrCat("CASE WHEN \"Booking\".status::text = ", q("IN_WORKSHOP"),
                                  " THEN COALESCE((", rule, "\n), false) ELSE false END");
  DirectionSql d;
  d.locked_columns = absl::StrCat(R"(,
                  (SELECT e.status FROM "BookingStatusExact" e
                   WHERE e.id = "Booking".id AND e.version = "Booking".version) AS exact,
                  )",
                                  in_service, " AS in_service");
  d.change = absl::StrCat(R"(
         target AS (
           SELECT l.*,
                  CASE WHEN )",
                          exact_valid, " THEN l.exact WHEN l.in_service THEN ", q("IN_SERVICE"),
                          " ELSE ", ForwardCaseSql("l.old_label", q), R"( END AS new_label,
                  CASE WHEN )",
                          exact_valid, " THEN l.exact ELSE ", ForwardCaseSql("l.old_label", q),
                          R"( END AS from_status
           FROM locked l),
         moved AS (
           SELECT t.*, t.new_label IS DISTINCT FROM t.from_status AS moves FROM target t),
         changed AS (
           UPDATE )",
                          store.table, " b SET status = t.new_label::", store.type,
                          R"(,
             version = CASE WHEN t.moves THEN t.old_version + 1 ELSE t.old_version END
           FROM moved t WHERE b.id = t.id
           RETURNING b.id, t.old_label, t.new_label, t.from_status, t.moves, b.version,
                     b."updatedAt"),
         consumed AS (DELETE FROM "BookingStatusExact" e USING changed c WHERE e.id = c.id),)");
  d.backup = ForwardBackupSql(tx);
  d.from = "from_status";
  d.to = "new_label";
  d.recorded = "moves";
  return d;
}

// Back: a new label becomes the old label it reads back as; the exact new
// label is kept beside it, so booking-service still reads the booking as it
// was and a later backfill restores it. History names the new label on
// both sides (the booking did not change for its callers).
DirectionSql BackSql(Tx& tx, const StoreInfo& store) {
  const QuoteFn q = [&](const std::string& v) { return tx.Quote(v); };
  DirectionSql d;
  d.change = absl::StrCat(R"(
         changed AS (
           UPDATE )",
                          store.table, " b SET status = (", ReverseCaseSql("l.old_label", q),
                          ")::", store.type, R"(, version = l.old_version + 1
           FROM locked l WHERE b.id = l.id
           RETURNING b.id, l.old_label, b.status::text AS new_label, b.version, b."updatedAt"),
         kept AS (
           INSERT INTO "BookingStatusExact" AS e (id, status, version)
           SELECT id, old_label, version FROM changed
           ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version),)");
  d.backup = absl::StrCat(R"(
         backup AS (
           UPDATE )",
                          tx.Name(kBackupTable), R"( bk SET "refStatus" = c.new_label,
             "refVersion" = c.version, "refUpdatedAt" = c."updatedAt"
           FROM changed c WHERE bk.id = c.id),)");
  d.from = "old_label";
  d.to = "old_label";
  return d;
}

// The batch statement of either direction: the bookings locked, relabelled
// (d.change), the backup table kept in step, and each booking whose status
// changed (d.recorded) given its outbox event (outbox/outbox.h) in the new
// names; the relay is woken when there is one. It answers where the batch
// ended and how many bookings were relabelled and how many of them got an
// event.
std::string BatchSql(const StoreInfo& store, const DirectionSql& d, bool backup) {
  const outbox::EventValues event = {
      .booking_id = "id",
      .sequence = "version",
      .from_status = d.from,
      .to_status = d.to,
      .changed_by = "'migrator'",
      .reason = "$4",
      .metadata = R"(jsonb_build_object('migration', 'booking-status-v2', 'storedLabel', old_label,
                                     'newStoredLabel', new_label))",
      .trace_parent = ""};  // none: no call made the change
  return absl::StrCat(R"(WITH bound AS (
           SELECT max(id) AS upper FROM (SELECT id FROM )",
                      store.table, R"( WHERE id > $2 AND ($5 = '' OR id <= $5)
                                    ORDER BY id LIMIT $3) AS batch),
         locked AS (
           SELECT "Booking".id, "Booking".status::text AS old_label,
                  "Booking".version AS old_version)",
                      d.locked_columns, R"(
           FROM )",
                      store.table, R"( AS "Booking"
           WHERE "Booking".id > $2 AND "Booking".id <= (SELECT upper FROM bound)
             AND "Booking".status::text = ANY ($1::text[])
           FOR UPDATE OF "Booking" SKIP LOCKED),)",
                      d.change, backup ? d.backup : std::string(), R"(
         events AS ()",
                      outbox::InsertSql(event, absl::StrCat("FROM changed WHERE ", d.recorded)),
                      R"( RETURNING 1),
         notified AS (SELECT )",
                      outbox::NotifyCall(), R"( WHERE EXISTS (SELECT 1 FROM events))
       SELECT (SELECT upper FROM bound) AS upper, (SELECT count(*) FROM changed) AS relabelled,
              (SELECT count(*) FROM events) AS moved, (SELECT count(*) FROM notified) AS notified)");
}

}  // namespace

std::string BookingBatchSql(Tx& tx, const StoreInfo& store, Direction direction,
                            const std::string& in_service_rule) {
  const bool backup =
      !tx.Params("SELECT 1 FROM pg_class WHERE oid = to_regclass($1)", tx.Name(kBackupTable))
           .empty();
  return BatchSql(store,
                  direction == Direction::kForward ? ForwardSql(tx, store, in_service_rule)
                                                   : BackSql(tx, store),
                  backup);
}

std::string OtherColumnBatchSql(Tx& tx, const StoreInfo& store, const std::string& leaf,
                                const std::string& column, Direction direction) {
  const QuoteFn q = [&](const std::string& v) { return tx.Quote(v); };
  const std::string value = absl::StrCat(column, "::text");
  const std::string mapped =
      direction == Direction::kForward ? ForwardCaseSql(value, q) : ReverseCaseSql(value, q);
  return absl::StrCat("UPDATE ", leaf, " SET ", column, " = (", mapped, ")::", store.type,
                      " WHERE ctid >= format('(%s,0)', $2::bigint)::tid"
                      " AND ctid < format('(%s,0)', $3::bigint)::tid AND ",
                      column, "::text = ANY ($1::text[])");
}

}  // namespace booking::migrator
