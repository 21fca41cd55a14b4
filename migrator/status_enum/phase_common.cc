#include "migrator/status_enum/phase_common.h"

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "migrator/exit_codes.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/plan_rules.h"

namespace booking::migrator {
namespace {

// The tables holding columns of the type, partitions included, as an oid[]
// literal (by oid: a name in a schema without USAGE cannot be looked up).
std::string TablesOf(const StatusPlan& plan, const StoreInfo& store) {
  std::string out = absl::StrCat("{", store.table_oid);
  for (const PlanObject* c : ObjectsOfKind(plan, "column")) absl::StrAppend(&out, ",", c->oid());
  return out + "}";
}

constexpr char kTablesSql[] =
    "(SELECT x FROM unnest($1::oid[]) AS x"
    " UNION SELECT t.relid FROM unnest($1::oid[]) AS x, pg_partition_tree(x) AS t)";

// Row security that applies to this role would hide rows: every count and
// relabel would silently skip them.
void CheckRowSecurity(Tx& tx, const std::string& tables, StatusPlan& plan) {
  for (const pqxx::row& r : tx.Params(
           R"(SELECT c.oid::regclass::text AS table_name, c.relforcerowsecurity AS forced
              FROM pg_class c
              WHERE c.oid IN )" +
               std::string(kTablesSql) + R"(
                AND c.relrowsecurity
                AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
                AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
              ORDER BY 1)",
           tables)) {
    AddRefusal(AddFound(plan, "row security", r["table_name"].as<std::string>()),
               absl::StrCat("row-level security ",
                            r["forced"].as<bool>() ? "(FORCE ROW LEVEL SECURITY) " : "",
                            "applies to the migrator's role and could hide rows from it"),
               "run the migrator as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS) or as a "
               "superuser");
  }
}

// User triggers and rules on UPDATE would fire on the migrator's relabels
// and copies (and, e.g., rewrite "updatedAt"). They are off in its session
// where the role may set session_replication_role; ALWAYS and REPLICA ones
// fire even then.
void CheckUserTriggers(Tx& tx, const std::string& tables, bool replica_mode, StatusPlan& plan) {
  const std::string firing = replica_mode ? "('A', 'R')" : "('O', 'A', 'R')";
  for (const pqxx::row& r :
       tx.Params(absl::StrCat(R"(SELECT format('%I on %s', t.tgname, t.tgrelid::regclass) AS name,
                     'trigger' AS kind
              FROM pg_trigger t
              WHERE t.tgrelid IN )",
                              kTablesSql, R"(
                AND NOT t.tgisinternal AND t.tgparentid = 0 AND (t.tgtype & 16) <> 0
                AND t.tgenabled IN )",
                              firing, R"( AND t.tgname <> $2 AND t.tgname NOT LIKE '%\_\_next\_sync'
              UNION ALL
              SELECT format('%I on %s', r.rulename, r.ev_class::regclass), 'rule'
              FROM pg_rewrite r
              WHERE r.ev_class IN )",
                              kTablesSql, R"(
                AND r.ev_type = '2' AND r.ev_enabled IN )",
                              firing, " ORDER BY 1"),
                 tables, std::string(kCaptureFunction))) {
    AddRefusal(
        AddFound(plan, absl::StrCat("user ", r["kind"].c_str()), r["name"].as<std::string>()),
        "it would fire on the migrator's own relabels and copies and change data the "
        "migrator must not touch",
        replica_mode ? "it fires even with session_replication_role = replica; disable it during "
                       "the change or make it ENABLE (origin) again"
                     : "run the migrator as a superuser, or GRANT SET ON PARAMETER "
                       "session_replication_role TO the migrator's role (PostgreSQL 15), so its "
                       "session can turn user triggers and rules off");
  }
}

