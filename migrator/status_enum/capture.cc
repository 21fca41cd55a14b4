#include "migrator/status_enum/capture.h"

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/labels.h"
#include "outbox/outbox.h"

namespace booking::migrator {
namespace {

// Labels a phase cannot take: new ones while expand runs, old ones once
// contract has started.
std::string GuardSql(const QuoteFn& q, const std::string& old_only, const std::string& new_only) {
  return absl::StrCat(R"(
  IF state.phase = 'expanding' AND label = ANY ()",
                      new_only, R"() THEN
    RAISE EXCEPTION 'booking status % cannot be written yet: migrator expand has not finished', label
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF state.phase IN ('contracting', 'contracted') AND label = ANY ()",
                      old_only, R"() THEN
    RAISE EXCEPTION 'booking status % is an old label, no longer accepted: the status change is being contracted; write % instead', label, )",
                      ForwardCaseSql("label", q), R"(
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;)");
}

// Who writes labels of the set writers should no longer write (backfill
// names them when such labels keep arriving).
std::string TrackSql(const std::string& old_only, const std::string& new_only) {
  return absl::StrCat(R"(
  IF (state."writeLabels" = 'new' AND label = ANY ()",
                      old_only, R"()) OR (state."writeLabels" = 'old' AND label = ANY ()", new_only,
                      R"()) THEN
    INSERT INTO "StatusMigrationWriter" AS w (pid, role, application, client, "lastLabel")
    VALUES (pg_backend_pid(), session_user, current_setting('application_name'),
            COALESCE(host(inet_client_addr()), 'local'), label)
    ON CONFLICT (pid, role, application, client)
    DO UPDATE SET writes = w.writes + 1, "lastAt" = now(), "lastLabel" = EXCLUDED."lastLabel";
  END IF;)");
}

// The event of a change the trigger records (outbox/outbox.h), in the
// trigger's variables.
outbox::EventValues CapturedEvent(const QuoteFn& q) {
  return {.booking_id = "NEW.id",
          .sequence = "NEW.version",
          .from_status = "from_label",
          .to_status = ForwardCaseSql("label", q),
          .changed_by = R"(format('%s via %s (%s)', session_user,
                 COALESCE(NULLIF(current_setting('application_name'), ''), 'an unnamed application'),
                 COALESCE(host(inet_client_addr()), 'local')))",
          .reason = "'status written outside booking-service'",
          .metadata = "jsonb_build_object('storedLabel', label)",
          .trace_parent = ""};  // none: no call made the change
}

// A status written by code that neither versions nor records it: the
// version moves and the change gets its outbox event, in the new names.
// A write that keeps the status in those names (an old label to its own new
// name or back, as the migrator's backfill writes it) changes the
// representation, not the state: nothing is recorded and the version stays,
// whoever writes it. No session can hide a status change this way: what is
// skipped is decided by the write itself (the status before, in history's
// names, equals the status after), not by who writes it or by a setting.
std::string RecordSql(const QuoteFn& q) {
  return absl::StrCat(R"(
  IF TG_OP = 'UPDATE' THEN
    -- Not a status change, or a writer that versions and records its own.
    IF NEW.status IS NOT DISTINCT FROM OLD.status OR NEW.version IS DISTINCT FROM OLD.version THEN
      RETURN NEW;
    END IF;
    SELECT e.status INTO from_label FROM "BookingStatusExact" e
    WHERE e.id = OLD.id AND e.version = OLD.version;
    from_label := COALESCE(from_label, )",
                      ForwardCaseSql("OLD.status::text", q), R"();
    IF from_label = ()",
                      ForwardCaseSql("label", q), R"() THEN
      RETURN NEW;  -- the same status, another label for it
    END IF;
    NEW.version := OLD.version + 1;
  ELSIF NEW.version IS DISTINCT FROM 0 THEN
    RETURN NEW;  -- booking-service creates bookings at version 1 and records them
  ELSE
    NEW.version := 1;
  END IF;
  )",
                      outbox::InsertSql(CapturedEvent(q)), ";\n  PERFORM ", outbox::NotifyCall(),
                      ";");
}

std::string FunctionSql(Tx& tx, const StoreInfo& store) {
  const QuoteFn q = [&](const std::string& v) { return tx.Quote(v); };
  const std::string old_only = LabelArraySql(OldOnlyLabels(), q);
  const std::string new_only = LabelArraySql(NewOnlyLabels(), q);
  // SECURITY DEFINER: old code's role may not write the outbox; the path is
  // pinned so the definer's rights never resolve a caller's objects.
  return absl::StrCat("CREATE OR REPLACE FUNCTION ", tx.Name(kCaptureFunction),
                      "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = ",
                      tx.Name(store.schema), R"(, pg_temp AS $capture$
DECLARE
  state record;
  label text := NEW.status::text;
  from_label text;
BEGIN
  SELECT phase, "writeLabels" INTO state FROM "StatusMigration";)",
                      GuardSql(q, old_only, new_only), TrackSql(old_only, new_only), RecordSql(q),
                      R"(
  RETURN NEW;
END
$capture$)");
}

}  // namespace

void InstallCapture(Tx& tx, const StoreInfo& store) {
  tx.Ddl(FunctionSql(tx, store));
  const std::string name = tx.Name(kCaptureFunction);
  tx.Ddl(absl::StrCat("CREATE OR REPLACE TRIGGER ", name, " BEFORE INSERT OR UPDATE OF status ON ",
                      store.table, " FOR EACH ROW EXECUTE FUNCTION ", name, "()"));
  // ENABLE (origin), the default: it fires for every session but one in
  // session_replication_role = replica, which only a superuser or a role
  // granted SET ON PARAMETER session_replication_role can set (the migrator:
  // its relabels record their own status changes and must not pay the
  // trigger per row). Such a role can switch every ordinary trigger and
  // foreign key off already: this adds no bypass.
  tx.Ddl(absl::StrCat("ALTER TABLE ", store.table, " ENABLE TRIGGER ", name));
}

bool RefreshCapture(Tx& tx, const StoreInfo& store) {
  if (!CaptureInstalled(tx, store)) return false;
  tx.Ddl(FunctionSql(tx, store));
  // Installed ENABLE ALWAYS by an older migrator: origin, as InstallCapture.
  if (!tx.Params("SELECT 1 FROM pg_trigger WHERE tgrelid = $1 AND tgname = $2 AND tgenabled = 'A'",
                 store.table_oid, std::string(kCaptureFunction))
           .empty()) {
    tx.Ddl(
        absl::StrCat("ALTER TABLE ", store.table, " ENABLE TRIGGER ", tx.Name(kCaptureFunction)));
  }
  return true;
}

void RemoveCapture(Tx& tx, const StoreInfo& store) {
  const std::string name = tx.Name(kCaptureFunction);
  tx.Ddl(absl::StrCat("DROP TRIGGER IF EXISTS ", name, " ON ", store.table));
  tx.Ddl(absl::StrCat("DROP FUNCTION IF EXISTS ", name, "()"));
}

bool CaptureInstalled(Tx& tx, const StoreInfo& store) {
  return !tx.Params(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = $1 AND tgname = $2 AND tgparentid = 0",
                store.table_oid, std::string(kCaptureFunction))
              .empty();
}

}  // namespace booking::migrator