// Event triggers fire on the migrator's DDL unless its session runs in
// replica mode (where only ENABLE ALWAYS and REPLICA ones fire); logical
// replication publishing a table of the type must follow its column swap.
void CheckReplication(Tx& tx, const std::string& tables, bool replica_mode, StatusPlan& plan) {
  const std::string firing = replica_mode ? "('A', 'R')" : "('O', 'A', 'R')";
  for (const pqxx::row& r :
       tx.Exec(absl::StrCat("SELECT quote_ident(evtname) AS name FROM pg_event_trigger "
                            "WHERE evtenabled IN ",
                            firing, " ORDER BY 1"))) {
    AddFound(plan, "event trigger", r["name"].as<std::string>());
  }
  for (const pqxx::row& r : tx.Params(absl::StrCat(R"(
      SELECT DISTINCT quote_ident(p.pubname) AS name FROM pg_publication p
      WHERE p.puballtables
         OR EXISTS (SELECT 1 FROM pg_publication_rel pr
                    WHERE pr.prpubid = p.oid AND pr.prrelid IN )",
                                                   kTablesSql, R"()
         OR EXISTS (SELECT 1 FROM pg_publication_namespace pn JOIN pg_class c
                      ON c.relnamespace = pn.pnnspid
                    WHERE pn.pnpubid = p.oid AND c.oid IN )",
                                                   kTablesSql, R"()
      ORDER BY 1)"),
                                      tables)) {
    AddFound(plan, "publication", absl::StrCat("publication ", r["name"].c_str()));
  }
}

// A CHECK added NOT VALID binds every update of a row, not only new rows:
// where rows violate it, the migrator's relabels and copies of them fail
// like any application update would.
void CheckNotValidChecks(Tx& tx, StatusPlan& plan) {
  for (PlanObject& o : *plan.mutable_objects()) {
    if (o.kind() != "check" || o.enabled() != "not valid") continue;
    if (!o.can_alter() || !o.schema_usage()) continue;  // refused for that already
    absl::string_view body(o.definition());
    absl::ConsumeSuffix(&body, " NOT VALID");
    absl::ConsumeSuffix(&body, " NO INHERIT");
    if (!absl::ConsumePrefix(&body, "CHECK ")) continue;
    const int64_t violating =
        tx.Exec(absl::StrCat("SELECT count(*) AS n FROM ", o.table(), " WHERE NOT ", body))[0]["n"]
            .as<int64_t>();
    if (violating == 0) continue;
    AddRefusal(o,
               absl::StrCat(violating,
                            " rows violate this NOT VALID check; any update of them fails, the "
                            "migrator's relabels and copies included"),
               "fix those rows (and VALIDATE the check), or drop the check, before expand");
  }
}

// Names the migrator is about to create that the store already uses (the
// user's objects: none of the migrator's exists yet in these phases).
void CheckNamesFree(Tx& tx, const std::string& phase, StatusPlan& plan) {
  const std::map<std::string, std::string> kExists = {
      {"relation",
       "SELECT 1 FROM pg_class WHERE relname = $2 AND relnamespace = to_regnamespace($1) "
       "UNION ALL SELECT 1 FROM pg_type WHERE typname = $2 AND typnamespace = to_regnamespace($1)"},
      {"function",
       "SELECT 1 FROM pg_proc WHERE proname = $2 AND pronamespace = to_regnamespace($1)"},
      {"column",
       "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
       "AND NOT attisdropped"},
      {"trigger", "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2"},
      {"constraint",
       "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2"}};
  for (const CreatedName& n : CreatedNames(plan)) {
    if (!phase.empty() && n.phase != phase) continue;
    const std::string scope =
        n.what == "relation" || n.what == "function" ? tx.Name(n.scope) : n.scope;
    if (tx.Params(kExists.at(n.what), scope, n.name).empty()) continue;
    AddRefusal(
        AddFound(plan, "name taken", absl::StrCat(n.what, " ", tx.Name(n.name), " in ", n.scope)),
        absl::StrCat("the migrator creates a ", n.what, " of this name at ", n.phase,
                     ", and the store already has one"),
        "rename that object before expand (or drop it if it is left from another tool)");
    plan.set_carryable(false);
  }
}

}  // namespace

absl::Status Refused(const std::string& message) {
  return WithExitCode(absl::FailedPreconditionError(message), kExitRefused);
}

absl::StatusOr<MigrationState> State(PhaseContext& ctx) {
  absl::StatusOr<MigrationState> state;
  absl::Status read =
      ctx.db.Read([&](Tx& tx) { state = ReadState(tx, ctx.options.compatibility_window); });
  if (!read.ok()) return read;
  return state;
}

absl::StatusOr<StatusPlan> CurrentPlan(PhaseContext& ctx) {
  StatusPlan plan;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    plan = ReadInventory(tx, ctx.store);
    const std::string tables = TablesOf(plan, ctx.store);
    CheckRowSecurity(tx, tables, plan);
    CheckUserTriggers(tx, tables, ctx.db.replica_mode(), plan);
    CheckReplication(tx, tables, ctx.db.replica_mode(), plan);
    CheckNotValidChecks(tx, plan);
  });
  if (!read.ok()) return read;
  absl::StatusOr<MigrationState> state = State(ctx);
  if (!state.ok() && !absl::IsFailedPrecondition(state.status())) return state.status();
  const std::string phase = state.ok() ? state->phase : kPhaseNone;
  JudgePlan(plan, {ctx.options.assume_handled, phase});
  if (phase == kPhaseNone || phase == kPhaseVerified) {  // before a phase creates its names
    read = ctx.db.Read(
        [&](Tx& tx) { CheckNamesFree(tx, phase == kPhaseNone ? "" : "contract", plan); });
    if (!read.ok()) return read;
  }
  return plan;
}

absl::Status RequireCarryable(const StatusPlan& plan, const std::string& phase) {
  if (plan.carryable()) return absl::OkStatus();
  return Refused(absl::StrCat(phase, " refuses; nothing was changed. ",
                              absl::StrJoin(Refusals(plan), " | "),
                              " (`migrator plan` lists every object)"));
}

absl::Status WaitForOlderTransactions(PhaseContext& ctx) {
  const absl::Time deadline = absl::Now() + ctx.options.wait_for_transactions;
  while (true) {
    std::string older;
    absl::Status read = ctx.db.Read([&](Tx& tx) {
      older = tx.Exec(R"(SELECT COALESCE(string_agg(format('pid %s (%s, %s since %s)', a.pid,
                                 a.application_name, a.state, a.xact_start), '; '), '')
                           AS older
                         FROM pg_stat_activity a, "StatusMigration" m
                         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                           AND a.backend_type = 'client backend'
                           AND a.xact_start < m."writeLabelsSince")")[0]["older"]
                  .as<std::string>();
    });
    if (!read.ok()) return read;
    if (older.empty()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "transactions that began before the writers' label set changed have not ended: ", older,
          "; end them (or wait) and run again"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<std::vector<std::string>> BookingServiceSessions(PhaseContext& ctx) {
  std::vector<std::string> sessions;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    for (const pqxx::row& r : tx.Exec(
             R"(SELECT format('pid %s (%s from %s)', pid, application_name,
                              COALESCE(host(client_addr), 'local')) AS session
                FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND application_name LIKE 'booking-service%' ORDER BY pid)")) {
      sessions.push_back(r["session"].as<std::string>());
    }
  });
  if (!read.ok()) return read;
  return sessions;
}

absl::Status MovePhase(PhaseContext& ctx, const std::string& from, const std::string& to,
                       const std::string& action, const std::string& detail) {
  return ctx.db.Transaction("phase", ctx.RowLocks(),
                            [&](Tx& tx) { SetPhase(tx, from, to, action, detail); });
}

absl::Status SwitchWriters(PhaseContext& ctx, const MigrationState& state,
                           const std::string& labels) {
  if (state.write_labels != labels) {
    absl::Status s = ctx.db.Transaction("switch writers", ctx.RowLocks(), [&](Tx& tx) {
      SetWriteLabels(tx, labels);
      LogAction(tx, "writers", state.phase, state.phase,
                absl::StrCat("writers now write the ", labels, " labels"));
    });
    if (!s.ok()) return s;
    LogInfo("writers switched", {{"labels", labels}});
  }
  // Also when switched already: an interrupted run may not have waited. Only
  // transactions older than the switch matter.
  return WaitForOlderTransactions(ctx);
}

}  // namespace booking::migrator
